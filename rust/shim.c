// SPDX-License-Identifier: GPL-2.0
/*
 * csdwatch C shim: only what Rust cannot express against the 7.3 kernel
 * crate. Each piece says why it is C. Everything here is called from, or
 * calls into, rust/ffi.rs, the one FFI boundary of the module.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>
#include <linux/kernel.h>

#include "shim.h"

/*
 * Run-time tunables. C because module_param_cb() is a macro that emits a
 * struct kernel_param into the __param section; the kernel crate's
 * module! parameters have perm 0 and no getter in 7.3. Values and
 * validation live in Rust (rust/params.rs); ids follow params::Param.
 */
static int csdw_param_set(const char *val, const struct kernel_param *kp)
{
	unsigned int id = (unsigned long)kp->arg, v;

	if (kstrtouint(val, 0, &v)) {
		pr_warn("csdwatch: %s: '%s' is not a number, value kept\n",
			kp->name, strim((char *)val));
		return -EINVAL;
	}
	return csdwatch_rs_param_set(id, v);
}

static int csdw_param_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%u\n",
			  csdwatch_rs_param_get((unsigned long)kp->arg));
}

static const struct kernel_param_ops csdw_param_ops = {
	.set = csdw_param_set,
	.get = csdw_param_get,
};

#define CSDW_PARAM(name, id, desc)					\
	module_param_cb(name, &csdw_param_ops, (void *)(unsigned long)(id), 0644); \
	MODULE_PARM_DESC(name, desc)

CSDW_PARAM(resend_ms, 0, "Resend the call-function IPI to a wait this old (ms, 0 = never; default 20)");
CSDW_PARAM(report_ms, 1, "Report a stalled wait this old (ms, 0 = never; default 1000)");
CSDW_PARAM(panic_ms, 2, "Panic once a stall lasts this long (ms, 0 = off; default 0)");
CSDW_PARAM(irq_frozen_ms, 3, "Interrupt count still this long means target IRQs off (ms; default 20)");
CSDW_PARAM(tick_ms, 4, "Watchdog period while a wait is in flight (ms; default 5)");

/*
 * Counters: /sys/module/csdwatch/stats/<name>, one value per file. C
 * because the kernel crate has no sysfs/kobject attribute abstraction in
 * 7.3 and struct attribute_group is built with macros. Ids follow
 * stats::Stat in rust/stats.rs.
 */
struct csdw_stat_attr {
	struct kobj_attribute attr;
	unsigned int id;
};

static ssize_t csdw_stat_show(struct kobject *kobj, struct kobj_attribute *a,
			      char *buf)
{
	struct csdw_stat_attr *s = container_of(a, struct csdw_stat_attr, attr);

	return sysfs_emit(buf, "%llu\n", csdwatch_rs_stat(s->id));
}

#define CSDW_STAT(_name, _id)						\
	static struct csdw_stat_attr csdw_stat_##_name = {		\
		.attr = __ATTR(_name, 0444, csdw_stat_show, NULL),	\
		.id = _id,						\
	}

CSDW_STAT(waits, 0);
CSDW_STAT(stalls_lost_ipi, 1);
CSDW_STAT(stalls_irqs_off, 2);
CSDW_STAT(stalls_slow_handler, 3);
CSDW_STAT(stalls_target_offline, 4);
CSDW_STAT(ipis_resent, 5);
CSDW_STAT(recoveries, 6);
CSDW_STAT(reports, 7);
CSDW_STAT(longest_wait_us, 8);
CSDW_STAT(in_flight, 9);
CSDW_STAT(dropped, 10);

static struct attribute *csdw_stat_attrs[] = {
	&csdw_stat_waits.attr.attr,
	&csdw_stat_stalls_lost_ipi.attr.attr,
	&csdw_stat_stalls_irqs_off.attr.attr,
	&csdw_stat_stalls_slow_handler.attr.attr,
	&csdw_stat_stalls_target_offline.attr.attr,
	&csdw_stat_ipis_resent.attr.attr,
	&csdw_stat_recoveries.attr.attr,
	&csdw_stat_reports.attr.attr,
	&csdw_stat_longest_wait_us.attr.attr,
	&csdw_stat_in_flight.attr.attr,
	&csdw_stat_dropped.attr.attr,
	NULL,
};

static const struct attribute_group csdw_stat_group = {
	.name = "stats",
	.attrs = csdw_stat_attrs,
};

int csdw_stats_register(void)
{
	return sysfs_create_group(&THIS_MODULE->mkobj.kobj, &csdw_stat_group);
}

void csdw_stats_unregister(void)
{
	sysfs_remove_group(&THIS_MODULE->mkobj.kobj, &csdw_stat_group);
}
