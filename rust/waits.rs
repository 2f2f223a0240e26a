// SPDX-License-Identifier: GPL-2.0

//! The table of synchronous cross-CPU waits in flight.
//!
//! The sender hooks claim a slot when a waiter starts and end it when the
//! waiter returns; the watchdog of the CPU named `watcher` reads it. A
//! wait is tracked by its task and csd, not by the CPU it began on: the
//! waiter may be preempted and migrate while it waits (PREEMPT_RT).
//!
//! Lock-free and allocation-free, so every hook may use it. Invariants:
//! - `word` is `gen << 8 | state`. `gen` grows by one at every claim, so a
//!   reader that saw `(gen, state)` before and after reading the fields saw
//!   one wait, not a mix of two (a seqcount, with the state in it).
//! - The fields other than `word`, `end_ns` and `blocked_on` are written only
//!   by the claimer while the slot is `Claimed`/`Pending`, before the release
//!   store that makes it `Live`.
//! - Only the waiter moves `Live` to `Free` (it ended before any action) or
//!   `Stalled` to `Ended`; only the watchdog moves `Live` to `Stalled` and
//!   `Ended` to `Free`. Every such move is a cmpxchg on the whole word.

use kernel::prelude::*;
use kernel::sync::atomic::{
    ordering::{Acquire, Relaxed, Release},
    Atomic,
};
use kernel::sync::barrier::{smp_mb, Read};

/// Slots in the table; also the kretprobes' `maxactive` (shim.h).
pub(crate) const MAX_WAITS: usize = 64;
/// CPUs a wait can name (shim.h `CSDW_MAX_CPUS`; more refuses the load).
pub(crate) const MAX_CPUS: usize = 256;
/// 64-bit words of a target mask.
pub(crate) const MASK_WORDS: usize = MAX_CPUS / 64;
/// `blocked_on` when the wait is not blocked on any CPU.
pub(crate) const NO_CPU: u32 = u32::MAX;

/// Life of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum State {
    /// Unused.
    Free = 0,
    /// Being filled by its claimer.
    Claimed = 1,
    /// `smp_call_function_single` began; csd and target not known yet.
    Pending = 2,
    /// In flight, nothing done about it.
    Live = 3,
    /// In flight, and the watchdog acted (resent, reported, panicked).
    Stalled = 4,
    /// The waiter returned after the watchdog acted; the watchdog closes it.
    Ended = 5,
}

impl State {
    fn of(word: u64) -> State {
        match word & 0xff {
            1 => State::Claimed,
            2 => State::Pending,
            3 => State::Live,
            4 => State::Stalled,
            5 => State::Ended,
            _ => State::Free,
        }
    }
}

const fn word(gen: u64, s: State) -> u64 {
    gen << 8 | s as u64
}

/// What the wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `smp_call_function_single()` and friends: one csd, one target.
    Single,
    /// `smp_call_function_many_cond()`: the sender's per-target csds.
    Many,
}

/// One wait.
pub(crate) struct Slot {
    word: Atomic<u64>,
    task: Atomic<usize>,
    func: Atomic<usize>,
    /// Single: the csd. Many: 0 (the csds are the sender's `cfd_data`).
    csd: Atomic<usize>,
    /// CPU the wait was queued from.
    sender: Atomic<u32>,
    /// CPU whose watchdog looks after it.
    watcher: Atomic<u32>,
    start_ns: Atomic<u64>,
    end_ns: Atomic<u64>,
    targets: [Atomic<u64>; MASK_WORDS],
    /// Target it is stuck on, as the watchdog last saw it (for grouping).
    blocked_on: Atomic<u32>,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            word: Atomic::new(0),
            task: Atomic::new(0),
            func: Atomic::new(0),
            csd: Atomic::new(0),
            sender: Atomic::new(0),
            watcher: Atomic::new(0),
            start_ns: Atomic::new(0),
            end_ns: Atomic::new(0),
            targets: [const { Atomic::new(0) }; MASK_WORDS],
            blocked_on: Atomic::new(NO_CPU),
        }
    }
}

impl Slot {
    /// Write what a wait is about; only while its claimer owns the slot
    /// (`Claimed`/`Pending`), before the release store that makes it live.
    fn fill(&self, nw: &NewWait, target_word: impl Fn(usize) -> u64) {
        self.func.store(nw.func, Relaxed);
        self.csd.store(nw.csd, Relaxed);
        self.sender.store(nw.cpu, Relaxed);
        self.watcher.store(nw.cpu, Relaxed);
        self.start_ns.store(nw.start_ns, Relaxed);
        for (k, t) in self.targets.iter().enumerate() {
            t.store(target_word(k), Relaxed);
        }
    }
}

