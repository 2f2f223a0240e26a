// SPDX-License-Identifier: GPL-2.0
/*
 * kprobe_churn: registers and unregisters kprobes on the functions
 * csdwatch probes, over and over, while a kthread per CPU keeps making
 * cross-CPU calls, so the probed functions run on every CPU while their
 * probes come and go (and, on x86, while the kprobe optimizer turns them
 * into jumps and back). Independent of csdwatch: the control used for the
 * int3 crash at rmmod (a stale translation of multi-threaded TCG,
 * selftests/investigations/qemu-xmc.sh; Documentation/testing.rst, "QEMU's own defects"). A kprobe core
 * or emulator race shows as an "Oops: int3" here without csdwatch.
 * selftests/investigations/kprobe-churn.sh boots it; not run by CI.
 *
 * Parameters: cycles (0: cross-call load only, for reloading csdwatch
 * beside it), post (give every probe a post_handler, which keeps x86 from
 * optimizing it: the int3 path only), load (the per-CPU callers),
 * hold_ms (how long each round's probes stay registered), batch (all 7
 * plain kprobes in one register_kprobes()/unregister_kprobes() call;
 * without it, csdwatch's shape: kretprobes on the three functions it
 * hooks on return, registered and then unregistered one by one in
 * csdwatch's order, each unregistering waiting for its own grace period).
 * It sets "finished" to the rounds done when the last round ends.
 */
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/smp.h>

static int cycles = 200;
module_param(cycles, int, 0444);
static bool post;
module_param(post, bool, 0444);
static bool load = true;
module_param(load, bool, 0444);
static int hold_ms = 10;
module_param(hold_ms, int, 0444);
static bool batch;
module_param(batch, bool, 0444);
static int finished;
module_param(finished, int, 0444);

/*
 * csdwatch's probes (rust/shim.c, rust/arch/x86_64.c), 7.3 names, in the
 * order csdwatch registers them; is_ret: it hooks their return too.
 */
static const char *const syms[] = {
	"__flush_smp_call_function_queue", "__smp_call_single_queue",
	"__smp_call_function_single", "smp_call_function_many_cond",
	"sched_tick", "native_send_call_func_single_ipi",
	"native_send_call_func_ipi",
};
static const bool is_ret[] = { true, false, true, true, false, false, false };
#define NSYMS ARRAY_SIZE(syms)
/* csdw_probes_unregister()'s order */
static const int unreg_order[NSYMS] = { 5, 6, 4, 3, 2, 1, 0 };

static atomic_long_t hits;
static struct task_struct *callers[NR_CPUS], *churner;
static bool stop_load;

static int churn_pre(struct kprobe *p, struct pt_regs *regs)
{
	atomic_long_inc(&hits);
	return 0;
}

static void churn_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}

static void churn_nop(void *info)
{
}

static int churn_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	atomic_long_inc(&hits);
	return 0;
}

static struct kprobe kp[NSYMS];
static struct kretprobe rp[NSYMS];	/* used where is_ret */

static void churn_unregister_one(int j)
{
	if (is_ret[j])
		unregister_kretprobe(&rp[j]);
	else
		unregister_kprobe(&kp[j]);
}

/* csdwatch's shape: one by one, in its order; undone on failure */
static int churn_register_serial(void)
{
	int j, ret = 0;

	memset(kp, 0, sizeof(kp));
	memset(rp, 0, sizeof(rp));
	for (j = 0; j < NSYMS; j++) {
		if (is_ret[j]) {
			rp[j].kp.symbol_name = syms[j];
			rp[j].handler = churn_ret;
			rp[j].maxactive = 2 * nr_cpu_ids;
			ret = register_kretprobe(&rp[j]);
		} else {
			kp[j].symbol_name = syms[j];
			kp[j].pre_handler = churn_pre;
			if (post)
				kp[j].post_handler = churn_post;
			ret = register_kprobe(&kp[j]);
		}
		if (ret) {
			pr_err("kprobe_churn: %s: %d\n", syms[j], ret);
			while (--j >= 0)
				churn_unregister_one(j);
			return ret;
		}
	}
	return 0;
}

static void churn_unregister_serial(void)
{
	int j;

	for (j = 0; j < NSYMS; j++)
		churn_unregister_one(unreg_order[j]);
}

static int caller_fn(void *arg)
{
	unsigned int cpu = (unsigned long)arg;
	unsigned long n = 0;

	while (!kthread_should_stop() && !READ_ONCE(stop_load)) {
		unsigned int t = cpumask_next(cpu, cpu_online_mask);

		if (t >= nr_cpu_ids)
			t = cpumask_first(cpu_online_mask);
		smp_call_function_single(t, churn_nop, NULL, 1);
		/* a voluntary switch now and then: Tasks RCU (the optimizer) needs one */
		if (++n % 32 == 0)
			usleep_range(200, 400);
	}
	while (!kthread_should_stop())
		msleep(10);
	return 0;
}

static int churn_register_batch(void)
{
	struct kprobe *kps[NSYMS];
	int j, ret;

	memset(kp, 0, sizeof(kp));
	for (j = 0; j < NSYMS; j++) {
		kp[j].symbol_name = syms[j];
		kp[j].pre_handler = churn_pre;
		if (post)
			kp[j].post_handler = churn_post;
		kps[j] = &kp[j];
	}
	ret = register_kprobes(kps, NSYMS);
	if (ret)
		pr_err("kprobe_churn: register_kprobes: %d\n", ret);
	return ret;
}

static void churn_unregister_batch(void)
{
	struct kprobe *kps[NSYMS];
	int j;

	for (j = 0; j < NSYMS; j++)
		kps[j] = &kp[j];
	unregister_kprobes(kps, NSYMS);
}

static int churn_fn(void *arg)
{
	int i;

	for (i = 0; i < cycles && !kthread_should_stop(); i++) {
		if (batch ? churn_register_batch() : churn_register_serial())
			break;
		/* varied, so unregistering meets the optimizer in every phase */
		msleep(hold_ms + (i % 7) * 3);
		if (batch)
			churn_unregister_batch();
		else
			churn_unregister_serial();
		msleep((i % 5) * 4);
		if (i % 100 == 99)
			pr_info("kprobe_churn: %d rounds, %ld hits\n", i + 1,
				atomic_long_read(&hits));
	}
	pr_info("kprobe_churn: done %d rounds of %zu probes (%s, %s), %ld hits\n", i, NSYMS,
		batch ? "kprobes in one call" : "csdwatch's kretprobes and order",
		post ? "post_handler: not optimized" : "optimizable", atomic_long_read(&hits));
	WRITE_ONCE(finished, i);
	while (!kthread_should_stop())
		msleep(10);
	return 0;
}

static int __init churn_init(void)
{
	unsigned int cpu;

	if (load)
		for_each_online_cpu(cpu)
			callers[cpu] = kthread_run_on_cpu(caller_fn, (void *)(unsigned long)cpu,
							  cpu, "kp_churn_call/%u");
	if (cycles > 0)
		churner = kthread_run(churn_fn, NULL, "kp_churn");
	return 0;
}

static void __exit churn_exit(void)
{
	unsigned int cpu;

	WRITE_ONCE(stop_load, true);
	if (!IS_ERR_OR_NULL(churner))
		kthread_stop(churner);
	for_each_online_cpu(cpu)
		if (!IS_ERR_OR_NULL(callers[cpu]))
			kthread_stop(callers[cpu]);
}

module_init(churn_init);
module_exit(churn_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kprobe register/unregister churn on csdwatch's functions (investigation tool)");
