// SPDX-License-Identifier: GPL-2.0
/* csdwatch on an architecture it does not support: refuse to load. */
#include <linux/kernel.h>
#include <linux/errno.h>

#include "../shim.h"

int csdw_arch_init(void)
{
	pr_err("csdwatch: architecture not supported (x86_64 and arm64 are); not loading\n");
	return -EOPNOTSUPP;
}

u64 csdw_arch_irq_count(unsigned int cpu) { return 0; }
void csdw_arch_resend_ipi(unsigned int cpu) { }
void *csdw_arch_ipi_fn(int mask) { return NULL; }
const char *csdw_arch_no_nmi(void) { return "unsupported architecture"; }
bool csdw_arch_may_call_found(void) { return false; }
int csdw_arch_start(void) { return 0; }
void csdw_arch_stop(void) { }
bool csdw_arch_has_nowait_backtrace(void) { return false; }
bool csdw_arch_backtrace_nowait(unsigned int cpu) { return false; }
bool csdw_arch_nmi_unanswered(unsigned int cpu) { return false; }
bool csdw_arch_backtrace_raise(struct cpumask *mask) { return false; }
