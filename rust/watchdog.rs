// SPDX-License-Identifier: GPL-2.0

//! The per-CPU watchdog tick: look at every wait this CPU watches, feed
//! the detector what the target looks like, and carry out what it says
//! (resend the IPI, report, panic). Runs in the hard-IRQ timer callback
//! (HARD mode, so also on PREEMPT_RT); it never sleeps, allocates or
//! issues a cross-CPU call. The timer is armed only while this CPU watches
//! a wait (see shim.c): an idle CPU gets no tick from csdwatch.

use crate::cfd;
use crate::detector::{Class, TargetSample, Thresholds, Wait};
use crate::events::{self, Event, EventClass, Fields};
use crate::ffi;
use crate::hooks;
use crate::hooks_mode;
use crate::params::Param;
use crate::push_watch::{self, Seen};
use crate::queues::{Look, QueueView, QueueWatch, HELD};
use crate::report;
use crate::state::{self, Shared};
use crate::stats::Stat;
use crate::targets::FlushView;
use crate::tracked::Tracked;
use crate::waits::{Kind, Snapshot, State, NO_CPU};

/// The detector's thresholds. While unloading, a lost IPI is resent even
/// with `resend_ms=0` (at the default pace): `rmmod` waits for an RCU grace
/// period that a waiter spinning on a lost IPI holds up, and a tool loaded
/// to keep machines alive must not hang one on its way out.
fn thresholds(stopping: bool) -> Thresholds {
    let resend_ns = match Param::Resend.ns() {
        0 if stopping => Param::Resend.default_ns(),
        ns => ns,
    };
    Thresholds {
        resend_ns,
        report_ns: Param::Report.ns(),
        panic_ns: Param::Panic.ns(),
        irq_frozen_ns: Param::IrqFrozen.ns(),
    }
}

/// The first target of the wait whose csd has not run yet, in the order
/// `csd_lock_wait()` waits for them; `None` when all have run (the waiter
/// just has not returned yet, e.g. it is preempted).
fn blocking_target(s: &Snapshot) -> Option<u32> {
    match s.kind {
        Kind::Single => (ffi::csd_locked(s.csd) == Some(true)).then_some(s.target),
        Kind::Many => cfd::blocker(ffi::cfd_csds(s.sender, s.func, s.info)),
    }
}

/// What the detector needs of `cpu` now.
pub(crate) fn sample(sh: &Shared, cpu: u32) -> (TargetSample, FlushView) {
    let f = sh.target(cpu).map_or(FlushView::default(), |t| {
        t.flush_view(|csd| ffi::csd_locked(csd) == Some(true))
    });
    (
        TargetSample {
            online: ffi::cpu_online(cpu),
            irqs: ffi::irq_count(cpu),
            last_flush_ns: f.last_flush_ns,
            in_flush: f.in_flush,
            tickless: ffi::nohz_full(cpu),
        },
        f,
    )
}

/// A CPU that watches something and is this many ticks past the time its
/// own watchdog was to tick spins with IRQs off (or its vCPU is not run):
/// another CPU stands in for it.
const STAND_IN_TICKS: u64 = 10;

/// How long a watcher may be past its tick before another CPU stands in.
fn stand_in_grace() -> u64 {
    STAND_IN_TICKS * Param::Tick.ns()
}

/// Does `x` watch something while its own watchdog is overdue?
fn overdue(sh: &Shared, x: u32, now: u64, grace: u64) -> bool {
    sh.target(x).is_some_and(|t| t.overdue(now, grace)) && hooks::watching(x)
}

/// The watchdog timer of `cpu` fired: its own tick (unless a stand-in runs
/// it right now), and, when asked, a stand-in's. The delay to the next in
/// ns, 0 when it watches nothing any more.
pub(crate) fn tick(cpu: u32) -> u64 {
    state::with(|sh| tick_with(sh, cpu)).unwrap_or(0)
}

fn tick_with(sh: &Shared, cpu: u32) -> u64 {
    let Some(me) = sh.target(cpu) else {
        return 0;
    };
    Stat::WatchdogTicks.inc();
    let now = ffi::now_ns();
    let asked = me.take_stand_in();
    let mut next = if me.try_tick() {
        let (next, idle) = tick_as(sh, cpu, now);
        me.end_tick();
        if idle && !asked {
            Stat::IdleTicks.inc();
        }
        next
    } else {
        Param::Tick.ns() // a stand-in ticks for this CPU now: look again later
    };
    if asked && !hooks::stopping() && sh.stand_in.is(cpu) {
        if stand_in(sh, cpu, now) {
            sh.stand_in.ran(now);
            me.ask_stand_in();
            next = Param::Tick.ns();
        } else {
            sh.stand_in.release(cpu);
        }
    }
    if next != 0 {
        me.expect_tick(now.saturating_add(next));
    }
    Stat::TickNs.add(ffi::now_ns().saturating_sub(now));
    next
}

