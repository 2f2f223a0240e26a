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
 */
static DEFINE_PER_CPU(u64, csdw_nmi_asked);	/* when asked; 0: answered */
static bool csdw_nmi_on;

static int csdw_nmi(unsigned int type, struct pt_regs *regs)
{
	u64 *asked = this_cpu_ptr(&csdw_nmi_asked);

	if (!READ_ONCE(*asked))
		return NMI_DONE;	/* not ours */
	pr_warn("csdwatch: NMI backtrace for cpu %d\n", smp_processor_id());
	csdw_show_regs(regs);
	WRITE_ONCE(*asked, 0);
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

/*
 * While unloading (no report, so nothing new is asked). The grace period
 * waits out a watchdog tick that read csdw_nmi_on before it was cleared
 * (hard IRQ is an RCU reader), so its NMI has been sent before the handler
 * goes; unregister_nmi_handler() then waits for a handler still running.
 */
void csdw_arch_stop(void)
{
	WRITE_ONCE(csdw_nmi_on, false);
	synchronize_rcu();
	unregister_nmi_handler(NMI_LOCAL, "csdwatch");
}

bool csdw_arch_has_nowait_backtrace(void)
{
	return true;
}

bool csdw_arch_backtrace_nowait(unsigned int cpu)
{
	u64 *asked = per_cpu_ptr(&csdw_nmi_asked, cpu);

	if (!READ_ONCE(csdw_nmi_on))
		return false;
	/* the first ask of an unanswered series keeps its time */
	cmpxchg64(asked, 0, csdw_now_ns() | 1);
	/* x2apic sends order the store above (weak_wrmsr_fence) */
	__apic_send_IPI_mask(cpumask_of(cpu), NMI_VECTOR);
	return true;
}

bool csdw_arch_nmi_unanswered(unsigned int cpu)
{
	u64 asked = READ_ONCE(*per_cpu_ptr(&csdw_nmi_asked, cpu));

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
