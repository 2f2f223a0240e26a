/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The functions that cross the Rust/C boundary of csdwatch, both ways.
 * Rust side: rust/ffi.rs declares the csdw_* ones, rust/exports.rs defines
 * the csdwatch_rs_* ones.
 */
#ifndef CSDWATCH_SHIM_H
#define CSDWATCH_SHIM_H

#include <linux/types.h>

struct cpumask;

/*
 * The tunables, /sys/module/csdwatch/parameters/<name> (0644), all in ms;
 * each is stated here and nowhere else:
 *   X(name, default, min, max, zero_off, what, unit)
 * zero_off: 0 is accepted too, meaning "off", even below min. An id is the
 * row's place in the table (from 0): shim.c makes the module_param_cb()
 * entries, with their descriptions "what (unit; default N)", and
 * struct csdw_param_spec from it; rust/params.rs names the ids
 * (params::Param, the same order) and reads the defaults and ranges with
 * csdw_param_spec(). panic_ms's floor: a cross-CPU call that waits half a
 * second is far past any legitimate latency, while host steal time in a VM
 * or an SMI can stretch a healthy one to tens of ms: panicking below that
 * would take a production machine down for noise.
 */
#define CSDW_PARAMS(X)								\
	X(resend_ms,	20,	0,	60000,	 true,			\
	  "Resend the call-function IPI to a wait this old", "ms, 0 = never") \
	X(report_ms,	1000,	0,	600000,	 true,			\
	  "Report a stalled wait this old", "ms, 0 = never")		\
	X(panic_ms,	0,	500,	3600000, true,			\
	  "Panic once a stall lasts this long", "ms, 0 = off")		\
	X(irq_frozen_ms, 20,	1,	60000,	 false,			\
	  "Interrupt count still this long means target IRQs off", "ms") \
	X(tick_ms,	5,	1,	1000,	 false,			\
	  "Watchdog period while a wait is in flight", "ms")

/* One row of CSDW_PARAMS, for Rust (params::Spec's source). */
struct csdw_param_spec {
	const char *name;
	u32 def;
	u32 min;
	u32 max;
	bool zero_off;
};

/*
 * The counters, /sys/module/csdwatch/stats/<name> (0444), one value per
 * file, in this order; an id is the row's place (from 0). shim.c makes
 * the attributes from it, rust/stats.rs names the ids (stats::Stat, the
 * same order); Documentation/ABI/testing/sysfs-module-csdwatch says what
 * each counts.
 */
#define CSDW_STATS(X)							\
	X(waits)							\
	X(stalls_lost_ipi)						\
	X(stalls_irqs_off)						\
	X(stalls_slow_handler)						\
	X(stalls_target_offline)					\
	X(ipis_resent)							\
	X(recoveries)							\
	X(reports)							\
	X(longest_wait_us)						\
	X(in_flight)							\
	X(dropped)							\
	X(watchdog_ticks)						\
	X(idle_ticks)							\
	X(queue_stalls)							\
	X(queue_recoveries)						\
	X(queue_watches)						\
	X(queue_resends)						\
	X(stand_ins)							\
	X(tick_ns)

/* Implemented in Rust (rust/exports.rs). */
int csdwatch_rs_param_set(unsigned int id, unsigned int val);
unsigned int csdwatch_rs_param_get(unsigned int id);
unsigned long long csdwatch_rs_stat(unsigned int id);
int csdwatch_rs_hooks_set(const char *text, size_t len);
const char *csdwatch_rs_hooks_name(void);
int csdwatch_rs_single_enter(bool wait);
void csdwatch_rs_single_queue(unsigned int cpu, const void *csd, unsigned long func, bool sync);
int csdwatch_rs_many_enter(unsigned long func, unsigned long info);
void csdwatch_rs_queue_push(unsigned int cpu, const void *node, bool watch, bool cfd);
void csdwatch_rs_ipi_sent(unsigned int cpu);
void csdwatch_rs_ipi_not_needed(unsigned int cpu);
void csdwatch_rs_histogram_reset(void);
unsigned int csdwatch_rs_wait_slots(void);
void csdwatch_rs_wait_exit(int slot);
void csdwatch_rs_flush_enter(unsigned int cpu, const void *const *csds,
			     const unsigned long *funcs, int n);
void csdwatch_rs_function_enter(unsigned int cpu, const void *csd, unsigned long func);
void csdwatch_rs_function_exit(unsigned int cpu, const void *csd);
void csdwatch_rs_flush_exit(unsigned int cpu);
u64 csdwatch_rs_tick(unsigned int cpu);
bool csdwatch_rs_watching(unsigned int cpu);
void csdwatch_rs_sched_tick(unsigned int cpu);
void csdwatch_rs_push_seen(unsigned long func);
void csdwatch_rs_cpu_online(unsigned int cpu);
void csdwatch_rs_cpu_offline(unsigned int cpu);
int csdwatch_rs_rehome(unsigned int cpu);

/* Implemented in trace_events.c: csdwatch's trace events (csdwatch_trace.h). */
/* csdw_trace_event()'s @which: events::Event's ids (rust/events.rs) */
#define CSDW_EV_STALL		0
#define CSDW_EV_RESEND		1
#define CSDW_EV_RECOVERED	2
void csdw_trace_event(unsigned int which, int waiter, int target, unsigned long func,
		      int class, u64 age_us, int ipi_sent, int pusher_pid,
		      unsigned int resends);

