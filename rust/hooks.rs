// SPDX-License-Identifier: GPL-2.0

//! What the probes on the csd path do (called through rust/exports.rs from the
//! handlers in shim.c).
//!
//! Sender side: a synchronous wait is recorded in the wait table when it
//! begins and closed when the waiter returns. Target side: each CPU's
//! entries into the csd flush are recorded in its [`Target`] record.
//!
//! Every function here runs in kprobe context (preemption off, on RT too,
//! hard IRQs off on the target side): no allocation, no lock, no sleeping,
//! no printing, no cross-CPU call. The only kernel calls are reading the
//! clock, `current`, this CPU's id, and arming or quiescing this CPU's
//! watchdog.

use crate::ffi;
use crate::hooks_mode;
use crate::kcompat::atomic::{
    ordering::{Acquire, Release},
    Atomic,
};
use crate::origin::Pusher;
use crate::params::Param;
use crate::proof::{self, Hook};
use crate::queues::{Took, HELD, STALE_TICKS};
use crate::state::{self, Shared};
use crate::stats::Stat;
use crate::targets::Target;
use crate::waits::NewWait;

/// Set when the module starts unloading: no new wait is recorded and the
/// watchdogs stop reporting (once the probes are gone, a waiter's return is
/// no longer seen, so its slot could look stalled), but they keep resending
/// lost IPIs until the probes are unregistered: unregistering waits for an
/// RCU grace period, which a waiter spinning on a lost IPI holds up.
static STOPPING: Atomic<u32> = Atomic::new(0);

/// Begin unloading (see [`STOPPING`]).
pub(crate) fn stop() {
    STOPPING.store(1, Release);
}

/// The module is unloading.
pub(crate) fn stopping() -> bool {
    STOPPING.load(Acquire) != 0
}

/// This CPU and its record, if this CPU takes new waits.
fn this_cpu_watching(sh: &Shared) -> Option<(u32, &Target)> {
    let cpu = ffi::this_cpu();
    let t = sh.target(cpu)?;
    if !t.enabled() {
        Stat::Dropped.inc();
        return None;
    }
    Some((cpu, t))
}

/// `__smp_call_function_single()` entry: reserve a slot if it will wait.
/// The slot index, or -1 when not tracked (the kretprobe then keeps no
/// instance for this call).
pub(crate) fn single_enter(wait: bool) -> i32 {
    if wait {
        proof::saw(Hook::SingleEntry, 0, ffi::current_task);
    }
    if !wait || stopping() {
        return -1;
    }
    state::with(|sh| {
        match sh
            .waits
            .begin_single(ffi::current_task(), ffi::this_cpu(), ffi::now_ns())
        {
            Some(i) => i as i32,
            None => {
                Stat::Dropped.inc();
                -1
            }
        }
    })
    .unwrap_or(-1)
}

/// `__smp_call_single_queue(cpu, csd)` for a csd (from
/// `generic_exec_single()`): the csd and its real target are known. A
/// synchronous call whose waiter is tracked becomes a live wait; any other
/// call (async, `wait=0`, or one the table had no room for) is watched on
/// the target's queue ([`queue_push`]).
pub(crate) fn single_queue(target_cpu: u32, csd: usize, func: usize, sync: bool) {
    proof::saw(Hook::Queue, func, ffi::current_task);
    state::with(|sh| {
        let cpu = ffi::this_cpu();
        if target_cpu == cpu {
            return; // never queued for oneself (generic_exec_single() runs it here); a guard
        }
        let now = ffi::now_ns();
        let queued = ffi::queue_head(target_cpu) != 0;
        record_push(sh, cpu, target_cpu, now, queued, csd, false);
        let tracked = sync
            && if hooks_mode::events() {
                begin_single_at_push(sh, cpu, target_cpu, csd, func, now)
            } else {
                track_single(sh, cpu, target_cpu, csd, func)
            };
        if !tracked {
            push(sh, cpu, target_cpu, now, queued);
        }
    });
}

