// SPDX-License-Identifier: GPL-2.0
/*
 * csdwatch, arm64 specifics. C because the IPI send function is not
 * exported (found at load through csdw_lookup() in shim.c) and the NMI
 * check is a static inline cpufeature test.
 */
#include <linux/kernel_stat.h>
#include <linux/smp.h>
#include <linux/irq.h>
#include <linux/irqdesc.h>
#include <linux/rcupdate.h>
#include <asm/cpufeature.h>

#include "../shim.h"

static void (*csdw_send_single_ipi)(int cpu);
/* arch/arm64/kernel/smp.c's sender of the backtrace IPI (static) */
static void (*csdw_backtrace_ipi)(cpumask_t *mask);
/* The flow handlers of interrupts requested as (pseudo-)NMIs. */
static void *csdw_nmi_flow[2];

int csdw_arch_init(void)
{
	csdw_send_single_ipi = csdw_lookup("arch_send_call_function_single_ipi");
	if (!csdw_send_single_ipi) {
		pr_err("csdwatch: kernel symbol arch_send_call_function_single_ipi not found; not loading\n");
		return -ENOENT;
	}
	/* optional: without it the kernel's waiting trigger is used */
	csdw_backtrace_ipi = csdw_lookup("arm64_backtrace_ipi");
	csdw_nmi_flow[0] = handle_fasteoi_nmi;
	csdw_nmi_flow[1] = csdw_lookup("handle_percpu_devid_fasteoi_nmi");
	return 0;
}

/*
 * Every maskable interrupt @cpu took. On arm64 the timer, IPIs and devices
 * all have descriptors and count in kstat's irqs_sum; so do the interrupts
 * requested as pseudo-NMIs (the backtrace IPI, the PMU under perf or the
 * hard-lockup detector), which arrive while IRQs are masked and must not
 * count. Their flow handler tells them apart (irq_is_nmi() is private to
 * kernel/irq), so their per-CPU counts are taken back out. This walks the
 * interrupt descriptors: only the watchdog of a CPU with a stalled wait
 * calls it, once per tick. C because irq_desc walking is macros.
 */
u64 csdw_arch_irq_count(unsigned int cpu)
{
	u64 sum = kstat_cpu_irqs_sum(cpu);
#ifdef CSDW_KERNEL_612	/* 6.12 has no irq_get_nr_irqs(), only nr_irqs */
	unsigned int irq, nr = READ_ONCE(nr_irqs);
#else
	unsigned int irq, nr = irq_get_nr_irqs();
#endif

	if (!system_uses_irq_prio_masking())
		return sum;	/* no pseudo-NMIs on this system */
	rcu_read_lock();
	for (irq = 0; irq < nr; irq++) {
		/* irq_to_desc() is not exported with SPARSE_IRQ; this is: */
		struct irq_data *d = irq_get_irq_data(irq);
		struct irq_desc *desc;
		void *flow;

		if (!d)
			continue;
		desc = irq_data_to_desc(d);
		if (!desc->kstat_irqs)
			continue;
		flow = READ_ONCE(desc->handle_irq);
		if (flow == csdw_nmi_flow[0] || (flow && flow == csdw_nmi_flow[1]))
			sum -= per_cpu_ptr(desc->kstat_irqs, cpu)->cnt;
	}
	rcu_read_unlock();
	return sum;
}

/* No IBT; BTI kernels land every global function's indirect call. */
bool csdw_arch_may_call_found(void)
{
	return true;
}

/*
 * arm64's backtrace IPI is private to arch/arm64 and the only way to send
 * it, nmi_trigger_cpumask_backtrace(), waits for the answer: the
 * backtrace is sent from csdwatch's own thread (shim.c, csdw_backtrace_later).
 */
int csdw_arch_start(void)
{
	return 0;
}

void csdw_arch_stop(void)
{
}

bool csdw_arch_has_nowait_backtrace(void)
{
	return false;
}

bool csdw_arch_backtrace_nowait(unsigned int cpu)
{
	return false;
}

bool csdw_arch_nmi_unanswered(unsigned int cpu)
{
	return false;
}

/*
 * Send the backtrace IPI to @mask and return: its handler prints the
 * CPUs that lib/nmi_backtrace.c's mask names (shim.c sets it, holding
 * that file's flag, as nmi_trigger_cpumask_backtrace() does before it
 * waits). False where arm64_backtrace_ipi was not found; @mask NULL: only
 * say whether it was.
 */
bool csdw_arch_backtrace_raise(struct cpumask *mask)
{
	if (!csdw_backtrace_ipi)
		return false;
	if (mask)
		csdw_backtrace_ipi(mask);
	return true;
}

void csdw_arch_resend_ipi(unsigned int cpu)
{
	csdw_send_single_ipi(cpu);
}

/* Both end in smp_cross_call(mask, IPI_CALL_FUNC), which is static. */
void *csdw_arch_ipi_fn(int mask)
{
	return mask ? csdw_lookup("arch_send_call_function_ipi_mask")
		    : (void *)csdw_send_single_ipi;
}

const char *csdw_arch_no_nmi(void)
{
	if (system_uses_irq_prio_masking())
		return NULL;	/* GICv3 pseudo-NMI: the backtrace IPI is an NMI */
	return "no NMI on this system (boot with irqchip.gicv3_pseudo_nmi=1 on GICv3)";
}
