// SPDX-License-Identifier: GPL-2.0
/*
 * csdwatch C shim: only what Rust cannot express against the 7.3 kernel
 * crate (nor 6.12's, bridged by rust/kcompat.rs). Everything here is
 * called from, or calls into, rust/ffi.rs and rust/exports.rs, the one FFI
 * boundary of the module; values, decisions and reports are Rust's. Each
 * piece says why it is C. The sections, and what makes each C:
 *
 * 1. Tunables and counters: module_param_cb(), MODULE_PARM_DESC() and
 *    __ATTR() are macros emitting static structs (parameters into the
 *    __param section); the crate's module! parameters have perm 0 and no
 *    getter, and it has no sysfs attribute type. Made from shim.h's
 *    CSDW_PARAMS and CSDW_STATS tables.
 * 2. Kernel symbols smp.c keeps static: found through struct kprobe
 *    (config-dependent) or kallsyms_lookup_name() (not exported); read
 *    with per_cpu_ptr() (the __percpu address space).
 * 3. Small accessors: static inlines and macros (current,
 *    raw_smp_processor_id(), cpu_online(), get_kernel_nofault(),
 *    CSD_FLAG_*, preempt_count(), tick_nohz_full_cpu(), get_irq_regs(),
 *    security_locked_down(), printk_cpu_sync) and task_struct fields
 *    (config-dependent).
 * 4. NMI backtraces: cpumask_var_t, DEFINE_PER_CPU, struct
 *    smp_hotplug_thread, the trigger_*_backtrace() static inlines.
 * 5. Probes: struct kprobe/kretprobe and regs_get_kernel_argument() are
 *    arch- and config-dependent (CONFIG_KPROBES_ON_FTRACE); handlers are
 *    thin adapters to csdwatch_rs_*().
 * 6. Tracepoints: a probe takes the event's C prototype; struct tracepoint
 *    is found with for_each_kernel_tracepoint().
 * 7. Registration at load: the symbols of 2 (csdw_resolve()), then the
 *    hooks of 5 and 6 and the optional sched_tick kprobe, in order,
 *    unwound in reverse; the kretprobes' missed counts.
 * 8. Load-time proof, reset and testing parameters: a C function passed to
 *    smp_call_function_*() under cpus_read_lock() and get_cpu();
 *    module_param_cb().
 * 9. Per-CPU watchdog timers and CPU hotplug: a static per-CPU hrtimer and
 *    irq_work armed from probe (NMI) context; the crate's hrtimer needs a
 *    pinned owner, and 7.3 has no per-CPU storage to pin it in.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/kobject.h>
#include <linux/sysfs.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/tracepoint.h>
#include <linux/tick.h>
#include <linux/hrtimer.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/cpu.h>
#include <linux/smp.h>
#include <linux/sched.h>
#include <linux/sched/debug.h>
#include <linux/sched/task_stack.h>
#include <linux/nmi.h>
#include <linux/uaccess.h>
#include <linux/percpu.h>
#include <linux/kernel_stat.h>
#include <linux/timekeeping.h>
#include <linux/kallsyms.h>
#include <linux/panic.h>
#include <linux/workqueue.h>
#include <linux/smpboot.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/delay.h>
#include <linux/irq_work.h>
#include <linux/preempt.h>
#include <linux/security.h>
#include <asm/irq_regs.h>
#include <linux/ktime.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>

#include "shim.h"

/* ------------------------------------------------------------------ */
/* 1. Tunables and counters (sysfs).                                  */
/* ------------------------------------------------------------------ */

/*
 * Run-time tunables, made from CSDW_PARAMS in shim.h. C because
 * module_param_cb() is a macro that emits a struct kernel_param into the
 * __param section; the kernel crate's module! parameters have perm 0 and
 * no getter in 7.3. Values and validation live in Rust (rust/params.rs),
 * which reads the defaults and ranges through csdw_param_spec().
 */
enum csdw_param_id {
#define CSDW_PARAM_ID(name, ...) CSDW_PARAM_##name,
	CSDW_PARAMS(CSDW_PARAM_ID)
#undef CSDW_PARAM_ID
	CSDW_NR_PARAMS
};

/*
 * Checked when the module is built: every default within its range, every
 * max below U32_MAX (rust/params.rs's UNSET), and the contract: resend in
 * tens of ms at most, report <= 1 s, no panic.
 */
#define CSDW_PARAM_CHECK(name, def, min, max, zero_off, ...)			\
	static_assert(((def) >= (min) || ((zero_off) && (def) == 0)) && (def) <= (max), \
		      #name "'s default is outside its range");			\
	static_assert((max) < U32_MAX, #name "'s max is U32_MAX, params.rs's UNSET");
CSDW_PARAMS(CSDW_PARAM_CHECK)
#undef CSDW_PARAM_CHECK
#define CSDW_PARAM_DEF(name, def, ...) CSDW_DEFAULT_##name = (def),
enum { CSDW_PARAMS(CSDW_PARAM_DEF) };
#undef CSDW_PARAM_DEF
static_assert(CSDW_DEFAULT_resend_ms <= 100 && CSDW_DEFAULT_report_ms <= 1000 &&
	      CSDW_DEFAULT_panic_ms == 0);

static const struct csdw_param_spec csdw_param_specs[] = {
#define CSDW_PARAM_SPEC(_name, _def, _min, _max, _zero_off, ...)		\
	[CSDW_PARAM_##_name] = { .name = #_name, .def = (_def), .min = (_min),	\
				 .max = (_max), .zero_off = (_zero_off) },
	CSDW_PARAMS(CSDW_PARAM_SPEC)
#undef CSDW_PARAM_SPEC
};

/* The row of tunable @id, NULL past the table. */
const struct csdw_param_spec *csdw_param_spec(unsigned int id)
{
	return id < CSDW_NR_PARAMS ? &csdw_param_specs[id] : NULL;
}

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

/* The description states the default: "what (unit; default N)". */
#define CSDW_PARAM_CB(name, def, min, max, zero_off, what, unit)		\
	module_param_cb(name, &csdw_param_ops,					\
			(void *)(unsigned long)CSDW_PARAM_##name, 0644);	\
	MODULE_PARM_DESC(name, what " (" unit "; default " __stringify(def) ")");
CSDW_PARAMS(CSDW_PARAM_CB)
#undef CSDW_PARAM_CB

/*
 * hooks=auto|tracepoints|kprobes, at load only (0444); reading it shows
 * the hooks in use once loaded. C for module_param_cb(); the names and
 * the choice are Rust's (rust/hooks_mode.rs).
 */
static int csdw_hooks_set(const char *val, const struct kernel_param *kp)
{
	if (csdwatch_rs_hooks_set(val, strlen(val))) {
		pr_warn("csdwatch: hooks=%s: must be auto, tracepoints, kprobes or pushes\n", strim((char *)val));
		return -EINVAL;
	}
	return 0;
}

static int csdw_hooks_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n", csdwatch_rs_hooks_name());
}

static const struct kernel_param_ops csdw_hooks_ops = {
	.set = csdw_hooks_set,
	.get = csdw_hooks_get,
};
module_param_cb(hooks, &csdw_hooks_ops, NULL, 0444);
MODULE_PARM_DESC(hooks, "Hooks for pushes and IPI sends: auto (the kernel's csd/ipi tracepoints if it has them, else kprobes), tracepoints, kprobes; load only");

/*
 * Counters: /sys/module/csdwatch/stats/<name>, one value per file, made
 * from CSDW_STATS in shim.h. C because the kernel crate has no
 * sysfs/kobject attribute abstraction in 7.3 and struct attribute_group
 * is built with macros. Ids follow stats::Stat in rust/stats.rs.
 */
enum csdw_stat_id {
#define CSDW_STAT_ID(name) CSDW_STAT_##name,
	CSDW_STATS(CSDW_STAT_ID)
#undef CSDW_STAT_ID
	CSDW_NR_STATS
};

/*
 * Files under the module's kobject are shown through module_sysfs_ops,
 * which call a struct module_attribute, not a kobj_attribute.
 */
struct csdw_stat_attr {
	struct module_attribute attr;
	unsigned int id;
};

#ifdef CSDW_KERNEL_612	/* 7.3 made the show callback's attribute const */
#define CSDW_MODATTR struct module_attribute
#else
#define CSDW_MODATTR const struct module_attribute
#endif
static ssize_t csdw_stat_show(CSDW_MODATTR *a,
			      struct module_kobject *mk, char *buf)
{
	const struct csdw_stat_attr *s = container_of(a, struct csdw_stat_attr, attr);

	return sysfs_emit(buf, "%llu\n", csdwatch_rs_stat(s->id));
}

#define CSDW_STAT_ATTR(_name)						\
	static struct csdw_stat_attr csdw_stat_##_name = {		\
		.attr = __ATTR(_name, 0444, csdw_stat_show, NULL),	\
		.id = CSDW_STAT_##_name,				\
	};
CSDW_STATS(CSDW_STAT_ATTR)
#undef CSDW_STAT_ATTR

static struct attribute *csdw_stat_attrs[] = {
#define CSDW_STAT_PTR(_name) &csdw_stat_##_name.attr.attr,
	CSDW_STATS(CSDW_STAT_PTR)
#undef CSDW_STAT_PTR
	NULL,
};

static const struct attribute_group csdw_stat_group = {
	.name = "stats",
	.attrs = csdw_stat_attrs,
};

/* The file that shows counter @id (what sysfs shows), NULL if none does. */
const char *csdw_stat_name(unsigned int id)
{
	struct attribute **a;

	for (a = csdw_stat_attrs; *a; a++)
		if (container_of(*a, struct csdw_stat_attr, attr.attr)->id == id)
			return (*a)->name;
	return NULL;
}

int csdw_stats_register(void)
{
	return sysfs_create_group(&THIS_MODULE->mkobj.kobj, &csdw_stat_group);
}

void csdw_stats_unregister(void)
{
	sysfs_remove_group(&THIS_MODULE->mkobj.kobj, &csdw_stat_group);
}

/* ------------------------------------------------------------------ */
/* 2. Kernel symbols kernel/smp.c keeps static.                       */
/* ------------------------------------------------------------------ */

/*
 * The start of the symbol @name that @addr lies in, or NULL if @addr is in
 * no symbol of that name. register_kprobe() lets the arch move the address
 * it stores: x86 (IBT kernels: Debian's) adds 4 when the first four bytes
 * read as ENDBR64, right
 * for a probe but not for finding a symbol. A function of an IBT kernel
 * starts so, and so may a per-CPU variable on 7.3 x86_64: its template
 * lies in the init section, freed after boot, so its bytes are whatever
 * reused the page (seen on Debian's stock kernel: call_single_queue + 4,
 * after the test had read csdwatch.ko into the page cache; the flush
 * probe then oopsed on a pointer read across two). The reverse lookup
 * ("name+0xoff/0xsize", %pS) says where the symbol starts, whatever the
 * arch did. C: part of csdw_lookup(), which the C arch code calls too.
 */
static void *csdw_symbol_start(const char *name, void *addr)
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
	if (kstrtoul(buf + len + 3, 16, &off))
		return NULL;
	return addr - off;
}

/*
 * kallsyms_lookup_name() is not exported; register_kprobe() resolves a
 * symbol and stores its address in kp.addr before it checks the address is
 * probe-able text (a data symbol fails that check, which is fine: only the
 * address is wanted). NULL when it stored none: the symbol is unknown, or
 * the arch could not read its first bytes (x86 reads them for ENDBR64).
 * Registered disabled: a function's probe is then neither armed nor queued
 * for the jump optimizer, so a lookup writes no kernel text.
 */
static void *csdw_kprobe_lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = name, .flags = KPROBE_FLAG_DISABLED };
	int ret = register_kprobe(&kp);

	if (!ret)
		unregister_kprobe(&kp);
	if (ret == -ENOENT || !kp.addr)
		return NULL;
	return csdw_symbol_start(name, kp.addr);
}

/*
 * kallsyms_lookup_name() itself, for what register_kprobe() does not give:
 * 6.12 x86_64 keeps per-CPU symbols zero-based (7.3 does not), and there
 * register_kprobe() finds cfd_data and call_single_queue but fails before
 * it stores their address, as no symbol covers it; or where it stored
 * none (above). It is text, found that way, and called, unless IBT sealed
 * its ENDBR (csdw_arch_may_call_found(); the load then fails naming the
 * symbol).
 */