/// With the events: the push of a synchronous single call's csd begins
/// its wait, ended by the target's [`function_exit`] (no probe on the
/// waiter). False if not tracked.
fn begin_single_at_push(
    sh: &Shared,
    cpu: u32,
    target_cpu: u32,
    csd: usize,
    func: usize,
    now: u64,
) -> bool {
    if stopping() || sh.target(target_cpu).is_none() {
        return false;
    }
    let Some((_, me)) = this_cpu_watching(sh) else {
        return false;
    };
    let nw = NewWait {
        task: ffi::current_task(),
        func,
        info: 0,
        csd,
        cpu,
        start_ns: now,
    };
    // +1 before the wait is visible: its end may come on any CPU at once
    me.watch(1);
    if sh.waits.begin_single_csd(&nw, target_cpu).is_some() {
        sh.count(cpu, Stat::Waits);
        me.expect_tick(now + Param::Tick.ns());
        // The end comes on the target, which cannot cancel this CPU's
        // timer: armed here, it would tick once after every wait, and a
        // CPU that calls now and then would take an interrupt of ours per
        // call. So this CPU's scheduler tick arms it for a wait still in
        // flight there (watchdog::sched_tick); most waits end well before.
        // Not where that tick may be stopped or is not hooked.
        if !ffi::sched_tick_hooked() || ffi::nohz_full(cpu) {
            ffi::watchdog_arm(now, Param::Tick.ns());
        }
        true
    } else {
        me.watch(-1);
        Stat::Dropped.inc();
        false
    }
}

/// Make the pending wait of the current task live; false if not tracked.
fn track_single(sh: &Shared, cpu: u32, target_cpu: u32, csd: usize, func: usize) -> bool {
    let task = ffi::current_task();
    let Some(i) = sh.waits.pending_of(task) else {
        return false;
    };
    if sh.target(target_cpu).is_none() {
        return false; // refused; the return frees the slot
    }
    let Some((_, me)) = this_cpu_watching(sh) else {
        return false;
    };
    let nw = NewWait {
        task,
        func,
        info: 0,
        csd,
        cpu,
        start_ns: ffi::now_ns(),
    };
    me.watch(1);
    if sh.waits.queue_single(i, &nw, target_cpu) {
        sh.count(cpu, Stat::Waits);
        me.expect_tick(nw.start_ns + Param::Tick.ns());
        ffi::watchdog_arm(nw.start_ns, Param::Tick.ns());
        true
    } else {
        me.watch(-1);
        false
    }
}

/// `__smp_call_single_queue(cpu, node)` entry for a node that is no csd
/// (a remote wakeup, an irq_work), and (`cfd`) each remote online target
/// of a `smp_call_function_many_cond()`: a call is about to be pushed on
/// `target`'s queue. `watch`: no wait tracks it, so its queue is watched.
/// `node`: what is pushed (0 for the kprobes' records at a cfd call's
/// entry, which may push nothing).
pub(crate) fn queue_push(target: u32, node: usize, watch: bool, cfd: bool) {
    state::with(|sh| {
        let cpu = ffi::this_cpu();
        if target == cpu {
            return; // local
        }
        let now = ffi::now_ns();
        let queued = ffi::queue_head(target) != 0;
        record_push(sh, cpu, target, now, queued, node, cfd);
        if watch {
            push(sh, cpu, target, now, queued);
        }
    });
}

/// Every push to another CPU: who made the first of an episode
/// (crate::origin). Before the node is added, so "queue empty" means this
/// push owes the IPI (`queued`: the queue holds a node). `node`: the node
/// pushed. `cfd`: made at a `smp_call_function_many_cond()` entry, whose
/// `cond_func` may yet leave `target` out.
fn record_push(sh: &Shared, cpu: u32, target: u32, now: u64, queued: bool, node: usize, cfd: bool) {
    let (Some(o), Some(t)) = (sh.origins.get(target as usize), sh.target(target)) else {
        return;
    };
    let mut served = t.last_flush_ns();
    if queued {
        let (at, first) = o.first_push();
        // The recorded first push looks unflushed, but its node has left
        // the queue: a flush took it that no hook saw (with the events,
        // one that runs only irq_works fires none). Those nodes stand now
        // with no push recorded.
        if at > served && !ffi::queue_holds(target, first) {
            served = now;
        }
    }
    let who = || Pusher {
        cpu,
        task: ffi::current_task(),
        pid: ffi::pusher_pid(),
        cfd,
        node,
    };
    // with the events every flush is seen: none is missed
    let missed = || {
        if hooks_mode::events() {
            0
        } else {
            ffi::flush_missed()
        }
    };
    o.push(queued, served, now, who, missed, |sender| {
        ffi::cfd_stands(sender, target)
    });
}

