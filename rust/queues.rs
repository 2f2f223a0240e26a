// SPDX-License-Identifier: GPL-2.0

//! Queue-side rescue: every cross-CPU call goes through the target's
//! `call_single_queue`, and the push that finds it empty sends the one IPI
//! that makes the target flush it. Calls nobody waits for (expedited RCU's
//! `rcu_exp_handler`, `smp_call_function_single_async()`, remote wakeups,
//! `irq_work_queue_on()`, `smp_call_function_many_cond()` without
//! `SCF_WAIT`) hang as surely as waited ones when that IPI is lost, with no
//! waiter spinning to notice. So the queue itself is watched.
//!
//! Per target CPU, one [`QueueWatch`]:
//! - every push a probe sees (a call not already tracked as a wait)
//!   records, if it is the first since the target's last flush entry, when
//!   it happened (`kick_ns`), and makes sure some CPU's watchdog watches
//!   the queue: the pusher takes the watch if nobody holds it, or if its
//!   holder has not looked for [`STALE_TICKS`] ticks (wedged, or gone);
//! - the watcher's tick ([`QueueWatch::look`]) sees the queue non-empty
//!   with no flush entry since the recorded push, or since its own first
//!   sight after the last flush, for `resend_ms`: the IPI is resent;
//! - a queue found empty with no push owed is let go: marked releasing (a
//!   push seen from then on takes the watch), looked at again, and dropped
//!   if it is still empty and no push was recorded meanwhile
//!   ([`QueueWatch::release`], [`QueueWatch::drop_if`]). Left open: a push
//!   that read the watch as held just before the mark and lands after the
//!   second look; the next push to that CPU takes a watch again.
//! - the queue side resends with a back-off within an episode, and not at
//!   all while a tracked wait is blocked on the target (that wait's
//!   detector decides).
//!
//! Each watcher CPU keeps the targets it watches in a small [`Held`] list
//! (its tick looks at those only; a full list makes it scan every target),
//! so a tick costs O(watched), not O(nr_cpu_ids), on an NR_CPUS=8192
//! kernel. All of it is atomics: pushes come from kprobes on the csd path
//! (any context), looks from the watchdog (hard IRQ).
//!
//! While unloading the probes go away, so no push is seen: then one
//! watchdog at a time sweeps every online CPU's queue with the same
//! [`QueueWatch::look`] ([`Sweep`]).

use crate::kcompat::atomic::{
    ordering::{Acquire, Full, Relaxed, Release},
    Atomic,
};
use crate::kcompat::barrier::smp_mb;

/// A holder that has not looked for this many ticks may be replaced by a
/// pusher (its CPU is wedged or going down).
pub(crate) const STALE_TICKS: u64 = 8;
/// Targets a watcher lists before its tick falls back to a full scan.
pub(crate) const HELD: usize = 16;
/// Longest wait between two queue-side resends of one episode, in resend
/// periods (a power of two).
pub(crate) const MAX_BACKOFF: u32 = 64;

/// `watcher` value of a watch being let go by `cpu`.
const RELEASING: u32 = 1 << 31;

const fn holder(cpu: u32) -> u32 {
    cpu + 1
}

/// What a push did to the watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Took {
    /// Someone else watches it (or this CPU already did).
    No,
    /// This CPU watches it now: list it and arm the watchdog.
    New,
    /// This CPU was letting it go and keeps it: arm the watchdog.
    Back,
}

/// What the watchdog sees of a target's queue.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct QueueView {
    /// The queue holds at least one node.
    pub queued: bool,
    /// The target's last flush entry (0: never seen).
    pub last_flush_ns: u64,
    /// The target is inside a flush now.
    pub in_flush: bool,
}

/// What a look at a queue found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    /// Empty, and no push owed: nothing to watch.
    Served,
    /// Not stuck: a recorded push is landing, or a flush runs.
    Moving,
    /// Calls stand unflushed, for at least `age_ns`.
    Queued {
        /// How long they have stood with no flush.
        age_ns: u64,
    },
}