/// The table of `N` slots (the module uses [`Waits`]; tests use small ones).
pub(crate) struct Table<const N: usize> {
    slots: [Slot; N],
}

/// The module's table.
pub(crate) type Waits = Table<MAX_WAITS>;

/// What a claimer fills in.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewWait {
    /// The waiting task (opaque).
    pub task: usize,
    /// The queued function (address).
    pub func: usize,
    /// The csd (Single) or 0 (Many).
    pub csd: usize,
    /// CPU it was queued from; its watchdog watches it.
    pub cpu: u32,
    /// When it began.
    pub start_ns: u64,
}

/// A consistent copy of a wait, taken by the watchdog.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Snapshot {
    /// Claim generation: tells this wait from a later one in the same slot.
    pub gen: u64,
    /// `Live`, `Stalled` or `Ended`.
    pub state: State,
    /// Single or Many.
    pub kind: Kind,
    /// The waiting task (opaque).
    pub task: usize,
    /// The queued function (address).
    pub func: usize,
    /// The csd (Single).
    pub csd: usize,
    /// CPU it was queued from.
    pub sender: u32,
    /// CPU whose watchdog looks after it.
    pub watcher: u32,
    /// When it began.
    pub start_ns: u64,
    /// When the waiter returned (`Ended`).
    pub end_ns: u64,
    /// Target CPUs.
    pub targets: [u64; MASK_WORDS],
}

impl Snapshot {
    /// Target CPUs in ascending order (the order `csd_lock_wait()` walks).
    pub(crate) fn targets(&self) -> impl Iterator<Item = u32> + '_ {
        (0..MAX_CPUS as u32)
            .filter(move |&c| self.targets[(c / 64) as usize] & (1 << (c % 64)) != 0)
    }
}

impl<const N: usize> Table<N> {
    /// An empty table.
    pub(crate) const fn new() -> Self {
        Table {
            slots: [const { Slot::new() }; N],
        }
    }

    fn claim(&self, nw: &NewWait, state: State, targets: &[u64]) -> Option<usize> {
        for (i, s) in self.slots.iter().enumerate() {
            let w = s.word.load(Relaxed);
            if State::of(w) != State::Free {
                continue;
            }
            let gen = (w >> 8) + 1;
            if s.word
                .cmpxchg(w, word(gen, State::Claimed), Acquire)
                .is_err()
            {
                continue;
            }
            s.task.store(nw.task, Relaxed);
            s.end_ns.store(0, Relaxed);
            s.blocked_on.store(NO_CPU, Relaxed);
            s.fill(nw, |k| targets.get(k).copied().unwrap_or(0));
            s.word.store(word(gen, state), Release);
            return Some(i);
        }
        None
    }

    /// A `smp_call_function_single()` waiter began: reserve a slot that the
    /// watchdog ignores until [`Table::queue_single`] names csd and target.
    pub(crate) fn begin_single(&self, task: usize, cpu: u32, now_ns: u64) -> Option<usize> {
        let nw = NewWait {
            task,
            func: 0,
            csd: 0,
            cpu,
            start_ns: now_ns,
        };
        self.claim(&nw, State::Pending, &[])
    }

    /// The pending slot of `task`, if it has one.
    pub(crate) fn pending_of(&self, task: usize) -> Option<usize> {
        self.slots.iter().position(|s| {
            State::of(s.word.load(Acquire)) == State::Pending && s.task.load(Relaxed) == task
        })
    }

    /// The csd of pending slot `i` was queued for `target` from `cpu`: it is
    /// now a live wait, watched by `cpu`.
    pub(crate) fn queue_single(&self, i: usize, nw: &NewWait, target: u32) {
        let s = &self.slots[i];
        let w = s.word.load(Relaxed);
        if State::of(w) != State::Pending {
            return;
        }
        s.fill(nw, |k| {
            if target as usize / 64 == k {
                1u64 << (target % 64)
            } else {
                0
            }
        });
        s.word.store(word(w >> 8, State::Live), Release);
    }

    /// A many-target waiter began: a live wait on `targets`.
    pub(crate) fn begin_many(&self, nw: &NewWait, targets: &[u64]) -> Option<usize> {
        self.claim(nw, State::Live, targets)
    }

    /// The waiter of slot `i` returned at `now_ns`. Returns the slot's
    /// watcher and start time if the wait ended before anything was done
    /// about it (the slot is free again), `None` if the watchdog will close it.
    pub(crate) fn end(&self, i: usize, now_ns: u64) -> Option<(u32, u64)> {
        let s = self.slots.get(i)?;
        loop {
            let w = s.word.load(Acquire);
            let gen = w >> 8;
            match State::of(w) {
                State::Pending => {
                    // local or refused target: never went live
                    if s.word.cmpxchg(w, word(gen, State::Free), Release).is_ok() {
                        return None;
                    }
                }
                State::Live => {
                    let r = (s.watcher.load(Relaxed), s.start_ns.load(Relaxed));
                    if s.word.cmpxchg(w, word(gen, State::Free), Release).is_ok() {
                        return Some(r);
                    }
                }
                State::Stalled => {
                    s.end_ns.store(now_ns.max(1), Relaxed);
                    if s.word.cmpxchg(w, word(gen, State::Ended), Release).is_ok() {
                        return None;
                    }
                }
                _ => return None,
            }
        }
    }

