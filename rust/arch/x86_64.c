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
 * Every interrupt @cpu took: device IRQs (kstat) plus the APIC vectors that
 * bypass irq descriptors (local timer, IPIs, ...) counted in irq_stat. NMIs
 * are left out: a CPU with IRQs off still takes them (our own backtrace
 * NMI among them), and the count must stay frozen for such a CPU.
 */
u64 csdw_arch_irq_count(unsigned int cpu)
{
	const irq_cpustat_t *st = per_cpu_ptr(&irq_stat, cpu);
	u64 sum = kstat_cpu_irqs_sum(cpu);
	int i;

	for (i = 0; i < IRQ_COUNT_MAX; i++)
		if (i != IRQ_COUNT_NMI)
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