/// One target CPU's queue, as pushes and watchdogs see it.
pub(crate) struct QueueWatch {
    /// First push seen since the target's last flush entry (pusher clock).
    kick_ns: Atomic<u64>,
    /// The CPU that made it.
    kick_cpu: Atomic<u32>,
    /// `holder(cpu)` of the watching CPU, `RELEASING | holder(cpu)` while
    /// that CPU lets it go, 0: nobody.
    watcher: Atomic<u32>,
    /// When the holder last looked.
    alive_ns: Atomic<u64>,
    /// Watcher's memory: first sight of the queue non-empty with no
    /// recorded push since the last flush entry.
    seen_ns: Atomic<u64>,
    /// Watcher's memory: the recorded push seen with the queue empty at
    /// the last look.
    empty_kick: Atomic<u64>,
    /// The recorded push when the holder began to let the watch go.
    released_kick: Atomic<u64>,
    /// Last IPI resent to this CPU, by any path (one per period).
    resent_ns: Atomic<u64>,
    /// IPIs resent in the current episode (queue stuck until served).
    resends: Atomic<u32>,
    /// When the current episode's calls began to stand (0: no episode).
    stuck_ns: Atomic<u64>,
    /// The episode was reported.
    reported: Atomic<u32>,
    /// The last look found the calls standing for a resend period.
    ripe: Atomic<u32>,
    /// When a tracked wait's watchdog last found this CPU blocking it
    /// (the wait path diagnoses and rescues it then).
    waited_ns: Atomic<u64>,
}

impl QueueWatch {
    /// Never pushed to, unwatched.
    pub(crate) const fn new() -> Self {
        QueueWatch {
            kick_ns: Atomic::new(0),
            kick_cpu: Atomic::new(0),
            watcher: Atomic::new(0),
            alive_ns: Atomic::new(0),
            seen_ns: Atomic::new(0),
            empty_kick: Atomic::new(0),
            released_kick: Atomic::new(0),
            resent_ns: Atomic::new(0),
            resends: Atomic::new(0),
            stuck_ns: Atomic::new(0),
            reported: Atomic::new(0),
            waited_ns: Atomic::new(0),
            ripe: Atomic::new(0),
        }
    }

    /// CPU `me` is about to push a call at `now`; the target last entered
    /// its flush at `last_flush_ns`. A holder silent for `stale_ns` is
    /// replaced.
    pub(crate) fn push(&self, me: u32, now: u64, last_flush_ns: u64, stale_ns: u64) -> Took {
        if self.kick_ns.load(Relaxed) <= last_flush_ns {
            self.kick_cpu.store(me, Relaxed);
            self.kick_ns.store(now.max(1), Relaxed);
        }
        // Pairs with the barrier in `release`: either its holder sees this
        // push recorded, or this push sees the watch let go.
        smp_mb(Full);
        let w = self.watcher.load(Acquire);
        if w == holder(me) {
            return Took::No;
        }
        let live = w != 0
            && w & RELEASING == 0
            && now.saturating_sub(self.alive_ns.load(Relaxed)) < stale_ns;
        if live {
            return Took::No;
        }
        if self.watcher.cmpxchg(w, holder(me), Full).is_err() {
            return Took::No; // another pusher took it just now
        }
        self.alive_ns.store(now, Relaxed);
        if w == RELEASING | holder(me) {
            Took::Back
        } else {
            Took::New
        }
    }

    /// Is `cpu` the holder (or letting it go)?
    pub(crate) fn held_by(&self, cpu: u32) -> bool {
        self.watcher.load(Relaxed) & !RELEASING == holder(cpu)
    }

    /// `cpu` is letting the watch go (a look found it [`Look::Served`]).
    pub(crate) fn releasing(&self, cpu: u32) -> bool {
        self.watcher.load(Relaxed) == RELEASING | holder(cpu)
    }

    /// The holder `cpu` looks at `now`.
    pub(crate) fn alive(&self, now: u64) {
        self.alive_ns.store(now, Relaxed);
    }

    /// Step one of letting go: mark it (true if `cpu` held it).
    pub(crate) fn release(&self, cpu: u32) -> bool {
        self.released_kick
            .store(self.kick_ns.load(Relaxed), Relaxed);
        let ok = self
            .watcher
            .cmpxchg(holder(cpu), RELEASING | holder(cpu), Full)
            .is_ok();
        smp_mb(Full);
        ok
    }