    /// A consistent copy of slot `i` if it holds a wait the watchdog cares
    /// about (`Live`, `Stalled`, `Ended`).
    pub(crate) fn snapshot(&self, i: usize) -> Option<Snapshot> {
        let s = &self.slots[i];
        let w = s.word.load(Acquire);
        let state = State::of(w);
        if !matches!(state, State::Live | State::Stalled | State::Ended) {
            return None;
        }
        let csd = s.csd.load(Relaxed);
        let mut targets = [0u64; MASK_WORDS];
        for (d, t) in targets.iter_mut().zip(s.targets.iter()) {
            *d = t.load(Relaxed);
        }
        let snap = Snapshot {
            gen: w >> 8,
            state,
            kind: if csd == 0 { Kind::Many } else { Kind::Single },
            task: s.task.load(Relaxed),
            func: s.func.load(Relaxed),
            csd,
            sender: s.sender.load(Relaxed),
            watcher: s.watcher.load(Relaxed),
            start_ns: s.start_ns.load(Relaxed),
            end_ns: s.end_ns.load(Relaxed),
            targets,
        };
        smp_mb(Read);
        let w2 = s.word.load(Relaxed);
        // Live -> Stalled/Ended keeps the fields; only a new claim changes them.
        if w2 >> 8 != snap.gen || State::of(w2) == State::Free {
            return None;
        }
        Some(Snapshot {
            state: State::of(w2),
            end_ns: s.end_ns.load(Relaxed),
            ..snap
        })
    }

    /// The watchdog acted on wait `gen` of slot `i`: `Live` -> `Stalled`.
    /// False if that wait is gone (or was already marked).
    pub(crate) fn mark_stalled(&self, i: usize, gen: u64) -> bool {
        let s = &self.slots[i];
        s.word
            .cmpxchg(word(gen, State::Live), word(gen, State::Stalled), Relaxed)
            .is_ok()
            || State::of(s.word.load(Relaxed)) == State::Stalled && s.word.load(Relaxed) >> 8 == gen
    }

    /// The watchdog closed ended wait `gen` of slot `i`.
    pub(crate) fn release_ended(&self, i: usize, gen: u64) {
        let _ =
            self.slots[i]
                .word
                .cmpxchg(word(gen, State::Ended), word(gen, State::Free), Release);
    }

    /// Record which target wait `i` is blocked on now (`NO_CPU`: none).
    pub(crate) fn set_blocked_on(&self, i: usize, cpu: u32) {
        self.slots[i].blocked_on.store(cpu, Relaxed);
    }

    /// Other in-flight waits blocked on `cpu`, and whether one of them
    /// began before `start_ns` (then that one speaks for the target).
    pub(crate) fn others_on(&self, me: usize, cpu: u32, start_ns: u64) -> (u32, bool) {
        let mut n = 0;
        let mut older = false;
        for (i, s) in self.slots.iter().enumerate() {
            let st = State::of(s.word.load(Acquire));
            if i == me
                || !matches!(st, State::Live | State::Stalled)
                || s.blocked_on.load(Relaxed) != cpu
            {
                continue;
            }
            n += 1;
            let t = s.start_ns.load(Relaxed);
            older |= t < start_ns || (t == start_ns && i < me);
        }
        (n, older)
    }

    /// Some in-flight wait is watched by `cpu`.
    pub(crate) fn watching(&self, cpu: u32) -> bool {
        self.slots.iter().any(|s| {
            matches!(
                State::of(s.word.load(Acquire)),
                State::Live | State::Stalled | State::Ended
            ) && s.watcher.load(Relaxed) == cpu
        })
    }

    /// Hand every wait watched by `from` to `to`; true if there was one.
    pub(crate) fn rehome(&self, from: u32, to: u32) -> bool {
        let mut any = false;
        for s in &self.slots {
            if s.watcher.load(Relaxed) == from
                && State::of(s.word.load(Acquire)) != State::Free
                && s.watcher.cmpxchg(from, to, Relaxed).is_ok()
            {
                any = true;
            }
        }
        any
    }