/* Implemented in shim.c. */
const struct csdw_param_spec *csdw_param_spec(unsigned int id);
const char *csdw_stat_name(unsigned int id);
void *csdw_lookup(const char *name);
bool csdw_sched_tick_hooked(void);
bool csdw_queue_holds(unsigned int cpu, const void *node);
int csdw_stats_register(void);
void csdw_stats_unregister(void);
int csdw_resolve(void);
int csdw_probes_register(void);
void csdw_probes_unregister(void);
unsigned long long csdw_probes_missed(void);
unsigned long long csdw_flush_missed(void);
int csdw_watchdogs_start(void);
void csdw_watchdogs_stop(void);
void csdw_watchdog_arm(u64 now, u64 delay_ns);
void csdw_watchdog_quiesce(void);
void csdw_watchdog_arm_here(u64 delay_ns);
u64 csdw_now_ns(void);
unsigned int csdw_this_cpu(void);
unsigned int csdw_nr_cpu_ids(void);
bool csdw_cpu_online(unsigned int cpu);
void *csdw_current(void);
int csdw_csd_locked(const void *csd);
/* csdw_cfd_csd()'s answers (rust/ffi.rs maps them to cfd::Csd) */
#define CSDW_CFD_UNREADABLE	(-1)
#define CSDW_CFD_UNLOCKED	0
#define CSDW_CFD_OTHER		1
#define CSDW_CFD_OWN		2
int csdw_cfd_csd(unsigned int sender, unsigned int t, unsigned long func, unsigned long info);
unsigned int csdw_next_possible_cpu(int prev);
bool csdw_cfd_stands(unsigned int sender, unsigned int target);
void *csdw_queue_head(unsigned int cpu);
bool csdw_nohz_full_cpu(unsigned int cpu);
void csdw_task_info(const void *task, int *pid, char *comm, size_t len, int *running_cpu);
void csdw_symbol(char *buf, size_t len, unsigned long addr);
void csdw_queue_head_desc(unsigned int cpu, char *buf, size_t len);
void csdw_show_task(const void *task);
void csdw_show_irq_regs(void);
bool csdw_print_lock(unsigned long *flags);
void csdw_lockdown_note(void);
void csdw_print_unlock(unsigned long flags);
struct pt_regs;
void csdw_show_regs(struct pt_regs *regs);
void csdw_backtrace_later(unsigned int cpu, int on);
bool csdw_nmi_deaf(unsigned int cpu);
void csdw_resend_ipi(unsigned int cpu);
u32 csdw_pusher_pid(void);
bool csdw_ipi_sends_seen(void);
void csdw_ipi_sends_distrust(void);
unsigned long csdw_proof_fn_addr(void);
int csdw_proof_call(bool many);
const char *csdw_selftest_blind(void);
const char *csdw_tracepoints_missing(void);
void csdw_set_hook_mode(bool events, bool pushes);
/*
 * hooks=pushes: one push a CPU made since its watchdog's last tick, the
 * newest to that target (rust/ffi.rs mirrors it as ffi::Push).
 */
#define CSDW_PUSHED 16
struct csdw_push {
	unsigned long node;	/* what was pushed: the queue head it became */
	unsigned int cpu;	/* the target */
	unsigned int empty;	/* some push to it since the tick found its queue empty */
};
unsigned int csdw_pushes_take(struct csdw_push *out, bool *overflow);
bool csdw_pusher_desc(const void *task, u32 pid, char *buf, size_t len);
void csdw_pusher_stack(const void *task, u32 pid);
void __noreturn csdw_panic(u32 owner, u32 target, u64 ms, const char *class);

/* Implemented once per architecture in rust/arch/<arch>.c. */
int csdw_arch_init(void);
u64 csdw_arch_irq_count(unsigned int cpu);
void csdw_arch_resend_ipi(unsigned int cpu);
/* The call-function IPI send function: 0 single (int cpu), 1 mask (const
 * struct cpumask *); NULL if unknown. */
void *csdw_arch_ipi_fn(int mask);
/* NULL if an NMI backtrace of a CPU with IRQs off works, else why not. */
const char *csdw_arch_no_nmi(void);
/* May a function found through csdw_lookup() be called by pointer? */
bool csdw_arch_may_call_found(void);
/* With the watchdogs: the arch's NMI handler, if it has one. */
int csdw_arch_start(void);
void csdw_arch_stop(void);
/* Can csdw_arch_backtrace_nowait() send, between start and stop? */
bool csdw_arch_has_nowait_backtrace(void);
/* Sent @cpu an NMI backtrace request without waiting (false: cannot). */
bool csdw_arch_backtrace_nowait(unsigned int cpu);
/* Asked by csdw_arch_backtrace_nowait() 5 s ago or more, no answer yet. */
bool csdw_arch_nmi_unanswered(unsigned int cpu);
/* Send the kernel's backtrace IPI to @mask without waiting; false if the
 * arch cannot (@mask NULL: only say whether it can). */
bool csdw_arch_backtrace_raise(struct cpumask *mask);

#endif