    /// Step two, right after: drop the watch if the queue is still empty
    /// (`queued`: it is not) and no push was recorded since the mark. True
    /// if dropped; false: `cpu` holds it again (or lost it to a pusher).
    pub(crate) fn drop_if(&self, cpu: u32, queued: bool) -> bool {
        let idle = !queued && self.kick_ns.load(Relaxed) == self.released_kick.load(Relaxed);
        let to = if idle { 0 } else { holder(cpu) };
        self.watcher
            .cmpxchg(RELEASING | holder(cpu), to, Full)
            .is_ok()
            && idle
    }

    /// Hand the watch from `from` to `to` (CPU hotplug); true if moved.
    pub(crate) fn hand_over(&self, from: u32, to: u32, now: u64) -> bool {
        let w = self.watcher.load(Relaxed);
        if w & !RELEASING != holder(from) {
            return false;
        }
        self.alive_ns.store(now, Relaxed);
        self.watcher.cmpxchg(w, holder(to), Full).is_ok()
    }

    /// Look at the queue at `now`.
    pub(crate) fn look(&self, v: &QueueView, now: u64) -> Look {
        let k = self.kick_ns.load(Relaxed);
        let f = v.last_flush_ns;
        if !v.queued {
            // a push recorded after the last flush entry, not on the queue:
            // about to land, or taken by a flush that entered before it
            // (then it is still not there at the next look)
            self.ripe.store(0, Relaxed);
            if k <= f || self.empty_kick.load(Relaxed) == k {
                self.seen_ns.store(0, Relaxed);
                return Look::Served;
            }
            self.empty_kick.store(k, Relaxed);
            return Look::Moving;
        }
        self.empty_kick.store(0, Relaxed);
        if v.in_flush {
            // what was pushed since the flush took the list has its IPI
            // pending until the flush returns
            self.ripe.store(0, Relaxed);
            self.seen_ns.store(now, Relaxed);
            return Look::Moving;
        }
        // the window: from the recorded push, or from the last sight of the
        // flush running if later (what was pushed during a flush had its
        // IPI pending until the flush returned), or from this look
        let s = self.seen_ns.load(Relaxed);
        let since = if k > f {
            k.max(s)
        } else {
            if s <= f {
                self.seen_ns.store(now, Relaxed);
                now
            } else {
                s
            }
        };
        Look::Queued {
            age_ns: now.saturating_sub(since),
        }
    }

    /// May the queue side resend an IPI now? Not within `period` of any
    /// resend, by any path; within an episode the wait doubles after each
    /// of its resends, up to [`MAX_BACKOFF`] periods: a lost IPI is fixed
    /// by the first, while a target with IRQs off (whose IPI only stays
    /// pending) gets a few, not one per period. If so it is counted as
    /// sent at `now`.
    pub(crate) fn may_resend(&self, now: u64, period: u64) -> bool {
        let last = self.resent_ns.load(Relaxed);
        let n = self.resends.load(Relaxed).min(MAX_BACKOFF.trailing_zeros());
        if last != 0 && now.saturating_sub(last) < period << n {
            return false;
        }
        self.resent_ns.cmpxchg(last, now.max(1), Relaxed).is_ok()
    }

    /// This look found the calls standing for a resend period (`now_ripe`):
    /// true if the previous look did too. Two looks in a row, as for a
    /// wait: a target just out of its flush or of an IRQs-off section, or
    /// a vCPU the host just ran again, takes its pending IPI by the next.
    pub(crate) fn ripe_twice(&self, now_ripe: bool) -> bool {
        self.ripe.xchg(u32::from(now_ripe), Relaxed) != 0 && now_ripe
    }

    /// A tracked wait is blocked on this CPU at `now`: its watchdog looks
    /// after it (with the detector's diagnosis).
    pub(crate) fn note_waited(&self, now: u64) {
        self.waited_ns.store(now, Relaxed);
    }

    /// Does a tracked wait look after this CPU (seen within `recent`)?
    pub(crate) fn waited(&self, now: u64, recent: u64) -> bool {
        now.saturating_sub(self.waited_ns.load(Relaxed)) < recent
    }

    /// Any path resent the IPI at `now` (the queue side then waits a period).
    pub(crate) fn note_resend(&self, now: u64) {
        self.resent_ns.store(now.max(1), Relaxed);
    }

