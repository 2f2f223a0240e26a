/* SPDX-License-Identifier: GPL-2.0 */
/*
 * csdwatch's own trace events (tracefs events/csdwatch/): one line per
 * stall counted, per IPI resent, per stall ended. C, because TRACE_EVENT
 * is a macro that generates the event's C functions and its tracefs
 * format; Rust calls them through rust/trace_events.c. Fields:
 * Documentation/ABI/testing/tracefs-csdwatch.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM csdwatch

#if !defined(_CSDWATCH_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _CSDWATCH_TRACE_H

#include <linux/tracepoint.h>

/* the class of a stall; numbers are ABI (rust/events.rs EventClass) */
#define CSDW_TRACE_CLASSES					\
	EM(0, "lost_ipi")					\
	EM(1, "irqs_off")					\
	EM(2, "slow_handler")					\
	EM(3, "offline")					\
	EMe(4, "unwaited_queue")

#undef EM
#undef EMe
#define EM(a, b) { a, b },
#define EMe(a, b) { a, b }

DECLARE_EVENT_CLASS(csdwatch_stall_class,

	TP_PROTO(int waiter, int target, unsigned long func, int class,
		 u64 age_us, int ipi_sent, int pusher_pid, unsigned int resends),

	TP_ARGS(waiter, target, func, class, age_us, ipi_sent, pusher_pid,
		resends),

	TP_STRUCT__entry(
		__field(int, waiter)
		__field(int, target)
		__field(unsigned long, func)
		__field(int, class)
		__field(u64, age_us)
		__field(int, ipi_sent)
		__field(int, pusher_pid)
		__field(unsigned int, resends)
	),

	TP_fast_assign(
		__entry->waiter = waiter;
		__entry->target = target;
		__entry->func = func;
		__entry->class = class;
		__entry->age_us = age_us;
		__entry->ipi_sent = ipi_sent;
		__entry->pusher_pid = pusher_pid;
		__entry->resends = resends;
	),

	TP_printk("waiter=%d target=%d func=%ps class=%s age_us=%llu ipi_sent=%d pusher_pid=%d resends=%u",
		  __entry->waiter, __entry->target, (void *)__entry->func,
		  __print_symbolic(__entry->class, CSDW_TRACE_CLASSES),
		  __entry->age_us, __entry->ipi_sent, __entry->pusher_pid,
		  __entry->resends)
);

/* a stall counted in stats/stalls_* or stats/queue_stalls */
DEFINE_EVENT(csdwatch_stall_class, stall,
	TP_PROTO(int waiter, int target, unsigned long func, int class,
		 u64 age_us, int ipi_sent, int pusher_pid, unsigned int resends),
	TP_ARGS(waiter, target, func, class, age_us, ipi_sent, pusher_pid,
		resends));

/* a call-function IPI resent (stats/ipis_resent) */
DEFINE_EVENT(csdwatch_stall_class, resend,
	TP_PROTO(int waiter, int target, unsigned long func, int class,
		 u64 age_us, int ipi_sent, int pusher_pid, unsigned int resends),
	TP_ARGS(waiter, target, func, class, age_us, ipi_sent, pusher_pid,
		resends));

/* a counted stall ended: its waiter returned, or the queue was flushed */
DEFINE_EVENT(csdwatch_stall_class, recovered,
	TP_PROTO(int waiter, int target, unsigned long func, int class,
		 u64 age_us, int ipi_sent, int pusher_pid, unsigned int resends),
	TP_ARGS(waiter, target, func, class, age_us, ipi_sent, pusher_pid,
		resends));

#endif /* _CSDWATCH_TRACE_H */

/* out of tree: the header is found beside this file, not in include/trace */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE csdwatch_trace
#include <trace/define_trace.h>
