// SPDX-License-Identifier: GPL-2.0

//! What each CPU's csd flushes look like, as the target-side probe
//! records them, and how many waits each CPU's watchdog looks after.
//!
//! One [`Target`] per possible CPU, allocated at load. Pure atomics; the
//! flush fields are written only by that CPU (hard IRQs off) and read by
//! other CPUs' watchdogs through a seqcount.

use crate::kcompat::atomic::{
    ordering::{Acquire, Relaxed, Release},
    Atomic,
};
use crate::kcompat::barrier::{smp_mb, Read, Write};

/// Synchronous csds remembered per flush (shim.c `CSDW_BATCH`).
pub(crate) const BATCH: usize = 8;
/// `batch_n` of a record made by [`Target::function_enter`]: its one
/// entry is the function running now.
const RUNNING: u32 = 1 << 31;

/// One CPU's record.
///
/// `seq` is odd while the flush fields are being written (a seqcount):
/// readers on other CPUs retry or give up on an odd or changed `seq`.
pub(crate) struct Target {
    seq: Atomic<u64>,
    in_flush: Atomic<u32>,
    last_flush_ns: Atomic<u64>,
    /// A time by which a watchdog saw this CPU's queue empty: every push
    /// made before it was taken by a flush, seen or not (with the events,
    /// a flush that runs only irq_works fires none). Any CPU writes it.
    drained_ns: Atomic<u64>,
    batch_n: Atomic<u32>,
    batch_csd: [Atomic<usize>; BATCH],
    batch_fn: [Atomic<usize>; BATCH],
    /// The watchdog of this CPU may be armed (CPU online, module running).
    enabled: Atomic<u32>,
    /// In-flight waits this CPU's watchdog looks after: what lets a wait
    /// that ends quietly cancel the timer at once. Exact: a slot's watcher
    /// is in its state word (waits.rs), so a waiter ending while its slot
    /// is handed over to an heir counts off the CPU that held it (KUnit
    /// `csdwatch_waits`, `a_waiter_ending_during_a_rehome_is_counted_off_once`).
    /// Only the +1 comes before the move, so for an instant the count may
    /// be one too many, never too few: no wait goes unwatched.
    watched: Atomic<i32>,
    /// When the last wait this CPU's watchdog looked after ended quietly on
    /// this CPU ([`Target::ended_in_burst`]). Only this CPU uses it.
    last_end_ns: Atomic<u64>,
    /// When this CPU's own watchdog tick is due at the latest (set as it
    /// takes a watch and at each of its ticks): a CPU that watches
    /// something and is long past it spins with IRQs off, and another CPU
    /// stands in (`watchdog::stand_in`).
    due_ns: Atomic<u64>,
    /// Held by whoever runs this CPU's watchdog tick now (this CPU, or a
    /// stand-in): the tick's per-watcher state has one user at a time.
    /// Only ever tried, never spun on, except by CPU hotplug.
    ticking: Atomic<u32>,
    /// This CPU's next tick also looks for overdue watchers to stand in for.
    stand_in: Atomic<u32>,
}

impl Target {
    /// A CPU never seen in a flush.
    pub(crate) const fn new() -> Self {
        Target {
            seq: Atomic::new(0),
            in_flush: Atomic::new(0),
            last_flush_ns: Atomic::new(0),
            drained_ns: Atomic::new(0),
            batch_n: Atomic::new(0),
            batch_csd: [const { Atomic::new(0) }; BATCH],
            batch_fn: [const { Atomic::new(0) }; BATCH],
            enabled: Atomic::new(0),
            watched: Atomic::new(0),
            last_end_ns: Atomic::new(0),
            due_ns: Atomic::new(0),
            ticking: Atomic::new(0),
            stand_in: Atomic::new(0),
        }
    }

