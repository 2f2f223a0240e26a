// SPDX-License-Identifier: GPL-2.0
/*
 * csd_bench: cross-call round trips to measure what a watcher costs
 * (selftests/harness/bench.sh). Benchmark-only; it does not depend on csdwatch and
 * injects no fault. Control is debugfs, /sys/kernel/debug/csd_bench/:
 *
 *   sender       CPU the calls are made from             (default 0)
 *   target       CPU smp_call_function_single() calls    (default 1)
 *   duration_ms  how long a run lasts, 1..60000          (default 2000)
 *   period_ms    sparse: time between two calls, 1..10000 (default 100)
 *   run          write a mode; returns when the run has ended:
 *                  single  smp_call_function_single(target, wait=1) back to back
 *                  many    on_each_cpu(wait=1) back to back
 *                  sparse  one smp_call_function_single(target, wait=1)
 *                          every period_ms
 *   result       mode, calls, elapsed_ns, ns_per_call of the last run
 *
 * The calls are made by a kthread bound to `sender`, with the CPU-hotplug
 * lock held for the run (the CPUs stay as they are). Times come from
 * ktime_get_ns().
 *
 * Written in C, not Rust: it binds a kthread and issues raw cross-calls,
 * which have no Rust abstraction in 7.3, and it is not part of csdwatch.
 */
#include <linux/module.h>
#include <linux/debugfs.h>
#include <linux/kthread.h>
#include <linux/smp.h>
#include <linux/delay.h>
#include <linux/completion.h>
#include <linux/mutex.h>
#include <linux/cpu.h>
#include <linux/sched.h>

enum mode { M_SINGLE, M_MANY, M_SPARSE, M_NONE };
static const char * const mode_names[] = { "single", "many", "sparse" };

static u32 sender, target = 1, duration_ms = 2000, period_ms = 100;
static DEFINE_MUTEX(run_lock);
static struct dentry *dir;

static struct {
	enum mode mode;
	u64 calls, elapsed_ns, errors;
} res = { .mode = M_NONE };
static DECLARE_COMPLETION(done);

static void nop_fn(void *info)
{
}

static int bench_fn(void *arg)
{
	enum mode m = (enum mode)(long)arg;
	u64 t0 = ktime_get_ns(), end = t0 + (u64)duration_ms * NSEC_PER_MSEC, now = t0;

	while (now < end) {
		if (m == M_MANY)
			on_each_cpu(nop_fn, NULL, 1);
		else if (smp_call_function_single(target, nop_fn, NULL, 1))
			res.errors++;
		res.calls++;
		if (m == M_SPARSE)
			msleep(period_ms);
		else
			cond_resched();
		now = ktime_get_ns();
	}
	res.elapsed_ns = now - t0;
	complete(&done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static int run_mode(enum mode m)
{
	struct task_struct *t;
	int ret = 0;

	cpus_read_lock();
	if (sender >= nr_cpu_ids || target >= nr_cpu_ids || sender == target ||
	    !cpu_online(sender) || !cpu_online(target)) {
		pr_warn("csd_bench: sender %u / target %u: must be two different online CPUs\n",
			sender, target);
		ret = -EINVAL;
		goto out;
	}
	if (duration_ms < 1 || duration_ms > 60000 || period_ms < 1 || period_ms > 10000) {
		pr_warn("csd_bench: duration_ms %u (1..60000) / period_ms %u (1..10000) out of range\n",
			duration_ms, period_ms);
		ret = -EINVAL;
		goto out;
	}
	memset(&res, 0, sizeof(res));
	res.mode = m;
	reinit_completion(&done);
	t = kthread_create_on_cpu(bench_fn, (void *)(long)m, sender, "csd_bench/%u");
	if (IS_ERR(t)) {
		ret = PTR_ERR(t);
		goto out;
	}
	wake_up_process(t);
	wait_for_completion(&done);
	kthread_stop(t);
out:
	cpus_read_unlock();
	return ret;
}

static ssize_t run_write(struct file *f, const char __user *ubuf, size_t len, loff_t *ppos)
{
	char buf[16];
	int m, ret;

	if (len == 0 || len >= sizeof(buf) || copy_from_user(buf, ubuf, len))
		return -EINVAL;
	buf[len] = 0;
	m = sysfs_match_string(mode_names, strim(buf));
	if (m < 0) {
		pr_warn("csd_bench: unknown mode '%s' (single | many | sparse)\n", strim(buf));
		return -EINVAL;
	}
	mutex_lock(&run_lock);
	ret = run_mode(m);
	mutex_unlock(&run_lock);
	return ret ? ret : len;
}

static int result_show(struct seq_file *s, void *p)
{
	mutex_lock(&run_lock);
	seq_printf(s, "mode=%s\ncalls=%llu\nerrors=%llu\nelapsed_ns=%llu\nns_per_call=%llu\n",
		   res.mode == M_NONE ? "none" : mode_names[res.mode], res.calls, res.errors,
		   res.elapsed_ns, res.calls ? res.elapsed_ns / res.calls : 0);
	mutex_unlock(&run_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(result);

static const struct file_operations run_fops = {
	.owner = THIS_MODULE,
	.write = run_write,
};

static int __init csd_bench_init(void)
{
	dir = debugfs_create_dir("csd_bench", NULL);
	debugfs_create_u32("sender", 0600, dir, &sender);
	debugfs_create_u32("target", 0600, dir, &target);
	debugfs_create_u32("duration_ms", 0600, dir, &duration_ms);
	debugfs_create_u32("period_ms", 0600, dir, &period_ms);
	debugfs_create_file("run", 0200, dir, NULL, &run_fops);
	debugfs_create_file("result", 0400, dir, NULL, &result_fops);
	return 0;
}

static void __exit csd_bench_exit(void)
{
	debugfs_remove_recursive(dir);	/* waits for a run in progress */
}

module_init(csd_bench_init);
module_exit(csd_bench_exit);
MODULE_DESCRIPTION("Cross-call round-trip benchmark for csdwatch's selftests/harness/bench.sh");
MODULE_LICENSE("GPL");