/// Tick for every CPU whose own watchdog is overdue while it watches
/// something: a waiter that spins with IRQs off (a caller of
/// `on_each_cpu()` with IRQs disabled, a bug lockdep warns of) holds off
/// its own CPU's timer, so the wait it publishes is looked at, resent for
/// and reported by the CPU running this (its reports show the owner's
/// stack by NMI). A stand-in takes the watcher's tick flag, so it never
/// runs beside the watcher's own tick. True if any CPU was overdue.
fn stand_in(sh: &Shared, me: u32, now: u64) -> bool {
    let grace = stand_in_grace();
    let mut any = false;
    for x in 0..ffi::nr_cpu_ids() {
        if x == me || !overdue(sh, x, now, grace) {
            continue;
        }
        any = true;
        let Some(t) = sh.target(x) else {
            continue;
        };
        if t.try_tick() {
            Stat::StandIns.inc();
            tick_as(sh, x, now);
            t.end_tick();
        }
    }
    any
}

/// The scheduler tick on `cpu` (IRQs on there): at most once per two
/// ticks one CPU looks for a watcher whose own watchdog is overdue; if it
/// finds one and nobody stands in yet, it arms its own watchdog, whose
/// tick stands in (and goes on standing in while a watcher is overdue).
/// A CPU with nothing to watch takes no interrupt from this: the
/// scheduler tick runs anyway. The look costs a scan of every CPU's
/// record, every two ticks somewhere in the machine. A CPU that watches
/// a wait here also arms its own watchdog, if not armed: with the events
/// a single call's wait arms none at its push.
pub(crate) fn sched_tick(cpu: u32) {
    state::with(|sh| sched_tick_with(sh, cpu));
}

fn sched_tick_with(sh: &Shared, cpu: u32) {
    // Not from a CPU going down (its watchdog disabled, its timer
    // cancelled by the hotplug callback): a timer armed after that would
    // be migrated off it, unpinned, and tick there for a dead CPU.
    let Some(me) = sh.target(cpu).filter(|t| t.enabled()) else {
        return;
    };
    if hooks::stopping() {
        return;
    }
    let now = ffi::now_ns();
    if me.watching() {
        // a single call's wait begun here with the events armed nothing
        // (hooks::begin_single_at_push): an armed timer is left as it is
        ffi::watchdog_arm(now, Param::Tick.ns());
    }
    let grace = stand_in_grace();
    let mut found = false;
    sh.stand_in_scan.run(now, 2 * Param::Tick.ns(), || {
        found = (0..ffi::nr_cpu_ids()).any(|x| x != cpu && overdue(sh, x, now, grace));
    });
    if found && sh.stand_in.claim(cpu, now, grace) {
        me.ask_stand_in();
        ffi::watchdog_arm(now, 1);
    }
}

/// One tick of the watchdog of `cpu`, run by whoever holds its tick flag;
/// the delay to its next tick in ns (0: it watches nothing any more), and
/// whether it found nothing of its own in flight.
fn tick_as(sh: &Shared, cpu: u32, now: u64) -> (u64, bool) {
    let stopping = hooks::stopping();
    let th = thresholds(stopping);
    if hooks_mode::pushes() && !stopping {
        // no wait is recorded in this mode: only the queues pushed to
        let (kept, looked) = watch_pushes(sh, cpu, now, &th);
        return (if kept { Param::Tick.ns() } else { 0 }, !looked);
    }
    let mut busy = false;
    let mut mine = false;
    for i in 0..sh.waits.len() {
        let Some(s) = sh.waits.snapshot(i) else {
            continue;
        };
        if s.watcher != cpu {
            continue;
        }
        mine = true;
        // None: the previous watcher of this slot (before a hand-over) is
        // still in its tick; look again next time.
        busy |= sh
            .tracked
            .with(i, |tr| tick_one(sh, i, &s, tr, now, &th, stopping))
            .unwrap_or(true);
    }
    // Unloading: every running watchdog keeps ticking until it is stopped,
    // and sweeps the queues (one at a time, once per tick period).
    if stopping {
        sweep_queues(sh, now, th.resend_ns);
        return (Param::Tick.ns(), false);
    }
    let q = watch_queues(sh, cpu, now, &th);
    let next = if busy || q.still_held {
        Param::Tick.ns()
    } else {
        0
    };
    // Idle: the tick had nothing to look at, no wait and no queue (a timer
    // left armed after a burst, or one a cancel missed). A tick that looked
    // at a watched queue is the watch's cost (queue_watches), however many
    // pushes kept it held.
    (next, !mine && !q.looked)
}