/// The kernel sent `cpu` a call-function IPI (not one of csdwatch's own
/// resends): shim.c's probes on the arch's send functions.
pub(crate) fn ipi_sent(cpu: u32) {
    proof::saw(Hook::IpiSend, 0, ffi::current_task);
    state::with(|sh| {
        if let Some(o) = sh.origins.get(cpu as usize) {
            o.ipi_sent(ffi::now_ns());
        }
    });
}

/// The kernel left out the IPI to `cpu`: it was polling in idle, and the
/// push set its need-resched flag instead (report: "none needed").
pub(crate) fn ipi_not_needed(cpu: u32) {
    state::with(|sh| {
        if let Some(o) = sh.origins.get(cpu as usize) {
            o.ipi_not_needed(ffi::now_ns());
        }
    });
}

/// See that some watchdog watches `target`'s queue (crate::queues); the
/// push is made at `now`, onto a queue that holds a node (`queued`) or not.
fn push(sh: &Shared, cpu: u32, target: u32, now: u64, queued: bool) {
    if stopping() || !ffi::cpu_online(target) {
        return;
    }
    let (Some(me), Some(t), Some(q)) = (
        sh.target(cpu),
        sh.target(target),
        sh.queues.get(target as usize),
    ) else {
        return;
    };
    if !me.enabled() {
        return; // this CPU is going down: a later push takes the watch
    }
    let tick = Param::Tick.ns();
    // First look when a resend could be due: most queues are flushed by
    // then, and the watch ends at that one tick.
    let first = Param::Resend.ns().max(tick);
    // An empty queue was flushed of every earlier push, whether a hook
    // saw that flush or not (with the events, one that runs only irq_works
    // fires none): this push begins an episode.
    let served = if queued { t.last_flush_ns() } else { now };
    match q.push(cpu, now, served, STALE_TICKS * tick) {
        Took::New => {
            sh.count(cpu, Stat::QueueWatches);
            if let Some(h) = sh.held.get(cpu as usize) {
                h.add(target);
            }
            me.expect_tick(now + first);
            ffi::watchdog_arm(now, first);
        }
        Took::Back => {
            me.expect_tick(now + first);
            ffi::watchdog_arm(now, first)
        }
        Took::No => {}
    }
}

/// `hooks=pushes`: the one probe saw a push of the load-time check's
/// function (every other push it keeps to itself, in C).
pub(crate) fn push_seen(func: usize) {
    proof::saw(Hook::Queue, func, ffi::current_task);
}

/// `smp_call_function_many_cond()` entry with `SCF_WAIT` and at least one
/// remote online target, calling `func(info)`; the slot index or -1 when
/// not tracked.
pub(crate) fn many_enter(func: usize, info: usize) -> i32 {
    proof::saw(Hook::ManyEntry, func, ffi::current_task);
    if stopping() {
        return -1;
    }
    state::with(|sh| {
        let Some((cpu, me)) = this_cpu_watching(sh) else {
            return -1;
        };
        let nw = NewWait {
            task: ffi::current_task(),
            func,
            info,
            csd: 0,
            cpu,
            start_ns: ffi::now_ns(),
        };
        me.watch(1);
        match sh.waits.begin_many(&nw) {
            Some(i) => {
                sh.count(cpu, Stat::Waits);
                me.expect_tick(nw.start_ns + Param::Tick.ns());
                ffi::watchdog_arm(nw.start_ns, Param::Tick.ns());
                i as i32
            }
            None => {
                me.watch(-1);
                Stat::Dropped.inc();
                -1
            }
        }
    })
    .unwrap_or(-1)
}