    /// The queue side acts on calls standing since `since`: true if this
    /// begins an episode (the queue stuck until found served).
    pub(crate) fn begin_episode(&self, since: u64) -> bool {
        self.stuck_ns.load(Relaxed) == 0 && self.stuck_ns.cmpxchg(0, since.max(1), Relaxed).is_ok()
    }

    /// The queue side resent an IPI in this episode; how many so far.
    pub(crate) fn count_resend(&self) -> u32 {
        self.resends.fetch_add(1u32, Relaxed) + 1
    }

    /// Mark the episode reported; true the first time.
    pub(crate) fn first_report(&self) -> bool {
        self.reported.xchg(1, Relaxed) == 0
    }

    /// The queue was found served: end the episode. Returns (when its
    /// calls began to stand, IPIs resent, reported) if there was one.
    pub(crate) fn end_episode(&self) -> Option<(u64, u32, bool)> {
        let since = self.stuck_ns.xchg(0, Relaxed);
        let resends = self.resends.xchg(0, Relaxed);
        let reported = self.reported.xchg(0, Relaxed) != 0;
        (since != 0).then_some((since, resends, reported))
    }

    /// Is an episode open (the queue side acted, no look found it served)?
    pub(crate) fn in_episode(&self) -> bool {
        self.stuck_ns.load(Relaxed) != 0
    }

    /// `hooks=pushes`: `cpu`'s push stands at the head; it is the one a
    /// report names (no push of the window is recorded in this mode).
    pub(crate) fn note_pusher(&self, cpu: u32) {
        if self.kick_cpu.load(Relaxed) != cpu {
            self.kick_cpu.store(cpu, Relaxed);
        }
    }

    /// The CPU whose push began the current window.
    pub(crate) fn kick_cpu(&self) -> u32 {
        self.kick_cpu.load(Relaxed)
    }
}

/// The targets one CPU's watchdog watches: `HELD` entries (target + 1; 0
/// free) and an overflow flag. Entries are claimed with a cmpxchg by the
/// CPU taking a watch (itself, or a CPU going down handing its watches
/// over) and freed only by the owner's tick.
pub(crate) struct Held {
    t: [Atomic<u32>; HELD],
    overflow: Atomic<u32>,
}

impl Held {
    /// Empty.
    pub(crate) const fn new() -> Self {
        Held {
            t: [const { Atomic::new(0) }; HELD],
            overflow: Atomic::new(0),
        }
    }

    /// List `target`; when the list is full, the tick scans every target.
    pub(crate) fn add(&self, target: u32) {
        for e in &self.t {
            if e.load(Relaxed) == 0 && e.cmpxchg(0, target + 1, Relaxed).is_ok() {
                return;
            }
        }
        self.overflow.store(1, Release);
    }

    /// Entry `i`'s target, if any.
    pub(crate) fn get(&self, i: usize) -> Option<u32> {
        self.t.get(i)?.load(Relaxed).checked_sub(1)
    }

    /// Free entry `i` (its owner's tick).
    pub(crate) fn remove(&self, i: usize) {
        if let Some(e) = self.t.get(i) {
            e.store(0, Relaxed);
        }
    }

    /// Is `target` listed?
    pub(crate) fn has(&self, target: u32) -> bool {
        self.t.iter().any(|e| e.load(Relaxed) == target + 1)
    }

    /// Take the overflow flag (the caller then scans every target).
    pub(crate) fn take_overflow(&self) -> bool {
        self.overflow.load(Relaxed) != 0 && self.overflow.xchg(0, Acquire) != 0
    }

    /// Anything listed, or an overflow to scan?
    pub(crate) fn any(&self) -> bool {
        self.overflow.load(Relaxed) != 0 || self.t.iter().any(|e| e.load(Relaxed) != 0)
    }
}

/// Who sweeps while unloading: one watchdog at a time, at most once per
/// `period`.
pub(crate) struct Sweep {
    busy: Atomic<u32>,
    last_ns: Atomic<u64>,
}

impl Sweep {
    /// Nobody sweeping, never swept.
    pub(crate) const fn new() -> Self {
        Sweep {
            busy: Atomic::new(0),
            last_ns: Atomic::new(0),
        }
    }