/// What one tick's look at the queues this CPU watches found.
struct QueuesSeen {
    /// It watched at least one queue.
    looked: bool,
    /// It still watches one.
    still_held: bool,
}

/// What the detector and the queue watch read of `cpu`'s queue now.
fn queue_view(sh: &Shared, cpu: u32) -> QueueView {
    let f = sh
        .target(cpu)
        .map_or(FlushView::default(), |t| t.flush_view(|_| false));
    QueueView {
        queued: ffi::queue_head(cpu) != 0,
        last_flush_ns: f.last_flush_ns,
        in_flush: f.in_flush,
    }
}

/// Resend the call-function IPI to `t` and count it (any path), so the
/// queue side waits a period before its own.
fn resend(sh: &Shared, t: u32, now: u64) {
    ffi::resend_ipi(t);
    Stat::IpisResent.inc();
    if let Some(q) = sh.queues.get(t as usize) {
        q.note_resend(now);
    }
}

/// Look at each queue this CPU watches (crate::queues).
fn watch_queues(sh: &Shared, cpu: u32, now: u64, th: &Thresholds) -> QueuesSeen {
    let mut seen = QueuesSeen {
        looked: false,
        still_held: false,
    };
    let Some(held) = sh.held.get(cpu as usize) else {
        return seen;
    };
    let mut one = |t: u32| -> bool {
        let kept = watch_queue(sh, cpu, t, now, th);
        seen.looked = true;
        seen.still_held |= kept;
        kept
    };
    for i in 0..HELD {
        if let Some(t) = held.get(i) {
            if !one(t) {
                held.remove(i);
            }
        }
    }
    // more than the list holds: look at every queue this CPU holds
    if held.take_overflow() {
        for t in 0..ffi::nr_cpu_ids() {
            let mine = sh.queues.get(t as usize).is_some_and(|q| q.held_by(cpu));
            if mine && !held.has(t) && one(t) {
                held.add(t);
            }
        }
    }
    seen
}

/// One queue this CPU watches: true while it still watches it.
fn watch_queue(sh: &Shared, cpu: u32, t: u32, now: u64, th: &Thresholds) -> bool {
    let Some(q) = sh.queues.get(t as usize) else {
        return false;
    };
    if !q.held_by(cpu) {
        return false; // taken over by a pusher (this CPU looked too late)
    }
    q.alive(now);
    let v = queue_view(sh, t);
    if !v.queued {
        // every push made a tick before this look was flushed, seen or not
        if let Some(tg) = sh.target(t) {
            tg.drained_by(now.saturating_sub(Param::Tick.ns()));
        }
    }
    if q.releasing(cpu) && (q.drop_if(cpu, v.queued) || !q.held_by(cpu)) {
        return false;
    }
    // an offline CPU's queue was flushed on its way down
    let look = if ffi::cpu_online(t) {
        q.look(&v, now)
    } else {
        Look::Served
    };
    act_on_queue(sh, q, t, look, now, th);
    if look != Look::Served {
        return true;
    }
    // Let go: mark it, then look again. A push recorded since, or calls
    // queued now, keep it (the pusher saw the mark and took the watch, or
    // its push is seen here); a push decided before the mark whose node
    // lands after this second look is the one left unwatched until the
    // next push to this CPU (a window of the probe's few instructions).
    if q.release(cpu) && q.drop_if(cpu, queue_view(sh, t).queued) {
        return false;
    }
    q.held_by(cpu)
}