static void *csdw_kallsyms_lookup(const char *name)
{
	static unsigned long (*lookup_name)(const char *name);

	if (!lookup_name && csdw_arch_may_call_found())
		lookup_name = csdw_kprobe_lookup("kallsyms_lookup_name");
	return lookup_name ? (void *)lookup_name(name) : NULL;
}

void *csdw_lookup(const char *name)
{
	void *addr = csdw_kprobe_lookup(name);

	return addr ? addr : csdw_kallsyms_lookup(name);
}

/*
 * kernel/smp.c's private per-CPU data. Only the first member of struct
 * call_function_data is used (the per-CPU csd array of the sending CPU);
 * its layout is checked against 7.3's kernel/smp.c.
 */
struct csdw_cfd_head {
	call_single_data_t __percpu *csd;
};
static struct csdw_cfd_head __percpu *csdw_cfd_data;
static struct llist_head __percpu *csdw_call_single_queue;

/* ------------------------------------------------------------------ */
/* 3. Small accessors for Rust: static inlines and macros.            */
/* ------------------------------------------------------------------ */

u64 csdw_now_ns(void)
{
	return ktime_get_mono_fast_ns();	/* NMI-safe, one clock for all CPUs */
}

unsigned int csdw_this_cpu(void)
{
	return raw_smp_processor_id();	/* callers run with preemption off */
}

unsigned int csdw_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

bool csdw_cpu_online(unsigned int cpu)
{
	return cpu < nr_cpu_ids && cpu_online(cpu);
}

void *csdw_current(void)
{
	return current;
}

/*
 * 1 if the csd at @csd is still locked (its function has not returned, for a
 * synchronous csd), 0 if not, -1 if it cannot be read. The csd may be on the
 * stack of a waiter that has just returned, so it is read without faulting.
 */
int csdw_csd_locked(const void *csd)
{
	unsigned int flags;

	if (!csd || get_kernel_nofault(flags, &((call_single_data_t *)csd)->node.u_flags))
		return -1;
	return !!(flags & CSD_FLAG_LOCK);
}

/*
 * The state of @sender's smp_call_function_many_cond() csd for CPU @t, for
 * rust/cfd.rs, which chooses from them the CPU that holds the call (the
 * policy is there; here only what Rust cannot read: cfd_data is smp.c's
 * static per-CPU struct, found at load): CSDW_CFD_UNREADABLE (-1), or
 * CSDW_CFD_UNLOCKED (0), CSDW_CFD_OTHER (1: locked with another call's
 * function or argument), CSDW_CFD_OWN (2: locked for @func(@info)).
 * Only possible CPUs have a csd (a per-CPU slot of an impossible one is no
 * memory of the array's). The array is freed when @sender goes offline
 * (smpcfd_dead_cpu()), which a tick looking at a stale wait can race, so
 * every field is read with get_kernel_nofault(): a depopulated chunk
 * answers -1, a freed but mapped one old flags, harmless in a report.
 * No copy of the target mask per wait: that would cost
 * BITS_TO_LONGS(nr_cpu_ids) words on every call.
 */
int csdw_cfd_csd(unsigned int sender, unsigned int t, unsigned long func, unsigned long info)
{
	call_single_data_t __percpu *pcsd;
	call_single_data_t *csd;
	unsigned int flags;
	smp_call_func_t f;
	void *i;

	if (sender >= nr_cpu_ids || !cpu_possible(sender) ||
	    t >= nr_cpu_ids || !cpu_possible(t))
		return CSDW_CFD_UNREADABLE;
	pcsd = READ_ONCE(per_cpu_ptr(csdw_cfd_data, sender)->csd);
	if (!pcsd)
		return CSDW_CFD_UNREADABLE;
	csd = per_cpu_ptr(pcsd, t);
	/* a fault: the array was freed under us (see above) */
	if (get_kernel_nofault(flags, &csd->node.u_flags) ||
	    get_kernel_nofault(f, &csd->func) || get_kernel_nofault(i, &csd->info))
		return CSDW_CFD_UNREADABLE;
	if (!(flags & CSD_FLAG_LOCK))
		return CSDW_CFD_UNLOCKED;
	return (unsigned long)f == func && (unsigned long)i == info ? CSDW_CFD_OWN : CSDW_CFD_OTHER;
}

/*
 * The first possible CPU after @prev (-1: the first of all), or
 * nr_cpu_ids when there is none. C because cpumask_next() and
 * cpu_possible_mask are a static inline and a macro.
 */
unsigned int csdw_next_possible_cpu(int prev)
{
	return cpumask_next(prev, cpu_possible_mask);
}

/*
 * Does @sender's smp_call_function_many_cond() csd for @target stand
 * (locked: queued, or its function running)? A push to each remote target
 * of such a call is recorded at its entry (csdw_many_entry), before the
 * call's cond_func (on_each_cpu_cond_mask(): the TLB flush's "not lazy"
 * test) may leave that target out; then the call queued nothing there.
 * C because cfd_data is smp.c's static per-CPU struct, found at load. A
 * CPU's csd array is freed when it goes offline (smpcfd_dead_cpu()), so
 * the flag is read with get_kernel_nofault(): a freed chunk's unmapped
 * page reads as "does not stand" instead of faulting.
 */
bool csdw_cfd_stands(unsigned int sender, unsigned int target)
{
	call_single_data_t __percpu *pcsd;
	unsigned int flags;

	if (sender >= nr_cpu_ids || target >= nr_cpu_ids)
		return false;
	pcsd = READ_ONCE(per_cpu_ptr(csdw_cfd_data, sender)->csd);
	if (!pcsd || get_kernel_nofault(flags, &per_cpu_ptr(pcsd, target)->node.u_flags))
		return false;
	return flags & CSD_FLAG_LOCK;
}

/*
 * The first node of @cpu's call_single_queue (NULL: empty). C because the
 * queue is a per-CPU variable found at load and llist's accessors are
 * static inlines; the node is only compared, never dereferenced.
 */
void *csdw_queue_head(unsigned int cpu)
{
	if (cpu >= nr_cpu_ids)
		return NULL;
	return READ_ONCE(per_cpu_ptr(csdw_call_single_queue, cpu)->first);
}

/*
 * What the report needs of a task. Called from the watchdog timer (hard IRQ)
 * while the wait that names @task is live: the task cannot be freed before an
 * RCU grace period, and hard IRQ context is an RCU read-side section.
 */
void csdw_task_info(const void *task, int *pid, char *comm, size_t len, int *running_cpu)
{
	const struct task_struct *p = task;

	*pid = task_pid_nr((struct task_struct *)p);
	strscpy(comm, p->comm, len);
	/* task_curr() is not exported; on_cpu is set while it runs */
	*running_cpu = READ_ONCE(p->on_cpu) ? (int)task_cpu(p) : -1;
}

/* "name+off/size [module]" of a code address (%ps is a printk format). */
void csdw_symbol(char *buf, size_t len, unsigned long addr)
{
	snprintf(buf, len, "%ps", (void *)addr);
}

/* tick_nohz_full_cpu() is a static inline (false without NO_HZ_FULL). */
bool csdw_nohz_full_cpu(unsigned int cpu)
{
	return cpu < nr_cpu_ids && tick_nohz_full_cpu(cpu);
}

/*
 * What the newest node of @cpu's call_single_queue is, for a report: a
 * remote wakeup, an irq_work or a csd's function. The node may be flushed
 * and reused while this reads it (it is only described, never followed),
 * hence the reads without faulting; a torn read names a wrong function at
 * worst.
 */
void csdw_queue_head_desc(unsigned int cpu, char *buf, size_t len)
{
	call_single_data_t *csd = csdw_queue_head(cpu);
	unsigned int flags;
	smp_call_func_t func;

	if (!csd) {
		snprintf(buf, len, "none (queue empty now)");
		return;
	}
	if (get_kernel_nofault(flags, &csd->node.u_flags)) {
		snprintf(buf, len, "unreadable");
		return;
	}
	switch (flags & CSD_FLAG_TYPE_MASK) {
	case CSD_TYPE_TTWU:
		snprintf(buf, len, "a remote wakeup (TTWU_QUEUE)");
		return;
	case CSD_TYPE_IRQ_WORK:
		snprintf(buf, len, "an irq_work");
		return;
	}
	if (get_kernel_nofault(func, &csd->func))
		func = NULL;
	snprintf(buf, len, "%s %ps", (flags & CSD_FLAG_TYPE_MASK) == CSD_TYPE_SYNC ? "sync" : "async",
		 func);
}

void csdw_show_task(const void *task)
{
	sched_show_task((struct task_struct *)task);
}

/*
 * Who makes a push, for rust/origin.rs: the current task's pid, or
 * 0xfffffffe (origin::IN_IRQ) when the probed code runs in hard IRQ or
 * NMI, where `current` is only whoever was interrupted. A breakpoint probe
 * on x86 runs its handler inside nmi_enter() (exc_int3), which adds one
 * NMI and one hard-IRQ level of its own: those are not the probed code's.
 * (arm64's debug exception and optimized or ftrace-based probes add none.)
 * C because preempt_count() and its masks are macros.
 */
u32 csdw_pusher_pid(void)
{
	unsigned long irq = preempt_count() & (NMI_MASK | HARDIRQ_MASK);

	if (in_nmi())
		irq -= NMI_OFFSET + HARDIRQ_OFFSET;
	return irq ? 0xfffffffeU : (u32)task_pid_nr(current);
}

/*
 * The task a push recorded, looked up again by its pid: @task only says
 * whether the pid still names the same task (it may have exited, and
 * the pid been reused). RCU: looked up and read inside one read-side
 * section (any context). C because pid lookup and the task's scheduler
 * fields are macros and config-dependent structs.
 */
static struct task_struct *csdw_pusher_get(const void *task, u32 pid)
{
	struct task_struct *p = pid_task(find_pid_ns(pid, &init_pid_ns), PIDTYPE_PID);

	return p == task ? p : NULL;
}

/* Where it is now, into @buf; true if it lives and is not running. */
bool csdw_pusher_desc(const void *task, u32 pid, char *buf, size_t len)
{
	struct task_struct *p;
	bool idle = false;

	rcu_read_lock();
	p = csdw_pusher_get(task, pid);
	if (!p) {
		scnprintf(buf, len, "pid %u, exited since", pid);
	} else if (READ_ONCE(p->on_cpu)) {
		scnprintf(buf, len, "%s pid %u, now running on CPU %u", p->comm, pid,
			  task_cpu(p));
	} else {
		char state = task_state_to_char(p);	/* one read of its state */

		if (state == 'R')
			scnprintf(buf, len, "%s pid %u, now preempted (runnable, not running) on CPU %u",
				  p->comm, pid, task_cpu(p));
		else
			scnprintf(buf, len, "%s pid %u, now sleeping (%c) on CPU %u", p->comm, pid,
				  state, task_cpu(p));
		idle = true;
	}
	rcu_read_unlock();
	return idle;
}

void csdw_pusher_stack(const void *task, u32 pid)
{
	struct task_struct *p;

	rcu_read_lock();
	p = csdw_pusher_get(task, pid);
	if (p)
		sched_show_task(p);
	rcu_read_unlock();
}

/*
 * The stack of what the current interrupt interrupted, from its saved
 * registers, as the RCU stall detector prints a CPU it runs on: without
 * csdwatch's own frames (tick, timer, hrtimer core) in front. show_regs()
 * is not exported; it is found at load (csdw_resolve). C because
 * get_irq_regs() is a per-CPU static inline.
 */
static void (*csdw_show_regs_fn)(struct pt_regs *regs);

void csdw_show_regs(struct pt_regs *regs)
{
	if (regs && csdw_show_regs_fn)
		csdw_show_regs_fn(regs);
	else
		dump_stack();
}

void csdw_show_irq_regs(void)
{
	csdw_show_regs(get_irq_regs());
}

/*
 * Kernel lockdown (Secure Boot) at its confidentiality level closes tracefs,
 * perf and BPF's kernel reads: csdwatch loads and works, but its trace
 * events cannot be read. Said once at load (the lockdown LSM also logs its
 * own "use of tracefs is restricted" line for this check). C, because
 * security_locked_down() is a static inline without CONFIG_SECURITY. At
 * the integrity level nothing csdwatch offers is refused: its debugfs file
 * is read-only, its parameters are not "unsafe" ones.
 */