    /// This CPU's own watchdog is to tick by `at` (it armed it, or it
    /// ticks and re-arms it).
    pub(crate) fn expect_tick(&self, at: u64) {
        self.due_ns.store(at, Relaxed);
    }

    /// Become the one running this CPU's watchdog tick; false if another
    /// runs it now. Acquire: sees what the previous tick wrote.
    pub(crate) fn try_tick(&self) -> bool {
        self.ticking.load(Relaxed) == 0 && self.ticking.cmpxchg(0, 1, Acquire).is_ok()
    }

    /// The tick [`Target::try_tick`] began is over.
    pub(crate) fn end_tick(&self) {
        self.ticking.store(0, Release);
    }

    /// Is this CPU, online and enabled, more than `grace_ns` past the time
    /// its own watchdog was to tick by? (Whether it watches anything is the
    /// caller's to ask.)
    pub(crate) fn overdue(&self, now: u64, grace_ns: u64) -> bool {
        self.enabled() && now.saturating_sub(self.due_ns.load(Relaxed)) > grace_ns
    }

    /// Ask this CPU's next tick to look for watchers to stand in for.
    pub(crate) fn ask_stand_in(&self) {
        self.stand_in.store(1, Relaxed);
    }

    /// Was this CPU's tick asked to stand in? Clears the request.
    pub(crate) fn take_stand_in(&self) -> bool {
        self.stand_in.load(Relaxed) != 0 && self.stand_in.xchg(0, Relaxed) != 0
    }

    /// The CPU entered its csd flush at `now`, about to run the synchronous
    /// csds `batch` (csd, function), oldest first. Only on that CPU.
    pub(crate) fn flush_enter(&self, now: u64, batch: impl Iterator<Item = (usize, usize)>) {
        self.write_flush(now, || {
            let mut n = 0;
            for (k, (csd, f)) in batch.take(BATCH).enumerate() {
                self.batch_csd[k].store(csd, Relaxed);
                self.batch_fn[k].store(f, Relaxed);
                n = k + 1;
            }
            n as u32
        });
    }

    /// The CPU's flush starts running `func` from `csd` at `now` (the
    /// kernel's `csd_function_entry` event; only on that CPU, hard IRQs
    /// off). Unlike [`Target::flush_enter`], what runs is known exactly,
    /// synchronous or not, so no lock bit is asked in [`Target::flush_view`];
    /// the event's `csd_function_exit` is [`Target::flush_exit`]. Between
    /// two functions of one flush the CPU looks out of it, and
    /// `last_flush_ns` is the last function's start, not the flush's:
    /// a push landing in a flush's tail looks served until the next look
    /// finds the queue still holding it (queues.rs `seen_ns`).
    pub(crate) fn function_enter(&self, now: u64, csd: usize, func: usize) {
        self.write_flush(now, || {
            self.batch_csd[0].store(csd, Relaxed);
            self.batch_fn[0].store(func, Relaxed);
            RUNNING
        });
    }

    /// The seqcount writer of both flush entries: `batch` stores the
    /// batch and returns its `batch_n`; the flush is marked entered at
    /// `now`. Only on this CPU, hard IRQs off: one writer at a time.
    #[inline(always)]
    fn write_flush(&self, now: u64, batch: impl FnOnce() -> u32) {
        self.seq.add(1u64, Relaxed);
        smp_mb(Write);
        let n = batch();
        self.batch_n.store(n, Relaxed);
        self.last_flush_ns.store(now, Relaxed);
        self.in_flush.store(1, Relaxed);
        smp_mb(Write);
        self.seq.add(1u64, Relaxed);
    }

    /// When the CPU last entered its flush (0: never seen); a racy read.
    /// A flush seen by its hook, or inferred from an empty queue
    /// ([`Target::drained_by`]), whichever is later.
    pub(crate) fn last_flush_ns(&self) -> u64 {
        self.last_flush_ns
            .load(Relaxed)
            .max(self.drained_ns.load(Relaxed))
    }