/// `hooks=pushes` (crate::push_watch): take this CPU's pushes since its
/// last tick, look at the queues of every target it remembers and act on
/// those whose calls stand. Runs on `cpu` only (the record of pushes is
/// its own): (some target is still remembered, some queue was looked at).
fn watch_pushes(sh: &Shared, cpu: u32, now: u64, th: &Thresholds) -> (bool, bool) {
    let Some(w) = sh.pushes.get(cpu as usize) else {
        return (false, false);
    };
    if cpu != ffi::this_cpu() {
        return (w.any(), false); // a stand-in: the record is not its to take
    }
    let mut pushed = [ffi::Push::default(); ffi::PUSHED];
    let (n, mut overflow) = ffi::pushes_take(&mut pushed);
    for p in pushed.iter().take(n) {
        if p.empty != 0 {
            // the queue was found empty: an episode of it has ended
            if let Some(q) = sh.queues.get(p.cpu as usize).filter(|q| q.in_episode()) {
                act_on_queue(sh, q, p.cpu, Look::Served, now, th);
            }
        }
        overflow |= !w.note(p.cpu, p.node, p.empty != 0, now);
    }
    if overflow {
        // more targets than the record or the slots hold: every queue
        Stat::QueueWatches.inc();
        for t in 0..ffi::nr_cpu_ids() {
            if t == cpu || w.has(t) || !ffi::cpu_online(t) {
                continue;
            }
            let head = ffi::queue_head(t);
            if head != 0 && !w.sighted(t, head, now) {
                Stat::Dropped.inc();
                break;
            }
        }
    }
    let mut looked = false;
    for i in 0..push_watch::SLOTS {
        let Some(t) = w.target(i) else {
            continue;
        };
        looked = true;
        let served = !ffi::cpu_online(t); // flushed on its way down
        let look = match w.look(i, ffi::queue_head(t), served, now) {
            None | Some(Seen::Passed) => continue,
            Some(Seen::Served) => Look::Served,
            Some(Seen::Standing { age_ns }) => Look::Queued { age_ns },
        };
        let Some(q) = sh.queues.get(t as usize) else {
            continue;
        };
        if look != Look::Served {
            q.note_pusher(cpu);
        } else if !q.in_episode() {
            continue;
        }
        act_on_queue(sh, q, t, look, now, th);
    }
    (w.any(), looked)
}

/// A tracked wait seen blocked on a target this many ticks ago still
/// looks after it.
const WAITED_TICKS: u64 = 4;

/// Carry out what a look at `t`'s queue found.
fn act_on_queue(sh: &Shared, q: &QueueWatch, t: u32, look: Look, now: u64, th: &Thresholds) {
    match look {
        Look::Served => {
            if let Some((since, resends, reported)) = q.end_episode() {
                if resends > 0 {
                    Stat::QueueRecoveries.inc();
                }
                queue_event(sh, Event::Recovered, t, now.saturating_sub(since), resends);
                report::queue_flushed(
                    t,
                    q.kick_cpu(),
                    now.saturating_sub(since),
                    resends,
                    reported,
                );
            }
        }
        Look::Moving => {}
        // a tracked wait is blocked on `t`: its watchdog diagnoses and
        // rescues it (and withholds resends from a target with IRQs off)
        Look::Queued { .. } if q.waited(now, WAITED_TICKS * Param::Tick.ns()) => {}
        Look::Queued { age_ns } => {
            let since = now.saturating_sub(age_ns);
            let ripe = q.ripe_twice(th.resend_ns != 0 && age_ns >= th.resend_ns);
            let resend = ripe && q.may_resend(now, th.resend_ns);
            let report_due = th.report_ns != 0 && age_ns >= th.report_ns;
            if (resend || report_due) && q.begin_episode(since) {
                Stat::QueueStalls.inc();
                queue_event(sh, Event::Stall, t, age_ns, 0);
            }
            let mut resends = 0;
            if resend {
                ffi::resend_ipi(t);
                // this order: a reader of ipis_resent, then queue_resends,
                // never sees a queue-side resend as a wait's
                Stat::QueueResends.inc();
                Stat::IpisResent.inc();
                resends = q.count_resend();
                queue_event(sh, Event::Resend, t, age_ns, resends);
            }
            if report_due && q.first_report() {
                report::queue_stuck(sh, t, q.kick_cpu(), age_ns, resends);
            }
        }
    }
}

/// Unloading: the probes see no push any more, so every online CPU's
/// queue is looked at, by one watchdog at a time, once per tick period.
fn sweep_queues(sh: &Shared, now: u64, resend_ns: u64) {
    sh.sweep.run(now, Param::Tick.ns(), || {
        for (cpu, q) in (0u32..).zip(sh.queues.iter()) {
            if !ffi::cpu_online(cpu) {
                continue;
            }
            if let Look::Queued { age_ns } = q.look(&queue_view(sh, cpu), now) {
                if age_ns >= resend_ns && q.may_resend(now, resend_ns) {
                    ffi::resend_ipi(cpu);
                    Stat::QueueResends.inc();
                    Stat::IpisResent.inc();
                    queue_event(sh, Event::Resend, cpu, age_ns, 0);
                }
            }
        }
    });
}