void csdw_lockdown_note(void)
{
	if (security_locked_down(LOCKDOWN_TRACEFS))
		pr_notice("csdwatch: kernel lockdown (confidentiality): tracefs, perf and BPF are closed, so the csdwatch:* trace events cannot be read; /sys/module/csdwatch/stats, its parameters and debugfs csdwatch/wait_histogram still can\n");
}

/*
 * One report, one piece: held while a multi-line report (and the stacks in
 * it) prints, the printk cpu-sync lock keeps other CPUs' reports, NMI
 * backtraces and dump_stack()s from landing between its lines. C, because
 * printk_cpu_sync_get_irqsave() is a macro. Unlike that macro, the wait is
 * bounded: a CPU that took the lock and then stopped (IRQs and NMIs off in
 * a dump, or halted) must not hang the watchdog, so after 10 ms the report
 * prints without it and says so. Reentrant on one CPU, as the kernel's.
 */
#define CSDW_PRINT_WAIT_US 10000
bool csdw_print_lock(unsigned long *flags)
{
	int us;

	local_irq_save(*flags);
	for (us = 0; us < CSDW_PRINT_WAIT_US; us++) {
		if (__printk_cpu_sync_try_get())
			return true;
		udelay(1);
	}
	local_irq_restore(*flags);
	return false;
}

void csdw_print_unlock(unsigned long flags)
{
	__printk_cpu_sync_put();
	local_irq_restore(flags);
}

/* ------------------------------------------------------------------ */
/* 4. NMI backtraces.                                                 */
/* ------------------------------------------------------------------ */

/*
 * NMI backtraces. Where the arch can send one without waiting for the
 * answer (x86: csdwatch's own NMI handler), the watchdog sends it at once.
 * Elsewhere they are sent from a thread, never from the watchdog timer: the
 * kernel's backtrace waits up to 10 s (preemption off) for a CPU that does
 * not answer, and hard IRQ is no place for that. The timer marks CPUs in
 * csdw_bt_pending and wakes csdwatch's thread on a CPU that no wait ties up
 * (report.rs picks it; its own CPU is usually the spinning owner, whose
 * thread would run only once the stall is over).
 *
 * Its own per-CPU threads (csdwatch_bt/N, smpboot: made at load and when a
 * CPU comes up, parked while it is down), not a kworker: a worker pool
 * whose last idle worker takes a work item first creates a worker, and
 * kthread_create_on_node() waits for kthreadd, which can be queued on the
 * stalled CPU itself (an idle-looking CPU is where a wakeup goes); the
 * backtrace then came 5 s late, after the stall (arm64 under TCG, kthreadd
 * pinned to the target: 1 of 1; a WQ_MEM_RECLAIM rescuer came as late,
 * 4975 ms, its wakeup going the same way). A thread bound to a CPU that
 * answers is woken there and needs nothing else to run.
 *
 * CPUs are backtraced one at a time, under csdw_bt_lock (two threads at
 * once would find the kernel's backtrace busy and send nothing); one that
 * takes 5 s or more to answer is remembered in csdw_bt_deaf and never asked
 * again, so the wait is paid at most once per CPU. C because cpumask_var_t,
 * per-CPU variables, struct smp_hotplug_thread and the trigger functions
 * are macros, static inlines and config-dependent.
 */
static cpumask_var_t csdw_bt_pending, csdw_bt_deaf;
static bool csdw_bt_ready;	/* both masks allocated */
/*
 * The NMI backtrace of one CPU, false if there is none. 7.3's
 * trigger_single_cpu_backtrace() calls the exported cpumask_backtrace();
 * 6.12's calls arch_trigger_cpumask_backtrace(), which is not exported,
 * so there it is found at load (csdw_resolve()).
 */
#ifdef CSDW_KERNEL_612
static void (*csdw_arch_bt_fn)(const cpumask_t *mask, int exclude_cpu);
static bool csdw_backtrace_kernel(unsigned int cpu)
{
	if (!csdw_arch_bt_fn)
		return false;
	csdw_arch_bt_fn(cpumask_of(cpu), -1);
	return true;
}
#else
static bool csdw_backtrace_kernel(unsigned int cpu)
{
	return trigger_single_cpu_backtrace(cpu);
}
#endif

/*
 * The kernel's trigger (nmi_trigger_cpumask_backtrace()) waits for the
 * answer with preemption off (get_cpu()) and mdelay(1) up to 10 000
 * times: 10 s of a CPU that nothing may preempt, on an RT kernel, per
 * target that does not answer (IRQs off without pseudo-NMI, or hung).
 * Where the arch can raise the backtrace IPI without waiting (arm64:
 * arm64_backtrace_ipi, found at load), csdwatch does what that trigger
 * does before it waits, holding the same flag of lib/nmi_backtrace.c (so
 * neither overwrites the other's mask), and waits itself, 1 s at most,
 * sleeping in its thread (busy only in csdw_panic()). Elsewhere the
 * kernel's trigger is the fallback.
 */
#define CSDW_BT_WAIT_NS	NSEC_PER_SEC
static unsigned long *csdw_nbt_mask;	/* lib/nmi_backtrace.c backtrace_mask */
static unsigned long *csdw_nbt_flag;	/* lib/nmi_backtrace.c backtrace_flag */

/*
 * The NMI backtrace of @cpu: 1 printed; 0 none on this arch; -EBUSY
 * another backtrace was in progress; -ETIMEDOUT no answer within 1 s.
 */
static int csdw_backtrace_cpu(unsigned int cpu, bool may_sleep)
{
	struct cpumask *m;
	bool answered;
	u64 t0;

	if (!csdw_nbt_mask)
		return csdw_backtrace_kernel(cpu) ? 1 : 0;
	m = to_cpumask(csdw_nbt_mask);
	if (test_and_set_bit(0, csdw_nbt_flag))
		return -EBUSY;
	cpumask_set_cpu(cpu, m);
	pr_info("csdwatch: sending NMI backtrace from CPU %d to CPU %u\n",
		raw_smp_processor_id(), cpu);
	csdw_arch_backtrace_raise(m);
	t0 = ktime_get_mono_fast_ns();
	while (cpumask_test_cpu(cpu, m) && ktime_get_mono_fast_ns() - t0 < CSDW_BT_WAIT_NS) {
		if (may_sleep)
			usleep_range(500, 1000);
		else
			mdelay(1);
	}
	answered = !cpumask_test_cpu(cpu, m);
	/* a late answer then finds no bit and prints nothing */
	cpumask_clear_cpu(cpu, m);
	clear_bit_unlock(0, csdw_nbt_flag);
	return answered ? 1 : -ETIMEDOUT;
}

#define CSDW_BT_DEAF_NS	(5 * NSEC_PER_SEC)
#define CSDW_BT_LATE_NS	NSEC_PER_SEC
static DEFINE_MUTEX(csdw_bt_lock);
static DEFINE_PER_CPU(struct task_struct *, csdw_bt_task);
static DEFINE_PER_CPU(bool, csdw_bt_kick);	/* this CPU's thread has work */
static bool csdw_bt_threads_on;			/* csdw_bt_threads registered */
static bool csdw_bt_closing;	/* unloading: no thread is woken any more */
/*
 * When a backtrace was last asked for (0: none since the thread last
 * started on csdw_bt_pending). A thread that starts 1 s or more after
 * says so: its backtrace no longer shows the CPU as the report saw it.
 */
static atomic64_t csdw_bt_asked_ns;

static int csdw_bt_should_run(unsigned int cpu)
{
	return READ_ONCE(*this_cpu_ptr(&csdw_bt_kick));
}

static void csdw_bt_thread_fn(unsigned int cpu)
{
	u64 asked, late;

	/* cleared before the mask is read: pairs with the barrier of the ask */
	smp_store_mb(*this_cpu_ptr(&csdw_bt_kick), false);
	asked = atomic64_xchg(&csdw_bt_asked_ns, 0);
	late = asked ? ktime_get_mono_fast_ns() - asked : 0;
	if (late >= CSDW_BT_LATE_NS)
		pr_warn_ratelimited("csdwatch: backtrace thread on CPU %u started %llu ms after a backtrace was asked for\n",
				    cpu, div_u64(late, NSEC_PER_MSEC));
	mutex_lock(&csdw_bt_lock);
	for_each_cpu(cpu, csdw_bt_pending) {
		u64 t0;
		int r;

		if (!cpumask_test_and_clear_cpu(cpu, csdw_bt_pending) ||
		    cpumask_test_cpu(cpu, csdw_bt_deaf) || !cpu_online(cpu))
			continue;
		t0 = ktime_get_mono_fast_ns();
		r = csdw_backtrace_cpu(cpu, true);
		/* the report promised a backtrace: say why none came */
		if (r == -EBUSY) {
			pr_warn_ratelimited("csdwatch: no NMI backtrace of CPU %u: another NMI backtrace was in progress\n",
					    cpu);
		} else if (r == -ETIMEDOUT ||
			   (r > 0 && ktime_get_mono_fast_ns() - t0 >= CSDW_BT_DEAF_NS)) {
			cpumask_set_cpu(cpu, csdw_bt_deaf);
			pr_warn("csdwatch: no NMI backtrace of CPU %u: it did not answer within %s; not asked again\n",
				cpu, r == -ETIMEDOUT ? "1 s" : "5 s");
		}
	}
	mutex_unlock(&csdw_bt_lock);
}

/* nice -20, as the kernel's highpri kworkers */
static void csdw_bt_thread_setup(unsigned int cpu)
{
	set_user_nice(current, MIN_NICE);
}

static struct smp_hotplug_thread csdw_bt_threads = {
	.store			= &csdw_bt_task,
	.thread_should_run	= csdw_bt_should_run,
	.thread_fn		= csdw_bt_thread_fn,
	.setup			= csdw_bt_thread_setup,
	.thread_comm		= "csdwatch_bt/%u",
};

/*
 * Hard-IRQ safe: wake_up_process() takes only raw locks. A thread parked
 * (its CPU going down) is not woken; the CPU stays pending for the next
 * ask. Called only from the watchdog timer (hard IRQ, so an RCU read-side
 * section): the task pointers are set before csdw_bt_ready, and cleared
 * (the threads stopped) only after csdw_bt_closing is set and a grace
 * period has passed (csdw_bt_threads_stop()), so a task read here is not
 * freed before wake_up_process() is done with it.
 */
void csdw_backtrace_later(unsigned int cpu, int on)
{
	struct task_struct *t;

	/* an offline CPU runs nothing to show, and must not be sent an NMI */
	if (cpu >= nr_cpu_ids || !READ_ONCE(csdw_bt_ready) || !cpu_online(cpu) ||
	    READ_ONCE(csdw_bt_closing))
		return;
	if (csdw_arch_backtrace_nowait(cpu))
		return;
	if (on < 0 || on >= nr_cpu_ids || !cpu_online(on))
		on = raw_smp_processor_id();
	t = READ_ONCE(per_cpu(csdw_bt_task, on));
	if (!t)
		return;		/* no threads (this arch needs none) */
	cpumask_set_cpu(cpu, csdw_bt_pending);
	atomic64_cmpxchg(&csdw_bt_asked_ns, 0, ktime_get_mono_fast_ns());
	/*
	 * The bit (set_bit()) before the kick: a thread that sees the kick
	 * and clears it then finds the bit.
	 */
	smp_mb__after_atomic();
	WRITE_ONCE(per_cpu(csdw_bt_kick, on), true);
	wake_up_process(t);
}

bool csdw_nmi_deaf(unsigned int cpu)
{
	if (cpu >= nr_cpu_ids || !READ_ONCE(csdw_bt_ready))
		return false;
	return cpumask_test_cpu(cpu, csdw_bt_deaf) || csdw_arch_nmi_unanswered(cpu);
}

/* Panic: the backtraces asked for by the splat cannot wait for a thread. */
void __noreturn csdw_panic(u32 owner, u32 target, u64 ms, const char *class)
{
	unsigned int cpu;

	if (READ_ONCE(csdw_bt_ready))
		for_each_cpu(cpu, csdw_bt_pending)
			if (!cpumask_test_cpu(cpu, csdw_bt_deaf))
				csdw_backtrace_cpu(cpu, false);
	panic("csdwatch: CPU %u waited %llu ms for CPU %u (%s): panic_ms reached\n",
	      owner, ms, target, class);
}

