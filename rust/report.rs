// SPDX-License-Identifier: GPL-2.0

//! What csdwatch prints: the stall splat, the line that says a reported
//! stall ended, the summary of silently recovered lost IPIs, and the panic.
//! Called from the watchdog (hard IRQ); every message is rate-limited, and
//! only the oldest waiter on a target speaks for it. The kernel prefixes
//! each line with `csdwatch: `. Documentation/csdwatch.rst explains every
//! field.

use crate::detector::Class;
use crate::ffi;
use crate::hooks;
use crate::hooks_mode;
use crate::kcompat::atomic::{ordering::Relaxed, Atomic};
use crate::origin::{First, Why};
use crate::params::Param;
use crate::ratelimit::Ratelimit;
use crate::state::Shared;
use crate::stats::Stat;
use crate::targets::FlushView;
use crate::tracked::Tracked;
use crate::waits::{Kind, Snapshot};
use kernel::prelude::*;

const SEC: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

/// Stall splats: at most 5 per 10 s (each one is 8-10 lines plus stacks).
static SPLATS: Ratelimit = Ratelimit::new(10 * SEC, 5);
/// "stall ended" lines.
static ENDED: Ratelimit = Ratelimit::new(10 * SEC, 5);
/// The recovered-lost-IPI summary: one line per 10 s at most.
static RECOVERED: Ratelimit = Ratelimit::new(10 * SEC, 1);
/// Recoveries not yet told in a summary line.
static UNTOLD: Atomic<u64> = Atomic::new(0);

