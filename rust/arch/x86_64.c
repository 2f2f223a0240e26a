// SPDX-License-Identifier: GPL-2.0
/*
 * csdwatch, x86_64 specifics. C because they are per-CPU structs and ops
 * tables of arch/x86 (irq_stat, smp_ops) with no Rust binding.
 */
#include <linux/kernel_stat.h>
#include <linux/smp.h>
#include <asm/hardirq.h>
#include <asm/smp.h>

#include "../shim.h"

int csdw_arch_init(void)
{
	return 0;
}

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

/*
 * Every maskable interrupt @cpu took: device IRQs (kstat) plus the APIC
 * vectors that bypass irq descriptors (local timer, IPIs, ...) counted in
 * irq_stat, leaving out what csdw_not_irq() names: the count must stay
 * frozen for a CPU with IRQs off.
 */
u64 csdw_arch_irq_count(unsigned int cpu)
{
	const irq_cpustat_t *st = per_cpu_ptr(&irq_stat, cpu);
	u64 sum = kstat_cpu_irqs_sum(cpu);
	int i;

	for (i = 0; i < IRQ_COUNT_MAX; i++)
		if (!csdw_not_irq(i))
			sum += READ_ONCE(st->counts[i]);
	return sum;
}

/* The call-function-single IPI, as send_call_function_single_ipi() sends it. */
void csdw_arch_resend_ipi(unsigned int cpu)
{
	smp_ops.send_call_func_single_ipi(cpu);
}

const char *csdw_arch_no_nmi(void)
{
	return NULL;	/* the local APIC delivers NMIs to CPUs with IRQs off */
}