/* ------------------------------------------------------------------ */
/* 5. Probes. C because struct kprobe/kretprobe and pt_regs argument  */
/* access (regs_get_kernel_argument) are arch- and config-dependent.  */
/* Every handler is a thin adapter to a csdwatch_rs_* function.       */
/* ------------------------------------------------------------------ */

#define SCF_WAIT_FLAG	(1U << 0)	/* kernel/smp.c SCF_WAIT */
#define CSDW_BATCH	8	/* sync csds remembered per flush */
#define CSDW_WALK_MAX	64	/* queue nodes looked at per flush */

/*
 * Is @node on @cpu's call queue now (rust/origin.rs: does the first push
 * recorded still stand)? A walk from the head, each step read with
 * get_kernel_nofault(): from another CPU the nodes may be taken, run and
 * freed under it. At most CSDW_WALK_MAX steps; true also when it cannot
 * tell (too long, unreadable, no node): the caller keeps what it knew.
 */
bool csdw_queue_holds(unsigned int cpu, const void *node)
{
	struct llist_node *n, *next;
	int i;

	if (cpu >= nr_cpu_ids || !node)
		return true;
	n = READ_ONCE(per_cpu_ptr(csdw_call_single_queue, cpu)->first);
	for (i = 0; n && i < CSDW_WALK_MAX; i++) {
		if (n == node)
			return true;
		if (get_kernel_nofault(next, &n->next))
			return true;
		n = next;
	}
	return i == CSDW_WALK_MAX;
}

struct csdw_slot_data { int slot; };

/*
 * Kprobes on ftrace (x86 with the function tracer: Debian's kernels).
 * The kernel arms such a probe through one of two ftrace_ops, chosen by
 * whether it has a post_handler (kernel/kprobes.c, arm_kprobe_ftrace()),
 * and a later disarm chooses again the same way. But a probe that joins
 * another at the same address (add_new_kprobe()) gives the aggregate a
 * post_handler without arming it again, and for an ftrace aggregate the
 * post_handler stays after that probe leaves. So if csdwatch's probe (no
 * post_handler) is armed first, another kprobe user with a post_handler
 * comes and goes at that address, and csdwatch unloads, the disarm goes
 * to the wrong ops (WARN "Failed to disarm kprobe-ftrace", -ENOENT), the
 * aggregate stays armed and registered, and the next call runs
 * csdwatch's freed handler (seen on Debian's 7.3.4 rt kernel: "kernel
 * tried to execute NX-protected page" in aggr_pre_handler, during
 * free_module()'s own TLB flush).
 *
 * csdwatch arms each of its sites the way the kernel later disarms it:
 * with a post_handler from the start. Its kprobes carry a post_handler
 * that does nothing; its kretprobes (whose post_handler the kernel
 * clears) get an anchor kprobe with one, registered at the same address
 * before them and removed after them. Every aggregate at a csdwatch site
 * then has a post_handler for as long as it is armed, whoever comes and
 * goes, and is disarmed through the ops it was armed with. The cost: such
 * a probe is not optimized into a jump (an ftrace-based one never is).
 * selftests/csdwatch/kprobe_neighbour.sh shows the kernel bug (its
 * control) and that csdwatch survives it, in both unload orders. C:
 * struct kprobe and its handlers.
 */
#ifdef CONFIG_KPROBES_ON_FTRACE
static void csdw_kp_post(struct kprobe *p, struct pt_regs *regs, unsigned long flags)
{
}
#define CSDW_KP_POST	.post_handler = csdw_kp_post,
#else
#define CSDW_KP_POST
#endif

/* The anchor of a kretprobe (see above); none without kprobes on ftrace. */
struct csdw_anchored_rp {
	struct kretprobe *rp;
	struct kprobe anchor;
	bool anchored;
};

static int csdw_register_anchored(struct csdw_anchored_rp *a)
{
	int ret;

	a->anchored = false;
#ifdef CONFIG_KPROBES_ON_FTRACE
	memset(&a->anchor, 0, sizeof(a->anchor));
	a->anchor.symbol_name = a->rp->kp.symbol_name;
	a->anchor.post_handler = csdw_kp_post;
	ret = register_kprobe(&a->anchor);
	if (ret)
		return ret;
	a->anchored = true;
#endif
	ret = register_kretprobe(a->rp);
	if (ret && a->anchored) {
		unregister_kprobe(&a->anchor);
		a->anchored = false;
	}
	return ret;
}

static void csdw_unregister_anchored(struct csdw_anchored_rp *a)
{
	unregister_kretprobe(a->rp);
	if (a->anchored)
		unregister_kprobe(&a->anchor);
	a->anchored = false;
}

/*
 * A kernel the bug above has already hit. When another kprobe user's
 * disarm fails that way, the kernel still counts the probe down: its count
 * of probes armed through the IPMODIFY ftrace_ops (kernel/kprobes.c,
 * kprobe_ipmodify_enabled) stays at -1 until reboot. From then on the
 * first such probe armed does not register the ops (it is dead until a
 * second one comes), and the last-but-one disarm unregisters the ops while
 * a probe still sits in it. A csdwatch unload on such a kernel once
 * jumped to address 0 at the entry of __flush_smp_call_function_queue,
 * in the IPI handler of the CPU it was watching (CI, after selftest
 * kprobe_neighbour_control had broken the count on purpose).
 *
 * Seen from a module: a probe with a post_handler that is the only one
 * armed through that ops does not fire. csdwatch arms one, before any
 * other, on a function of its own, calls that function and refuses to
 * load when the probe did not see the call. (With other IPMODIFY probes
 * armed the count may be off and the canary still fire: a broken count
 * is found only where csdwatch is the first such user, the usual case.)
 * C: struct kprobe and its flags.
 */
#ifdef CONFIG_KPROBES_ON_FTRACE
static atomic_t csdw_canary_hits;

/* not inlined, not notrace: ftrace gives it a call site to arm */
static noinline void csdw_ftrace_canary(void)
{
	asm volatile("");
}

static int csdw_canary_pre(struct kprobe *p, struct pt_regs *regs)
{
	atomic_inc(&csdw_canary_hits);
	return 0;
}

static int csdw_ftrace_check(void)
{
	struct kprobe kp = {
		.addr = (kprobe_opcode_t *)csdw_ftrace_canary,
		.pre_handler = csdw_canary_pre,
		.post_handler = csdw_kp_post,
	};
	bool on_ftrace;
	int ret, hits;

	ret = register_kprobe(&kp);
	if (ret) {
		pr_err("csdwatch: cannot probe a function of its own (%d): kprobes do not work here; not loading\n",
		       ret);
		return ret;
	}
	on_ftrace = kp.flags & KPROBE_FLAG_FTRACE;
	atomic_set(&csdw_canary_hits, 0);
	csdw_ftrace_canary();
	hits = atomic_read(&csdw_canary_hits);
	/* kprobes' own synchronization: no handler runs on kp after this */
	unregister_kprobe(&kp);
	if (on_ftrace && !hits) {
		pr_err("csdwatch: a kprobe on ftrace did not fire: this kernel's count of kprobes on ftrace is broken (an earlier \"Failed to disarm kprobe-ftrace\" warning from another kprobe user); unloading csdwatch from it can crash the machine; not loading, reboot first\n");
		return -EIO;
	}
	return 0;
}
#else
static int csdw_ftrace_check(void)
{
	return 0;
}
#endif

/*
 * Arguments come as full registers; an int or bool argument's upper bits
 * are not defined by the ABI, so each is narrowed to its C type first.
 * An entry handler returns non-zero for a call it does not track: the
 * kretprobe then gives the instance back and runs no return handler.
 */

/*
 * CSDW_IRQS_OFF: the handlers of the sender side and of the IPI sends run
 * their body with IRQs off. On x86 an optimized (jump) or ftrace-based
 * probe's handler, and any kretprobe handler, runs with IRQs on; an IPI
 * taken meanwhile finds kprobe_running() on this CPU, so the kprobe core
 * skips the flush entry probe as "missed" and that flush is never seen:
 * its queue then looks unflushed since a push it did serve (the likely
 * cause of a loaded CI run's report naming, as the first push of a
 * stall, a push that a flush had served ~30 ms before the stall began).
 * With IRQs off the IPI waits for the few instructions left of the
 * handler. The window before the body (the probe core's own entry) stays.
 */
#define CSDW_IRQS_OFF(probe, name)						\
static int name(struct probe *p, struct pt_regs *regs)			\
{									\
	unsigned long flags;						\
	int ret;							\
									\
	local_irq_save(flags);						\
	ret = __##name(p, regs);					\
	local_irq_restore(flags);					\
	return ret;							\
}

/*
 * Which hooks are in use (hooks=, rust/hooks_mode.rs): true when the
 * pushes and the IPI sends come through the kernel's csd and ipi
 * tracepoints, false when through kprobes. Set at load, before any probe
 * is registered.
 */
static bool csdw_tp_mode;
/* hooks=pushes: the csd_queue_cpu event only, read by the tick (below) */
static bool csdw_push_mode;
/* hooks=pushes: each CPU's pushes since its watchdog's last tick */
struct csdw_pushes {
	unsigned int n;		/* entries in use, one per target CPU */
	bool overflow;		/* more targets than entries: the tick scans */
	bool armed;		/* a push since the last tick armed the watchdog */
	struct csdw_push e[CSDW_PUSHED];
};
static struct csdw_pushes __percpu *csdw_pushes;	/* with the watchdogs */
/* tracepoint mode: the function of this CPU's tracked many-CPU wait */
static DEFINE_PER_CPU(unsigned long, csdw_many_func);

/*
 * 7.3: __smp_call_function_single(int cpu, func, info, mask, bool wait)
 * 6.12: smp_call_function_single(int cpu, func, info, int wait)
 */
#ifdef CSDW_KERNEL_612
#define CSDW_SINGLE_FN		"smp_call_function_single"
#define CSDW_SINGLE_WAIT(regs)	((int)regs_get_kernel_argument(regs, 3) != 0)
#else
#define CSDW_SINGLE_FN		"__smp_call_function_single"
#define CSDW_SINGLE_WAIT(regs)	((u8)regs_get_kernel_argument(regs, 4) != 0)
#endif
static int __csdw_single_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct csdw_slot_data *d = (void *)ri->data;
	bool wait = CSDW_SINGLE_WAIT(regs);

	d->slot = csdwatch_rs_single_enter(wait);
	return d->slot < 0;
}

CSDW_IRQS_OFF(kretprobe_instance, csdw_single_entry)

static int __csdw_wait_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct csdw_slot_data *d = (void *)ri->data;

	/*
	 * A tracked many-CPU call returns on the CPU it queued from (it runs
	 * with preemption off): no later push of this CPU's is its (a call
	 * whose entry handler was skipped must not look tracked).
	 */
	this_cpu_write(csdw_many_func, 0);
	csdwatch_rs_wait_exit(d->slot);
	return 0;
}

CSDW_IRQS_OFF(kretprobe_instance, csdw_wait_ret)

/* smp_call_function_many_cond(mask, func, info, unsigned int scf_flags, cond_func) */
static int __csdw_many_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct csdw_slot_data *d = (void *)ri->data;
	const struct cpumask *mask = (void *)regs_get_kernel_argument(regs, 0);
	unsigned int flags = (unsigned int)regs_get_kernel_argument(regs, 3);

	unsigned int this = raw_smp_processor_id(), cpu;

	d->slot = -1;
	/* the same test smp_call_function_many_cond() makes for remote work */
	if (cpumask_any_and_but(mask, cpu_online_mask, this) >= nr_cpu_ids)
		return 1;
	if (flags & SCF_WAIT_FLAG)
		d->slot = csdwatch_rs_many_enter(regs_get_kernel_argument(regs, 1),
						 regs_get_kernel_argument(regs, 2));
	if (csdw_tp_mode) {
		/*
		 * The pushes come through csd_queue_cpu, after cond_func, one
		 * per csd really queued; it needs to know whether this call's
		 * wait is tracked (preemption is off from here to the last
		 * push: smp_call_function_many_cond() requires it).
		 */
		this_cpu_write(csdw_many_func, d->slot >= 0 ? regs_get_kernel_argument(regs, 1) : 0);
		return d->slot < 0;
	}
	if (d->slot >= 0) {
		/* tracked: only who pushes first (rust/origin.rs) */
		for_each_cpu_and(cpu, mask, cpu_online_mask)
			if (cpu != this)
				csdwatch_rs_queue_push(cpu, NULL, false, true);
		return 0;
	}
	/*
	 * Not a tracked wait (no SCF_WAIT, or the table is full): watch the
	 * queue of each remote target instead. cond_func may leave some out;
	 * their watch finds an empty queue and ends. The walk costs what the
	 * call's own queue loop costs, one step per target.
	 */
	for_each_cpu_and(cpu, mask, cpu_online_mask)
		if (cpu != this)
			csdwatch_rs_queue_push(cpu, NULL, true, true);
	return 1;
}