/// A tracked waiter returned.
pub(crate) fn wait_exit(slot: i32) {
    let Ok(i) = usize::try_from(slot) else {
        return;
    };
    state::with(|sh| {
        proof::saw(Hook::Return, 0, ffi::current_task);
        let now = ffi::now_ns();
        if let Some((watcher, start)) = sh.waits.end(i, now) {
            let ns = now.saturating_sub(start);
            Stat::LongestWaitUs.max(ns / 1000);
            let cpu = ffi::this_cpu();
            sh.histogram.record(cpu, ns);
            if let Some(t) = sh.target(watcher) {
                t.watch(-1);
                // the last wait of a burst leaves the timer armed (see there)
                if watcher == cpu && !t.ended_in_burst(now, Param::Tick.ns()) {
                    ffi::watchdog_quiesce();
                }
            }
        }
    });
}

/// `__flush_smp_call_function_queue()` entry on `cpu` (hard IRQs off).
pub(crate) fn flush_enter(cpu: u32, batch: impl Iterator<Item = (usize, usize)> + Clone) {
    if proof::checking() {
        for (_, f) in batch.clone() {
            proof::saw(Hook::Flush, f, ffi::current_task);
        }
    }
    state::with(|sh| {
        if let Some(t) = sh.target(cpu) {
            t.flush_enter(ffi::now_ns(), batch);
        }
    });
}

/// A flush on `cpu` starts running `func` from `csd` (the kernel's
/// `csd_function_entry` event, hard IRQs off): with events, what stands
/// in for the flush kretprobe's entry.
pub(crate) fn function_enter(cpu: u32, csd: usize, func: usize) {
    proof::saw(Hook::Flush, func, ffi::current_task);
    state::with(|sh| {
        if let Some(t) = sh.target(cpu) {
            t.function_enter(ffi::now_ns(), csd, func);
        }
    });
}

/// The function a flush on `cpu` ran from `csd` returned (the kernel's
/// `csd_function_exit` event, hard IRQs off; for a synchronous csd, just
/// before the unlock its waiter spins on): the flush record, and the end
/// of the single call's wait on that csd, if one began at its push. The
/// waiter's watchdog timer is not cancelled from here (another CPU's): it
/// ticks once more, finds nothing, and stops.
pub(crate) fn function_exit(cpu: u32, csd: usize) {
    state::with(|sh| {
        if let Some(t) = sh.target(cpu) {
            t.flush_exit();
        }
        let Some(e) = sh.waits.end_csd(csd, ffi::now_ns) else {
            return;
        };
        proof::saw(Hook::Return, 0, || e.task);
        if let Some((watcher, start)) = e.freed {
            let ns = e.now.saturating_sub(start);
            Stat::LongestWaitUs.max(ns / 1000);
            sh.histogram.record(e.sender, ns);
            if let Some(t) = sh.target(watcher) {
                t.watch(-1);
            }
        }
    });
}

/// `__flush_smp_call_function_queue()` return on `cpu`.
pub(crate) fn flush_exit(cpu: u32) {
    state::with(|sh| {
        if let Some(t) = sh.target(cpu) {
            t.flush_exit();
        }
    });
}

/// Does the watchdog of `cpu` look after any wait or queue?
pub(crate) fn watching(cpu: u32) -> bool {
    state::with(|sh| {
        sh.target(cpu).is_some_and(Target::watching)
            || sh.held.get(cpu as usize).is_some_and(|h| h.any())
    })
    .unwrap_or(false)
}

/// CPU hotplug: `cpu` is up, or going down.
pub(crate) fn set_cpu_enabled(cpu: u32, on: bool) {
    state::with(|sh| {
        if let Some(t) = sh.target(cpu) {
            if on {
                // Nothing is watched from a CPU that was down (its waits
                // were handed over, and stop_machine() at takedown waited
                // out every hook that had read it as watcher): recount
                // from the table.
                t.set_watched(sh.waits.watched_by(cpu));
            }
            t.set_enabled(on);
        }
    });
}