    /// A watchdog found this CPU's queue empty, with every push made by
    /// `at` on it (the caller leaves a margin for a push between its
    /// record and its node landing): those were all flushed. Only moves
    /// forward, racy: a lost update leaves an earlier, still true time.
    pub(crate) fn drained_by(&self, at: u64) {
        if at > self.drained_ns.load(Relaxed) {
            self.drained_ns.store(at, Relaxed);
        }
    }

    /// A wait this CPU's watchdog looked after ended quietly on this CPU at
    /// `now`: did the one before end less than `gap_ns` earlier? In such a
    /// burst the watchdog timer is left armed for the next wait instead of
    /// cancelled: cancelling and re-arming an hrtimer per wait was most of
    /// what csdwatch cost a back-to-back caller, while a burst's timer
    /// ticks every `tick_ms` and, once the burst is over, once more
    /// (finding nothing) and stops. Spaced waits still cancel, so a CPU
    /// that calls now and then takes no tick of ours.
    pub(crate) fn ended_in_burst(&self, now: u64, gap_ns: u64) -> bool {
        let prev = self.last_end_ns.load(Relaxed);
        self.last_end_ns.store(now, Relaxed);
        prev != 0 && now.saturating_sub(prev) < gap_ns
    }

    /// The CPU left its csd flush.
    pub(crate) fn flush_exit(&self) {
        self.in_flush.store(0, Release);
    }

    /// No flush of this CPU is seen any more (the hooks are gone): not in
    /// one as far as anyone can tell (`hooks::flush_hooks_gone`).
    pub(crate) fn flush_unseen(&self) {
        self.seq.add(1u64, Relaxed);
        smp_mb(Write);
        self.in_flush.store(0, Relaxed);
        self.batch_n.store(0, Relaxed);
        smp_mb(Write);
        self.seq.add(1u64, Relaxed);
    }

    /// The flush state as another CPU sees it; `locked(csd)` tells whether
    /// a synchronous csd's function is still running.
    pub(crate) fn flush_view(&self, locked: impl Fn(usize) -> bool) -> FlushView {
        for _ in 0..4 {
            let s1 = self.seq.load(Acquire);
            if s1 & 1 != 0 {
                continue;
            }
            let mut v = FlushView {
                in_flush: self.in_flush.load(Relaxed) != 0,
                last_flush_ns: self.last_flush_ns(),
                running_fn: 0,
            };
            let mut batch = [(0usize, 0usize); BATCH];
            let bn = self.batch_n.load(Relaxed);
            let running = bn == RUNNING;
            let n = if running { 1 } else { (bn as usize).min(BATCH) };
            for (k, b) in batch.iter_mut().enumerate().take(n) {
                *b = (
                    self.batch_csd[k].load(Relaxed),
                    self.batch_fn[k].load(Relaxed),
                );
            }
            smp_mb(Read);
            if self.seq.load(Relaxed) != s1 {
                continue;
            }
            if v.in_flush && running {
                v.running_fn = batch[0].1;
            } else if v.in_flush {
                // a synchronous csd is unlocked after its function returns
                v.running_fn = batch[..n]
                    .iter()
                    .find(|(csd, _)| locked(*csd))
                    .map_or(0, |&(_, f)| f);
            }
            return v;
        }
        FlushView::default()
    }

    /// Allow or stop watching new waits from this CPU.
    pub(crate) fn set_enabled(&self, on: bool) {
        self.enabled.store(u32::from(on), Release);
    }

    /// May this CPU's watchdog take new waits?
    pub(crate) fn enabled(&self) -> bool {
        self.enabled.load(Acquire) != 0
    }

    /// `n` more (or fewer) waits watched here.
    pub(crate) fn watch(&self, n: i32) {
        self.watched.add(n, Relaxed);
    }

    /// Does this CPU's watchdog look after any wait?
    pub(crate) fn watching(&self) -> bool {
        self.watched.load(Relaxed) > 0
    }