CSDW_IRQS_OFF(kretprobe_instance, csdw_many_entry)

/*
 * __smp_call_single_queue(int cpu, struct llist_node *node): every push
 * but smp_call_function_many_cond()'s (those go through the probe above):
 * the csds of generic_exec_single() (smp_call_function_single() and the
 * async calls; its local and offline cases never get here), remote wakeups
 * (TTWU_QUEUE) and irq_work_queue_on(). Every node is a struct
 * __call_single_node whose type says which: a csd's node is the first
 * member of its call_single_data_t, so the csd, its function and whether
 * a waiter spins on it are read here (one probe for every push: a second
 * one on generic_exec_single() cost an extra probe hit per call).
 */
static int __csdw_queue_pre(struct kprobe *kp, struct pt_regs *regs)
{
	unsigned int cpu = (unsigned int)regs_get_kernel_argument(regs, 0);
	struct llist_node *node = (void *)regs_get_kernel_argument(regs, 1);
	struct __call_single_node *n = container_of(node, struct __call_single_node, llist);
	unsigned int type = READ_ONCE(n->u_flags) & CSD_FLAG_TYPE_MASK;

	if (type == CSD_TYPE_SYNC || type == CSD_TYPE_ASYNC) {
		call_single_data_t *csd = container_of(n, call_single_data_t, node);

		csdwatch_rs_single_queue(cpu, csd, (unsigned long)csd->func,
					 type == CSD_TYPE_SYNC);
	} else {
		csdwatch_rs_queue_push(cpu, node, true, false);
	}
	return 0;
}

CSDW_IRQS_OFF(kprobe, csdw_queue_pre)

/*
 * __flush_smp_call_function_queue() entry, on the target with IRQs off:
 * hand Rust the synchronous csds this flush is about to run, oldest first.
 * Every node reachable from the head is owned by the queue until this flush
 * takes it (llist_del_all() runs after this handler, on this CPU), so the
 * walk reads live csds; new nodes only appear at the head.
 */
static int csdw_flush_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	const void *ring_csd[CSDW_BATCH], *csds[CSDW_BATCH];
	unsigned long ring_fn[CSDW_BATCH], funcs[CSDW_BATCH];
	struct llist_node *node;
	int n = 0, walked = 0, i, kept;

	/* newest first: the last CSDW_BATCH sync csds met are the oldest ones */
	node = READ_ONCE(this_cpu_ptr(csdw_call_single_queue)->first);
	for (; node && walked < CSDW_WALK_MAX; node = node->next, walked++) {
		call_single_data_t *csd = llist_entry(node, call_single_data_t, node.llist);

		if ((csd->node.u_flags & CSD_FLAG_TYPE_MASK) != CSD_TYPE_SYNC)
			continue;
		ring_csd[n % CSDW_BATCH] = csd;
		ring_fn[n % CSDW_BATCH] = (unsigned long)csd->func;
		n++;
	}
	kept = min(n, CSDW_BATCH);
	for (i = 0; i < kept; i++) {		/* oldest (runs first) first */
		int j = (n - 1 - i) % CSDW_BATCH;

		csds[i] = ring_csd[j];
		funcs[i] = ring_fn[j];
	}
	csdwatch_rs_flush_enter(raw_smp_processor_id(), csds, funcs, kept);
	return 0;
}

static int csdw_flush_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	csdwatch_rs_flush_exit(raw_smp_processor_id());
	return 0;
}

static struct kretprobe csdw_rp_flush = {
	.kp.symbol_name = "__flush_smp_call_function_queue",
	.entry_handler = csdw_flush_entry,
	.handler = csdw_flush_ret,
};

static struct kprobe csdw_kp_queue = {
	.symbol_name = "__smp_call_single_queue",
	.pre_handler = csdw_queue_pre,
	CSDW_KP_POST
};

static struct kretprobe csdw_rp_single = {
	.kp.symbol_name = CSDW_SINGLE_FN,
	.entry_handler = csdw_single_entry,
	.handler = csdw_wait_ret,
	.data_size = sizeof(struct csdw_slot_data),
};

static struct kretprobe csdw_rp_many = {
	.kp.symbol_name = "smp_call_function_many_cond",
	.entry_handler = csdw_many_entry,
	.handler = csdw_wait_ret,
	.data_size = sizeof(struct csdw_slot_data),
};

static struct csdw_anchored_rp csdw_ar_flush = { .rp = &csdw_rp_flush };
static struct csdw_anchored_rp csdw_ar_single = { .rp = &csdw_rp_single };
static struct csdw_anchored_rp csdw_ar_many = { .rp = &csdw_rp_many };

/*
 * The arch's call-function IPI send functions (rust/arch/<arch>.c names
 * them): whether an IPI was sent to a target after its first csd was
 * queued (rust/origin.rs). Below the generic code (which skips the send
 * when the queue was not empty, or the target polls in idle), so what
 * they see was handed to the interrupt controller. csdwatch's own
 * resends go through them too and are left out (csdw_resending).
 */
static DEFINE_PER_CPU(int, csdw_resending);

void csdw_resend_ipi(unsigned int cpu)
{
	preempt_disable();
	this_cpu_write(csdw_resending, 1);
	csdw_arch_resend_ipi(cpu);
	this_cpu_write(csdw_resending, 0);
	preempt_enable();
}

/* (int cpu) */
static int __csdw_ipi_single_pre(struct kprobe *kp, struct pt_regs *regs)
{
	unsigned int cpu = (unsigned int)regs_get_kernel_argument(regs, 0);

	if (!this_cpu_read(csdw_resending) && cpu < nr_cpu_ids)
		csdwatch_rs_ipi_sent(cpu);
	return 0;
}

CSDW_IRQS_OFF(kprobe, csdw_ipi_single_pre)

/* (const struct cpumask *mask): one step per target, as the send's own */
static int __csdw_ipi_mask_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const struct cpumask *mask = (void *)regs_get_kernel_argument(regs, 0);
	unsigned int cpu;

	if (this_cpu_read(csdw_resending))
		return 0;
	for_each_cpu(cpu, mask)
		csdwatch_rs_ipi_sent(cpu);
	return 0;
}

CSDW_IRQS_OFF(kprobe, csdw_ipi_mask_pre)

static struct kprobe csdw_kp_ipi[2] = {
	{ .pre_handler = csdw_ipi_single_pre, CSDW_KP_POST },
	{ .pre_handler = csdw_ipi_mask_pre, CSDW_KP_POST },
};
static bool csdw_ipi_probe_on[2];

static bool csdw_ipi_distrusted;	/* the load-time check saw no send */

bool csdw_ipi_sends_seen(void)
{
	return (csdw_tp_mode || READ_ONCE(csdw_ipi_probe_on[0])) &&
	       !READ_ONCE(csdw_ipi_distrusted);
}

void csdw_ipi_sends_distrust(void)
{
	WRITE_ONCE(csdw_ipi_distrusted, true);
}

/* Optional: without them a report cannot say whether an IPI was sent. */
static void csdw_ipi_probes_register(void)
{
	int i, ret;

	csdw_ipi_distrusted = false;
	for (i = 0; i < 2; i++) {
		csdw_kp_ipi[i].addr = csdw_arch_ipi_fn(i);
		ret = csdw_kp_ipi[i].addr ? register_kprobe(&csdw_kp_ipi[i]) : -ENOENT;
		if (ret)
			goto fail;
		csdw_ipi_probe_on[i] = true;
	}
	return;

fail:
	pr_warn("csdwatch: cannot probe the IPI send function %pS (%d): reports do not say whether an IPI was sent\n",
		csdw_kp_ipi[i].addr, ret);
	while (i--) {
		unregister_kprobe(&csdw_kp_ipi[i]);
		csdw_ipi_probe_on[i] = false;
	}
}

static void csdw_ipi_probes_unregister(void)
{
	int i;

	for (i = 0; i < 2; i++)
		if (csdw_ipi_probe_on[i])
			unregister_kprobe(&csdw_kp_ipi[i]);
	csdw_ipi_probe_on[0] = csdw_ipi_probe_on[1] = false;
}

/* ------------------------------------------------------------------ */
/* 6. Tracepoints.                                                    */
/* ------------------------------------------------------------------ */

/*
 * The kernel's csd and ipi tracepoints (include/trace/events/csd.h,
 * ipi.h; hooks=tracepoints, or auto where the kernel has them). C:
 * tracepoint probes take the event's C prototype, and struct tracepoint
 * is found by name (for_each_kernel_tracepoint(); the __tracepoint_*
 * symbols are not exported) and registered with
 * tracepoint_probe_register(), both exported. A probe runs with
 * preemption off in the context of the code that fires the event; like
 * the kprobe handlers, its body runs with IRQs off (CSDW_IRQS_OFF says
 * why) and neither allocates, locks, prints nor cross-calls.
 */
#ifdef CONFIG_TRACEPOINTS
/*
 * csd_queue_cpu(cpu, callsite, func, csd): every push onto a
 * call_single_queue, before llist_add(): from __smp_call_single_queue()
 * (single and async calls, remote wakeups with func sched_ttwu_pending,
 * irq_work_queue_on()) and, after cond_func and csd_lock(), from
 * smp_call_function_many_cond() for each csd it queues. The latter's
 * csds are the sender's cfd_data csds, which tells them apart.
 */
static void csdw_tp_queue(void *data, const unsigned int cpu, unsigned long callsite,
			  smp_call_func_t func, call_single_data_t *csd)
{
	call_single_data_t __percpu *pcsd;
	unsigned long flags;
	unsigned int type;

	local_irq_save(flags);
	type = READ_ONCE(csd->node.u_flags) & CSD_FLAG_TYPE_MASK;
	pcsd = READ_ONCE(this_cpu_ptr(csdw_cfd_data)->csd);
	if (pcsd && cpu < nr_cpu_ids && per_cpu_ptr(pcsd, cpu) == csd) {
		bool tracked = type == CSD_TYPE_SYNC &&
			       this_cpu_read(csdw_many_func) == (unsigned long)func;

		/* a real push (after cond_func): not a cfd entry record */
		csdwatch_rs_queue_push(cpu, csd, !tracked, false);
	} else if (type == CSD_TYPE_SYNC || type == CSD_TYPE_ASYNC) {
		csdwatch_rs_single_queue(cpu, csd, (unsigned long)func, type == CSD_TYPE_SYNC);
	} else {
		csdwatch_rs_queue_push(cpu, csd, true, false);
	}
	local_irq_restore(flags);
}

/*
 * csd_function_entry / csd_function_exit(func, csd): around each function
 * a flush runs from its queue (csd_do_func(): synchronous and async csds,
 * remote wakeups as sched_ttwu_pending; irq_work has none), on the target
 * with IRQs off (__flush_smp_call_function_queue() asserts it). They take
 * the place of the flush kretprobe, at a fraction of its cost: what runs
 * now, since when, and when it is over. csd is NULL for a function a
 * caller runs on its own CPU (no flush, no queue): left out.
 */
static void csdw_tp_func_entry(void *data, smp_call_func_t func, call_single_data_t *csd)
{
	if (csd)
		csdwatch_rs_function_enter(raw_smp_processor_id(), csd, (unsigned long)func);
}

/*
 * Also the end of a single call's wait (with the events, no kretprobe sits
 * on the waiter): for a synchronous csd it fires before csd_unlock(). Only
 * the pointer goes on: an async csd, unlocked before its function ran, may
 * be freed by now.
 */