    /// Run `f` as the sweeper if no other CPU sweeps now and the last sweep
    /// began `period` or more before `now`. True if `f` ran.
    pub(crate) fn run(&self, now: u64, period: u64, f: impl FnOnce()) -> bool {
        if now.saturating_sub(self.last_ns.load(Acquire)) < period {
            return false;
        }
        if self.busy.cmpxchg(0, 1, Acquire).is_err() {
            return false;
        }
        // re-checked under the flag: another sweeper may just have run
        let ran = now.saturating_sub(self.last_ns.load(Relaxed)) >= period;
        if ran {
            self.last_ns.store(now, Relaxed);
            f();
        }
        self.busy.store(0, Release);
        ran
    }
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_queues)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const STALE: u64 = 40 * MS;

    fn view(queued: bool, last_flush_ns: u64, in_flush: bool) -> QueueView {
        QueueView {
            queued,
            last_flush_ns,
            in_flush,
        }
    }

    #[test]
    fn the_first_push_after_a_flush_takes_the_watch() {
        let q = QueueWatch::new();
        assert_eq!(q.push(0, 10 * MS, 5 * MS, STALE), Took::New);
        assert!(q.held_by(0));
        // the same window, another CPU: the watch is held and alive
        assert_eq!(q.push(2, 11 * MS, 5 * MS, STALE), Took::No);
        assert_eq!(q.kick_cpu(), 0);
        // the first push is still there 20 ms later: standing since it
        assert_eq!(
            q.look(&view(true, 5 * MS, false), 30 * MS),
            Look::Queued { age_ns: 20 * MS }
        );
        // a silent holder is replaced
        assert_eq!(q.push(2, 60 * MS, 5 * MS, STALE), Took::New);
        assert!(q.held_by(2) && !q.held_by(0));
    }

    #[test]
    fn a_flushing_queue_is_not_stuck() {
        let q = QueueWatch::new();
        q.push(0, 10 * MS, 0, STALE);
        // a flush entered after the push: its calls are being run
        assert_eq!(q.look(&view(true, 12 * MS, true), 20 * MS), Look::Moving);
        // it returned, new calls queued meanwhile (no push recorded after
        // it: a pusher raced the flush): they stand from the last sight of
        // the flush running (their IPI could not be taken before); so do
        // calls whose push was recorded during the flush (below)
        assert_eq!(
            q.look(&view(true, 12 * MS, false), 25 * MS),
            Look::Queued { age_ns: 5 * MS }
        );
        assert_eq!(
            q.look(&view(true, 12 * MS, false), 45 * MS),
            Look::Queued { age_ns: 25 * MS }
        );
        // each later flush restarts the clock, however the head changes
        assert_eq!(
            q.look(&view(true, 50 * MS, false), 55 * MS),
            Look::Queued { age_ns: 0 }
        );
    }

    #[test]
    fn a_push_during_a_long_flush_counts_from_its_end() {
        let q = QueueWatch::new();
        // flush entered at 10 ms, a push recorded at 12 ms while it runs
        q.push(0, 12 * MS, 10 * MS, STALE);
        assert_eq!(q.look(&view(true, 10 * MS, true), 500 * MS), Look::Moving);
        // the flush returned: 5 ms since it was last seen running, not 493
        assert_eq!(
            q.look(&view(true, 10 * MS, false), 505 * MS),
            Look::Queued { age_ns: 5 * MS }
        );
        // resend only on the second ripe look in a row
        assert!(!q.ripe_twice(true));
        assert!(q.ripe_twice(true));
        assert!(!q.ripe_twice(false));
        assert!(!q.ripe_twice(true));
    }

    #[test]
    fn an_empty_queue_is_served_once_the_push_cannot_still_land() {
        let q = QueueWatch::new();
        q.push(0, 10 * MS, 0, STALE);
        // recorded, not on the queue yet: landing
        assert_eq!(q.look(&view(false, 0, false), 11 * MS), Look::Moving);
        // still not there a look later: a flush that entered before the
        // push took it
        assert_eq!(q.look(&view(false, 0, false), 16 * MS), Look::Served);
        // a flush after the push: served at once
        q.push(0, 20 * MS, 16 * MS, STALE);
        assert_eq!(q.look(&view(false, 21 * MS, false), 22 * MS), Look::Served);
    }

    #[test]
    fn letting_go_takes_two_ticks_and_a_push_keeps_it() {
        let q = QueueWatch::new();
        q.push(1, 10 * MS, 0, STALE);
        assert!(q.release(1));
        assert!(q.releasing(1));
        // a push meanwhile: the pusher takes the releasing watch
        q.push(3, 12 * MS, 11 * MS, STALE);
        assert!(q.held_by(3));
        assert!(!q.drop_if(1, false)); // not ours any more
                                       // a push on the releasing holder's own CPU takes it back
        assert!(q.release(3));
        assert_eq!(q.push(3, 13 * MS, 11 * MS, STALE), Took::Back);
        assert!(!q.drop_if(3, false));
        // let go with nothing new: dropped
        assert!(q.release(3));
        assert!(q.drop_if(3, false));
        assert!(!q.held_by(3));
        // a queue seen non-empty at the second step stays watched
        q.push(2, 20 * MS, 0, STALE);
        assert!(q.release(2));
        assert!(!q.drop_if(2, true));
        assert!(q.held_by(2));
        // a push recorded after the mark keeps it too, even with the
        // queue empty (its pusher is about to take the watch, or the
        // push is landing)
        assert!(q.release(2));
        q.kick_ns.store(30 * MS, Relaxed);
        assert!(!q.drop_if(2, false));
        assert!(q.held_by(2) && !q.releasing(2));
    }

    #[test]
    fn one_resend_per_period_by_any_path() {
        let q = QueueWatch::new();
        assert!(q.may_resend(10 * MS, 20 * MS));
        assert!(!q.may_resend(20 * MS, 20 * MS));
        assert!(q.may_resend(30 * MS, 20 * MS));
        q.note_resend(35 * MS); // the wait path resent
        assert!(!q.may_resend(50 * MS, 20 * MS));
        assert!(q.may_resend(55 * MS, 20 * MS));
        // a tracked wait on this CPU, seen 3 ms ago
        q.note_waited(52 * MS);
        assert!(q.waited(55 * MS, 10 * MS) && !q.waited(70 * MS, 10 * MS));
        // an episode's count and report, ended once
        assert!(q.begin_episode(5 * MS));
        assert!(!q.begin_episode(9 * MS));
        assert_eq!(q.count_resend(), 1);
        assert_eq!(q.count_resend(), 2);
        assert!(q.first_report());
        assert!(!q.first_report());
        assert_eq!(q.end_episode(), Some((5 * MS, 2, true)));
        assert_eq!(q.end_episode(), None);
    }

    #[test]
    fn resends_back_off_within_an_episode() {
        let q = QueueWatch::new();
        let p = 20 * MS;
        let mut at = [0u64; 10];
        let mut n = 0;
        let mut t = 0;
        while n < at.len() {
            t += MS;
            if q.may_resend(t, p) {
                at[n] = t;
                n += 1;
                q.count_resend();
            }
        }
        // gaps: 1, 2, 4 ... 64 periods, then 64 each
        for k in 1..at.len() {
            let want = p << (k as u32).min(MAX_BACKOFF.trailing_zeros());
            assert_eq!(at[k] - at[k - 1], want);
        }
        // a new episode starts over
        q.end_episode();
        assert!(q.may_resend(at[9] + p, p));
    }

    #[test]
    fn held_lists_overflow_into_a_scan() {
        let h = Held::new();
        assert!(!h.any());
        for t in 0..HELD as u32 {
            h.add(t);
        }
        assert!(h.has(3) && !h.take_overflow());
        h.add(99);
        assert!(h.take_overflow() && !h.take_overflow());
        h.remove(3);
        assert_eq!(h.get(3), None);
        assert!(!h.has(3) && h.any());
    }

    #[test]
    fn one_sweeper_per_period() {
        let s = Sweep::new();
        let mut n = 0;
        assert!(s.run(10 * MS, 5 * MS, || n += 1));
        assert!(!s.run(12 * MS, 5 * MS, || n += 1)); // too soon
        assert!(s.run(15 * MS, 5 * MS, || n += 1));
        assert_eq!(n, 2);
        s.busy.store(1, Relaxed); // another CPU sweeps now
        assert!(!s.run(30 * MS, 5 * MS, || n += 1));
        assert_eq!(n, 2);
    }
}