    /// Set the count from a scan of the table (CPU coming up).
    pub(crate) fn set_watched(&self, n: u32) {
        self.watched
            .store(i32::try_from(n).unwrap_or(i32::MAX), Relaxed);
    }
}

/// Which CPU stands in for watchers whose own watchdog is overdue
/// (`watchdog::stand_in`): one at a time, so that a long overdue watcher
/// costs one CPU's ticks, not every CPU's that noticed it.
pub(crate) struct StandIn {
    /// The CPU + 1; 0: none.
    by: Atomic<u32>,
    /// When it last stood in (or took the role).
    at_ns: Atomic<u64>,
}

impl StandIn {
    /// Nobody stands in.
    pub(crate) const fn new() -> Self {
        StandIn {
            by: Atomic::new(0),
            at_ns: Atomic::new(0),
        }
    }

    /// `me` found an overdue watcher at `now`: does it stand in? Yes if it
    /// already does, if nobody does, or if the one that did has not for
    /// more than `stale_ns` (it went offline, or is stuck itself).
    pub(crate) fn claim(&self, me: u32, now: u64, stale_ns: u64) -> bool {
        let cur = self.by.load(Relaxed);
        let mine = me.wrapping_add(1);
        let free = cur == 0 || now.saturating_sub(self.at_ns.load(Relaxed)) > stale_ns;
        if cur != mine && !(free && self.by.cmpxchg(cur, mine, Relaxed).is_ok()) {
            return false;
        }
        self.at_ns.store(now, Relaxed);
        true
    }

    /// Is `me` the one standing in?
    pub(crate) fn is(&self, me: u32) -> bool {
        self.by.load(Relaxed) == me.wrapping_add(1)
    }

    /// `me` stood in at `now`.
    pub(crate) fn ran(&self, now: u64) {
        self.at_ns.store(now, Relaxed);
    }

    /// `me` found nobody overdue: it stands in no longer.
    pub(crate) fn release(&self, me: u32) {
        let _ = self.by.cmpxchg(me.wrapping_add(1), 0, Relaxed);
    }
}

/// What the watchdog reads of a target's flush state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FlushView {
    /// Inside the flush now.
    pub in_flush: bool,
    /// When it last entered the flush (0: never seen).
    pub last_flush_ns: u64,
    /// The function of the first synchronous csd of the current flush that
    /// has not returned yet: what the target is running (0: unknown).
    pub running_fn: usize,
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_targets)]
mod tests {
    use super::*;

    #[test]
    fn one_tick_at_a_time_and_overdue_after_grace() {
        let t = Target::new();
        t.set_enabled(true);
        t.expect_tick(100);
        assert!(!t.overdue(150, 50));
        assert!(t.overdue(151, 50));
        t.expect_tick(140);
        assert!(!t.overdue(151, 50));
        t.set_enabled(false);
        assert!(!t.overdue(1000, 50));
        assert!(t.try_tick());
        assert!(!t.try_tick());
        t.end_tick();
        assert!(t.try_tick());
        t.end_tick();
        assert!(!t.take_stand_in());
        t.ask_stand_in();
        assert!(t.take_stand_in());
        assert!(!t.take_stand_in());
    }

    #[test]
    fn one_cpu_stands_in_at_a_time() {
        let s = StandIn::new();
        assert!(s.claim(2, 100, 50));
        assert!(s.is(2));
        assert!(!s.claim(3, 120, 50));
        assert!(s.claim(2, 130, 50));
        s.ran(140);
        // the one standing in went quiet: another takes over
        assert!(!s.claim(3, 190, 50));
        assert!(s.claim(3, 191, 50));
        assert!(!s.is(2));
        s.release(2); // not its role any more: no effect
        assert!(s.is(3));
        s.release(3);
        assert!(!s.is(3));
        assert!(s.claim(1, 200, 50));
    }