fn via(k: Kind) -> &'static str {
    match k {
        Kind::Single => "smp_call_function_single",
        Kind::Many => "smp_call_function_many_cond",
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Print the splat of wait `i` (blocked on `t`) now, unless an older wait
/// on `t` speaks for it or the rate limit holds it back.
pub(crate) fn stall(
    sh: &Shared,
    i: usize,
    s: &Snapshot,
    t: u32,
    tr: &mut Tracked,
    f: &FlushView,
    now: u64,
) {
    let (others, older) = sh.waits.others_on(i, t, s.start_ns);
    if older {
        return;
    }
    let Some(held) = SPLATS.check(now) else {
        return;
    };
    print(sh, s, t, tr, f, others, held);
}

fn print(
    sh: &Shared,
    s: &Snapshot,
    t: u32,
    tr: &mut Tracked,
    f: &FlushView,
    others: u32,
    held: u32,
) {
    tr.reports += 1;
    tr.reported = tr.class;
    Stat::Reports.inc();
    let group = ffi::PrintGroup::begin();
    let ev = &tr.ev;
    let task = ffi::task_info(s.task);
    let owner = task.running_cpu.unwrap_or(s.sender);
    pr_warn!(
        "CPU {} stalled {} ms in csd_lock_wait() for CPU {}: {}\n",
        owner,
        ev.age_ns / MS,
        t,
        tr.class.name()
    );
    if held > 0 {
        pr_warn!("  ({} earlier reports held back by the rate limit)\n", held);
    }
    if !group.held() {
        pr_warn!("  (printed without the printk lock: another CPU held it 10 ms; lines may interleave)\n");
    }
    match task.running_cpu {
        Some(c) => pr_warn!(
            "  owner: {} pid {}, queued on CPU {}, spinning on CPU {}, via {}\n",
            task.comm.as_str(),
            task.pid,
            s.sender,
            c,
            via(s.kind)
        ),
        None => pr_warn!(
            "  owner: {} pid {}, queued on CPU {}, preempted, via {}\n",
            task.comm.as_str(),
            task.pid,
            s.sender,
            via(s.kind)
        ),
    }
    pr_warn!("  function: {}\n", ffi::symbol(s.func).as_str());
    pr_warn!(
        "  evidence: target irqs +{} since seen, unchanged for {} ms; flush entered since queued: {}; in flush: {}; queue pending: {}; IPIs resent: {}; other waiters on CPU {}: {}\n",
        ev.irqs_delta,
        ev.irqs_frozen_ns / MS,
        yes(ev.flush_entered),
        yes(f.in_flush),
        yes(ffi::queue_head(t) != 0),
        tr.resends,
        t,
        others
    );
    ipi(sh, t, tr.reports == 1, s.task);
    if let Some(ns) = ev.in_flush_ns {
        if f.running_fn != 0 {
            pr_warn!(
                "  slow handler: CPU {} in csd flush for {} ms, running {}\n",
                t,
                ns / MS,
                ffi::symbol(f.running_fn).as_str()
            );
        } else {
            pr_warn!(
                "  slow handler: CPU {} in csd flush for {} ms, running an async or irq_work callback\n",
                t,
                ns / MS
            );
        }
    }
    if tr.reports > 1 {
        pr_warn!(
            "  report {} of this stall (stacks in the first); next at {} ms if it lasts\n",
            tr.reports,
            u64::from(Param::Report.get()) << tr.reports.min(6)
        );
        return;
    }
    let asked = stacks(sh, s, t, &task);
    // the report ends here: the backtraces it announced print after it
    drop(group);
    for (cpu, on) in asked.into_iter().flatten() {
        ffi::backtrace_later(cpu, on);
    }
}

/// What the origin record tells of `t`'s first standing call now (the
/// `ipi:` line, and the trace events' fields).
pub(crate) fn why_now(sh: &Shared, t: u32) -> Option<Why> {
    let (o, tg) = (sh.origins.get(t as usize)?, sh.target(t)?);
    Some(o.why(
        tg.last_flush_ns(),
        ffi::now_ns(),
        ffi::flush_missed(),
        |sender| ffi::cfd_stands(sender, t),
    ))
}

/// The `ipi:` line (crate::origin): whether an IPI was sent to `t` after
/// its first standing call was queued, and who queued that call. `stack`:
/// also print that task's stack if it is not running (and is not `owner`,
/// whose stack the report prints anyway).
fn ipi(sh: &Shared, t: u32, stack: bool, owner: usize) {
    if hooks_mode::pushes() {
        pr_warn!("  ipi: not recorded (hooks=pushes sees the pushes only)\n");
        return;
    }
    if !ffi::ipi_sends_seen() {
        pr_warn!("  ipi: not known (the IPI send functions could not be probed)\n");
        return;
    }
    let Some(why) = why_now(sh, t) else {
        return;
    };
    let first = match why {
        Why::Unsure => {
            pr_warn!("  ipi: not known (a flush went unseen since the first push: its entry probe was skipped)\n");
            return;
        }
        Why::Unknown => {
            pr_warn!("  ipi: no push seen since CPU {}'s last flush entry\n", t);
            return;
        }
        Why::NotSent { first, ago_ns } => {
            pr_warn!(
                "  ipi: none sent since the first call was queued {} ms ago: the push that found the queue empty did not send it\n",
                ago_ns / MS
            );
            first
        }
        Why::PollingIdle {
            first,
            ago_ns,
            woke_ago_ns,
        } => {
            pr_warn!(
                "  ipi: none needed: CPU {} was polling in idle, so the first call, queued {} ms ago, set its need-resched flag instead ({} ms ago); its idle loop has not flushed since\n",
                t,
                ago_ns / MS,
                woke_ago_ns / MS
            );
            first
        }
        Why::NotTaken {
            first,
            ago_ns,
            first_ago_ns,
        } => {
            pr_warn!(
                "  ipi: sent {} ms ago, {} ms after the first call was queued; CPU {} has not taken it\n",
                ago_ns / MS,
                first_ago_ns.saturating_sub(ago_ns) / MS,
                t
            );
            first
        }
    };
    match first {
        First::By(p) => {
            let (now, idle) = ffi::pusher_desc(p.task, p.pid);
            pr_warn!("  first call queued from CPU {} by {}\n", p.cpu, now.as_str());
            if stack && idle && p.task != owner {
                pr_warn!("  its stack:\n");
                ffi::pusher_stack(p.task, p.pid);
            }
        }
        First::InIrq { cpu } => {
            pr_warn!("  first call queued from CPU {} in interrupt context\n", cpu)
        }
        First::Unseen => pr_warn!(
            "  first call queued unseen (no hook saw it pushed: before csdwatch was loaded, or not through the csd_queue_cpu event or __smp_call_single_queue)\n"
        ),
    }
}

/// The owner's and the target's stacks. The owner's comes from the
/// registers this timer interrupted when it spins here (as the RCU stall
/// detector does), else from the task or an NMI backtrace. Nothing here
/// waits for an NMI backtrace (a CPU that does not answer would hold the
/// timer in hard IRQ for 10 s): on x86_64 the NMI is sent at once and the
/// target prints its own stack; elsewhere csdwatch's thread sends it after
/// this tick (shim.c), on a CPU that no wait ties up (`on`): this CPU is
/// usually the owner, spinning with preemption off until the stall ends.
/// Returns the NMI backtraces it announced (CPU, thread CPU), for the
/// caller to ask for once the report is printed.
fn stacks(
    sh: &Shared,
    s: &Snapshot,
    t: u32,
    task: &ffi::TaskInfo,
) -> [Option<(u32, Option<u32>)>; 2] {
    let mut asked = [None, None];
    let nmi = ffi::no_nmi();
    let on = hooks::heir(ffi::this_cpu(), ffi::nr_cpu_ids(), ffi::cpu_online, |c| {
        c == t || sh.waits.tied_up(c)
    });
    match (task.running_cpu, nmi) {
        (Some(c), _) if c == ffi::this_cpu() => {
            pr_warn!("  owner stack (CPU {}, interrupted here):\n", c);
            ffi::show_interrupted_regs();
        }
        (Some(c), None) => {
            pr_warn!("  owner stack: in the NMI backtrace of CPU {} below\n", c);
            asked[0] = Some((c, on));
        }
        (Some(c), Some(why)) => {
            pr_warn!(
                "  owner stack: not available: running on CPU {}, {}\n",
                c,
                why
            )
        }
        (None, _) => {
            pr_warn!("  owner stack (preempted task):\n");
            ffi::show_task(s.task);
        }
    }
    asked[1] = target_stack(t, nmi, on);
    asked
}

/// The target's stack line; the NMI backtrace to ask for (CPU, thread
/// CPU) once the report is printed, if any. `nmi`: why there is no NMI
/// backtrace (`ffi::no_nmi`); `on`: where csdwatch's thread sends it.
fn target_stack(t: u32, nmi: Option<&str>, on: Option<u32>) -> Option<(u32, Option<u32>)> {
    match nmi {
        None if !ffi::cpu_online(t) => pr_warn!(
            "  target stack: not available: CPU {} is offline\n",
            t
        ),
        None if ffi::nmi_deaf(t) => pr_warn!(
            "  target stack: not available: CPU {} did not answer an earlier NMI backtrace; not asked again\n",
            t
        ),
        None => {
            pr_warn!("  target stack: in the NMI backtrace of CPU {} below\n", t);
            return Some((t, on));
        }
        Some(why) => pr_warn!("  target stack: not available: {}\n", why),
    }
    None
}

/// `panic_ms` reached: print the splat (no rate limit) and panic.
pub(crate) fn panic(
    sh: &Shared,
    i: usize,
    s: &Snapshot,
    t: u32,
    tr: &mut Tracked,
    f: &FlushView,
) -> ! {
    let (others, _) = sh.waits.others_on(i, t, s.start_ns);
    print(sh, s, t, tr, f, others, 0);
    ffi::panic_stall(s.sender, t, tr.ev.age_ns / MS, tr.class.cname())
}

/// A reported stall ended after `waited` ns. Its class is the one it was
/// reported as; one that changed since is told after it ("target IRQs
/// off, then lost IPI": a target that turned IRQs back on and took
/// interrupts, but not its IPI, for two ticks).
pub(crate) fn ended(s: &Snapshot, tr: &Tracked, waited: u64) {
    if ENDED.check(ffi::now_ns()).is_none() {
        return;
    }
    let (first, then, last) = match tr.reported {
        r if r != Class::None && r != tr.class => (r.name(), ", then ", tr.class.name()),
        _ => (tr.class.name(), "", ""),
    };
    pr_warn!(
        "CPU {} -> CPU {} stall ended after {} ms: waiter released ({}{}{}; {} report(s), {} IPI resend(s))\n",
        s.sender,
        tr.target,
        waited / MS,
        first,
        then,
        last,
        tr.reports,
        tr.resends
    );
}

/// A lost IPI was recovered by a resend before any report: counted, and
/// told in one summary line at most every 10 s.
pub(crate) fn recovered(s: &Snapshot, tr: &Tracked, waited: u64) {
    UNTOLD.add(1u64, Relaxed);
    if RECOVERED.check(ffi::now_ns()).is_none() {
        return;
    }
    pr_info!(
        "recovered {} lost IPI(s) by resending the IPI (total {}); last: CPU {} -> CPU {} after {} ms, {}\n",
        UNTOLD.xchg(0, Relaxed),
        Stat::Recoveries.get(),
        s.sender,
        tr.target,
        waited / MS,
        ffi::symbol(s.func).as_str()
    );
}

/// Queue-side messages: at most 5 per 10 s.
static QUEUE: Ratelimit = Ratelimit::new(10 * SEC, 5);
/// Queue-side recoveries before any report: one summary line per 10 s.
static QUEUE_RECOVERED: Ratelimit = Ratelimit::new(10 * SEC, 1);
/// Queue-side recoveries not yet told.
static QUEUE_UNTOLD: Atomic<u64> = Atomic::new(0);

/// `t`'s call queue has stood unflushed for `age` ns (`report_ms`).
pub(crate) fn queue_stuck(sh: &Shared, t: u32, pusher: u32, age: u64, resends: u32) {
    let Some(held) = QUEUE.check(ffi::now_ns()) else {
        return;
    };
    Stat::Reports.inc();
    let group = ffi::PrintGroup::begin();
    let head = ffi::queue_head_call(t);
    pr_warn!(
        "CPU {}: call queue not flushed for {} ms (first call since its last flush queued by CPU {}; newest: {}); target interrupts: {}; IPI resends so far: {}\n",
        t,
        age / MS,
        pusher,
        head.as_str(),
        ffi::irq_count(t),
        resends
    );
    if held > 0 {
        pr_warn!(
            "  ({} earlier queue messages held back by the rate limit)\n",
            held
        );
    }
    if !group.held() {
        pr_warn!("  (printed without the printk lock: another CPU held it 10 ms; lines may interleave)\n");
    }
    ipi(sh, t, true, 0);
    if hooks_mode::pushes() {
        // No wait is recorded in this mode: the stacks of the pusher whose
        // call stands (this CPU: its watchdog found it; if it waits for
        // that call, it spins here) and of the target.
        if pusher == ffi::this_cpu() {
            pr_warn!("  pusher stack (CPU {}, interrupted here):\n", pusher);
            ffi::show_interrupted_regs();
        }
        let on = hooks::heir(ffi::this_cpu(), ffi::nr_cpu_ids(), ffi::cpu_online, |c| {
            c == t
        });
        let asked = target_stack(t, ffi::no_nmi(), on);
        drop(group);
        if let Some((cpu, on)) = asked {
            ffi::backtrace_later(cpu, on);
        }
    }
}

/// `t`'s queue the queue side acted on was flushed, `age` ns after its
/// calls began to stand.
pub(crate) fn queue_flushed(t: u32, pusher: u32, age: u64, resends: u32, reported: bool) {
    let now = ffi::now_ns();
    if reported {
        if QUEUE.check(now).is_some() {
            pr_warn!(
                "CPU {}: call queue flushed after {} ms ({} IPI resend(s))\n",
                t,
                age / MS,
                resends
            );
        }
        return;
    }
    if resends == 0 {
        return;
    }
    QUEUE_UNTOLD.add(1u64, Relaxed);
    if QUEUE_RECOVERED.check(now).is_none() {
        return;
    }
    pr_info!(
        "recovered {} stuck call queue(s) by resending the IPI (total {}); last: CPU {}'s queue, first call from CPU {}, flushed after {} ms, {} resend(s)\n",
        QUEUE_UNTOLD.xchg(0, Relaxed),
        Stat::QueueRecoveries.get(),
        t,
        pusher,
        age / MS,
        resends
    );
}