    /// Waits in flight now.
    pub(crate) fn in_flight(&self) -> u64 {
        self.slots
            .iter()
            .filter(|s| {
                matches!(
                    State::of(s.word.load(Relaxed)),
                    State::Live | State::Stalled
                )
            })
            .count() as u64
    }
}

#[kunit_tests(csdwatch_waits)]
mod tests {
    use super::*;

    fn nw(task: usize, cpu: u32) -> NewWait {
        NewWait {
            task,
            func: 0x1234,
            csd: 0,
            cpu,
            start_ns: 100,
        }
    }

    #[test]
    fn quiet_wait_frees_its_slot() {
        let t = Table::<4>::new();
        let i = t.begin_many(&nw(1, 2), &[0b1010]).unwrap();
        assert_eq!(t.in_flight(), 1);
        assert!(t.watching(2));
        let s = t.snapshot(i).unwrap();
        assert_eq!(s.kind, Kind::Many);
        let mut it = s.targets();
        assert_eq!((it.next(), it.next(), it.next()), (Some(1), Some(3), None));
        assert_eq!(t.end(i, 200), Some((2, 100)));
        assert!(t.snapshot(i).is_none());
        assert!(!t.watching(2));
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn single_is_ignored_until_queued() {
        let t = Table::<4>::new();
        let i = t.begin_single(7, 0, 50).unwrap();
        assert!(t.snapshot(i).is_none());
        assert_eq!(t.pending_of(7), Some(i));
        assert_eq!(t.pending_of(8), None);
        let q = NewWait {
            csd: 0xc5d,
            ..nw(7, 1)
        };
        t.queue_single(i, &q, 3);
        let s = t.snapshot(i).unwrap();
        assert_eq!(s.kind, Kind::Single);
        assert_eq!(s.state, State::Live);
        let mut it = s.targets();
        assert_eq!((it.next(), it.next()), (Some(3), None));
        assert_eq!(s.watcher, 1);
    }

    #[test]
    fn pending_that_never_queued_is_freed() {
        let t = Table::<4>::new();
        let i = t.begin_single(7, 0, 50).unwrap();
        assert_eq!(t.end(i, 60), None);
        assert_eq!(t.pending_of(7), None);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn stalled_wait_is_closed_by_the_watchdog() {
        let t = Table::<4>::new();
        let i = t.begin_many(&nw(1, 2), &[0b10]).unwrap();
        let gen = t.snapshot(i).unwrap().gen;
        assert!(t.mark_stalled(i, gen));
        assert_eq!(t.end(i, 900), None);
        let s = t.snapshot(i).unwrap();
        assert_eq!(s.state, State::Ended);
        assert_eq!(s.end_ns, 900);
        assert!(t.watching(2));
        t.release_ended(i, gen);
        assert!(t.snapshot(i).is_none());
        assert!(!t.watching(2));
    }

    #[test]
    fn a_reused_slot_is_a_new_wait() {
        let t = Table::<4>::new();
        let i = t.begin_many(&nw(1, 2), &[0b10]).unwrap();
        let old = t.snapshot(i).unwrap().gen;
        t.end(i, 10);
        let j = t.begin_many(&nw(2, 2), &[0b100]).unwrap();
        assert_eq!(i, j);
        assert!(t.snapshot(j).unwrap().gen != old);
        // the watchdog's stale view of the old wait changes nothing
        assert!(!t.mark_stalled(j, old));
        assert_eq!(t.snapshot(j).unwrap().state, State::Live);
    }

    #[test]
    fn full_table_refuses() {
        let t = Table::<4>::new();
        for k in 0..4 {
            assert!(t.begin_many(&nw(k, 0), &[1]).is_some());
        }
        assert!(t.begin_many(&nw(99, 0), &[1]).is_none());
    }

    #[test]
    fn oldest_waiter_speaks_for_a_target() {
        let t = Table::<4>::new();
        let a = t
            .begin_many(
                &NewWait {
                    start_ns: 10,
                    ..nw(1, 0)
                },
                &[0b10],
            )
            .unwrap();
        let b = t
            .begin_many(
                &NewWait {
                    start_ns: 20,
                    ..nw(2, 2)
                },
                &[0b10],
            )
            .unwrap();
        t.set_blocked_on(a, 1);
        t.set_blocked_on(b, 1);
        assert_eq!(t.others_on(a, 1, 10), (1, false));
        assert_eq!(t.others_on(b, 1, 20), (1, true));
    }

    #[test]
    fn rehome_moves_watched_waits() {
        let t = Table::<4>::new();
        let i = t.begin_many(&nw(1, 3), &[0b1]).unwrap();
        assert!(t.rehome(3, 0));
        assert!(!t.watching(3));
        assert!(t.watching(0));
        assert_eq!(t.snapshot(i).unwrap().watcher, 0);
        assert!(!t.rehome(3, 0));
    }
}
