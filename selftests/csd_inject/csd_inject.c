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
 *                | ping | load | lost_ipi_migrate | lost_ipi_hold
 *                | lost_ipi_async | lost_ipi_rcu | lost_wakeup | pings
 *                | lost_ipi_many | cfd_reuse | lost_ipi_waiter_irqs_off
 *                | lost_wakeup_busy | load_mixed; the write
 *                returns when the scenario has ended, except lost_ipi_hold:
 *                it returns once its waiters have made their first call,
 *                and the fault goes on in the background
 *   stop         write anything: end a lost_ipi_hold; returns when its
 *                waiters are released and its threads are gone
 *   plant        how the lost-IPI scenarios plant their stale csd (default
 *                raw): raw (llist_add() on the target's queue, as a sender
 *                preempted between llist_add() and the IPI leaves it; no
 *                push through __smp_call_single_queue() to be seen) |
 *                unsent (smp_call_function_single_async() from the task
 *                that runs the scenario, whose IPI is never sent: its
 *                call_function_single_prep_ipi() answers false, as seed
 *                000's preempted sender never got to the send) | dropped
 *                (the same call, its IPI sent and then lost: the target's
 *                handler, generic_smp_call_function_single_interrupt(),
 *                skips it once, as a lost delivery would) | cond (raw,
 *                right after an on_each_cpu_cond_mask() to the target from
 *                the same task whose cond_func leaves the target out: the
 *                TLB flush's skip of a lazy CPU; a push recorded at that
 *                call's entry queued nothing)
 *   result       key=value lines about the last run
 *
 * load is no fault: ordinary cross-call traffic (smp_call_function_single()
 * to every online CPU in turn and on_each_cpu()) from `senders` unbound
 * kthreads for duration_ms, without holding the CPU-hotplug lock, so CPUs
 * may go offline and online meanwhile. load_mixed is load with, before
 * each waited single call, an unwaited one to the same CPU
 * (smp_call_function_single_async(), skipped while the sender's previous
 * one is still queued): a CPU's calls nobody waits for and its waited
 * ones, back to back, as a busy machine makes them.
 *
 * Lost IPIs behind calls nobody waits for (the csd is planted the same
 * way; what is measured is when the queued work ran, senderN_stall_ms):
 *   - lost_ipi_async: smp_call_function_single(wait=0) to the busy target;
 *   - lost_ipi_rcu: synchronize_rcu_expedited() (seed 003: rcu_exp_handler
 *     is sent with wait=0); rcu_normal is cleared for the run, as PREEMPT_RT
 *     sets it after boot, and restored;
 *   - lost_ipi_many: the sender's smp_call_function_many() nobody waits
 *     for, then its on_each_cpu_mask(wait) to a lower CPU (many_low) and
 *     the target: the second call's queue loop spins in csd_lock() on the
 *     first call's csd, many_low already queued (needs target >= 2);
 *   - lost_wakeup: wake_up_process() of a task sleeping on the idle target;
 *     queued on the target's call queue only with the scheduler feature
 *     TTWU_QUEUE on (off by default on PREEMPT_RT: the test turns it on).
 *
 * lost_ipi_hold is a lost IPI that keeps coming back: whenever something
 * (a watchdog's resend) flushes the planted csd, a new one is planted with
 * no IPI, and the senders call the target in a loop with preemption off,
 * as a TLB flush does. It lasts until "stop" is written, at most
 * duration_ms.
 *
 * Every scenario ends itself at its deadline, with or without a watchdog,
 * and from something the fault cannot starve: no task has to be scheduled
 * for a fault to end. A task can be starved: a CPU whose waiter spins with
 * preemption off runs nothing else, and CI once hung because the task that
 * was to send the missing IPI sat queued on such a CPU (behind a kworker
 * stuck on the very csd it was to release). So:
 *   - irqs_off and slow_handler spin on the target against their own
 *     deadline and end there (IRQs back on, handler returns);
 *   - the lost-IPI scenarios are ended by a HARD hrtimer pinned to a CPU
 *     that is not the target: it fires in hard IRQ (also on PREEMPT_RT),
 *     which a waiter spinning with IRQs on cannot hold off, sends the
 *     missing IPI and tells the target's spinner to stop;
 *   - should that timer's CPU be wedged, the target's spinner sends the IPI
 *     to its own CPU SPINNER_GRACE_NS after the deadline.
 * The task that ran the scenario only waits for the end and cleans up,
 * however late it gets to run. Times come from one clock, ktime_get_ns(),
 * on every CPU.
 *
 * Written in C, not Rust: it plants a csd directly on a CPU's
 * call_single_queue (a static per-CPU llist of kernel/smp.c), disables hard
 * IRQs around a spin, binds kthreads and sends the raw call-function IPI;
 * none of these has a Rust abstraction in 7.3, so a Rust version would be
 * the same calls wrapped in unsafe.
 */
#include <linux/version.h>
#include <linux/module.h>
#include <linux/debugfs.h>
#include <linux/kthread.h>
#include <linux/kprobes.h>
#include <linux/kallsyms.h>
#include <linux/llist.h>
#include <linux/smp.h>
#include <linux/delay.h>
#include <linux/completion.h>
#include <linux/mutex.h>
#include <linux/cpu.h>
#include <linux/sched.h>
#include <linux/rcupdate.h>
#include <linux/hrtimer.h>
#include <linux/spinlock.h>
#include <asm/ptrace.h>

#define NR_SENDERS 3
/* lost_ipi_hold: how often the timer looks whether the planted csd ran */
#define HOLD_TICK_NS		(5 * NSEC_PER_MSEC)
/* the target's spinner ends a lost-IPI fault itself this long after its deadline */
#define SPINNER_GRACE_NS	(100 * NSEC_PER_MSEC)
/* pings: the time between two calls */
#define PINGS_GAP_MS		30

static u32 target = 1, senders = 1, duration_ms = 2500;
enum plant_mode { PLANT_RAW, PLANT_UNSENT, PLANT_DROPPED, PLANT_COND };
static const char * const plant_names[] = { "raw", "unsent", "dropped", "cond" };
/* the plants through the real path, with an intercept kprobe */
#define PLANT_INTERCEPTED(m)	((m) == PLANT_UNSENT || (m) == PLANT_DROPPED)
static int plant_mode;			/* debugfs "plant", under run_lock */
static DEFINE_MUTEX(run_lock);
static struct cpumask saved_mask, off_target, mig_mask, hold_mask, runner_mask;	/* under run_lock */

/* Found at load (kallsyms through a kprobe lookup; neither is exported). */
static struct llist_head __percpu *csq;	/* kernel/smp.c call_single_queue */
static int *rcu_normal_p;		/* kernel/rcu/update.c rcu_normal */
#ifdef CONFIG_ARM64
static void (*send_single_ipi)(int cpu);	/* arch_send_call_function_single_ipi */
#endif

enum scenario { SC_LOST_IPI, SC_IRQS_OFF, SC_SLOW_HANDLER, SC_PING, SC_LOAD, SC_LOST_IPI_MIGRATE,
		SC_LOST_IPI_HOLD, SC_LOST_IPI_ASYNC, SC_LOST_IPI_RCU, SC_LOST_WAKEUP, SC_PINGS,
		SC_LOST_IPI_MANY, SC_CFD_REUSE, SC_LOST_IPI_WAITER_IRQS_OFF,
		SC_LOST_WAKEUP_BUSY, SC_LOAD_MIXED, SC_NONE };
static const char * const sc_names[] = { "lost_ipi", "irqs_off", "slow_handler", "ping", "load",
					 "lost_ipi_migrate", "lost_ipi_hold", "lost_ipi_async",
					 "lost_ipi_rcu", "lost_wakeup", "pings", "lost_ipi_many",
					 "cfd_reuse", "lost_ipi_waiter_irqs_off",
					 "lost_wakeup_busy", "load_mixed" };

/*
 * Sleep on a timer of this CPU's, expired in hard IRQ. On a nohz_full
 * kernel a timer an isolated CPU arms unpinned is queued on a
 * housekeeping CPU (get_nohz_timer_target()), and on PREEMPT_RT both
 * the timer wheel and a non-RT task's hrtimer sleeper expire there in
 * softirq context, its ktimers thread, which a sender spinning on that
 * CPU with preemption off (the fault itself) keeps from running: an
 * msleep() of the scenario's thread then lasted until the fault's own
 * deadline (x86_64-nohz, nohz_full=1-3, CPU 0 the sender:
 * unload_during_stall's control held 15000 ms, its "run" write returning
 * only then; 3 of 6 runs with usleep_range(), whose sleeper is soft for a
 * SCHED_OTHER task). Pinned and HARD, the sleeper fires here, in hard IRQ.
 */
static void inject_sleep_ms(unsigned int ms)
{
	ktime_t t = ms_to_ktime(ms);

	set_current_state(TASK_UNINTERRUPTIBLE);
	schedule_hrtimeout_range(&t, 200 * NSEC_PER_USEC, HRTIMER_MODE_REL_PINNED_HARD);
}

/* Who ended a lost-IPI fault (result: ended_by). */
enum end_cause { END_NONE, END_TIMER, END_STOP, END_SPINNER, END_CLEANUP };
static const char * const end_names[] = { "none", "deadline_timer", "stop", "spinner_fallback",
					  "cleanup" };

/* What one run recorded; read through "result". */
static struct {
	enum scenario sc;
	u32 target, senders, duration_ms;
	u64 stall_begin_ns, fault_end_ns;
	u64 released_ns[NR_SENDERS];	/* lost_ipi_hold: when its last call returned */
	u64 call_ns[NR_SENDERS];	/* when each sender made its (first) call */
	int fault_at_call[NR_SENDERS];	/* the planted csd still stood when it called */
	int sender_cpu[NR_SENDERS];	/* where each sender began */
	int call_cpu[NR_SENDERS];	/* where it was just before its call */
	int end_cpu[NR_SENDERS];	/* where it was when released */
	atomic_t ran[NR_SENDERS];	/* each sender's function */
	atomic_t calls[NR_SENDERS];	/* lost_ipi_hold: calls that returned */
	u64 longest_ns[NR_SENDERS];	/* lost_ipi_hold, cfd_reuse: longest single call */
	atomic_t stale_ran;		/* the planted csd (lost-IPI scenarios) */
	u64 stale_ran_ns;		/* when it first ran */
	char stale_ran_by[TASK_COMM_LEN]; /* and from where: "irq" (an IPI) or a task */
	int plant;			/* enum plant_mode of the first plant */
	int intercepted;		/* unsent/dropped: the intercept fired */
	int plant_first;		/* raw/cond: the first plant found the queue empty */
	int planter_pid, planter_cpu;	/* unsent/dropped: who made the call */
	atomic_t replants;		/* lost_ipi_hold: plants after the first */
	atomic_t slow_ran;		/* the slow handler */
	int rcu_normal_was;		/* lost_ipi_rcu: rcu_normal before the run */
	int expedited;			/* lost_ipi_rcu: the grace period was expedited */
	int wakeup_queued;		/* lost_wakeup: on the target's call queue */
	int stale_before_wake;		/* lost_wakeup: the planted csd still queued */
	unsigned int wakee_state;	/* lost_wakeup: the wakee's state before */
	int many_low;			/* lost_ipi_many: the target queued before it */
	atomic_t async_ran;		/* lost_ipi_many: the call nobody waited for */
	atomic_t reuse_ran;		/* cfd_reuse: runs of the shared function */
	/*
	 * busy target: the longest its spin loop went unrun while the fault
	 * stood (a vCPU the host left unscheduled, or work above it)
	 */
	u64 target_gap_ns;
	/* load: every function queued ran exactly once */
	u32 single_calls[NR_SENDERS];	/* smp_call_function_single() that returned 0 */
	atomic_t single_ran[NR_SENDERS];	/* their function's runs */
	u32 many_calls[NR_SENDERS];	/* on_each_cpu() calls */
	u32 many_dups[NR_SENDERS];	/* of those, ones a CPU ran twice */
	u32 mixed_async_calls[NR_SENDERS];	/* load_mixed: unwaited calls queued */
	atomic_t mixed_async_ran[NR_SENDERS];	/* their function's runs */
	enum end_cause ended_by;
	int err;
} res;

static call_single_data_t stale_csd;
static atomic_t spin_stop;		/* target spinner: end now */
static atomic_t senders_go;
static atomic_t target_ready;		/* target_fn is running on the target */
static atomic_t fault_started;		/* res.stall_begin_ns is set */
static atomic_t fault_ended;		/* the missing IPI was sent; no more plants */
static atomic_t hold_stop;		/* lost_ipi_hold: "stop" was written */
static atomic_t hold_active;		/* a lost_ipi_hold thread was started, not reaped */
static struct completion sender_done[NR_SENDERS];
static DECLARE_COMPLETION(hold_started);	/* its senders have called (or it failed) */
static DECLARE_COMPLETION(hold_done);		/* its thread has finished */
static struct hrtimer end_timer;	/* HARD, pinned off the target: ends lost-IPI faults */
/* Orders the end of a fault against a re-plant: none may follow the end. */
static DEFINE_RAW_SPINLOCK(fault_lock);
static atomic_t drop_armed;	/* plant=dropped: the target's next call IPI is dropped */

static void count_fn(void *p) { atomic_inc(p); }

/* lost_ipi_async: the call ran; sender i's release is when it ran */
static void stamp_fn(void *p)
{
	long i = (long)p;

	WRITE_ONCE(res.released_ns[i], ktime_get_ns());
	atomic_inc(&res.ran[i]);
}

static struct task_struct *wakee;	/* lost_wakeup: sleeps on the target */
static atomic_t wakee_asleep, wake_sent;

static void stale_fn(void *p)
{
	if (!res.stale_ran_ns) {
		/*
		 * Who flushed: an IPI's handler runs in hard IRQ; anything else
		 * is the kernel flushing the queue itself (the stopper's
		 * migration_cpu_stop(), idle), which a control run must know.
		 */
		strscpy(res.stale_ran_by, in_hardirq() ? "irq" : current->comm,
			sizeof(res.stale_ran_by));
		WRITE_ONCE(res.stale_ran_ns, ktime_get_ns());
	}
	atomic_inc(&res.stale_ran);
}
static void async_fn(void *p) { atomic_inc(&res.async_ran); }
static struct cpumask many_mask;	/* lost_ipi_many: {many_low, target} */

static void fault_begins(void)
{
	res.stall_begin_ns = ktime_get_ns();
	atomic_set_release(&fault_started, 1);
}

static u64 fault_deadline(void)
{
	return res.stall_begin_ns + (u64)res.duration_ms * NSEC_PER_MSEC;
}

static bool is_lost_ipi(enum scenario sc)
{
	return sc == SC_LOST_IPI || sc == SC_LOST_IPI_MIGRATE || sc == SC_LOST_IPI_HOLD ||
	       sc == SC_LOST_IPI_ASYNC || sc == SC_LOST_IPI_RCU || sc == SC_LOST_WAKEUP ||
	       sc == SC_LOST_IPI_MANY || sc == SC_LOST_IPI_WAITER_IRQS_OFF ||
	       sc == SC_LOST_WAKEUP_BUSY;
}

/* Runs on the target in hard IRQ context: a legitimate but slow csd. */
static void slow_fn(void *p)
{
	fault_begins();
	/* its own deadline: nothing else has to run for the handler to return */
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

/*
 * End a lost-IPI fault: send the IPI that never came (the target flushes
 * its whole queue: the planted csd and every waiter's), plant nothing more,
 * let the spinner go. The first caller wins. Safe in hard IRQ (the timer),
 * on the target (the spinner's fallback) and in task context.
 */
static void end_fault(enum end_cause cause)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&fault_lock, flags);
	if (!atomic_read(&fault_ended)) {
		atomic_set(&drop_armed, 0);	/* this IPI is never the dropped one */
		res.fault_end_ns = ktime_get_ns();
		res.ended_by = cause;
		atomic_set_release(&fault_ended, 1);
		send_csd_ipi(res.target);
	}
	raw_spin_unlock_irqrestore(&fault_lock, flags);
	atomic_set(&spin_stop, 1);
}

/*
 * What a sender preempted between llist_add() and the IPI leaves behind: a
 * csd at the head of the target's queue, no IPI. The target must be busy
 * in target_fn first, so nothing flushes the queue. Async type, like
 * smp_call_function_single_async(): the flush unlocks it before running
 * stale_fn and never touches it after, so it may be planted again as soon
 * as CSD_FLAG_LOCK is clear.
 */
static bool plant(void)
{
	INIT_CSD(&stale_csd, stale_fn, NULL);
	stale_csd.node.u_flags = CSD_FLAG_LOCK;
	return llist_add(&stale_csd.node.llist, per_cpu_ptr(csq, res.target));
}

/*
 * plant=unsent and plant=dropped: the stale csd goes out through the real
 * path, smp_call_function_single_async() from this task (the runner), so
 * a watchdog sees the push that owed the IPI; kprobes, registered around
 * the run (run_write), make that IPI go missing. Their handlers return 1
 * with the instruction pointer moved to a function that returns at once:
 * the probed function is skipped, as error injection's
 * override_function_with_return() does (which is not exported). A
 * post_handler keeps x86 from optimizing the probes into jumps, which
 * would not honour the new instruction pointer.
 */
static struct task_struct *unsent_for;	/* the runner, while it plants */

static noinline bool ci_return_false(void) { return false; }
static noinline void ci_return(void) { }
static void ci_post(struct kprobe *kp, struct pt_regs *regs, unsigned long flags) { }

/* call_function_single_prep_ipi(int cpu): false for the runner's push */
static int unsent_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if (READ_ONCE(unsent_for) != current ||
	    (int)regs_get_kernel_argument(regs, 0) != res.target)
		return 0;
	WRITE_ONCE(unsent_for, NULL);
	res.intercepted = 1;
	instruction_pointer_set(regs, (unsigned long)ci_return_false);
	return 1;
}

/* generic_smp_call_function_single_interrupt(), on the target: once */
static int dropped_pre(struct kprobe *kp, struct pt_regs *regs)
{
	if (raw_smp_processor_id() != res.target || !atomic_xchg(&drop_armed, 0))
		return 0;
	res.intercepted = 1;
	instruction_pointer_set(regs, (unsigned long)ci_return);
	return 1;
}

static struct kprobe intercept_kp;
static bool intercept_on;		/* registered for the current run */

/* Before the run (task context, no CPU-hotplug lock held). */
static int intercept_register(int mode)
{
	int ret;

	memset(&intercept_kp, 0, sizeof(intercept_kp));
	intercept_kp.symbol_name = mode == PLANT_UNSENT ? "call_function_single_prep_ipi"
							: "generic_smp_call_function_single_interrupt";
	intercept_kp.pre_handler = mode == PLANT_UNSENT ? unsent_pre : dropped_pre;
	intercept_kp.post_handler = ci_post;
	ret = register_kprobe(&intercept_kp);
	intercept_on = !ret;
	if (ret)
		pr_warn("csd_inject: plant=%s: cannot probe %s (%d)\n", plant_names[mode],
			intercept_kp.symbol_name, ret);
	return ret;
}

/*
 * The CPU the call is made from is recorded with migration off until the
 * call is made: on PREEMPT_RT this task may be moved in between, and the
 * record must be the CPU the push came from (selftest ipi_origin compares
 * it with csdwatch's report; seen once on a loaded host, arm64: recorded
 * CPU 0, pushed from CPU 2).
 */
static void plant_through_call(void)
{
	INIT_CSD(&stale_csd, stale_fn, NULL);
	res.planter_pid = task_pid_nr(current);
	if (res.plant == PLANT_UNSENT)
		WRITE_ONCE(unsent_for, current);
	else
		atomic_set(&drop_armed, 1);
	migrate_disable();
	res.planter_cpu = raw_smp_processor_id();
	if (smp_call_function_single_async(res.target, &stale_csd))
		pr_warn("csd_inject: plant=%s: the call to CPU%u failed\n",
			plant_names[res.plant], res.target);
	migrate_enable();
	WRITE_ONCE(unsent_for, NULL);
}

static bool leave_out(int cpu, void *info) { return false; }
static void never_run(void *info) { WARN_ON_ONCE(1); }

/*
 * plant=cond: a cross-call to the target that its cond_func leaves out
 * (so nothing is queued there and no IPI is sent), from this task, just
 * before the raw plant.
 */
static void cond_call(void)
{
	res.planter_pid = task_pid_nr(current);
	migrate_disable();	/* as in plant_through_call() */
	res.planter_cpu = raw_smp_processor_id();
	on_each_cpu_cond_mask(leave_out, never_run, NULL, true, cpumask_of(res.target));
	migrate_enable();
}

static void plant_stale_csd(void)
{
	res.plant = res.sc == SC_LOST_IPI_HOLD ? PLANT_RAW : plant_mode;
	if (PLANT_INTERCEPTED(res.plant)) {
		plant_through_call();
	} else {
		if (res.plant == PLANT_COND)
			cond_call();
		res.plant_first = plant();
		if (!res.plant_first)
			pr_info("csd_inject: queue of CPU%u was not empty\n", res.target);
	}
	fault_begins();
}

/*
 * lost_ipi_hold, in the timer: if the planted csd has run (someone sent
 * the IPI), plant it again with no IPI. If the queue was not empty (a
 * sender's csd whose IPI is on its way), that IPI's flush takes this one
 * too and the next tick plants again.
 */
static void replant(void)
{
	raw_spin_lock(&fault_lock);
	if (!atomic_read(&fault_ended) &&
	    !(smp_load_acquire(&stale_csd.node.u_flags) & CSD_FLAG_LOCK)) {
		plant();
		atomic_inc(&res.replants);
	}
	raw_spin_unlock(&fault_lock);
}

/*
 * HARD: runs in hard IRQ, also on PREEMPT_RT, on the CPU it was started on
 * (not the target). lost_ipi, lost_ipi_migrate: fires once, at the
 * deadline. lost_ipi_hold: every HOLD_TICK_NS, re-plants, and ends the
 * fault once "stop" was written or the deadline passed.
 */
static enum hrtimer_restart end_timer_fn(struct hrtimer *t)
{
	if (atomic_read(&fault_ended))
		return HRTIMER_NORESTART;
	if (res.sc == SC_LOST_IPI_HOLD && !atomic_read(&hold_stop) &&
	    ktime_get_ns() < fault_deadline()) {
		replant();
		hrtimer_forward_now(t, ns_to_ktime(HOLD_TICK_NS));
		return HRTIMER_RESTART;
	}
	end_fault(atomic_read(&hold_stop) ? END_STOP : END_TIMER);
	return HRTIMER_NORESTART;
}

/*
 * Arm the end of a lost-IPI fault, pinned to this CPU: the scenario runs
 * off the target (run_write, start_hold), so the timer does too.
 */
static void arm_end_timer(void)
{
	u64 at = res.sc == SC_LOST_IPI_HOLD ? res.stall_begin_ns + HOLD_TICK_NS
					      : fault_deadline();

	migrate_disable();
	WARN_ON_ONCE(raw_smp_processor_id() == res.target);
	hrtimer_start(&end_timer, ns_to_ktime(at), HRTIMER_MODE_ABS_PINNED_HARD);
	migrate_enable();
}

/* The misbehaving target: busy (never idle) or IRQs off until its deadline. */
static int target_fn(void *arg)
{
	bool irqs_off = (unsigned long)arg;
	unsigned long flags;
	u64 last = 0;

	/*
	 * SCHED_FIFO: no ordinary task runs on the target while it spins (but
	 * for the fair server's share), so the CPU never idles (idle flushes
	 * the queue) and the load balancer has no running task to move with
	 * the stopper (which flushes it too). At the lowest RT priority, and
	 * it yields below: the target's per-CPU RT kthreads (ktimers, rcuc)
	 * still run, so the fault is the lost IPI and not also a target whose
	 * timers, RCU callbacks and Tasks RCU (which waits for every preempted
	 * task) stand still.
	 */
	sched_set_fifo_low(current);
	atomic_set_release(&target_ready, 1);
	if (irqs_off) {
		local_irq_save(flags);	/* hard IRQs, also on PREEMPT_RT */
		fault_begins();
		/* its own deadline: only this CPU can turn its IRQs back on */
		while (ktime_get_ns() < fault_deadline())
			cpu_relax();
		res.fault_end_ns = ktime_get_ns();
		local_irq_restore(flags);
	}
	/*
	 * busy mode: keep the CPU out of idle until the fault ends, so only an
	 * IPI flushes. Report RCU quiescent states meanwhile: a spinning
	 * kthread would otherwise hold up every grace period, and with it CPU
	 * hotplug (which the migrate test does during the fault). Also Tasks
	 * RCU ones: this task never sleeps, and unregistering an optimized
	 * kprobe (x86) waits for Tasks RCU.
	 */
	while (!irqs_off && !atomic_read(&spin_stop)) {
		u64 now = ktime_get_ns();

		/*
		 * Premise check: a target unrun for irq_frozen_ms looks IRQs-off
		 * to any watchdog, and rightly so. Measured until the planted
		 * csd first ran (a rescue) or the fault ended.
		 */
		if (atomic_read_acquire(&fault_started) && !atomic_read(&fault_ended) &&
		    !atomic_read(&res.stale_ran)) {
			if (last && now - last > res.target_gap_ns)
				WRITE_ONCE(res.target_gap_ns, now - last);
			last = now;
		}
		/*
		 * lost_ipi_rcu: no momentary EQS, or the expedited grace period
		 * would find this CPU quiescent without sending its IPI.
		 */
		if (res.sc != SC_LOST_IPI_RCU) {
			preempt_disable();
			rcu_momentary_eqs();
			preempt_enable();
		}
		rcu_tasks_qs(current, false);
		yield();	/* to runnable RT tasks of its priority; never idles */
		cpu_relax();
		/*
		 * Well past the deadline and the fault still stands: the timer's
		 * CPU is wedged. End it from here, the IPI to this very CPU.
		 */
		if (atomic_read_acquire(&fault_started) &&
		    ktime_get_ns() > fault_deadline() + SPINNER_GRACE_NS)
			end_fault(END_SPINNER);
	}
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/*
 * lost_ipi_many: keeps many_low busy, as target_fn keeps the target (never
 * idle, so only an IPI flushes its queue: the csd queued there by the
 * stuck call's loop stays queued), until the run ends, and by itself at
 * the latest SPINNER_GRACE_NS past the deadline.
 */
static int busy_fn(void *unused)
{
	sched_set_fifo_low(current);
	while (!atomic_read(&spin_stop) &&
	       !(atomic_read_acquire(&fault_started) &&
		 ktime_get_ns() > fault_deadline() + SPINNER_GRACE_NS)) {
		preempt_disable();
		rcu_momentary_eqs();
		preempt_enable();
		rcu_tasks_qs(current, false);
		yield();
		cpu_relax();
	}
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/*
 * lost_ipi_hold sender: smp_call_function_single(wait=1) to the target in a
 * loop until the fault ends. Each call waits with preemption off, as a TLB
 * flush does (flush_tlb_kernel_range() disables preemption around its
 * on_each_cpu()): this CPU then passes no RCU quiescent state while it
 * waits, so every grace period waits for the lost IPI. Between calls it
 * sleeps (a quiescent state).
 */
static void hold_sender(long i)
{
	while (!atomic_read_acquire(&fault_ended)) {
		u64 t0 = ktime_get_ns(), w;

		preempt_disable();
		smp_call_function_single(res.target, count_fn, &res.ran[i], 1);
		preempt_enable();
		res.released_ns[i] = ktime_get_ns();
		w = res.released_ns[i] - t0;
		if (w > res.longest_ns[i])
			res.longest_ns[i] = w;
		atomic_inc(&res.calls[i]);
		usleep_range(100, 200);
	}
}

static int sender_fn(void *arg)
{
	long i = (long)arg;
	struct cpumask *m = (struct cpumask *)cpumask_of(res.target);

	while (!atomic_read(&senders_go))
		cpu_relax();
	res.call_ns[i] = ktime_get_ns();
	res.call_cpu[i] = raw_smp_processor_id();
	/* lost-IPI scenarios: did the fault still stand (nothing flushed the
	 * target since the plant)? If not, the call cannot hang. */
	res.fault_at_call[i] = !!(smp_load_acquire(&stale_csd.node.u_flags) & CSD_FLAG_LOCK);
	switch (res.sc) {
	case SC_LOST_IPI:
	case SC_LOST_IPI_MIGRATE:
		smp_call_function_single(res.target, count_fn, &res.ran[i], 1);
		break;
	case SC_LOST_IPI_HOLD:
		hold_sender(i);
		break;
	case SC_LOST_IPI_ASYNC:
		/* wait=0: nobody spins on it; released when the function ran */
		smp_call_function_single(res.target, stamp_fn, (void *)i, 0);
		while (!atomic_read(&res.ran[i]))
			usleep_range(100, 200);
		break;
	case SC_LOST_IPI_RCU:
		/* seed 003: rcu_exp_handler is sent to the target with wait=0 */
		res.expedited = !READ_ONCE(*rcu_normal_p);	/* rcu_gp_is_normal() */
		synchronize_rcu_expedited();
		WRITE_ONCE(res.released_ns[i], ktime_get_ns());
		atomic_inc(&res.ran[i]);
		break;
	case SC_LOST_WAKEUP:
		/* the wakeup is queued on the idle target (TTWU_QUEUE) */
		res.stale_before_wake = READ_ONCE(per_cpu_ptr(csq, res.target)->first) ==
					&stale_csd.node.llist;
		res.wakee_state = READ_ONCE(wakee->__state);
		atomic_set_release(&wake_sent, 1);
		wake_up_process(wakee);
		/* queued, or activated at once (TTWU_QUEUE off, target not idle) */
		res.wakeup_queued = READ_ONCE(per_cpu_ptr(csq, res.target)->first) ==
				    &wakee->wake_entry.llist;
		while (!atomic_read_acquire(&res.ran[i]))
			usleep_range(100, 200);
		break;
	case SC_LOST_WAKEUP_BUSY:
		/* queued on the busy target's call queue when the CPUs share no cache */
		res.stale_before_wake = READ_ONCE(per_cpu_ptr(csq, res.target)->first) ==
					&stale_csd.node.llist;
		res.wakee_state = READ_ONCE(wakee->__state);
		atomic_set_release(&wake_sent, 1);
		wake_up_process(wakee);
		res.wakeup_queued = READ_ONCE(per_cpu_ptr(csq, res.target)->first) ==
				    &wakee->wake_entry.llist;
		/*
		 * Released when the wakeup is done (the target's flush made the
		 * kthread TASK_RUNNING); it runs only once the spinner lets it.
		 */
		while (READ_ONCE(wakee->__state) != TASK_RUNNING)
			usleep_range(100, 200);
		WRITE_ONCE(res.released_ns[i], ktime_get_ns());
		break;
	case SC_LOST_IPI_MANY:
		/*
		 * A call nobody waits for leaves this CPU's cfd csd for the
		 * target locked, queued behind the planted csd; the waited
		 * call to {many_low, target} then queues many_low's csd and
		 * spins in csd_lock() on the target's, its IPIs not sent yet.
		 */
		preempt_disable();
		smp_call_function_many(cpumask_of(res.target), async_fn, NULL, false);
		preempt_enable();
		on_each_cpu_mask(&many_mask, count_fn, &res.ran[i], true);
		break;
	case SC_LOST_IPI_WAITER_IRQS_OFF: {
		unsigned long flags;

		/*
		 * A caller with IRQs disabled (a bug lockdep warns of, silent
		 * without it): this CPU's own timers cannot fire while it
		 * spins, so nothing on this CPU can look at its wait.
		 */
		local_irq_save(flags);
		on_each_cpu_mask(m, count_fn, &res.ran[i], true);
		local_irq_restore(flags);
		break;
	}
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
	if (res.sc != SC_LOST_IPI_HOLD && res.sc != SC_LOST_IPI_ASYNC && res.sc != SC_LOST_WAKEUP &&
	    res.sc != SC_LOST_IPI_RCU && res.sc != SC_LOST_WAKEUP_BUSY)
		res.released_ns[i] = ktime_get_ns();
	res.end_cpu[i] = raw_smp_processor_id();
	complete(&sender_done[i]);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/*
 * lost_wakeup: a task that sleeps on the target until sender 0 wakes it;
 * its release is when it runs again. Nothing else runs on the target, so
 * the CPU is idle when the stale csd is planted: the wakeup is queued on
 * its call queue (TTWU_QUEUE, an idle target), behind the csd, no IPI.
 */
static int wakee_fn(void *unused)
{
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (atomic_read_acquire(&wake_sent) || kthread_should_stop())
			break;
		atomic_set(&wakee_asleep, 1);
		schedule();
	}
	__set_current_state(TASK_RUNNING);
	if (atomic_read(&wake_sent)) {
		/* lost_wakeup_busy: released when woken (the sender saw it) */
		if (res.sc == SC_LOST_WAKEUP)
			WRITE_ONCE(res.released_ns[0], ktime_get_ns());
		atomic_inc(&res.ran[0]);
	}
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/* One on_each_cpu() call of a load sender: which CPUs ran it, how often. */
static struct load_many {
	atomic_t hits;
	struct cpumask seen;
	call_single_data_t async_csd;	/* load_mixed's unwaited call */
} load_many[NR_SENDERS];

static void load_async_fn(void *p)
{
	atomic_inc(&res.mixed_async_ran[(long)p]);
}

static void load_single_fn(void *p)
{
	long i = (long)p;

	atomic_inc(&res.ran[i]);
	atomic_inc(&res.single_ran[i]);
}

static void load_many_fn(void *p)
{
	long i = (long)p;

	atomic_inc(&res.ran[i]);
	cpumask_set_cpu(smp_processor_id(), &load_many[i].seen);
	atomic_inc(&load_many[i].hits);
}

/*
 * load: cross-calls in a loop until the deadline, on whatever CPU it runs.
 * Each function is counted: a single call that returned 0 ran exactly
 * once (single_calls == single_ran), and no CPU ran an on_each_cpu()
 * function twice (hits == CPUs that ran it). CPUs going down meanwhile
 * are fine: a call to an offline CPU returns -ENXIO and is not counted.
 */
static int load_fn(void *arg)
{
	long i = (long)arg;
	struct load_many *lm = &load_many[i];
	int cpu = 0;

	while (ktime_get_ns() < fault_deadline()) {
		cpu = cpumask_next(cpu, cpu_online_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_online_mask);
		/* -EBUSY: the previous one is still queued */
		if (res.sc == SC_LOAD_MIXED && !smp_call_function_single_async(cpu, &lm->async_csd))
			res.mixed_async_calls[i]++;
		if (!smp_call_function_single(cpu, load_single_fn, (void *)i, 1))
			res.single_calls[i]++;
		cpumask_clear(&lm->seen);
		atomic_set(&lm->hits, 0);
		on_each_cpu(load_many_fn, (void *)i, 1);
		res.many_calls[i]++;
		if (atomic_read(&lm->hits) != cpumask_weight(&lm->seen))
			res.many_dups[i]++;
		cond_resched();
	}
	res.released_ns[i] = ktime_get_ns();
	complete(&sender_done[i]);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static int run_load(enum scenario sc)
{
	struct task_struct *snd[NR_SENDERS] = {};
	int i, ret = 0;

	memset(&res, 0, sizeof(res));
	res.sc = sc;
	res.target = target;
	res.senders = senders;
	res.duration_ms = duration_ms;
	res.stall_begin_ns = ktime_get_ns();
	for (i = 0; i < res.senders; i++) {
		init_completion(&sender_done[i]);
		INIT_CSD(&load_many[i].async_csd, load_async_fn, (void *)(long)i);
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
	/* load_mixed: the last unwaited calls run before the module may go */
	for (i = 0; i < NR_SENDERS; i++) {
		int ms;

		for (ms = 0; ms < 2000 && atomic_read(&res.mixed_async_ran[i]) != res.mixed_async_calls[i]; ms++)
			inject_sleep_ms(1);
	}
	res.err = ret;
	return ret;
}

static struct task_struct *spawn_on(int (*fn)(void *), void *arg, int cpu, const char *what)
{
	struct task_struct *t = kthread_create_on_cpu(fn, arg, cpu, what);

	if (!IS_ERR(t))
		wake_up_process(t);
	return t;
}

/*
 * cfd_reuse: no fault. Two kthreads on one CPU (the last online one but the
 * target) call on_each_cpu_mask({target}, reuse_fn, NULL, wait) in loops:
 * sender 0 (SCHED_OTHER) back to back; sender 1 (SCHED_FIFO) sleeps 2-3 ms,
 * then calls back to back for CFD_BURST_MS, and again until the deadline.
 * Sender 1's wakeup preempts sender 0, mostly in its wait (reuse_fn takes
 * CFD_FN_US on the target): on 7.x a waiter spins with preemption on, so
 * sender 0's csd runs, and for the whole burst sender 1's calls lock that
 * same per-CPU csd (same function, same argument) while sender 0 has not
 * returned: a wait about CFD_BURST_MS long whose own csd ran at its start.
 * A watchdog that ages such a wait from its start, not from the later
 * lock, reports it. sender0_longest_ms, sender 0's longest call, spans a
 * burst also when it was preempted only after its call returned (6.12,
 * whose waiter spins with preemption off); a watchdog's own record of its
 * longest wait tells the two apart.
 */
#define CFD_BURST_MS	700
#define CFD_FN_US	300
static struct cpumask reuse_mask;	/* {target} */

static void reuse_fn(void *p)
{
	atomic_inc(&res.reuse_ran);
	udelay(CFD_FN_US);
}

static void reuse_call(long i)
{
	u64 t0 = ktime_get_ns(), dt;

	on_each_cpu_mask(&reuse_mask, reuse_fn, NULL, true);
	dt = ktime_get_ns() - t0;
	atomic_inc(&res.calls[i]);
	if (dt > res.longest_ns[i])
		res.longest_ns[i] = dt;
}

static int reuse_fn_thread(void *arg)
{
	long i = (long)arg;

	if (i)
		sched_set_fifo_low(current);
	while (ktime_get_ns() < fault_deadline()) {
		if (i) {
			u64 end;

			usleep_range(2000, 3000);
			end = ktime_get_ns() + CFD_BURST_MS * NSEC_PER_MSEC;
			while (ktime_get_ns() < min(end, fault_deadline()))
				reuse_call(i);
		} else {
			reuse_call(i);
			cond_resched();
		}
	}
	res.released_ns[i] = ktime_get_ns();
	complete(&sender_done[i]);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static int run_cfd_reuse(void)
{
	struct task_struct *snd[2] = {};
	int cpu, home = -1, i, ret = 0;

	cpus_read_lock();
	for_each_online_cpu(cpu)
		if (cpu != target)
			home = cpu;
	if (target >= nr_cpu_ids || !cpu_online(target) || home < 0) {
		pr_warn("csd_inject: cfd_reuse needs 2 online CPUs and target %u online\n", target);
		cpus_read_unlock();
		return -EINVAL;
	}
	memset(&res, 0, sizeof(res));
	res.sc = SC_CFD_REUSE;
	res.target = target;
	res.senders = 2;
	res.duration_ms = duration_ms;
	cpumask_copy(&reuse_mask, cpumask_of(target));
	res.stall_begin_ns = ktime_get_ns();
	for (i = 0; i < 2; i++) {
		init_completion(&sender_done[i]);
		res.sender_cpu[i] = home;
		snd[i] = spawn_on(reuse_fn_thread, (void *)(long)i, home, "csd_inject_reuse/%u");
		if (IS_ERR(snd[i])) {
			ret = PTR_ERR(snd[i]);
			snd[i] = NULL;
			break;
		}
	}
	cpus_read_unlock();
	for (i = 0; i < 2; i++)
		if (snd[i])
			wait_for_completion(&sender_done[i]);
	res.fault_end_ns = ktime_get_ns();
	for (i = 0; i < 2; i++)
		if (snd[i])
			kthread_stop(snd[i]);
	res.err = ret;
	return ret;
}

/* Reset the run state shared with the spinner, the senders and the timer. */
static void reset_run_state(void)
{
	atomic_set(&spin_stop, 0);
	atomic_set(&senders_go, 0);
	atomic_set(&target_ready, 0);
	atomic_set(&fault_started, 0);
	atomic_set(&fault_ended, 0);
	atomic_set(&wakee_asleep, 0);
	atomic_set(&wake_sent, 0);
}

/*
 * After a lost-IPI fault ended (or never began): no timer left, and the
 * planted csd has run, each plant exactly once (the flush takes the whole
 * queue; waits a little for stale_fn, which runs just after the unlock).
 */
static void lost_ipi_cleanup(void)
{
	int n;

	end_fault(END_CLEANUP);		/* error paths: no fault outlives its run */
	hrtimer_cancel(&end_timer);
	if (!atomic_read(&fault_started))
		return;
	while (smp_load_acquire(&stale_csd.node.u_flags) & CSD_FLAG_LOCK)
		inject_sleep_ms(1);
	for (n = 0; n < 100 && atomic_read(&res.stale_ran) < atomic_read(&res.replants) + 1; n++)
		inject_sleep_ms(1);
}

static int run_scenario(enum scenario sc)
{
	struct task_struct *tgt = NULL, *busy = NULL, *wk = NULL, *snd[NR_SENDERS] = {};
	u64 deadline;
	int i, cpu, ret = 0;
	/* lost_ipi_hold leaves a CPU free of waiters for whoever writes "stop" */
	u32 spare = sc == SC_LOST_IPI_HOLD ? 2 : 1;

	cpus_read_lock();
	if (target >= nr_cpu_ids || !cpu_online(target) || num_online_cpus() < spare + 1 ||
	    senders > num_online_cpus() - spare) {
		pr_warn("csd_inject: target %u / senders %u do not fit %u online CPUs\n",
			target, senders, num_online_cpus());
		ret = -EINVAL;
		goto out;
	}
	memset(&res, 0, sizeof(res));
	res.sc = sc;
	res.target = target;
	res.senders = sc == SC_PING || sc == SC_PINGS || sc == SC_LOST_IPI_MANY ? 1 : senders;
	res.duration_ms = duration_ms;

	if (sc == SC_PINGS) {
		/* one call every PINGS_GAP_MS for duration_ms, nothing in between */
		u64 end = ktime_get_ns() + (u64)duration_ms * NSEC_PER_MSEC;

		res.stall_begin_ns = ktime_get_ns();
		res.sender_cpu[0] = raw_smp_processor_id();
		while (!ret && ktime_get_ns() < end) {
			ret = smp_call_function_single(target, count_fn, &res.ran[0], 1);
			inject_sleep_ms(PINGS_GAP_MS);
		}
		res.released_ns[0] = ktime_get_ns();
		goto out;
	}
	if (sc == SC_PING) {
		atomic_t n = ATOMIC_INIT(0);

		res.stall_begin_ns = ktime_get_ns();
		ret = smp_call_function_single(target, count_fn, &n, 1);
		res.released_ns[0] = ktime_get_ns();
		atomic_set(&res.ran[0], atomic_read(&n));
		res.sender_cpu[0] = raw_smp_processor_id();
		goto out;
	}

	if (sc == SC_LOST_IPI_MANY) {
		/* a target that comes before the faulty one in the queue loop,
		 * other than the sender's CPU (the first online but the target) */
		int snd_cpu = -1;

		res.many_low = -1;
		for_each_online_cpu(cpu) {
			if (cpu == target)
				continue;
			if (snd_cpu < 0)
				snd_cpu = cpu;
			else if (cpu < target)
				res.many_low = cpu;
			if (res.many_low >= 0)
				break;
		}
		if (res.many_low < 0) {
			pr_warn("csd_inject: lost_ipi_many needs an online CPU below the target besides the sender's (target >= 2)\n");
			ret = -EINVAL;
			goto out;
		}
		cpumask_clear(&many_mask);
		cpumask_set_cpu(res.many_low, &many_mask);
		cpumask_set_cpu(target, &many_mask);
	}

	reset_run_state();

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
			goto abort;
		}
		i++;
	}
	if (sc == SC_LOST_WAKEUP || sc == SC_LOST_WAKEUP_BUSY) {
		wk = spawn_on(wakee_fn, NULL, target, "csd_inject_wakee/%u");
		if (IS_ERR(wk)) {
			ret = PTR_ERR(wk);
			wk = NULL;
			goto abort;
		}
		wakee = wk;
		while (!atomic_read(&wakee_asleep))
			inject_sleep_ms(1);
		inject_sleep_ms(20);	/* asleep for good: the target idles */
		if (sc == SC_LOST_WAKEUP)
			atomic_set_release(&target_ready, 1);
	}
	if (sc != SC_SLOW_HANDLER && sc != SC_LOST_WAKEUP) {
		tgt = spawn_on(target_fn, (void *)(unsigned long)(sc == SC_IRQS_OFF),
			       target, "csd_inject_tgt/%u");
		if (IS_ERR(tgt)) {
			ret = PTR_ERR(tgt);
			tgt = NULL;
			goto abort;
		}
	}
	if (sc == SC_LOST_IPI_MANY) {
		busy = spawn_on(busy_fn, NULL, res.many_low, "csd_inject_busy/%u");
		if (IS_ERR(busy)) {
			ret = PTR_ERR(busy);
			busy = NULL;
			goto abort;
		}
	}
	if (sc == SC_LOST_IPI_RCU) {
		/* expedited grace periods, as on non-RT kernels (RT boots with
		 * rcupdate.rcu_normal_after_boot=1); restored below */
		res.rcu_normal_was = READ_ONCE(*rcu_normal_p);
		WRITE_ONCE(*rcu_normal_p, 0);
	}
	if (sc == SC_LOST_IPI_WAITER_IRQS_OFF) {
		/* the end timer off the senders' CPUs too: they spin with IRQs off */
		cpumask_copy(&runner_mask, current->cpus_ptr);
		for (i = 0; i < res.senders; i++)
			cpumask_clear_cpu(res.sender_cpu[i], &runner_mask);
		if (cpumask_empty(&runner_mask) || set_cpus_allowed_ptr(current, &runner_mask)) {
			pr_warn("csd_inject: lost_ipi_waiter_irqs_off needs a CPU that is neither the target nor a sender\n");
			ret = -EINVAL;
			goto abort;
		}
	}
	if (is_lost_ipi(sc)) {
		while (!atomic_read_acquire(&target_ready))
			inject_sleep_ms(1);	/* the spinner owns the target first */
		plant_stale_csd();
		arm_end_timer();
	}
	if (sc == SC_IRQS_OFF) {
		/* the target is inside its IRQs-off spin before anyone sends */
		while (!atomic_read_acquire(&fault_started))
			inject_sleep_ms(1);
	}

	atomic_set(&senders_go, 1);
	while (!atomic_read_acquire(&fault_started))
		inject_sleep_ms(1);	/* slow_handler: the slow csd is running */
	if (sc == SC_LOST_IPI_HOLD) {
		/* "run" returns once every sender has called (and waits, if no one rescues) */
		for (i = 0; i < res.senders; i++)
			while (!READ_ONCE(res.call_ns[i]))
				inject_sleep_ms(1);
		complete(&hold_started);
	}

	/*
	 * The fault ends by itself (the timer, the spinners' own deadlines);
	 * this task only waits for that, however late it gets to run.
	 */
	deadline = fault_deadline();
	if (is_lost_ipi(sc)) {
		while (!atomic_read_acquire(&fault_ended))
			inject_sleep_ms(10);
	} else {
		while (ktime_get_ns() < deadline)
			inject_sleep_ms(10);
	}
	goto wait_senders;

abort:
	/* could not start everyone: no fault; release who started */
	atomic_set(&fault_ended, 1);
	atomic_set(&senders_go, 1);
wait_senders:
	for (i = 0; i < NR_SENDERS; i++)
		if (snd[i])
			wait_for_completion(&sender_done[i]);
	if (is_lost_ipi(sc))
		lost_ipi_cleanup();
	atomic_set(&spin_stop, 1);
	if (sc == SC_LOST_IPI_RCU)
		WRITE_ONCE(*rcu_normal_p, res.rcu_normal_was);
out:
	for (i = 0; i < NR_SENDERS; i++)
		if (snd[i])
			kthread_stop(snd[i]);
	if (tgt)
		kthread_stop(tgt);
	if (busy)
		kthread_stop(busy);
	if (wk)
		kthread_stop(wk);	/* it runs once the spinner is gone */
	wakee = NULL;
	res.err = ret;
	cpus_read_unlock();
	return ret;
}

/*
 * lost_ipi_migrate: lost_ipi with one sender that may move while it waits.
 * It starts pinned to the last online CPU (other than the target); once it
 * waits, it may run on any online CPU but the target, and the CPU-hotplug
 * lock is not held, so the CPU it began on can be taken offline meanwhile
 * (the timer, if it was there, moves to another CPU and still fires).
 */
static int run_migrate(void)
{
	struct task_struct *tgt, *snd;
	int cpu, start_cpu = -1, ret = 0;

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
	reset_run_state();
	for_each_online_cpu(cpu)
		if (cpu != target)
			start_cpu = cpu;
	tgt = spawn_on(target_fn, NULL, target, "csd_inject_tgt/%u");
	if (IS_ERR(tgt)) {
		cpus_read_unlock();
		return PTR_ERR(tgt);
	}
	/* the sender exists before the fault (kthreadd may be queued on the target) */
	init_completion(&sender_done[0]);
	snd = kthread_create(sender_fn, (void *)0L, "csd_inject_mig");
	if (IS_ERR(snd)) {
		ret = PTR_ERR(snd);
		cpus_read_unlock();
		goto out_tgt;
	}
	/*
	 * Before its first wake-up: a kthread's first run resets the affinity
	 * set with set_cpus_allowed_ptr() (kthread_affine_node()), so that
	 * would not stick and it could start on the target, behind the spinner.
	 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 14, 0)	/* 6.12 LTS: no kthread_affine_preferred() */
	kthread_bind(snd, start_cpu);
	ret = 0;
#else
	ret = kthread_affine_preferred(snd, cpumask_of(start_cpu));
#endif
	if (ret) {
		kthread_stop(snd);
		cpus_read_unlock();
		goto out_tgt;
	}
	res.sender_cpu[0] = start_cpu;
	while (!atomic_read_acquire(&target_ready))
		inject_sleep_ms(1);
	plant_stale_csd();
	arm_end_timer();
	wake_up_process(snd);
	atomic_set(&senders_go, 1);
	cpus_read_unlock();

	inject_sleep_ms(50);	/* it waits by now: its csd sits behind the stale one */
	cpumask_copy(&mig_mask, cpu_online_mask);
	cpumask_clear_cpu(target, &mig_mask);
	set_cpus_allowed_ptr(snd, &mig_mask);

	while (!atomic_read_acquire(&fault_ended))	/* the timer ends it */
		inject_sleep_ms(10);
	wait_for_completion(&sender_done[0]);
	kthread_stop(snd);
out_tgt:
	lost_ipi_cleanup();
	kthread_stop(tgt);
	res.err = ret;
	return ret;
}

/*
 * lost_ipi_hold runs in a thread of its own, off the target, so that the
 * "run" write can return while the fault holds; "stop" (or the deadline,
 * or unloading csd_inject) ends it.
 */
static int hold_fn(void *unused)
{
	run_scenario(SC_LOST_IPI_HOLD);
	complete(&hold_started);	/* in case it failed before its senders called */
	complete(&hold_done);
	return 0;
}

/*
 * Under run_lock. The hold's thread runs on a CPU that is neither the
 * target (its SCHED_FIFO spinner would starve it before the fault is armed)
 * nor a sender's (a waiter spinning with preemption off runs nothing else
 * there, not even the timer that ends a inject_sleep_ms()); the senders are the
 * first online CPUs other than the target (run_scenario).
 */
static int start_hold(void)
{
	struct task_struct *t;
	u32 n = 0;
	int cpu, ret;

	cpus_read_lock();
	cpumask_clear(&hold_mask);
	for_each_online_cpu(cpu) {
		if (cpu == target)
			continue;
		if (n++ >= senders)
			cpumask_set_cpu(cpu, &hold_mask);
	}
	cpus_read_unlock();
	if (cpumask_empty(&hold_mask)) {
		pr_warn("csd_inject: lost_ipi_hold needs a CPU that is neither target nor sender\n");
		return -EINVAL;
	}
	atomic_set(&hold_stop, 0);
	reinit_completion(&hold_started);
	reinit_completion(&hold_done);
	t = kthread_create(hold_fn, NULL, "csd_inject_hold");
	if (IS_ERR(t))
		return PTR_ERR(t);
	/* before its first wake-up, or kthread_affine_node() would undo it */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 14, 0)
	/* 6.12: no kthread_affine_preferred(), kthread_bind_mask() not exported */
	kthread_bind(t, cpumask_first(&hold_mask));
	ret = 0;
#else
	ret = kthread_affine_preferred(t, &hold_mask);
#endif
	if (ret) {
		kthread_stop(t);
		return ret;
	}
	atomic_set(&hold_active, 1);
	wake_up_process(t);
	wait_for_completion(&hold_started);
	return res.err;
}

/*
 * End a lost_ipi_hold (if it still runs) and wait for its thread; false if
 * none was started. The fault is ended here directly, and the timer would
 * end it within HOLD_TICK_NS anyway.
 */
static bool stop_hold(void)
{
	if (!atomic_read(&hold_active))
		return false;
	atomic_set(&hold_stop, 1);
	if (atomic_read_acquire(&fault_started))
		end_fault(END_STOP);
	wait_for_completion(&hold_done);
	atomic_set(&hold_active, 0);
	return true;
}

static ssize_t stop_write(struct file *f, const char __user *ubuf, size_t len, loff_t *off)
{
	bool stopped;

	mutex_lock(&run_lock);
	stopped = stop_hold();
	mutex_unlock(&run_lock);
	if (!stopped)
		pr_warn("csd_inject: stop: no lost_ipi_hold was started\n");
	return stopped ? len : -ESRCH;
}

static const struct file_operations stop_fops = {
	.write = stop_write,
};

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
		pr_warn("csd_inject: unknown scenario '%s' (lost_ipi|irqs_off|slow_handler|ping|load|lost_ipi_migrate|lost_ipi_hold|lost_ipi_async|lost_ipi_rcu|lost_wakeup|pings|lost_ipi_many|cfd_reuse|lost_ipi_waiter_irqs_off|lost_wakeup_busy|load_mixed)\n",
			strim(buf));
		return -EINVAL;
	}
	mutex_lock(&run_lock);
	if (atomic_read(&hold_active)) {
		if (!completion_done(&hold_done)) {
			pr_warn("csd_inject: a lost_ipi_hold is running; write stop first\n");
			mutex_unlock(&run_lock);
			return -EBUSY;
		}
		stop_hold();	/* it ended at its deadline: reap it */
	}
	if (sc == SC_LOST_IPI_HOLD) {
		ret = start_hold();
		mutex_unlock(&run_lock);
		return ret ? ret : len;
	}
	/*
	 * Run the scenario off the target: the target's SCHED_FIFO spinner
	 * would starve this task on that CPU (the end_timer it arms must not
	 * be pinned to the target either).
	 */
	cpumask_copy(&saved_mask, current->cpus_ptr);
	cpumask_copy(&off_target, cpu_online_mask);
	cpumask_clear_cpu(target, &off_target);
	if (!cpumask_empty(&off_target))
		set_cpus_allowed_ptr(current, &off_target);
	/* plant=unsent|dropped: probes for the run's lost-IPI plant, set up
	 * here, where no CPU-hotplug lock is held (registering takes it) */
	ret = PLANT_INTERCEPTED(plant_mode) && is_lost_ipi(sc) ? intercept_register(plant_mode) : 0;
	if (ret)
		goto out;
	if (sc == SC_LOAD || sc == SC_LOAD_MIXED)
		ret = run_load(sc);
	else if (sc == SC_LOST_IPI_MIGRATE)
		ret = run_migrate();
	else if (sc == SC_CFD_REUSE)
		ret = run_cfd_reuse();
	else
		ret = run_scenario(sc);
	if (intercept_on) {
		/* the fault has ended: nothing planted is left to intercept */
		atomic_set(&drop_armed, 0);
		unregister_kprobe(&intercept_kp);
		intercept_on = false;
	}
out:
	set_cpus_allowed_ptr(current, &saved_mask);
	mutex_unlock(&run_lock);
	return ret ? ret : len;
}

static ssize_t plant_write(struct file *f, const char __user *ubuf, size_t len, loff_t *off)
{
	char buf[16];
	int mode;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	mode = sysfs_match_string(plant_names, strim(buf));
	if (mode < 0) {
		pr_warn("csd_inject: unknown plant '%s' (raw|unsent|dropped|cond)\n", strim(buf));
		return -EINVAL;
	}
	mutex_lock(&run_lock);
	plant_mode = mode;
	mutex_unlock(&run_lock);
	return len;
}

static ssize_t plant_read(struct file *f, char __user *ubuf, size_t len, loff_t *off)
{
	char buf[16];
	int n = scnprintf(buf, sizeof(buf), "%s\n", plant_names[READ_ONCE(plant_mode)]);

	return simple_read_from_buffer(ubuf, len, off, buf, n);
}

static const struct file_operations plant_fops = {
	.read = plant_read,
	.write = plant_write,
};

static const struct file_operations run_fops = {
	.write = run_write,
};

static int result_show(struct seq_file *m, void *v)
{
	bool hold;
	int i;

	mutex_lock(&run_lock);
	hold = res.sc == SC_LOST_IPI_HOLD;
	if (res.sc >= SC_NONE || !res.stall_begin_ns) {
		seq_puts(m, "scenario=none\n");
		goto out;
	}
	seq_printf(m, "scenario=%s\ntarget=%u\nsenders=%u\nduration_ms=%u\nerr=%d\n",
		   sc_names[res.sc], res.target, res.senders, res.duration_ms, res.err);
	seq_printf(m, "stall_begin_ns=%llu\nfault_end_ns=%llu\n", res.stall_begin_ns,
		   res.fault_end_ns);
	if (is_lost_ipi(res.sc))
		seq_printf(m, "ended_by=%s\n", end_names[res.ended_by]);
	if (hold)
		seq_printf(m, "running=%d\nreplants=%d\n",
			   atomic_read(&hold_active) && !completion_done(&hold_done),
			   atomic_read(&res.replants));
	for (i = 0; i < res.senders; i++) {
		u64 r = res.released_ns[i];

		seq_printf(m, "sender%d_cpu=%d\nsender%d_end_cpu=%d\nsender%d_ran=%d\n"
			   "sender%d_stall_ms=%llu\nsender%d_released_after_fault_end=%d\n",
			   i, res.sender_cpu[i], i, res.end_cpu[i], i, atomic_read(&res.ran[i]), i,
			   r > res.stall_begin_ns ? div_u64(r - res.stall_begin_ns, NSEC_PER_MSEC) : 0,
			   i, res.fault_end_ns && r >= res.fault_end_ns);
		seq_printf(m, "sender%d_called_during_fault=%d\nsender%d_call_cpu=%d\n", i,
			   res.call_ns[i] && (!res.fault_end_ns || res.call_ns[i] < res.fault_end_ns),
			   i, res.call_cpu[i]);
		if (is_lost_ipi(res.sc))
			seq_printf(m, "sender%d_fault_at_call=%d\n", i, res.fault_at_call[i]);
		if (res.sc == SC_LOAD || res.sc == SC_LOAD_MIXED)
			seq_printf(m, "sender%d_single_calls=%u\nsender%d_single_ran=%d\n"
				   "sender%d_many_calls=%u\nsender%d_many_dups=%u\n",
				   i, res.single_calls[i], i, atomic_read(&res.single_ran[i]),
				   i, res.many_calls[i], i, res.many_dups[i]);
		if (res.sc == SC_LOAD_MIXED)
			seq_printf(m, "sender%d_async_calls=%u\nsender%d_async_ran=%d\n",
				   i, res.mixed_async_calls[i], i, atomic_read(&res.mixed_async_ran[i]));
		if (hold || res.sc == SC_CFD_REUSE)
			seq_printf(m, "sender%d_calls=%d\nsender%d_longest_ms=%llu\n", i,
				   atomic_read(&res.calls[i]), i,
				   div_u64(res.longest_ns[i], NSEC_PER_MSEC));
	}
	seq_printf(m, "stale_ran=%d\nslow_ran=%d\n", atomic_read(&res.stale_ran),
		   atomic_read(&res.slow_ran));
	if (is_lost_ipi(res.sc))
		seq_printf(m, "stale_ran_ms=%lld\nstale_ran_by=%s\nstale_ran_after_fault_end=%d\n",
			   res.stale_ran_ns > res.stall_begin_ns ?
			   (s64)div_u64(res.stale_ran_ns - res.stall_begin_ns, NSEC_PER_MSEC) : -1,
			   res.stale_ran_ns ? res.stale_ran_by : "none",
			   res.fault_end_ns && res.stale_ran_ns >= res.fault_end_ns);
	if (is_lost_ipi(res.sc))
		seq_printf(m, "target_gap_ms=%llu\n", div_u64(res.target_gap_ns, NSEC_PER_MSEC));
	if (is_lost_ipi(res.sc)) {
		seq_printf(m, "plant=%s\n", plant_names[res.plant]);
		if (PLANT_INTERCEPTED(res.plant))
			seq_printf(m, "plant_intercepted=%d\n", res.intercepted);
		else
			seq_printf(m, "plant_first=%d\n", res.plant_first);
		if (res.plant != PLANT_RAW)
			seq_printf(m, "planter_pid=%d\nplanter_cpu=%d\n", res.planter_pid,
				   res.planter_cpu);
	}
	if (res.sc == SC_LOST_IPI_RCU)
		seq_printf(m, "expedited=%d\nrcu_normal_was=%d\n", res.expedited,
			   res.rcu_normal_was);
	if (res.sc == SC_LOST_WAKEUP || res.sc == SC_LOST_WAKEUP_BUSY)
		seq_printf(m, "wakeup_queued=%d\nstale_before_wake=%d\nwakee_state=%u\n",
			   res.wakeup_queued, res.stale_before_wake, res.wakee_state);
	if (res.sc == SC_LOST_IPI_MANY)
		seq_printf(m, "many_low=%d\nasync_ran=%d\n", res.many_low,
			   atomic_read(&res.async_ran));
	if (res.sc == SC_CFD_REUSE)
		seq_printf(m, "reuse_ran=%d\n", atomic_read(&res.reuse_ran));
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
 * The start of the symbol @name that @addr lies in (NULL: none of that
 * name). x86's register_kprobe() on an IBT kernel adds 4 to an address
 * whose bytes read as ENDBR64: a function's, or a 7.3 x86_64 per-CPU
 * template's (it lies in the freed init section, whatever reused the page
 * is there). The reverse lookup says where the symbol starts.
 */
static void *symbol_start(const char *name, void *addr)
{
	char buf[KSYM_SYMBOL_LEN];
	size_t len = strlen(name);
	unsigned long off;
	char *slash;

	snprintf(buf, sizeof(buf), "%pS", addr);
	if (strncmp(buf, name, len) || strncmp(buf + len, "+0x", 3))
		return NULL;
	slash = strchr(buf + len + 3, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	return kstrtoul(buf + len + 3, 16, &off) ? NULL : addr - off;
}

/*
 * kallsyms_lookup_name() is not exported; register_kprobe() resolves a
 * symbol for us and stores the address in kp.addr before it checks that the
 * address is probe-able text (data symbols fail that check, which is fine:
 * we only want the address). Registered disabled, so no text is written.
 */
static void *lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = name, .flags = KPROBE_FLAG_DISABLED };
	int ret = register_kprobe(&kp);

	if (!ret)
		unregister_kprobe(&kp);
	if (ret != -ENOENT && kp.addr)
		return symbol_start(name, kp.addr);
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 15, 0) && defined(CONFIG_X86_64)
	/*
	 * 6.12 x86_64's per-CPU symbols are zero-based: register_kprobe()
	 * refuses them before it stores the address. kallsyms_lookup_name()
	 * is text: found the same way and called (not on an IBT kernel, whose
	 * sealed ENDBR would trap the call).
	 */
	if (strcmp(name, "kallsyms_lookup_name") &&
	    !(IS_ENABLED(CONFIG_X86_KERNEL_IBT) && cpu_feature_enabled(X86_FEATURE_IBT))) {
		unsigned long (*lookup_name)(const char *) = lookup("kallsyms_lookup_name");

		if (lookup_name)
			return (void *)lookup_name(name);
	}
#endif
	return NULL;
}

static struct dentry *dir;

static int __init csd_inject_init(void)
{
	/* through unsigned long: __percpu is __seg_gs with USE_X86_SEG_SUPPORT */
	csq = (struct llist_head __percpu *)(unsigned long)lookup("call_single_queue");
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
	rcu_normal_p = lookup("rcu_normal");
	if (!rcu_normal_p) {
		pr_err("csd_inject: symbol rcu_normal not found\n");
		return -ENOENT;
	}
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 15, 0)	/* 6.12 LTS: no hrtimer_setup() */
	hrtimer_init(&end_timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_PINNED_HARD);
	end_timer.function = end_timer_fn;
#else
	hrtimer_setup(&end_timer, end_timer_fn, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_PINNED_HARD);
#endif
	r_target = (struct ranged){ &target, 0, NR_CPUS - 1, "target" };
	r_senders = (struct ranged){ &senders, 1, NR_SENDERS, "senders" };
	r_duration = (struct ranged){ &duration_ms, 1, 60000, "duration_ms" };
	res.sc = SC_NONE;
	dir = debugfs_create_dir("csd_inject", NULL);
	debugfs_create_file("target", 0644, dir, &r_target, &ranged_fops);
	debugfs_create_file("senders", 0644, dir, &r_senders, &ranged_fops);
	debugfs_create_file("duration_ms", 0644, dir, &r_duration, &ranged_fops);
	debugfs_create_file("run", 0200, dir, NULL, &run_fops);
	debugfs_create_file("plant", 0644, dir, NULL, &plant_fops);
	debugfs_create_file("stop", 0200, dir, NULL, &stop_fops);
	debugfs_create_file("result", 0444, dir, NULL, &result_fops);
	return 0;
}

static void __exit csd_inject_exit(void)
{
	debugfs_remove_recursive(dir);	/* no new run or stop after this */
	stop_hold();
	hrtimer_cancel(&end_timer);
}

module_init(csd_inject_init);
module_exit(csd_inject_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("csdwatch selftests: inject lost-IPI, IRQs-off and slow-handler csd stalls");
