// SPDX-License-Identifier: GPL-2.0
/*
 * csdwatch, x86_64 specifics. C because they are per-CPU structs, ops
 * tables and static calls of arch/x86 (irq_stat, smp_ops, the APIC) and
 * an NMI handler, with no Rust binding.
 */
#include <linux/kernel_stat.h>
#include <linux/smp.h>
#include <linux/percpu.h>
#include <linux/ktime.h>
#include <linux/rcupdate.h>
#include <linux/delay.h>
#include <asm/hardirq.h>
#include <asm/smp.h>
#include <asm/apic.h>
#include <asm/nmi.h>
#include <asm/cpufeature.h>

#include "../shim.h"

int csdw_arch_init(void)
{
	return 0;
}

/*
 * An IBT kernel (Debian's) faults on an indirect call to a function that
 * is never called indirectly: objtool sealed its ENDBR. Functions found
 * through kallsyms (show_regs) are then not called.
 */
bool csdw_arch_may_call_found(void)
{
	return !cpu_feature_enabled(X86_FEATURE_IBT);
}

/*
 * NMI backtraces that nobody waits for. The kernel's
 * trigger_single_cpu_backtrace() spins up to 10 s for the answer, so it
 * cannot run in the watchdog's hard IRQ, and a stall can tie up every
 * other CPU with preemption off, so a task sent to do it may not run
 * before the stall ends. Instead csdwatch has an NMI handler of its own:
 * the watchdog stamps the CPU and sends it an NMI (both hard-IRQ safe,
 * neither waits); the CPU prints its own stack from the registers the NMI
 * interrupted and clears the stamp. A stamp still there 5 s later marks a
 * CPU that did not answer (csdw_arch_nmi_unanswered).
 *
 * Every NMI sent must be claimed by this handler, or the kernel prints
 * "NMI received for unknown reason" and, with unknown_nmi_panic or
 * panic_on_unrecovered_nmi, panics. So per CPU: at most one of ours in
 * flight (the stamp, set by cmpxchg, is the right to send one), and the
 * NMIs sent and taken are counted; the handler claims an NMI while the
 * two differ. Two close reports naming one CPU send one NMI, whose
 * backtrace both point to. The unload waits until every CPU took what it
 * was sent before it unregisters the handler. Not covered (as for the
 * kernel's own NMI backtrace): another source's NMI (a perf PMI) arriving
 * while ours is in flight is claimed for ours, and ours then arrives
 * unclaimed, unless the kernel's back-to-back NMI logic swallows it (it
 * does when ours was latched behind that one, the likely case).
 */
struct csdw_nmi_ask {
	u64 asked;		/* when the one in flight was sent; 0: none */
	atomic_t sent;		/* NMIs sent to this CPU */
	atomic_t taken;		/* of those, claimed by its handler */
};
static DEFINE_PER_CPU(struct csdw_nmi_ask, csdw_nmi_ask);
static bool csdw_nmi_on;

static int csdw_nmi(unsigned int type, struct pt_regs *regs)
{
	struct csdw_nmi_ask *a = this_cpu_ptr(&csdw_nmi_ask);
	int sent = atomic_read(&a->sent);
	unsigned long flags;
	bool one_piece;

	if (atomic_read(&a->taken) == sent)
		return NMI_DONE;	/* none of ours in flight */
	/* after the report that asked for it, not among its lines */
	one_piece = csdw_print_lock(&flags);
	pr_warn("csdwatch: NMI backtrace for cpu %d\n", smp_processor_id());
	csdw_show_regs(regs);
	if (one_piece)
		csdw_print_unlock(flags);
	/* taken first: a new ask (the stamp cleared) finds this one done */
	atomic_set(&a->taken, sent);
	smp_mb__after_atomic();
	WRITE_ONCE(a->asked, 0);
	return NMI_HANDLED;
}

int csdw_arch_start(void)
{
	int ret = register_nmi_handler(NMI_LOCAL, csdw_nmi, 0, "csdwatch");

	if (ret) {
		pr_err("csdwatch: cannot register an NMI handler (%d)\n", ret);
		return ret;
	}
	WRITE_ONCE(csdw_nmi_on, true);
	return 0;
}

/* CPUs sent an NMI of ours that they have not taken yet */
static unsigned int csdw_nmi_in_flight(void)
{
	unsigned int cpu, n = 0;

	for_each_possible_cpu(cpu) {
		struct csdw_nmi_ask *a = per_cpu_ptr(&csdw_nmi_ask, cpu);

		n += atomic_read(&a->taken) != atomic_read(&a->sent);
	}
	return n;
}

/*
 * While unloading (no report, so nothing new is asked). The grace period
 * waits out a watchdog tick that read csdw_nmi_on before it was cleared
 * (hard IRQ is an RCU reader), so its NMI has been sent. Then every NMI
 * sent is waited for, 1 s at most (a CPU that never takes it is named:
 * if it ever does, nothing claims it); unregister_nmi_handler() then waits
 * for a handler still running.
 */
void csdw_arch_stop(void)
{
	unsigned int n, ms = 0;

	WRITE_ONCE(csdw_nmi_on, false);
	synchronize_rcu();
	while ((n = csdw_nmi_in_flight()) && ms++ < 1000)
		msleep(1);
	if (n)
		pr_warn("csdwatch: %u CPU(s) did not take csdwatch's NMI in 1 s; unregistering its handler anyway\n",
			n);
	unregister_nmi_handler(NMI_LOCAL, "csdwatch");
}

bool csdw_arch_has_nowait_backtrace(void)
{
	return true;
}