/// Pick the CPU to take over what `cpu` watched: online, enabled, and not
/// a CPU any of those waits is blocked on (a stalled target may never run
/// the work that starts its watchdog).
pub(crate) fn heir(
    cpu: u32,
    nr: u32,
    usable: impl Fn(u32) -> bool,
    blocked: impl Fn(u32) -> bool,
) -> Option<u32> {
    let ok = |c: u32| c != cpu && usable(c);
    (0..nr)
        .find(|&c| ok(c) && !blocked(c))
        .or_else(|| (0..nr).find(|&c| ok(c)))
}

/// The flush hooks are unregistered (unloading): no flush will be seen
/// entering or leaving any more. A CPU that was inside one when its hook
/// went would look "in flush" for the rest of the unload, and the queue
/// sweep never resends to a CPU in its flush: a lost IPI there would go
/// unrescued while the unload still waits for RCU. The flush state is
/// cleared instead; the sweep then judges such a CPU by its queue alone
/// (an extra resend to a CPU that was slow, not a missed one).
pub(crate) fn flush_hooks_gone() {
    state::with(|sh| {
        for t in sh.targets.iter() {
            t.flush_unseen();
        }
    });
}

/// Hand `cpu`'s waits and queue watches to another online CPU; that CPU,
/// if any had to move.
pub(crate) fn rehome(cpu: u32) -> Option<u32> {
    state::with(|sh| rehome_in(sh, cpu)).flatten()
}

fn rehome_in(sh: &Shared, cpu: u32) -> Option<u32> {
    let blocked = |c: u32| {
        let mut hit = false;
        sh.waits.blocked_targets_of(cpu, |b| hit |= b == c);
        hit
    };
    let to = heir(
        cpu,
        ffi::nr_cpu_ids(),
        |c| ffi::cpu_online(c) && sh.target(c).is_some_and(Target::enabled),
        blocked,
    )?;
    let heir = sh.target(to)?;
    let me = sh.target(cpu)?;
    // A stand-in may be ticking for this CPU (it was disabled just before,
    // so no new one starts): wait for it, one tick at most.
    while !me.try_tick() {
        core::hint::spin_loop();
    }
    let n = sh.waits.rehome(cpu, to, |d| heir.watch(d));
    if n > 0 {
        me.watch(-i32::try_from(n).unwrap_or(i32::MAX));
    }
    let m = rehome_queues(sh, cpu, to);
    me.end_tick();
    (n + m > 0).then_some(to)
}

/// Hand the queue watches of `cpu` (going down) to `to`; how many moved.
fn rehome_queues(sh: &Shared, cpu: u32, to: u32) -> u32 {
    let (Some(mine), Some(theirs)) = (sh.held.get(cpu as usize), sh.held.get(to as usize)) else {
        return 0;
    };
    let now = ffi::now_ns();
    let mut n = 0;
    let mut move_one = |t: u32| {
        if sh
            .queues
            .get(t as usize)
            .is_some_and(|q| q.hand_over(cpu, to, now))
        {
            theirs.add(t);
            n += 1;
        }
    };
    for i in 0..HELD {
        if let Some(t) = mine.get(i) {
            move_one(t);
            mine.remove(i);
        }
    }
    if mine.take_overflow() {
        for t in 0..ffi::nr_cpu_ids() {
            move_one(t);
        }
    }
    n
}

/// Waits in flight now.
pub(crate) fn in_flight() -> u64 {
    state::with(|sh| sh.waits.in_flight()).unwrap_or(0)
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_hooks)]
mod tests {
    use super::*;

    #[test]
    fn heir_avoids_the_stalled_target() {
        // CPU 3 goes down; its wait is blocked on CPU 0
        assert_eq!(heir(3, 4, |_| true, |c| c == 0), Some(1));
        // nothing but the stalled target left: better it than nobody
        assert_eq!(heir(3, 4, |c| c == 0, |c| c == 0), Some(0));
        assert_eq!(heir(3, 4, |c| c == 3, |_| false), None);
    }
}
