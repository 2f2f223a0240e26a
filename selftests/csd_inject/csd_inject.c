// SPDX-License-Identifier: GPL-2.0
/*
 * csd_inject: reproduce the three csd_lock_wait() hangs on demand, bounded.
 *
 * Test-only; it does not depend on csdwatch. Control is debugfs,
 * /sys/kernel/debug/csd_inject/:
 *
 *   target       CPU that misbehaves                     (default 1)
 *   senders      number of waiting CPUs, 1..NR_SENDERS   (default 1)
 *   duration_ms  how long the fault lasts, 1..60000      (default 2500)
 *   run          write a scenario name: lost_ipi | irqs_off | slow_handler
 *                | ping | load; the write returns when the scenario has ended
 *
 * load is no fault: ordinary cross-call traffic (smp_call_function_single()
 * to every online CPU in turn and on_each_cpu()) from `senders` unbound
 * kthreads for duration_ms, without holding the CPU-hotplug lock, so CPUs
 * may go offline and online meanwhile.
 *   result       key=value lines about the last run
 *
 * Every scenario ends itself at its deadline, with or without a watchdog:
 * lost_ipi sends the missing IPI itself, irqs_off re-enables interrupts,
 * slow_handler returns from the handler. Times come from one clock,
 * ktime_get_ns(), on every CPU.
 *
 * Written in C, not Rust: it plants a csd directly on a CPU's
 * call_single_queue (a static per-CPU llist of kernel/smp.c), disables hard
 * IRQs around a spin, binds kthreads and sends the raw call-function IPI;
 * none of these has a Rust abstraction in 7.3, so a Rust version would be
 * the same calls wrapped in unsafe.
 */
#include <linux/module.h>
#include <linux/debugfs.h>
#include <linux/kthread.h>
#include <linux/kprobes.h>
#include <linux/llist.h>
#include <linux/smp.h>
#include <linux/delay.h>
#include <linux/completion.h>
#include <linux/mutex.h>
#include <linux/cpu.h>
#include <linux/sched.h>
#include <linux/rcupdate.h>

#define NR_SENDERS 3

static u32 target = 1, senders = 1, duration_ms = 2500;
static DEFINE_MUTEX(run_lock);
static struct cpumask saved_mask, off_target, mig_mask;	/* under run_lock */

/* Found at load (kallsyms through a kprobe lookup; neither is exported). */
static struct llist_head __percpu *csq;	/* kernel/smp.c call_single_queue */
#ifdef CONFIG_ARM64
static void (*send_single_ipi)(int cpu);	/* arch_send_call_function_single_ipi */
#endif

enum scenario { SC_LOST_IPI, SC_IRQS_OFF, SC_SLOW_HANDLER, SC_PING, SC_LOAD, SC_LOST_IPI_MIGRATE,
		SC_NONE };
static const char * const sc_names[] = { "lost_ipi", "irqs_off", "slow_handler", "ping", "load",
					 "lost_ipi_migrate" };

/* What one run recorded; read through "result". */
static struct {
	enum scenario sc;
	u32 target, senders, duration_ms;
	u64 stall_begin_ns, fault_end_ns;
	u64 released_ns[NR_SENDERS];
	u64 call_ns[NR_SENDERS];	/* when each sender made its call */
	int sender_cpu[NR_SENDERS];	/* where each sender began */
	int end_cpu[NR_SENDERS];	/* where it was when released */
	atomic_t ran[NR_SENDERS];	/* each sender's function */
	atomic_t stale_ran;		/* the planted csd (lost_ipi) */
	atomic_t slow_ran;		/* the slow handler */
	int err;
} res;

static call_single_data_t stale_csd;
static atomic_t spin_stop;		/* target spinner: end now */
static atomic_t senders_go;
static atomic_t target_ready;		/* target_fn is running on the target */
static atomic_t fault_started;		/* res.stall_begin_ns is set */
static struct completion sender_done[NR_SENDERS];

static void count_fn(void *p) { atomic_inc(p); }

static void stale_fn(void *p) { atomic_inc(&res.stale_ran); }

static void fault_begins(void)
{
	res.stall_begin_ns = ktime_get_ns();
	atomic_set_release(&fault_started, 1);
}

static u64 fault_deadline(void)
{
	return res.stall_begin_ns + (u64)res.duration_ms * NSEC_PER_MSEC;
}

/* Runs on the target in hard IRQ context: a legitimate but slow csd. */
static void slow_fn(void *p)
{
	fault_begins();
	while (ktime_get_ns() < fault_deadline())
		cpu_relax();
	res.fault_end_ns = ktime_get_ns();
	atomic_inc(&res.slow_ran);
}