static void csdw_tp_func_exit(void *data, smp_call_func_t func, call_single_data_t *csd)
{
	if (csd)
		csdwatch_rs_function_exit(raw_smp_processor_id(), csd);
}

/*
 * ipi_send_cpu / ipi_send_cpumask: fired just before the arch sends an
 * IPI, only when one is really sent. The reschedule and irq_work IPIs
 * use them too: only those with smp.c's call-function callback count.
 * csdwatch's own resends call the arch directly and never fire them.
 */
static void *csdw_cfsi;	/* generic_smp_call_function_single_interrupt, compared only */

static void csdw_tp_ipi_cpu(void *data, const unsigned int cpu, unsigned long callsite,
			    void *callback)
{
	unsigned long flags;

	if (callback != csdw_cfsi || cpu >= nr_cpu_ids)
		return;
	local_irq_save(flags);
	csdwatch_rs_ipi_sent(cpu);
	local_irq_restore(flags);
}

static void csdw_tp_ipi_mask(void *data, const struct cpumask *mask, unsigned long callsite,
			     void *callback)
{
	unsigned long flags;
	unsigned int cpu;

	if (callback != csdw_cfsi)
		return;
	local_irq_save(flags);
	for_each_cpu(cpu, mask)
		csdwatch_rs_ipi_sent(cpu);
	local_irq_restore(flags);
}

/*
 * sched_wake_idle_without_ipi: a push found its target polling in idle
 * and set its need-resched flag instead of an IPI (set_nr_if_polling(),
 * call_function_single_prep_ipi()); also fired for remote wakeups of a
 * polling CPU, which is as much "no IPI needed". Optional: without it a
 * report says "none sent" for such a target too.
 */
static void csdw_tp_wake_idle(void *data, int cpu)
{
	unsigned long flags;

	if (cpu < 0 || cpu >= nr_cpu_ids)
		return;
	local_irq_save(flags);
	csdwatch_rs_ipi_not_needed(cpu);
	local_irq_restore(flags);
}

/*
 * hooks=pushes (rust/push_watch.rs): the one hook is csd_queue_cpu, and
 * all it does is note, on the pushing CPU's own record, which CPU was
 * pushed what and whether its queue was empty, and make sure this CPU's
 * watchdog ticks once more; the tick takes the notes and reads the queues.
 * C: this_cpu_ptr() on a __percpu record, per_cpu_ptr() on smp.c's queue.
 * A few stores on a line no other CPU writes, IRQs off so this CPU's
 * tick (hard IRQ) and a push from an interrupt see the record whole. The
 * queue head read here is the line llist_add() writes next.
 */
static void csdw_proof_fn(void *info);

/* the load-time check's own call (rust/proof.rs) */
static __always_inline void csdw_push_proof(smp_call_func_t func)
{
	if (unlikely(func == csdw_proof_fn))
		csdwatch_rs_push_seen((unsigned long)func);
}

/*
 * The rare end of a push, out of line and tail-called so the probe
 * itself saves no register: arm this CPU's watchdog (once per tick
 * period; IRQs still off, as csdw_watchdog_arm() wants), then restore
 * them.
 */
static noinline notrace void csdw_push_arm(struct csdw_pushes *p, unsigned long flags,
					   smp_call_func_t func)
{
	p->armed = true;
	csdw_watchdog_arm(0, (u64)csdwatch_rs_param_get(CSDW_PARAM_tick_ms) * NSEC_PER_MSEC);
	local_irq_restore(flags);
	csdw_push_proof(func);
}

/* notrace: the function tracer has no business on this path */
static notrace void csdw_tp_push(void *data, const unsigned int cpu, unsigned long callsite,
				 smp_call_func_t func, call_single_data_t *csd)
{
	struct csdw_push *e, *end;
	struct csdw_pushes *p;
	unsigned long flags;
	unsigned int empty;

	/* the kernel pushes only to a possible CPU */
	empty = !READ_ONCE(per_cpu_ptr(csdw_call_single_queue, cpu)->first);
	local_irq_save(flags);
	p = this_cpu_ptr(csdw_pushes);
	end = p->e + p->n;
	for (e = p->e; e < end; e++)
		if (e->cpu == cpu)
			goto noted;
	if (unlikely(e == p->e + CSDW_PUSHED)) {
		p->overflow = true;
		goto arm;
	}
	e->cpu = cpu;
	e->empty = 0;
	p->n++;
noted:
	e->node = (unsigned long)csd;
	e->empty |= empty;
arm:
	if (unlikely(!p->armed)) {
		csdw_push_arm(p, flags, func);
		return;
	}
	local_irq_restore(flags);
	csdw_push_proof(func);
}

/*
 * This CPU's pushes since its last tick, into @out (CSDW_PUSHED entries);
 * their number. From the tick (hard IRQ, this CPU): no push runs on this
 * CPU meanwhile. The next push arms the watchdog again (a no-op while it
 * is armed).
 */
unsigned int csdw_pushes_take(struct csdw_push *out, bool *overflow)
{
	struct csdw_pushes *p;
	unsigned int n;

	*overflow = false;
	if (!csdw_pushes)
		return 0;
	p = this_cpu_ptr(csdw_pushes);
	n = min_t(unsigned int, p->n, CSDW_PUSHED);
	memcpy(out, p->e, n * sizeof(*out));
	*overflow = p->overflow;
	p->n = 0;
	p->overflow = false;
	p->armed = false;
	return n;
}

struct csdw_tp {
	const char *name;
	void *probe;
	struct tracepoint *tp;
	bool on;
	bool optional;	/* loaded without it where the kernel lacks it */
	bool push;	/* the one hooks=pushes registers (its probe: csdw_tp_push) */
};
/* target side first: a push is never seen before its target's flushes */
static struct csdw_tp csdw_tps[] = {
	{ .name = "csd_function_entry", .probe = csdw_tp_func_entry },
	{ .name = "csd_function_exit", .probe = csdw_tp_func_exit },
	{ .name = "csd_queue_cpu", .probe = csdw_tp_queue, .push = true },
	{ .name = "ipi_send_cpu", .probe = csdw_tp_ipi_cpu },
	{ .name = "ipi_send_cpumask", .probe = csdw_tp_ipi_mask },
	{ .name = "sched_wake_idle_without_ipi", .probe = csdw_tp_wake_idle, .optional = true },
};

static void csdw_tp_find(struct tracepoint *tp, void *priv)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(csdw_tps); i++)
		if (!strcmp(tp->name, csdw_tps[i].name))
			csdw_tps[i].tp = tp;
}

/*
 * The first event csdwatch needs that this kernel lacks (NULL: it has
 * them all, and smp.c's call-function callback was found).
 */
const char *csdw_tracepoints_missing(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(csdw_tps); i++)
		csdw_tps[i].tp = NULL;
	for_each_kernel_tracepoint(csdw_tp_find, NULL);
	for (i = 0; i < ARRAY_SIZE(csdw_tps); i++)
		if (!csdw_tps[i].tp && !csdw_tps[i].optional)
			return csdw_tps[i].name;
	csdw_cfsi = csdw_lookup("generic_smp_call_function_single_interrupt");
	return csdw_cfsi ? NULL : "generic_smp_call_function_single_interrupt";
}

static void csdw_tps_unregister(void)
{
	size_t i;
	bool any = false;

	for (i = 0; i < ARRAY_SIZE(csdw_tps); i++) {
		if (!csdw_tps[i].on)
			continue;
		tracepoint_probe_unregister(csdw_tps[i].tp, csdw_tps[i].probe, NULL);
		csdw_tps[i].on = false;
		any = true;
	}
	/* no probe of csdwatch's runs any more once this returns */
	if (any)
		tracepoint_synchronize_unregister();
}

/* All of them or none; the name of the one that failed in *failed. */
static int csdw_tps_register(const char **failed)
{
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(csdw_tps); i++) {
		if (!csdw_tps[i].tp && csdw_tps[i].optional)
			continue;
		if (csdw_push_mode && !csdw_tps[i].push)
			continue;
		if (csdw_push_mode)
			csdw_tps[i].probe = csdw_tp_push;
		*failed = csdw_tps[i].name;
		ret = csdw_tps[i].tp ? tracepoint_probe_register(csdw_tps[i].tp, csdw_tps[i].probe, NULL)
				     : -ENOENT;
		if (ret) {
			csdw_tps_unregister();
			return ret;
		}
		csdw_tps[i].on = true;
	}
	return 0;
}
#else
const char *csdw_tracepoints_missing(void)
{
	return "CONFIG_TRACEPOINTS";
}

unsigned int csdw_pushes_take(struct csdw_push *out, bool *overflow)
{
	*overflow = false;
	return 0;
}

static void csdw_tps_unregister(void)
{
}

static int csdw_tps_register(const char **failed)
{
	*failed = "CONFIG_TRACEPOINTS";
	return -ENOENT;
}
#endif

void csdw_set_hook_mode(bool events, bool pushes)
{
	csdw_tp_mode = events;
	csdw_push_mode = pushes;
}

/* ------------------------------------------------------------------ */
/* 7. Registration at load.                                           */
/* ------------------------------------------------------------------ */

/*
 * sched_tick() entry (hard IRQ, on every CPU that has a scheduler tick):
 * where a CPU looks, at most once per grace period, for a watcher whose
 * own watchdog is overdue because it spins with IRQs off (watchdog.rs
 * sched_tick). Optional: without it such a waiter is looked at only by
 * CPUs whose own watchdogs tick.
 */
static int csdw_sched_tick_pre(struct kprobe *kp, struct pt_regs *regs)
{
	csdwatch_rs_sched_tick(raw_smp_processor_id());
	return 0;
}

static struct kprobe csdw_kp_tick = {
	.symbol_name = "sched_tick",
	.pre_handler = csdw_sched_tick_pre,
	CSDW_KP_POST
};
static bool csdw_tick_probe_on;

bool csdw_sched_tick_hooked(void)
{
	return READ_ONCE(csdw_tick_probe_on);
}

static bool csdw_probes_on;

/* Probes that could not be entered for lack of a free instance. */
/*
 * Flushes whose entry probe did not run, ever: skipped because another
 * probe's handler ran on that CPU (kp.nmissed), or no free instance
 * (nmissed). A record that a flush may have served (rust/origin.rs) is
 * not trusted once this moved.
 */
unsigned long long csdw_flush_missed(void)
{
	if (!csdw_probes_on)
		return 0;
	return READ_ONCE(csdw_rp_flush.kp.nmissed) + READ_ONCE(csdw_rp_flush.nmissed);
}

unsigned long long csdw_probes_missed(void)
{
	if (!csdw_probes_on)
		return 0;
	return csdw_rp_single.nmissed + csdw_rp_many.nmissed + csdw_rp_flush.nmissed;
}

/*
 * The lookup checked against symbols whose address the module loader
 * gave: an exported function (its first instruction is ENDBR64 on an IBT
 * kernel, which x86's register_kprobe() steps over) and an exported
 * per-CPU variable (on 7.3 x86_64 a template in the freed init section,
 * like cfd_data's). A lookup that is wrong for these is not trusted for
 * smp.c's symbols.
 */
static int csdw_lookup_check(const char *name, const void *linked)
{
	const void *found = csdw_lookup(name);

	if (found == linked)
		return 0;
	if (found)
		pr_err("csdwatch: symbol lookup is off: %s found %+ld bytes from where the module loader put it; not loading\n",
		       name, (long)(found - linked));
	else
		pr_err("csdwatch: symbol lookup failed for the exported %s; not loading\n", name);
	return -ENOENT;
}

