// SPDX-License-Identifier: GPL-2.0
/*
 * csdwatch, arm64 specifics. C because the IPI send function is not
 * exported (found at load through csdw_lookup() in shim.c) and the NMI
 * check is a static inline cpufeature test.
 */
#include <linux/kernel_stat.h>
#include <linux/smp.h>
#include <asm/cpufeature.h>

#include "../shim.h"

static void (*csdw_send_single_ipi)(int cpu);

int csdw_arch_init(void)
{
	csdw_send_single_ipi = csdw_lookup("arch_send_call_function_single_ipi");
	if (!csdw_send_single_ipi) {
		pr_err("csdwatch: kernel symbol arch_send_call_function_single_ipi not found; not loading\n");
		return -ENOENT;
	}
	return 0;
}

/* Every interrupt @cpu took: on arm64 timer, IPIs and devices all have descs. */
u64 csdw_arch_irq_count(unsigned int cpu)
{
	return kstat_cpu_irqs_sum(cpu);
}

void csdw_arch_resend_ipi(unsigned int cpu)
{
	csdw_send_single_ipi(cpu);
}

const char *csdw_arch_no_nmi(void)
{
	if (system_uses_irq_prio_masking())
		return NULL;	/* GICv3 pseudo-NMI: the backtrace IPI is an NMI */
	return "no NMI on this system (boot with irqchip.gicv3_pseudo_nmi=1 on GICv3)";
}