/* Send the call-function IPI to @cpu: what a lost IPI never delivered. */
static void send_csd_ipi(int cpu)
{
#ifdef CONFIG_X86
	smp_ops.send_call_func_single_ipi(cpu);
#else
	send_single_ipi(cpu);
#endif
}

/* The misbehaving target: busy (never idle) or IRQs off until told/deadline. */
static int target_fn(void *arg)
{
	bool irqs_off = (unsigned long)arg;
	unsigned long flags;

	/*
	 * SCHED_FIFO: nothing else runs on the target while it spins, so the
	 * CPU never idles (idle flushes the queue) and the load balancer has
	 * no running task to move with the stopper (which flushes it too).
	 */
	sched_set_fifo(current);
	atomic_set_release(&target_ready, 1);
	if (irqs_off) {
		local_irq_save(flags);	/* hard IRQs, also on PREEMPT_RT */
		fault_begins();
		while (ktime_get_ns() < fault_deadline())
			cpu_relax();
		res.fault_end_ns = ktime_get_ns();
		local_irq_restore(flags);
	}
	/*
	 * busy mode: keep the CPU out of idle until told, so only an IPI
	 * flushes. Report RCU quiescent states meanwhile: a spinning kthread
	 * would otherwise hold up every grace period, and with it CPU hotplug
	 * (which the migrate test does during the fault).
	 */
	while (!irqs_off && !atomic_read(&spin_stop)) {
		preempt_disable();
		rcu_momentary_eqs();
		preempt_enable();
		cpu_relax();
	}
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static int sender_fn(void *arg)
{
	long i = (long)arg;
	struct cpumask *m = (struct cpumask *)cpumask_of(res.target);

	while (!atomic_read(&senders_go))
		cpu_relax();
	res.call_ns[i] = ktime_get_ns();
	switch (res.sc) {
	case SC_LOST_IPI:
	case SC_LOST_IPI_MIGRATE:
		smp_call_function_single(res.target, count_fn, &res.ran[i], 1);
		break;
	case SC_IRQS_OFF:
		/* the many/on_each_cpu path, as in seed 002 */
		on_each_cpu_mask(m, count_fn, &res.ran[i], 1);
		break;
	case SC_SLOW_HANDLER:
		if (i == 0) {
			smp_call_function_single(res.target, slow_fn, NULL, 1);
			break;
		}
		/* the others queue behind the slow csd while it runs */
		while (!atomic_read_acquire(&fault_started))
			cpu_relax();
		smp_call_function_single(res.target, count_fn, &res.ran[i], 1);
		break;
	default:
		break;
	}
	res.released_ns[i] = ktime_get_ns();
	res.end_cpu[i] = raw_smp_processor_id();
	complete(&sender_done[i]);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/* load: cross-calls in a loop until the deadline, on whatever CPU it runs */
static int load_fn(void *arg)
{
	long i = (long)arg;
	int cpu = 0;

	while (ktime_get_ns() < fault_deadline()) {
		cpu = cpumask_next(cpu, cpu_online_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_online_mask);
		smp_call_function_single(cpu, count_fn, &res.ran[i], 1);
		on_each_cpu(count_fn, &res.ran[i], 1);
		cond_resched();
	}
	res.released_ns[i] = ktime_get_ns();
	complete(&sender_done[i]);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static int run_load(void)
{
	struct task_struct *snd[NR_SENDERS] = {};
	int i, ret = 0;

	memset(&res, 0, sizeof(res));
	res.sc = SC_LOAD;
	res.target = target;
	res.senders = senders;
	res.duration_ms = duration_ms;
	res.stall_begin_ns = ktime_get_ns();
	for (i = 0; i < res.senders; i++) {
		init_completion(&sender_done[i]);
		res.sender_cpu[i] = -1;		/* unbound */
		snd[i] = kthread_run(load_fn, (void *)(long)i, "csd_inject_load/%d", i);
		if (IS_ERR(snd[i])) {
			ret = PTR_ERR(snd[i]);
			snd[i] = NULL;
			break;
		}
	}
	for (i = 0; i < NR_SENDERS; i++)
		if (snd[i])
			wait_for_completion(&sender_done[i]);
	res.fault_end_ns = ktime_get_ns();
	for (i = 0; i < NR_SENDERS; i++)
		if (snd[i])
			kthread_stop(snd[i]);
	res.err = ret;
	return ret;
}

/*
 * What a sender preempted between llist_add() and the IPI leaves behind: a
 * csd at the head of the target's queue, no IPI. The target must be busy
 * in target_fn first, so nothing flushes the queue.
 */
static void plant_stale_csd(void)
{
	INIT_CSD(&stale_csd, stale_fn, NULL);
	stale_csd.node.u_flags = CSD_FLAG_LOCK;	/* async type, like _async() */
	if (!llist_add(&stale_csd.node.llist, per_cpu_ptr(csq, res.target)))
		pr_info("csd_inject: queue of CPU%u was not empty\n", res.target);
	fault_begins();
}

static struct task_struct *spawn_on(int (*fn)(void *), void *arg, int cpu, const char *what)
{
	struct task_struct *t = kthread_create_on_cpu(fn, arg, cpu, what);

	if (!IS_ERR(t))
		wake_up_process(t);
	return t;
}

static int run_scenario(enum scenario sc)
{
	struct task_struct *tgt = NULL, *snd[NR_SENDERS] = {};
	u64 deadline;
	int i, cpu, ret = 0;

	cpus_read_lock();
	if (target >= nr_cpu_ids || !cpu_online(target) || num_online_cpus() < 2 ||
	    senders > num_online_cpus() - 1) {
		pr_warn("csd_inject: target %u / senders %u do not fit %u online CPUs\n",
			target, senders, num_online_cpus());
		ret = -EINVAL;
		goto out;
	}
	memset(&res, 0, sizeof(res));
	res.sc = sc;
	res.target = target;
	res.senders = sc == SC_PING ? 1 : senders;
	res.duration_ms = duration_ms;

	if (sc == SC_PING) {
		atomic_t n = ATOMIC_INIT(0);

		res.stall_begin_ns = ktime_get_ns();
		ret = smp_call_function_single(target, count_fn, &n, 1);
		res.released_ns[0] = ktime_get_ns();
		atomic_set(&res.ran[0], atomic_read(&n));
		res.sender_cpu[0] = raw_smp_processor_id();
		goto out;
	}

	atomic_set(&spin_stop, 0);
	atomic_set(&senders_go, 0);
	atomic_set(&target_ready, 0);
	atomic_set(&fault_started, 0);

	/*
	 * Senders first: the first online CPUs other than the target. They
	 * exist and spin on senders_go before the fault begins, so creating
	 * them never depends on the faulty CPU (kthreadd may be queued there).
	 */
	i = 0;
	for_each_online_cpu(cpu) {
		if (cpu == target || i >= res.senders)
			continue;
		init_completion(&sender_done[i]);
		res.sender_cpu[i] = cpu;
		snd[i] = spawn_on(sender_fn, (void *)(long)i, cpu, "csd_inject_snd/%u");
		if (IS_ERR(snd[i])) {
			ret = PTR_ERR(snd[i]);
			snd[i] = NULL;
			break;
		}
		i++;
	}
	if (ret) {
		/* could not start every sender: no fault, release who started */
		atomic_set(&senders_go, 1);
		goto wait_senders;
	}
	if (sc != SC_SLOW_HANDLER) {
		tgt = spawn_on(target_fn, (void *)(unsigned long)(sc == SC_IRQS_OFF),
			       target, "csd_inject_tgt/%u");
		if (IS_ERR(tgt)) {
			ret = PTR_ERR(tgt);
			tgt = NULL;
			atomic_set(&senders_go, 1);
			goto wait_senders;
		}
	}
	if (sc == SC_LOST_IPI) {
		/*
		 * What a sender preempted between llist_add() and the IPI leaves
		 * behind: a csd at the head of the target's queue, no IPI. The
		 * target is busy in target_fn, so nothing flushes the queue.
		 */
		while (!atomic_read_acquire(&target_ready))
			msleep(1);	/* the spinner owns the target first */
		plant_stale_csd();
	}
	if (sc == SC_IRQS_OFF) {
		/* the target is inside its IRQs-off spin before anyone sends */
		while (!atomic_read_acquire(&fault_started))
			msleep(1);
	}

	atomic_set(&senders_go, 1);
	while (!atomic_read_acquire(&fault_started))
		msleep(1);	/* slow_handler: the slow csd is running */

	/* the fault lasts until the deadline; then it ends itself */
	deadline = fault_deadline();
	while (ktime_get_ns() < deadline)
		msleep(10);
	if (sc == SC_LOST_IPI) {
		res.fault_end_ns = ktime_get_ns();
		send_csd_ipi(target);
	}
wait_senders:
	for (i = 0; i < NR_SENDERS; i++)
		if (snd[i])
			wait_for_completion(&sender_done[i]);
	atomic_set(&spin_stop, 1);
	if (sc == SC_LOST_IPI) {
		/* the planted csd must have run once; wait for its flush */
		while (stale_csd.node.u_flags & CSD_FLAG_LOCK)
			msleep(1);
	}
out:
	for (i = 0; i < NR_SENDERS; i++)
		if (snd[i])
			kthread_stop(snd[i]);
	if (tgt)
		kthread_stop(tgt);
	res.err = ret;
	cpus_read_unlock();
	return ret;
}

/*
 * lost_ipi_migrate: lost_ipi with one sender that may move while it waits.
 * It starts pinned to the last online CPU (other than the target); once it
 * waits, it may run on any online CPU but the target, and the CPU-hotplug
 * lock is not held, so the CPU it began on can be taken offline meanwhile.
 */
static int run_migrate(void)
{
	struct task_struct *tgt, *snd;
	int cpu, start_cpu = -1, ret = 0;
	u64 deadline;

	cpus_read_lock();
	if (target >= nr_cpu_ids || !cpu_online(target) || num_online_cpus() < 3) {
		pr_warn("csd_inject: lost_ipi_migrate needs 3 online CPUs and target %u online\n",
			target);
		cpus_read_unlock();
		return -EINVAL;
	}
	memset(&res, 0, sizeof(res));
	res.sc = SC_LOST_IPI_MIGRATE;
	res.target = target;
	res.senders = 1;
	res.duration_ms = duration_ms;
	atomic_set(&spin_stop, 0);
	atomic_set(&senders_go, 0);
	atomic_set(&target_ready, 0);
	atomic_set(&fault_started, 0);
	for_each_online_cpu(cpu)
		if (cpu != target)
			start_cpu = cpu;
	tgt = spawn_on(target_fn, NULL, target, "csd_inject_tgt/%u");
	if (IS_ERR(tgt)) {
		cpus_read_unlock();
		return PTR_ERR(tgt);
	}
	while (!atomic_read_acquire(&target_ready))
		msleep(1);
	plant_stale_csd();
	init_completion(&sender_done[0]);
	snd = kthread_create(sender_fn, (void *)0L, "csd_inject_mig");
	if (IS_ERR(snd)) {
		ret = PTR_ERR(snd);
		send_csd_ipi(target);
		cpus_read_unlock();
		goto out_tgt;
	}
	set_cpus_allowed_ptr(snd, cpumask_of(start_cpu));
	res.sender_cpu[0] = start_cpu;
	wake_up_process(snd);
	atomic_set(&senders_go, 1);
	cpus_read_unlock();

	msleep(50);	/* it waits by now: its csd sits behind the stale one */
	cpumask_copy(&mig_mask, cpu_online_mask);
	cpumask_clear_cpu(target, &mig_mask);
	set_cpus_allowed_ptr(snd, &mig_mask);

	deadline = fault_deadline();
	while (ktime_get_ns() < deadline)
		msleep(10);
	res.fault_end_ns = ktime_get_ns();
	send_csd_ipi(target);
	wait_for_completion(&sender_done[0]);
	kthread_stop(snd);
out_tgt:
	atomic_set(&spin_stop, 1);
	while (stale_csd.node.u_flags & CSD_FLAG_LOCK)
		msleep(1);
	kthread_stop(tgt);
	res.err = ret;
	return ret;
}

static ssize_t run_write(struct file *f, const char __user *ubuf, size_t len, loff_t *off)
{
	char buf[32];
	int sc, ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	sc = sysfs_match_string(sc_names, strim(buf));
	if (sc < 0) {
		pr_warn("csd_inject: unknown scenario '%s' (lost_ipi|irqs_off|slow_handler|ping|load|lost_ipi_migrate)\n",
			strim(buf));
		return -EINVAL;
	}
	mutex_lock(&run_lock);
	/*
	 * Run the scenario off the target: the target's SCHED_FIFO spinner
	 * would starve this task on that CPU and the fault would never end.
	 */
	cpumask_copy(&saved_mask, current->cpus_ptr);
	cpumask_copy(&off_target, cpu_online_mask);
	cpumask_clear_cpu(target, &off_target);
	if (!cpumask_empty(&off_target))
		set_cpus_allowed_ptr(current, &off_target);
	if (sc == SC_LOAD)
		ret = run_load();
	else if (sc == SC_LOST_IPI_MIGRATE)
		ret = run_migrate();
	else
		ret = run_scenario(sc);
	set_cpus_allowed_ptr(current, &saved_mask);
	mutex_unlock(&run_lock);
	return ret ? ret : len;
}

static const struct file_operations run_fops = {
	.write = run_write,
};

static int result_show(struct seq_file *m, void *v)
{
	int i;

	mutex_lock(&run_lock);
	if (res.sc >= SC_NONE || !res.stall_begin_ns) {
		seq_puts(m, "scenario=none\n");
		goto out;
	}
	seq_printf(m, "scenario=%s\ntarget=%u\nsenders=%u\nduration_ms=%u\nerr=%d\n",
		   sc_names[res.sc], res.target, res.senders, res.duration_ms, res.err);
	seq_printf(m, "stall_begin_ns=%llu\nfault_end_ns=%llu\n", res.stall_begin_ns,
		   res.fault_end_ns);
	for (i = 0; i < res.senders; i++) {
		u64 r = res.released_ns[i];

		seq_printf(m, "sender%d_cpu=%d\nsender%d_end_cpu=%d\nsender%d_ran=%d\n"
			   "sender%d_stall_ms=%llu\nsender%d_released_after_fault_end=%d\n",
			   i, res.sender_cpu[i], i, res.end_cpu[i], i, atomic_read(&res.ran[i]), i,
			   r > res.stall_begin_ns ? div_u64(r - res.stall_begin_ns, NSEC_PER_MSEC) : 0,
			   i, res.fault_end_ns && r >= res.fault_end_ns);
		seq_printf(m, "sender%d_called_during_fault=%d\n", i,
			   res.call_ns[i] && res.call_ns[i] < res.fault_end_ns);
	}
	seq_printf(m, "stale_ran=%d\nslow_ran=%d\n", atomic_read(&res.stale_ran),
		   atomic_read(&res.slow_ran));
out:
	mutex_unlock(&run_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(result);

/* A u32 debugfs file that refuses values outside [min, max] with -EINVAL. */
struct ranged { u32 *val; u32 min, max; const char *name; };
static struct ranged r_target, r_senders, r_duration;

static int ranged_set(void *data, u64 v)
{
	struct ranged *r = data;

	if (v < r->min || v > r->max) {
		pr_warn("csd_inject: %s=%llu refused: must be %u..%u\n", r->name, v, r->min, r->max);
		return -EINVAL;
	}
	mutex_lock(&run_lock);
	*r->val = v;
	mutex_unlock(&run_lock);
	return 0;
}

static int ranged_get(void *data, u64 *v)
{
	*v = *((struct ranged *)data)->val;
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(ranged_fops, ranged_get, ranged_set, "%llu\n");

/*
 * kallsyms_lookup_name() is not exported; register_kprobe() resolves a
 * symbol for us and stores the address in kp.addr before it checks that the
 * address is probe-able text (data symbols fail that check, which is fine:
 * we only want the address).
 */
static void *lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = name };
	int ret = register_kprobe(&kp);

	if (!ret)
		unregister_kprobe(&kp);
	return ret == -ENOENT ? NULL : (void *)kp.addr;
}

static struct dentry *dir;

static int __init csd_inject_init(void)
{
	csq = lookup("call_single_queue");
	if (!csq) {
		pr_err("csd_inject: symbol call_single_queue not found (CONFIG_KALLSYMS_ALL?)\n");
		return -ENOENT;
	}
#ifdef CONFIG_ARM64
	send_single_ipi = lookup("arch_send_call_function_single_ipi");
	if (!send_single_ipi) {
		pr_err("csd_inject: symbol arch_send_call_function_single_ipi not found\n");
		return -ENOENT;
	}
#endif
	r_target = (struct ranged){ &target, 0, NR_CPUS - 1, "target" };
	r_senders = (struct ranged){ &senders, 1, NR_SENDERS, "senders" };
	r_duration = (struct ranged){ &duration_ms, 1, 60000, "duration_ms" };
	dir = debugfs_create_dir("csd_inject", NULL);
	debugfs_create_file("target", 0644, dir, &r_target, &ranged_fops);
	debugfs_create_file("senders", 0644, dir, &r_senders, &ranged_fops);
	debugfs_create_file("duration_ms", 0644, dir, &r_duration, &ranged_fops);
	debugfs_create_file("run", 0200, dir, NULL, &run_fops);
	debugfs_create_file("result", 0444, dir, NULL, &result_fops);
	res.sc = SC_NONE;
	return 0;
}

static void __exit csd_inject_exit(void)
{
	debugfs_remove_recursive(dir);
}

module_init(csd_inject_init);
module_exit(csd_inject_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("csdwatch selftests: inject lost-IPI, IRQs-off and slow-handler csd stalls");