/* Find the static symbols, or fail naming the first one missing. */
int csdw_resolve(void)
{
	int ret;

	/*
	 * Through unsigned long: with CONFIG_USE_X86_SEG_SUPPORT (distro x86
	 * kernels built by gcc >= 14) __percpu is the __seg_gs address space,
	 * which a plain void * does not convert to.
	 */
	csdw_cfd_data = (struct csdw_cfd_head __percpu *)(unsigned long)csdw_lookup("cfd_data");
	csdw_call_single_queue =
		(struct llist_head __percpu *)(unsigned long)csdw_lookup("call_single_queue");
	if (!csdw_cfd_data || !csdw_call_single_queue) {
		pr_err("csdwatch: kernel symbol %s not found (needs CONFIG_KALLSYMS_ALL); not loading\n",
		       csdw_cfd_data ? "call_single_queue" : "cfd_data");
		return -ENOENT;
	}
	ret = csdw_lookup_check("register_kprobe", register_kprobe);
	if (!ret)
		ret = csdw_lookup_check("kernel_cpustat",
					(void *)(unsigned long)&kernel_cpustat);
	if (ret)
		return ret;
	/* optional: without it a stack printed from registers starts with the
	 * frames of the code that prints it (dump_stack()) */
	if (csdw_arch_may_call_found())
		csdw_show_regs_fn = csdw_lookup("show_regs");
#ifdef CSDW_KERNEL_612
	if (csdw_arch_may_call_found())
		csdw_arch_bt_fn = csdw_lookup("arch_trigger_cpumask_backtrace");
	if (!csdw_arch_bt_fn)
		pr_warn("csdwatch: arch_trigger_cpumask_backtrace not callable: reports show no target stacks\n");
#endif
	ret = csdw_arch_init();
	if (ret)
		return ret;
	/* optional (above): the kernel's waiting trigger without them */
	if (csdw_arch_backtrace_raise(NULL)) {
		csdw_nbt_mask = csdw_lookup("backtrace_mask");
		csdw_nbt_flag = csdw_lookup("backtrace_flag");
		if (!csdw_nbt_mask || !csdw_nbt_flag) {
			csdw_nbt_mask = NULL;
			pr_warn("csdwatch: lib/nmi_backtrace.c's state not found: backtraces wait in the kernel's trigger, preemption off, up to 10 s per CPU that does not answer\n");
		}
	}
	return 0;
}

/*
 * The hooks kprobes mode needs beside smp_call_function_many_cond()'s, in
 * order: the flushes (target side), the pushes, and the single calls'
 * waits (with the events a single call's wait ends at
 * csd_function_exit). All or none; the symbol that failed in *failed.
 */
static int csdw_kprobes_register(const char **failed)
{
	int ret;

	*failed = csdw_rp_flush.kp.symbol_name;
	ret = csdw_register_anchored(&csdw_ar_flush);
	if (ret)
		return ret;
	*failed = csdw_kp_queue.symbol_name;
	ret = register_kprobe(&csdw_kp_queue);
	if (ret)
		goto fail_flush;
	*failed = csdw_rp_single.kp.symbol_name;
	ret = csdw_register_anchored(&csdw_ar_single);
	if (ret)
		goto fail_queue;
	return 0;

fail_queue:
	unregister_kprobe(&csdw_kp_queue);
fail_flush:
	csdw_unregister_anchored(&csdw_ar_flush);
	return ret;
}

static void csdw_kprobes_unregister(void)
{
	csdw_unregister_anchored(&csdw_ar_single);
	unregister_kprobe(&csdw_kp_queue);
	csdw_unregister_anchored(&csdw_ar_flush);
}

/*
 * Target side first, then the sender hooks, so a wait is never seen before
 * its target's flushes are. A function inlined away by the compiler has no
 * symbol: the load fails with its name and nothing stays registered.
 */
int csdw_probes_register(void)
{
	const char *failed;
	int ret;

	/*
	 * Instances: a flush can nest once per CPU (task-context flush, then
	 * the IPI); tracked waiters hold one each, at most one per wait slot,
	 * plus the entries in progress that give theirs back at once.
	 */
	csdw_rp_flush.maxactive = 2 * nr_cpu_ids;
	csdw_rp_single.maxactive = csdwatch_rs_wait_slots() + nr_cpu_ids;
	csdw_rp_many.maxactive = csdwatch_rs_wait_slots() + nr_cpu_ids;
	if (csdw_push_mode) {
		/* the pushes only: no kprobe, no other event, no sched_tick */
		ret = csdw_tps_register(&failed);
		if (ret)
			pr_err("csdwatch: cannot attach to the tracepoint %s (%d); not loading (hooks=kprobes does without)\n",
			       failed, ret);
		else
			csdw_probes_on = true;
		return ret;
	}
	ret = csdw_ftrace_check();
	if (ret)
		return ret;
	if (csdw_tp_mode) {
		/* the flushes, the pushes and the IPI sends: the kernel's events */
		ret = csdw_tps_register(&failed);
		if (ret) {
			pr_err("csdwatch: cannot attach to the tracepoint %s (%d); not loading (hooks=kprobes does without)\n",
			       failed, ret);
			return ret;
		}
	} else {
		ret = csdw_kprobes_register(&failed);
		if (ret)
			goto fail;
	}
	failed = csdw_rp_many.kp.symbol_name;
	ret = csdw_register_anchored(&csdw_ar_many);
	if (ret)
		goto fail_mode;
	csdw_probes_on = true;
	ret = register_kprobe(&csdw_kp_tick);
	csdw_tick_probe_on = !ret;
	if (ret)
		pr_warn("csdwatch: cannot probe sched_tick (%d): a waiter spinning with IRQs off is looked at only by CPUs whose watchdogs tick\n",
			ret);
	if (!csdw_tp_mode)
		csdw_ipi_probes_register();
	return 0;

fail_mode:
	if (csdw_tp_mode)
		csdw_tps_unregister();
	else
		csdw_kprobes_unregister();
fail:
	pr_err("csdwatch: cannot probe %s (%d): inlined or not probe-able in this kernel; not loading\n",
	       failed, ret);
	return ret;
}

/* Unregister; returns once no handler runs any more (kprobes' own sync). */
void csdw_probes_unregister(void)
{
	csdw_probes_on = false;
	csdw_ipi_probes_unregister();
	csdw_tps_unregister();
	if (csdw_push_mode)
		return;
	if (csdw_tick_probe_on)
		unregister_kprobe(&csdw_kp_tick);
	csdw_tick_probe_on = false;
	csdw_unregister_anchored(&csdw_ar_many);
	if (!csdw_tp_mode)
		csdw_kprobes_unregister();
}

/* ------------------------------------------------------------------ */
/* 8. Load-time proof, reset and testing parameters.                  */
/* ------------------------------------------------------------------ */

/*
 * The load-time hook check (rust/proof.rs): a cross call of csdwatch's
 * own, through the path it watches, that every hook must see. C because
 * it passes a function to smp_call_function_*() and holds the CPU-hotplug
 * lock and preemption around them (the target must stay another CPU).
 */
static noinline void csdw_proof_fn(void *info)
{
	atomic_inc((atomic_t *)info);
}

unsigned long csdw_proof_fn_addr(void)
{
	return (unsigned long)csdw_proof_fn;
}

/*
 * From this CPU to the first other online one, waiting (@many: through
 * smp_call_function_many_cond() with SCF_WAIT). The target; -ENODEV if
 * no other CPU is online, -EIO if the function did not run once.
 */
int csdw_proof_call(bool many)
{
	atomic_t ran = ATOMIC_INIT(0);
	unsigned int this, t;

	cpus_read_lock();
	this = get_cpu();
	t = cpumask_any_but(cpu_online_mask, this);
	if (t < nr_cpu_ids) {
		if (many)
			smp_call_function_many(cpumask_of(t), csdw_proof_fn, &ran, true);
		else
			smp_call_function_single(t, csdw_proof_fn, &ran, true);
	}
	put_cpu();
	cpus_read_unlock();
	if (t >= nr_cpu_ids)
		return -ENODEV;
	return atomic_read(&ran) == 1 ? (int)t : -EIO;
}

/*
 * wait_histogram_reset (write-only): writing 1 empties the wait-time
 * histogram (debugfs csdwatch/wait_histogram, read-only so that a kernel
 * in lockdown still shows it). Anything else: -EINVAL, a log line, and
 * nothing changes. C: module_param_cb() is a macro.
 */
static int csdw_histogram_reset_set(const char *val, const struct kernel_param *kp)
{
	if (!sysfs_streq(val, "1")) {
		pr_warn("csdwatch: wait_histogram_reset=%.*s refused: write 1 to reset the wait histogram; nothing changed\n",
			(int)strcspn(val, "\n"), val);
		return -EINVAL;
	}
	csdwatch_rs_histogram_reset();
	return 0;
}

static const struct kernel_param_ops csdw_histogram_reset_ops = {
	.set = csdw_histogram_reset_set,
};
module_param_cb(wait_histogram_reset, &csdw_histogram_reset_ops, NULL, 0200);
MODULE_PARM_DESC(wait_histogram_reset, "Write 1 to empty the wait-time histogram (debugfs csdwatch/wait_histogram)");

/*
 * selftest_blind=HOOK: the load-time check ignores that hook, so that a
 * test can see the load refused (selftests/csdwatch/hook_check.sh). Not a
 * tunable: it changes nothing but the check. C: module_param() is a macro.
 */
static char *csdw_blind;
module_param_named(selftest_blind, csdw_blind, charp, 0444);
MODULE_PARM_DESC(selftest_blind, "Testing only: the load-time hook check ignores this hook (single_entry, queue, flush, return, many_entry, ipi_send) and so refuses the load");

const char *csdw_selftest_blind(void)
{
	return csdw_blind;
}

/*
 * selftest_nmi=CPU (write-only, testing only): ask for CPU's no-wait NMI
 * backtrace twice back to back with IRQs off, as two reports naming it
 * close together do (selftests/csdwatch/nmi_backtrace.sh: every NMI sent
 * must be claimed). Refused with -EINVAL for a CPU that is not online,
 * this CPU, or an arch without such a backtrace. Changes nothing else.
 * C: module_param_cb() is a macro.
 */
static int csdw_selftest_nmi_set(const char *val, const struct kernel_param *kp)
{
	unsigned long flags;
	unsigned int cpu;
	bool a, b;

	if (kstrtouint(val, 0, &cpu) || cpu >= nr_cpu_ids || !cpu_online(cpu) ||
	    !csdw_arch_has_nowait_backtrace()) {
		pr_warn("csdwatch: selftest_nmi=%.*s refused: an online CPU, on an arch with csdwatch's own NMI backtrace\n",
			(int)strcspn(val, "\n"), val);
		return -EINVAL;
	}
	local_irq_save(flags);
	if (cpu == smp_processor_id()) {
		local_irq_restore(flags);
		pr_warn("csdwatch: selftest_nmi=%u refused: the writing CPU itself\n", cpu);
		return -EINVAL;
	}
	a = csdw_arch_backtrace_nowait(cpu);
	b = csdw_arch_backtrace_nowait(cpu);
	local_irq_restore(flags);
	return a && b ? 0 : -ENODEV;
}

static const struct kernel_param_ops csdw_selftest_nmi_ops = {
	.set = csdw_selftest_nmi_set,
};
module_param_cb(selftest_nmi, &csdw_selftest_nmi_ops, NULL, 0200);
MODULE_PARM_DESC(selftest_nmi, "Testing only (write): ask for this CPU's NMI backtrace twice back to back");

/* ------------------------------------------------------------------ */
/* 9. Per-CPU watchdog timers. C because they are a static per-CPU    */
/* array started from kprobe context; kernel::time::hrtimer needs     */
/* each timer inside a pin-initialised owner reached through          */
/* Arc/Box/Pin<&mut>, and 7.3 has no per-CPU storage to pin them in.  */
/* ------------------------------------------------------------------ */

struct csdw_watchdog {
	struct hrtimer timer;
	atomic_t armed;		/* queued (or about to be), or its callback is running */
	unsigned int cpu;
	u64 arm_ns;		/* the delay the irq_work below starts the timer with */
	u64 due_ns;		/* when the queued timer fires (csdw_now_ns() clock; this CPU only) */
	struct irq_work arm_work;
};
static DEFINE_PER_CPU(struct csdw_watchdog, csdw_wd);

static enum hrtimer_restart csdw_wd_fn(struct hrtimer *t)
{
	struct csdw_watchdog *wd = container_of(t, struct csdw_watchdog, timer);
	u64 next;

	/*
	 * Cleared first: a wait published on this CPU after the scan below
	 * finds armed == 0 and starts the timer itself (both run on this CPU,
	 * so one of the two sees the other).
	 */
	atomic_set(&wd->armed, 0);
	smp_mb__after_atomic();
	next = csdwatch_rs_tick(wd->cpu);
	if (next && !atomic_xchg(&wd->armed, 1)) {
		WRITE_ONCE(wd->due_ns, csdw_now_ns() + next);
		hrtimer_forward_now(t, ns_to_ktime(next));
		return HRTIMER_RESTART;
	}
	return HRTIMER_NORESTART;
}