/// One wait of this watchdog; true while it is still in flight.
fn tick_one(
    sh: &Shared,
    i: usize,
    s: &Snapshot,
    tr: &mut Tracked,
    now: u64,
    th: &Thresholds,
    stopping: bool,
) -> bool {
    if tr.gen != s.gen {
        *tr = Tracked::new();
        tr.gen = s.gen;
    }
    if s.state == State::Ended {
        finish(sh, i, s, tr);
        return false;
    }
    // A later many-call from the same CPU holds its csds: this wait's have
    // run (its waiter is preempted before returning); nothing locked there
    // is this wait's to age or act on.
    let blocked = blocking_target(s)
        .filter(|_| s.kind != Kind::Many || !sh.waits.overtaken(i, s.sender, s.start_ns));
    let followed = tr.follow(blocked, s.start_ns, now);
    sh.waits.set_blocked_on(i, blocked.unwrap_or(NO_CPU));
    let Some((t, since, fresh)) = followed else {
        return true;
    };
    if let Some(q) = sh.queues.get(t as usize) {
        q.note_waited(now); // the queue side leaves `t` to this wait
    }
    let (smp, flush) = sample(sh, t);
    if fresh || tr.wait.is_none() {
        tr.wait = Some(Wait::new(since, now, smp));
    }
    let Some(w) = tr.wait.as_mut() else {
        return true;
    };
    let (class, ev, act) = w.tick(now, &smp, th);
    if class != Class::None {
        tr.class = w.stall_class();
        tr.ev = ev;
    }
    // Unloading: only rescue (see hooks::STOPPING); no report, no panic.
    let (report, panic) = (act.report && !stopping, act.panic && !stopping);
    if !(act.resend || report || panic) {
        return true;
    }
    if !sh.waits.mark_stalled(i, s.gen) {
        return true; // the waiter returned meanwhile
    }
    if !tr.stalled {
        tr.origin = events::Origin::of(report::why_now(sh, t));
    }
    tr.stalled = true;
    let age = now.saturating_sub(since);
    if act.resend {
        resend(sh, t, now);
        tr.resends += 1;
        wait_event(Event::Resend, s, t, tr, age);
    }
    if report {
        if tr.count() {
            wait_event(Event::Stall, s, t, tr, age);
        }
        report::stall(sh, i, s, t, tr, &flush, now);
    }
    if panic {
        report::panic(sh, i, s, t, tr, &flush);
    }
    true
}

/// Trace event `ev` of wait `s`, blocked on `t` for `age` ns (crate::events).
fn wait_event(ev: Event, s: &Snapshot, t: u32, tr: &Tracked, age: u64) {
    events::emit(
        ev,
        &Fields {
            waiter: Some(s.sender),
            target: t,
            func: s.func,
            class: EventClass::of(tr.class),
            age_ns: age,
            origin: tr.origin,
            resends: tr.resends,
        },
    );
}

/// Trace event `ev` of `t`'s queue, stalled `age` ns with nobody waiting
/// on it (crate::events). Its first pusher is read now: by the queue's
/// flush the record tells nothing any more.
fn queue_event(sh: &Shared, ev: Event, t: u32, age: u64, resends: u32) {
    let origin = match ev {
        Event::Recovered => events::Origin::UNKNOWN,
        _ => events::Origin::of(report::why_now(sh, t)),
    };
    events::emit(
        ev,
        &Fields {
            waiter: None,
            target: t,
            func: 0,
            class: EventClass::UnwaitedQueue,
            age_ns: age,
            origin,
            resends,
        },
    );
}

/// A wait the watchdog acted on has ended: count it, say so, free its slot.
fn finish(sh: &Shared, i: usize, s: &Snapshot, tr: &mut Tracked) {
    let waited = s.end_ns.saturating_sub(s.start_ns);
    Stat::LongestWaitUs.max(waited / 1000);
    // a wait that ended quietly was counted by its waiter (hooks::wait_exit)
    sh.histogram.record(s.sender, waited);
    if tr.count() {
        wait_event(Event::Stall, s, tr.target, tr, waited);
    }
    if tr.counted {
        wait_event(Event::Recovered, s, tr.target, tr, waited);
    }
    let recovered = tr.class == Class::LostIpi && tr.resends > 0;
    if recovered {
        Stat::Recoveries.inc();
    }
    if tr.reports > 0 {
        report::ended(s, tr, waited);
    } else if recovered {
        report::recovered(s, tr, waited);
    }
    // the watcher it is freed from: a rehome may have moved it since `s`
    if let Some(t) = sh.waits.release_ended(i, s.gen).and_then(|w| sh.target(w)) {
        t.watch(-1);
    }
}