    #[test]
    fn flush_view_names_the_running_function() {
        let t = Target::new();
        assert!(!t.flush_view(|_| true).in_flush);
        t.flush_enter(50, [(0xa, 0x100), (0xb, 0x200)].into_iter());
        // 0xa already returned (unlocked), 0xb still runs
        let v = t.flush_view(|csd| csd == 0xb);
        assert!(v.in_flush);
        assert_eq!(v.last_flush_ns, 50);
        assert_eq!(v.running_fn, 0x200);
        t.flush_exit();
        let v = t.flush_view(|_| true);
        assert!(!v.in_flush);
        assert_eq!(v.running_fn, 0);
        assert_eq!(v.last_flush_ns, 50);
    }

    #[test]
    fn a_function_event_names_what_runs_without_asking_its_lock() {
        let t = Target::new();
        // an async csd (unlocked before its function runs) and a remote
        // wakeup have no lock to ask: the event says what runs
        t.function_enter(70, 0xc, 0x300);
        let v = t.flush_view(|_| false);
        assert!(v.in_flush);
        assert_eq!(v.last_flush_ns, 70);
        assert_eq!(v.running_fn, 0x300);
        t.flush_exit();
        let v = t.flush_view(|_| true);
        assert!(!v.in_flush);
        assert_eq!(v.running_fn, 0);
        assert_eq!(v.last_flush_ns, 70);
        // a later kretprobe-style record is judged by its lock bits again
        t.flush_enter(90, [(0xa, 0x100)].into_iter());
        assert_eq!(t.flush_view(|_| false).running_fn, 0);
        assert_eq!(t.flush_view(|_| true).running_fn, 0x100);
    }

    #[test]
    fn an_empty_queue_counts_as_a_flush_for_what_was_pushed_before() {
        let t = Target::new();
        t.function_enter(40, 0xa, 0x100);
        t.flush_exit();
        assert_eq!(t.last_flush_ns(), 40);
        // an irq_work-only flush fires no event: a look saw the queue empty
        t.drained_by(60);
        assert_eq!(t.last_flush_ns(), 60);
        assert_eq!(t.flush_view(|_| false).last_flush_ns, 60);
        assert!(!t.flush_view(|_| false).in_flush);
        // never backwards; a later flush seen by its event wins
        t.drained_by(50);
        assert_eq!(t.last_flush_ns(), 60);
        t.function_enter(70, 0xb, 0x200);
        assert_eq!(t.last_flush_ns(), 70);
    }

    #[test]
    fn a_flush_whose_end_went_unseen_is_not_left_running() {
        // entered, then its hook was unregistered before it returned
        let t = Target::new();
        t.flush_enter(50, [(0xa, 0x100)].into_iter());
        assert!(t.flush_view(|_| true).in_flush);
        t.flush_unseen();
        let v = t.flush_view(|_| true);
        // the queue sweep (queues.rs, look) now judges the CPU by its queue
        assert!(!v.in_flush);
        assert_eq!(v.running_fn, 0);
    }

    #[test]
    fn watched_count() {
        let t = Target::new();
        assert!(!t.watching());
        t.watch(1);
        t.watch(1);
        t.watch(-1);
        assert!(t.watching());
        t.watch(-1);
        assert!(!t.watching());
        t.set_watched(2);
        assert!(t.watching());
    }

    #[test]
    fn bursts_are_waits_closer_than_the_gap() {
        let t = Target::new();
        assert!(!t.ended_in_burst(1_000, 5_000)); // the first end: no burst
        assert!(t.ended_in_burst(3_000, 5_000)); // 2 µs after it
        assert!(t.ended_in_burst(7_999, 5_000));
        assert!(!t.ended_in_burst(13_000, 5_000)); // 5.001 µs: spaced, cancel
        assert!(!t.ended_in_burst(100_000, 5_000));
    }
}