/* Hard-IRQ safe; true: a backtrace of @cpu is on its way (sent now or before). */
bool csdw_arch_backtrace_nowait(unsigned int cpu)
{
	struct csdw_nmi_ask *a = per_cpu_ptr(&csdw_nmi_ask, cpu);

	if (!READ_ONCE(csdw_nmi_on))
		return false;
	/* one in flight already: its backtrace serves this ask too */
	if (cmpxchg64(&a->asked, 0, csdw_now_ns() | 1))
		return true;
	atomic_inc(&a->sent);
	/* x2apic sends order the stores above (weak_wrmsr_fence) */
	__apic_send_IPI_mask(cpumask_of(cpu), NMI_VECTOR);
	return true;
}

/* Not needed: x86 backtraces without waiting (above). */
bool csdw_arch_backtrace_raise(struct cpumask *mask)
{
	return false;
}

bool csdw_arch_nmi_unanswered(unsigned int cpu)
{
	u64 asked = READ_ONCE(per_cpu_ptr(&csdw_nmi_ask, cpu)->asked);

	return asked && csdw_now_ns() - asked >= 5 * NSEC_PER_SEC;
}

#ifdef CSDW_KERNEL_612
/*
 * 6.12's irq_stat names each counter (7.3 made them counts[]): the sum of
 * those a CPU with IRQs off can not move, every one but __nmi_count,
 * apic_perf_irqs (delivered as NMIs) and icr_read_retry_count (counted by
 * a sender); 6.12 counts MCEs outside irq_stat.
 */
static u64 csdw_irq_stat_sum(const irq_cpustat_t *st)
{
	u64 sum = READ_ONCE(st->x86_platform_ipis) + READ_ONCE(st->apic_irq_work_irqs) +
		  READ_ONCE(st->irq_tlb_count);

#ifdef CONFIG_X86_LOCAL_APIC
	sum += READ_ONCE(st->apic_timer_irqs) + READ_ONCE(st->irq_spurious_count);
#endif
#if IS_ENABLED(CONFIG_KVM)
	sum += READ_ONCE(st->kvm_posted_intr_ipis) + READ_ONCE(st->kvm_posted_intr_wakeup_ipis) +
	       READ_ONCE(st->kvm_posted_intr_nested_ipis);
#endif
#ifdef CONFIG_SMP
	sum += READ_ONCE(st->irq_resched_count) + READ_ONCE(st->irq_call_count);
#endif
#ifdef CONFIG_X86_THERMAL_VECTOR
	sum += READ_ONCE(st->irq_thermal_count);
#endif
#ifdef CONFIG_X86_MCE_THRESHOLD
	sum += READ_ONCE(st->irq_threshold_count);
#endif
#ifdef CONFIG_X86_MCE_AMD
	sum += READ_ONCE(st->irq_deferred_error_count);
#endif
#ifdef CONFIG_X86_HV_CALLBACK_VECTOR
	sum += READ_ONCE(st->irq_hv_callback_count);
#endif
#if IS_ENABLED(CONFIG_HYPERV)
	sum += READ_ONCE(st->irq_hv_reenlightenment_count) + READ_ONCE(st->hyperv_stimer0_count);
#endif
#ifdef CONFIG_X86_POSTED_MSI
	sum += READ_ONCE(st->posted_msi_notification_count);
#endif
	return sum;
}
#else
/*
 * Counters of irq_stat that move while the CPU has IRQs off, and so must
 * not count as "it took an interrupt": NMIs (our own backtrace NMI among
 * them), performance-monitoring interrupts (delivered as NMIs: perf and
 * the perf-based hard-lockup detector), machine-check exceptions, and ICR
 * read retries (counted by a CPU sending an IPI, not taking one).
 */
static bool csdw_not_irq(int i)
{
	switch (i) {
	case IRQ_COUNT_NMI:
#ifdef CONFIG_X86_LOCAL_APIC
	case IRQ_COUNT_APIC_PERF:
	case IRQ_COUNT_ICR_READ_RETRY:
#endif
#ifdef CONFIG_X86_MCE
	case IRQ_COUNT_MCE_EXCEPTION:
#endif
#ifdef CONFIG_GUEST_PERF_EVENTS
	case IRQ_COUNT_PERF_GUEST_MEDIATED_PMI:
#endif
		return true;
	default:
		return false;
	}
}

/* irq_stat's counts but what csdw_not_irq() names */
static u64 csdw_irq_stat_sum(const irq_cpustat_t *st)
{
	u64 sum = 0;
	int i;

	for (i = 0; i < IRQ_COUNT_MAX; i++)
		if (!csdw_not_irq(i))
			sum += READ_ONCE(st->counts[i]);
	return sum;
}
#endif

/*
 * Every maskable interrupt @cpu took: device IRQs (kstat) plus the APIC
 * vectors that bypass irq descriptors (local timer, IPIs, ...) counted in
 * irq_stat, leaving out those a CPU with IRQs off still counts: the count
 * must stay frozen for a CPU with IRQs off.
 */
u64 csdw_arch_irq_count(unsigned int cpu)
{
	return kstat_cpu_irqs_sum(cpu) + csdw_irq_stat_sum(per_cpu_ptr(&irq_stat, cpu));
}

/* The call-function-single IPI, as send_call_function_single_ipi() sends it. */
void csdw_arch_resend_ipi(unsigned int cpu)
{
	smp_ops.send_call_func_single_ipi(cpu);
}

/* What smp_ops points at: native_*, or Xen's and KVM's replacements. */
void *csdw_arch_ipi_fn(int mask)
{
	return mask ? (void *)smp_ops.send_call_func_ipi
		    : (void *)smp_ops.send_call_func_single_ipi;
}

const char *csdw_arch_no_nmi(void)
{
	return NULL;	/* the local APIC delivers NMIs to CPUs with IRQs off */
}