/*
 * A probe hit through a breakpoint runs in NMI context (x86 int3 before the
 * kprobe optimizer turned it into a jump, or on a kernel without
 * ftrace-based kprobes): hrtimer_start() takes this CPU's hrtimer base lock
 * and debugobjects' hash lock, which nothing in NMI context may take
 * (lockdep: "{INITIAL USE} -> {IN-NMI} usage"). There the start is handed
 * to this CPU's irq_work (irq_work_queue() is NMI-safe; HARD, so it runs
 * in hard IRQ on PREEMPT_RT too), which starts the timer as soon as the
 * breakpoint returns. From an optimized or ftrace-based probe, and from
 * hard IRQ, the timer is started directly.
 */
static void csdw_arm_iw_fn(struct irq_work *w)
{
	struct csdw_watchdog *wd = container_of(w, struct csdw_watchdog, arm_work);

	/*
	 * The wait that queued this may have ended meanwhile, and its
	 * quiesce found no timer to cancel: start one only for what is still
	 * watched, or it fires once for nothing. Cleared first, as in the
	 * timer callback: a probe (NMI) that publishes a wait after the check
	 * finds armed == 0 and queues this work again.
	 */
	atomic_set(&wd->armed, 0);
	smp_mb__after_atomic();
	if (csdwatch_rs_watching(wd->cpu) && !atomic_xchg(&wd->armed, 1)) {
		u64 delay = READ_ONCE(wd->arm_ns);

		WRITE_ONCE(wd->due_ns, csdw_now_ns() + delay);
		hrtimer_start(&wd->timer, ns_to_ktime(delay), HRTIMER_MODE_REL_PINNED_HARD);
	}
}

/*
 * Start (or move) the timer to fire @delay_ns from @now. In NMI context
 * the irq_work above does it (it restarts a queued timer with arm_ns).
 */
static void csdw_watchdog_start(struct csdw_watchdog *wd, u64 now, u64 delay_ns)
{
	WRITE_ONCE(wd->arm_ns, delay_ns);
	if (in_nmi()) {
		irq_work_queue(&wd->arm_work);
		return;
	}
	WRITE_ONCE(wd->due_ns, now + delay_ns);
	hrtimer_start(&wd->timer, ns_to_ktime(delay_ns), HRTIMER_MODE_REL_PINNED_HARD);
}

/*
 * Arm this CPU's watchdog (pinned, HARD: fires in hard IRQ on PREEMPT_RT)
 * to tick @delay_ns after @now (csdw_now_ns(); 0: read it here). Armed
 * already for as soon or sooner: nothing to do (in a burst of waits the
 * timer stays armed). Armed for later: brought forward, else a wait that
 * follows an unwaited push (armed resend_ms, up to 60 s) gets its first
 * look that late, and its CPU looks overdue to the stand-in scan
 * (watchdog.rs) on a healthy system. Called on this CPU with IRQs off or
 * from its hard IRQ, so the pinned timer's callback is not running.
 */
void csdw_watchdog_arm(u64 now, u64 delay_ns)
{
	struct csdw_watchdog *wd = this_cpu_ptr(&csdw_wd);

	if (!now)
		now = csdw_now_ns();
	/* the plain read first */
	if (atomic_read(&wd->armed) || atomic_xchg(&wd->armed, 1)) {
		if (now + delay_ns < READ_ONCE(wd->due_ns))
			csdw_watchdog_start(wd, now, delay_ns);
		return;
	}
	csdw_watchdog_start(wd, now, delay_ns);
}

/* The same from task context, on whatever CPU this runs (unloading). */
void csdw_watchdog_arm_here(u64 delay_ns)
{
	preempt_disable();
	csdw_watchdog_arm(0, delay_ns);
	preempt_enable();
}

/*
 * Called on this CPU when the last wait it watched ended quietly: stop the
 * timer so an idle or isolated CPU takes no further interrupt from us.
 * IRQs off so this CPU's timer callback cannot run in between.
 */
void csdw_watchdog_quiesce(void)
{
	struct csdw_watchdog *wd = this_cpu_ptr(&csdw_wd);
	unsigned long flags;

	/*
	 * Stopped already: nothing to do. In NMI context (see above) the
	 * timer is left running: its next tick finds nothing and stops it.
	 */
	if (!atomic_read(&wd->armed) || in_nmi())
		return;
	local_irq_save(flags);
	if (atomic_read(&wd->armed) && !csdwatch_rs_watching(wd->cpu) &&
	    hrtimer_try_to_cancel(&wd->timer) >= 0)
		atomic_set(&wd->armed, 0);
	local_irq_restore(flags);
}

/*
 * Start the watchdog of the CPU this runs on (the heir of a CPU going
 * down). A work item per CPU, queued and never waited for: the hotplug
 * callback holds the hotplug lock, and the heir may be slow to run it.
 */
static DEFINE_PER_CPU(struct work_struct, csdw_arm_work);

static void csdw_arm_fn(struct work_struct *w)
{
	csdw_watchdog_arm_here(1);	/* queued on the heir: runs there */
}

static enum cpuhp_state csdw_hp_state;
static bool csdw_unloading;

/*
 * hooks=pushes: a CPU going down has its watchdog cancelled and must not
 * start it again (a pinned timer started there now would be migrated off
 * it and tick elsewhere for a dead CPU): its record reads as armed until
 * it is back, so its probe never arms. Coming up, the record starts
 * empty. On @cpu (AP hotplug states run there), IRQs off against its
 * probe.
 */
static void csdw_pushes_reset(unsigned int cpu, bool down)
{
	struct csdw_pushes *p;
	unsigned long flags;

	if (!csdw_pushes)
		return;
	local_irq_save(flags);
	p = per_cpu_ptr(csdw_pushes, cpu);
	p->n = 0;
	p->overflow = false;
	p->armed = down;
	local_irq_restore(flags);
}

static int csdw_hp_online(unsigned int cpu)
{
	csdw_pushes_reset(cpu, false);
	csdwatch_rs_cpu_online(cpu);
	return 0;
}

/*
 * Runs on @cpu as it goes down: stop its watchdog, and hand the waits it
 * watched to another online CPU, whose watchdog is started there (from a
 * kworker, so no cross-CPU call is involved).
 */
static int csdw_hp_offline(unsigned int cpu)
{
	struct csdw_watchdog *wd = per_cpu_ptr(&csdw_wd, cpu);
	int heir;

	csdwatch_rs_cpu_offline(cpu);
	csdw_pushes_reset(cpu, true);
	hrtimer_cancel(&wd->timer);
	atomic_set(&wd->armed, 0);
	if (READ_ONCE(csdw_unloading))
		return 0;
	heir = csdwatch_rs_rehome(cpu);
	if (heir >= 0)
		queue_work_on(heir, system_highpri_wq, per_cpu_ptr(&csdw_arm_work, heir));
	return 0;
}

/*
 * Called while the watchdogs still run: stopping a thread waits until it
 * has run on its CPU, and the CPU of a waiter spinning on a lost IPI runs
 * nothing else until a watchdog resends the IPI (the waiter's next call,
 * 0.1 ms after, spins again: with the watchdogs cancelled first, unload
 * hung there until the fault ended, arm64 CI, unload_during_stall). The
 * grace period, which those rescues let end, waits out any watchdog tick
 * that read a task pointer before csdw_bt_closing. Waits for a backtrace
 * in progress (up to 1 s per CPU not yet deaf; 10 s where the kernel's
 * trigger is the fallback, csdw_backtrace_cpu()).
 */
static void csdw_bt_threads_stop(void)
{
	if (!csdw_bt_threads_on)
		return;
	WRITE_ONCE(csdw_bt_closing, true);
	synchronize_rcu();
	smpboot_unregister_percpu_thread(&csdw_bt_threads);
	csdw_bt_threads_on = false;
}

static void csdw_bt_free(void)
{
	WRITE_ONCE(csdw_bt_ready, false);
	free_cpumask_var(csdw_bt_deaf);
	free_cpumask_var(csdw_bt_pending);
}

int csdw_watchdogs_start(void)
{
	int cpu, ret;

	for_each_possible_cpu(cpu) {
		struct csdw_watchdog *wd = per_cpu_ptr(&csdw_wd, cpu);

		wd->cpu = cpu;
		atomic_set(&wd->armed, 0);
#ifdef CSDW_KERNEL_612	/* hrtimer_setup() came in 6.15 */
		hrtimer_init(&wd->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
		wd->timer.function = csdw_wd_fn;
#else
		hrtimer_setup(&wd->timer, csdw_wd_fn, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
#endif
		wd->arm_work = IRQ_WORK_INIT_HARD(csdw_arm_iw_fn);
		INIT_WORK(per_cpu_ptr(&csdw_arm_work, cpu), csdw_arm_fn);
	}
	csdw_pushes = alloc_percpu(struct csdw_pushes);
	if (!csdw_pushes)
		return -ENOMEM;
	if (!zalloc_cpumask_var(&csdw_bt_pending, GFP_KERNEL)) {
		ret = -ENOMEM;
		goto fail_pushes;
	}
	if (!zalloc_cpumask_var(&csdw_bt_deaf, GFP_KERNEL)) {
		ret = -ENOMEM;
		goto fail_pending;
	}
	ret = csdw_arch_start();
	if (ret)
		goto fail_deaf;
	if (!csdw_arch_has_nowait_backtrace()) {
		ret = smpboot_register_percpu_thread(&csdw_bt_threads);
		if (ret) {
			pr_err("csdwatch: cannot start the backtrace threads (%d)\n", ret);
			goto fail_arch;
		}
		csdw_bt_threads_on = true;
	}
	csdw_bt_closing = false;
	WRITE_ONCE(csdw_bt_ready, true);
	csdw_unloading = false;
	ret = cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, "csdwatch:online",
				csdw_hp_online, csdw_hp_offline);
	if (ret < 0) {
		pr_err("csdwatch: cannot register CPU hotplug callbacks (%d)\n", ret);
		goto fail_threads;
	}
	csdw_hp_state = ret;
	return 0;

	/*
	 * In reverse. csdw_watchdogs_stop() stops the arch before the threads;
	 * here the order makes no difference: the threads exist only where
	 * the arch has no NMI backtrace of its own (arm64), whose
	 * csdw_arch_start() and csdw_arch_stop() do nothing.
	 */
fail_threads:
	csdw_bt_threads_stop();
fail_arch:
	csdw_arch_stop();
fail_deaf:
	WRITE_ONCE(csdw_bt_ready, false);
	free_cpumask_var(csdw_bt_deaf);
fail_pending:
	free_cpumask_var(csdw_bt_pending);
fail_pushes:
	free_percpu(csdw_pushes);
	csdw_pushes = NULL;
	return ret;
}

/*
 * After the probes are gone: stop every watchdog, wait for running ones,
 * then for the work they may have queued (which queues nothing further).
 */
void csdw_watchdogs_stop(void)
{
	int cpu;

	/*
	 * First, while the watchdogs still rescue lost IPIs: the NMI
	 * handler's removal waits for an RCU grace period, which a waiter
	 * spinning on a lost IPI holds up, and stopping the backtrace
	 * threads waits for each to run on its CPU.
	 */
	csdw_arch_stop();
	csdw_bt_threads_stop();
	WRITE_ONCE(csdw_unloading, true);
	cpuhp_remove_state(csdw_hp_state);
	for_each_possible_cpu(cpu)
		hrtimer_cancel(&per_cpu_ptr(&csdw_wd, cpu)->timer);
	for_each_possible_cpu(cpu) {
		cancel_work_sync(per_cpu_ptr(&csdw_arm_work, cpu));
		irq_work_sync(&per_cpu_ptr(&csdw_wd, cpu)->arm_work);
	}
	for_each_possible_cpu(cpu)
		hrtimer_cancel(&per_cpu_ptr(&csdw_wd, cpu)->timer);
	csdw_bt_free();
	/* no probe (unregistered before) and no tick (cancelled) reads it */
	free_percpu(csdw_pushes);
	csdw_pushes = NULL;
}
