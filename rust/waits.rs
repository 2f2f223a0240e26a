// SPDX-License-Identifier: GPL-2.0

//! The table of synchronous cross-CPU waits in flight.
//!
//! The sender hooks claim a slot when a waiter starts and end it when the
//! waiter returns; the watchdog of the CPU named `watcher` reads it. A
//! wait is tracked by its task and csd, not by the CPU it began on: the
//! waiter may be preempted and migrate while it waits (PREEMPT_RT).
//!
//! Lock-free and allocation-free after load, so every hook may use it. The
//! table is sized at load from `nr_cpu_ids` (two slots per possible CPU, at
//! least 64), and a claim starts at a slot picked by hashing the task, so
//! CPUs do not all contend on slot 0 and a task finds its own pending slot
//! in O(1) expected. Invariants:
//! - `word` is `gen << 32 | watcher << 8 | state`. The watcher, the CPU
//!   whose watchdog looks after the wait, is in the word so that a move to
//!   another CPU (`rehome`, when it goes offline) and the waiter's end are
//!   ordered by one cmpxchg: the end's count of -1 always goes to the CPU
//!   that had the +1 (a separate field let a rehome land between the end's
//!   read of it and its cmpxchg, leaving the heir counted one too high for
//!   ever, its stand-in ticking). `gen` grows by one at every claim, so a
//!   reader that saw `(gen, state)` before and after reading the fields saw
//!   one wait, not a mix of two (a seqcount, with the state in it). The
//!   claim is a fully ordered cmpxchg, so the field stores that follow it
//!   cannot become visible before the new `gen` (the seqcount writer's
//!   `smp_wmb()`), and readers load the word again, with acquire, after a
//!   read barrier.
//! - The fields other than `word`, `end_ns` and `blocked_on` are written only
//!   by the claimer while the slot is `Claimed`/`Pending`, before the release
//!   store that makes it `Live`.
//! - Only the waiter moves `Live` to `Free` (it ended before any action) or
//!   `Stalled` to `Ended`; only the watchdog moves `Live` to `Stalled` and
//!   `Ended` to `Free`. Every such move is a cmpxchg on the whole word.

use crate::kcompat::atomic::{
    ordering::{Acquire, Full, Relaxed, Release},
    Atomic,
};
use crate::kcompat::barrier::{smp_mb, Read};
use crate::kcompat::Table;
use kernel::alloc::{AllocError, Flags};
use kernel::prelude::*;

/// Fewest slots in the table.
pub(crate) const MIN_WAITS: usize = 64;
/// Slots per possible CPU: one waiter spinning and one preempted (RT).
pub(crate) const WAITS_PER_CPU: usize = 2;
/// Slots a wait keyed by its csd may take, from its csd's home slot on
/// (`hooks=tracepoints`): the target's end looks at these only.
pub(crate) const CSD_PROBES: usize = 4;
/// `target`/`blocked_on` when no CPU is meant.
pub(crate) const NO_CPU: u32 = u32::MAX;

/// Slots for a machine with `nr_cpu_ids` possible CPUs.
pub(crate) fn table_size(nr_cpu_ids: u32) -> usize {
    (nr_cpu_ids as usize)
        .saturating_mul(WAITS_PER_CPU)
        .max(MIN_WAITS)
}

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

/// Bits of the watcher in the word (CPU ids up to 2^24).
const WATCHER_MASK: u64 = 0xff_ffff;

const fn word(gen: u64, watcher: u32, s: State) -> u64 {
    gen << 32 | (watcher as u64 & WATCHER_MASK) << 8 | s as u64
}

const fn gen_of(w: u64) -> u64 {
    w >> 32
}

const fn watcher_of(w: u64) -> u32 {
    ((w >> 8) & WATCHER_MASK) as u32
}

/// `w` in state `s`, its generation and watcher kept.
const fn with_state(w: u64, s: State) -> u64 {
    (w & !0xff) | s as u64
}

/// Is a wait in state `w` in flight (its watcher counts it)?
fn in_flight(w: u64) -> bool {
    matches!(State::of(w), State::Live | State::Stalled | State::Ended)
}

/// What the wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `smp_call_function_single()` and friends: one csd, one target.
    Single,
    /// `smp_call_function_many_cond()`: the sender CPU's per-target csds
    /// (`cfd_data`); the targets are those csds that are still locked.
    Many,
}

/// One wait.
pub(crate) struct Slot {
    word: Atomic<u64>,
    task: Atomic<usize>,
    func: Atomic<usize>,
    /// Many: the function's argument (0 for Single).
    info: Atomic<usize>,
    /// Single: the csd. Many: 0 (the csds are the sender's `cfd_data`).
    csd: Atomic<usize>,
    /// Single: the target CPU. Many: `NO_CPU`.
    target: Atomic<u32>,
    /// CPU the wait was queued from.
    sender: Atomic<u32>,
    start_ns: Atomic<u64>,
    end_ns: Atomic<u64>,
    /// Target it is stuck on, as the watchdog last saw it (for grouping).
    blocked_on: Atomic<u32>,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            word: Atomic::new(0),
            task: Atomic::new(0),
            func: Atomic::new(0),
            info: Atomic::new(0),
            csd: Atomic::new(0),
            target: Atomic::new(NO_CPU),
            sender: Atomic::new(0),
            start_ns: Atomic::new(0),
            end_ns: Atomic::new(0),
            blocked_on: Atomic::new(NO_CPU),
        }
    }

    /// Write what a wait is about; only while its claimer owns the slot
    /// (`Claimed`/`Pending`), before the release store that makes it live.
    fn fill(&self, nw: &NewWait, target: u32) {
        self.func.store(nw.func, Relaxed);
        self.info.store(nw.info, Relaxed);
        self.csd.store(nw.csd, Relaxed);
        self.target.store(target, Relaxed);
        self.sender.store(nw.cpu, Relaxed);
        self.start_ns.store(nw.start_ns, Relaxed);
    }
}

/// The table of slots, allocated at load.
pub(crate) struct Waits {
    slots: Table<Slot>,
}

/// What a claimer fills in.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewWait {
    /// The waiting task (opaque).
    pub task: usize,
    /// The queued function (address).
    pub func: usize,
    /// Many: the function's argument (`smp_call_function_many_cond()`'s
    /// `info`, opaque); 0 for Single.
    pub info: usize,
    /// The csd (Single) or 0 (Many).
    pub csd: usize,
    /// CPU it was queued from; its watchdog watches it.
    pub cpu: u32,
    /// When it began.
    pub start_ns: u64,
}

/// End the wait in `s` (of generation `gen` only, if given) at `now_ns`:
/// see [`Waits::end`].
fn end_slot(s: &Slot, gen: Option<u64>, now_ns: u64) -> Option<(u32, u64)> {
    loop {
        let w = s.word.load(Acquire);
        if gen.is_some_and(|g| g != gen_of(w)) {
            return None;
        }
        match State::of(w) {
            State::Pending => {
                // local or refused target: never went live
                if s.word
                    .cmpxchg(w, with_state(w, State::Free), Release)
                    .is_ok()
                {
                    return None;
                }
            }
            State::Live => {
                // the watcher freed from: the one in the word swapped
                let r = (watcher_of(w), s.start_ns.load(Relaxed));
                if s.word
                    .cmpxchg(w, with_state(w, State::Free), Release)
                    .is_ok()
                {
                    return Some(r);
                }
            }
            State::Stalled => {
                s.end_ns.store(now_ns.max(1), Relaxed);
                if s.word
                    .cmpxchg(w, with_state(w, State::Ended), Release)
                    .is_ok()
                {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// What [`Waits::end_csd`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CsdEnd {
    /// The waiting task (opaque).
    pub task: usize,
    /// CPU it was queued from.
    pub sender: u32,
    /// As [`Waits::end`]: the watcher and start time if the slot is free
    /// again, `None` if the watchdog acted and now closes it.
    pub freed: Option<(u32, u64)>,
    /// When it ended.
    pub now: u64,
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
    /// Its argument (Many; opaque).
    pub info: usize,
    /// The csd (Single).
    pub csd: usize,
    /// The target (Single), `NO_CPU` (Many).
    pub target: u32,
    /// CPU it was queued from.
    pub sender: u32,
    /// CPU whose watchdog looks after it.
    pub watcher: u32,
    /// When it began.
    pub start_ns: u64,
    /// When the waiter returned (`Ended`).
    pub end_ns: u64,
}

/// Where the search for a task's slot starts (Fibonacci hashing).
fn home(key: usize, n: usize) -> usize {
    ((key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize % n.max(1)
}

impl Waits {
    /// An empty table of `n` slots.
    pub(crate) fn new(n: usize, flags: Flags) -> Result<Self, AllocError> {
        let slots = crate::kcompat::filled(n, flags, Slot::new)?;
        Ok(Waits { slots })
    }

    /// Number of slots.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Slot indices in search order for `key`: its home slot, then onward.
    fn ring(&self, key: usize) -> impl Iterator<Item = usize> {
        let n = self.slots.len();
        let h = home(key, n);
        Iterator::chain(h..n, 0..h)
    }

    fn claim(&self, nw: &NewWait, state: State, target: u32) -> Option<usize> {
        self.claim_in(self.ring(nw.task), nw, state, target)
    }

    fn claim_in(
        &self,
        ring: impl Iterator<Item = usize>,
        nw: &NewWait,
        state: State,
        target: u32,
    ) -> Option<usize> {
        for i in ring {
            let s = &self.slots[i];
            let w = s.word.load(Relaxed);
            if State::of(w) != State::Free {
                continue;
            }
            let gen = gen_of(w) + 1;
            // Full: the field stores below must not be seen before the new gen.
            if s.word
                .cmpxchg(w, word(gen, nw.cpu, State::Claimed), Full)
                .is_err()
            {
                continue;
            }
            s.task.store(nw.task, Relaxed);
            s.end_ns.store(0, Relaxed);
            s.blocked_on.store(NO_CPU, Relaxed);
            s.fill(nw, target);
            s.word.store(word(gen, nw.cpu, state), Release);
            return Some(i);
        }
        None
    }

    /// A `smp_call_function_single()` waiter began: reserve a slot that the
    /// watchdog ignores until [`Waits::queue_single`] names csd and target.
    pub(crate) fn begin_single(&self, task: usize, cpu: u32, now_ns: u64) -> Option<usize> {
        let nw = NewWait {
            task,
            func: 0,
            info: 0,
            csd: 0,
            cpu,
            start_ns: now_ns,
        };
        self.claim(&nw, State::Pending, NO_CPU)
    }

    /// The pending slot of `task`, if it has one.
    pub(crate) fn pending_of(&self, task: usize) -> Option<usize> {
        self.ring(task).find(|&i| {
            let s = &self.slots[i];
            State::of(s.word.load(Acquire)) == State::Pending && s.task.load(Relaxed) == task
        })
    }

    /// The csd of pending slot `i` was queued for `target` from `cpu`: it is
    /// now a live wait, watched by `cpu`. False if `i` was not pending.
    pub(crate) fn queue_single(&self, i: usize, nw: &NewWait, target: u32) -> bool {
        let Some(s) = self.slots.get(i) else {
            return false;
        };
        let w = s.word.load(Relaxed);
        if State::of(w) != State::Pending {
            return false;
        }
        s.fill(nw, target);
        s.word.store(word(gen_of(w), nw.cpu, State::Live), Release);
        true
    }

    /// The csd of a `smp_call_function_single()` waiter is pushed onto
    /// `target`'s queue (`hooks=tracepoints`: the `csd_queue_cpu` event,
    /// before the node is added; no probe on the waiter): a live wait at
    /// once, in one of the [`CSD_PROBES`] slots from its csd's home, where
    /// the target's [`Waits::end_csd`] finds it. `None`: those are taken.
    pub(crate) fn begin_single_csd(&self, nw: &NewWait, target: u32) -> Option<usize> {
        self.claim_in(self.ring(nw.csd).take(CSD_PROBES), nw, State::Live, target)
    }

    /// A function run from `csd` returned on its target at `now_ns` (the
    /// `csd_function_exit` event; for a synchronous csd it fires before
    /// the unlock its waiter spins on). If a wait begun by
    /// [`Waits::begin_single_csd`] has that csd, end it. Only the pointer
    /// is compared: an async csd may be freed by now.
    /// `now` is read only when one is found (the clock is most of what a
    /// miss would cost: every async, remote-wakeup and many-CPU csd misses).
    pub(crate) fn end_csd(&self, csd: usize, now: impl FnOnce() -> u64) -> Option<CsdEnd> {
        let n = self.slots.len();
        let mut i = home(csd, n);
        for _ in 0..CSD_PROBES.min(n) {
            let s = &self.slots[i];
            i = if i + 1 == n { 0 } else { i + 1 };
            // the csd first: one load tells most slots apart
            if s.csd.load(Relaxed) != csd {
                continue;
            }
            let w = s.word.load(Acquire);
            if !matches!(State::of(w), State::Live | State::Stalled) || s.csd.load(Relaxed) != csd {
                continue;
            }
            let (task, sender) = (s.task.load(Relaxed), s.sender.load(Relaxed));
            smp_mb(Read);
            // the fields read are those of the wait of generation gen_of(w)
            if gen_of(s.word.load(Relaxed)) != gen_of(w) {
                continue;
            }
            let end = now();
            return Some(CsdEnd {
                task,
                sender,
                freed: end_slot(s, Some(gen_of(w)), end),
                now: end,
            });
        }
        None
    }

    /// A many-target waiter began: a live wait on the sender's csds.
    pub(crate) fn begin_many(&self, nw: &NewWait) -> Option<usize> {
        self.claim(nw, State::Live, NO_CPU)
    }

    /// The waiter of slot `i` returned at `now_ns`. Returns the slot's
    /// watcher and start time if the wait ended before anything was done
    /// about it (the slot is free again), `None` if the watchdog will close
    /// it or it never went live.
    pub(crate) fn end(&self, i: usize, now_ns: u64) -> Option<(u32, u64)> {
        end_slot(self.slots.get(i)?, None, now_ns)
    }

    /// A consistent copy of slot `i` if it holds a wait the watchdog cares
    /// about (`Live`, `Stalled`, `Ended`).
    pub(crate) fn snapshot(&self, i: usize) -> Option<Snapshot> {
        let s = self.slots.get(i)?;
        let w = s.word.load(Acquire);
        let state = State::of(w);
        if !matches!(state, State::Live | State::Stalled | State::Ended) {
            return None;
        }
        let csd = s.csd.load(Relaxed);
        let snap = Snapshot {
            gen: gen_of(w),
            state,
            kind: if csd == 0 { Kind::Many } else { Kind::Single },
            task: s.task.load(Relaxed),
            func: s.func.load(Relaxed),
            info: s.info.load(Relaxed),
            csd,
            target: s.target.load(Relaxed),
            sender: s.sender.load(Relaxed),
            watcher: watcher_of(w),
            start_ns: s.start_ns.load(Relaxed),
            end_ns: 0,
        };
        smp_mb(Read);
        // Acquire: `end_ns` is written before the release that makes the
        // slot `Ended`, so reading it after this load sees that value.
        let w2 = s.word.load(Acquire);
        // Live -> Stalled/Ended keeps the fields; only a new claim changes them.
        if gen_of(w2) != snap.gen || State::of(w2) == State::Free {
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
        loop {
            let w = s.word.load(Relaxed);
            if gen_of(w) != gen {
                return false;
            }
            match State::of(w) {
                // a failure: the waiter ended, or its watcher moved; again
                State::Live => {
                    if s.word
                        .cmpxchg(w, with_state(w, State::Stalled), Relaxed)
                        .is_ok()
                    {
                        return true;
                    }
                }
                State::Stalled => return true,
                _ => return false,
            }
        }
    }

    /// The watchdog closes ended wait `gen` of slot `i`: the CPU that
    /// watched it (whose count of watched waits drops), or `None` if that
    /// wait is not `Ended`.
    pub(crate) fn release_ended(&self, i: usize, gen: u64) -> Option<u32> {
        let s = &self.slots[i];
        loop {
            let w = s.word.load(Relaxed);
            if gen_of(w) != gen || State::of(w) != State::Ended {
                return None;
            }
            if s.word
                .cmpxchg(w, with_state(w, State::Free), Release)
                .is_ok()
            {
                return Some(watcher_of(w));
            }
        }
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

    /// Whether another many-target wait from `sender` began after
    /// `start_ns` and is still in flight. Both use `sender`'s per-CPU csds
    /// (`cfd_data`): on 7.x a waiter spins with preemption on, so once its
    /// own csds have run, a later call from that CPU (another task, while
    /// this one is preempted) locks the same csds, with the same function
    /// if it comes from the same call site. Those are the later call's to
    /// watch, aged from its start.
    pub(crate) fn overtaken(&self, me: usize, sender: u32, start_ns: u64) -> bool {
        self.slots.iter().enumerate().any(|(i, s)| {
            i != me
                && matches!(
                    State::of(s.word.load(Acquire)),
                    State::Live | State::Stalled
                )
                && s.csd.load(Relaxed) == 0
                && s.sender.load(Relaxed) == sender
                && s.start_ns.load(Relaxed) > start_ns
        })
    }

    /// In-flight waits watched by `cpu` (Live, Stalled, Ended).
    pub(crate) fn watched_by(&self, cpu: u32) -> u32 {
        self.slots
            .iter()
            .filter(|s| {
                let w = s.word.load(Acquire);
                in_flight(w) && watcher_of(w) == cpu
            })
            .count() as u32
    }

    /// Hand every in-flight wait watched by `from` to `to`; how many moved.
    /// (A `Pending` one is not watched yet: it takes the CPU it is queued
    /// from as its watcher when it goes live.) `count_to(d)` is called with
    /// +1 before each move is tried and -1 if it failed, so `to`'s count of
    /// watched waits is never below what `to`'s watchdog can see. A move
    /// and the waiter's end (or the watchdog's close) are one cmpxchg each
    /// on the same word: whichever comes second sees the other, so the
    /// end's -1 goes to the CPU the wait was watched by when it ended.
    pub(crate) fn rehome(&self, from: u32, to: u32, mut count_to: impl FnMut(i32)) -> u32 {
        let mut n = 0;
        for s in self.slots.iter() {
            loop {
                let w = s.word.load(Acquire);
                if watcher_of(w) != from || !in_flight(w) {
                    break;
                }
                count_to(1);
                let moved = (w & !(WATCHER_MASK << 8)) | (u64::from(to) & WATCHER_MASK) << 8;
                if s.word.cmpxchg(w, moved, Full).is_ok() {
                    n += 1;
                    break;
                }
                // it ended, was closed or marked meanwhile: look again
                count_to(-1);
            }
        }
        n
    }

    /// Targets the waits watched by `from` are blocked on (for choosing an
    /// heir that is not one of them); calls `f` with each.
    pub(crate) fn blocked_targets_of(&self, from: u32, mut f: impl FnMut(u32)) {
        for s in self.slots.iter() {
            let b = s.blocked_on.load(Relaxed);
            let w = s.word.load(Acquire);
            if watcher_of(w) == from
                && b != NO_CPU
                && matches!(State::of(w), State::Live | State::Stalled)
            {
                f(b);
            }
        }
    }

    /// Is `cpu` tied up by a wait in flight: a waiter spinning there (its
    /// sender) or a target a wait is blocked on? (For choosing a CPU to do
    /// work for the watchdog: such a CPU may not run it until the stall
    /// ends.)
    pub(crate) fn tied_up(&self, cpu: u32) -> bool {
        self.slots.iter().any(|s| {
            (s.sender.load(Relaxed) == cpu || s.blocked_on.load(Relaxed) == cpu)
                && matches!(
                    State::of(s.word.load(Acquire)),
                    State::Live | State::Stalled
                )
        })
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

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_waits)]
mod tests {
    use super::*;
    use core::cell::Cell;

    fn nw(task: usize, cpu: u32) -> NewWait {
        NewWait {
            task,
            func: 0x1234,
            info: 0,
            csd: 0,
            cpu,
            start_ns: 100,
        }
    }

    fn table(n: usize) -> Waits {
        Waits::new(n, GFP_KERNEL).expect("small allocation")
    }

    #[test]
    fn sized_from_possible_cpus() {
        assert_eq!(table_size(4), MIN_WAITS);
        assert_eq!(table_size(300), 600);
        assert_eq!(table_size(8192), 16384);
    }

    #[test]
    fn quiet_wait_frees_its_slot() {
        let t = table(4);
        let i = t.begin_many(&nw(1, 2)).unwrap();
        assert_eq!(t.in_flight(), 1);
        assert_eq!(t.watched_by(2), 1);
        let s = t.snapshot(i).unwrap();
        assert_eq!(s.kind, Kind::Many);
        assert_eq!(s.target, NO_CPU);
        assert_eq!(t.end(i, 200), Some((2, 100)));
        assert!(t.snapshot(i).is_none());
        assert_eq!(t.watched_by(2), 0);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn a_wait_begun_at_its_push_is_ended_by_its_csd() {
        let t = table(4);
        let w = |csd, task| NewWait { csd, ..nw(task, 1) };
        let i = t.begin_single_csd(&w(0xc5d0, 7), 3).unwrap();
        let s = t.snapshot(i).unwrap();
        assert_eq!(
            (s.kind, s.state, s.target, s.watcher),
            (Kind::Single, State::Live, 3, 1)
        );
        assert_eq!(t.watched_by(1), 1);
        // another csd's function (an async csd, a cfd csd) ends nothing
        assert_eq!(t.end_csd(0xc5e0, || 150), None);
        assert_eq!(
            t.end_csd(0xc5d0, || 150),
            Some(CsdEnd {
                task: 7,
                sender: 1,
                freed: Some((1, 100)),
                now: 150,
            })
        );
        assert_eq!(t.in_flight(), 0);
        // once: the csd's next run is not this wait's
        assert_eq!(t.end_csd(0xc5d0, || 160), None);
        // a stalled one is left for the watchdog to close
        let j = t.begin_single_csd(&w(0xc5d0, 8), 2).unwrap();
        let g = t.snapshot(j).unwrap().gen;
        assert!(t.mark_stalled(j, g));
        let e = t.end_csd(0xc5d0, || 170).unwrap();
        assert_eq!((e.task, e.freed), (8, None));
        assert_eq!(t.snapshot(j).unwrap().state, State::Ended);
        assert_eq!(t.release_ended(j, g), Some(1));
        // the csd's home and the slots after it are all it may take
        for k in 0..CSD_PROBES {
            assert!(t.begin_single_csd(&w(0xc5d0, 20 + k), 1).is_some());
        }
        assert!(t.begin_single_csd(&w(0xc5d0, 99), 1).is_none());
        for _ in 0..CSD_PROBES {
            assert!(t.end_csd(0xc5d0, || 200).is_some());
        }
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn single_is_ignored_until_queued() {
        let t = table(4);
        let i = t.begin_single(7, 0, 50).unwrap();
        assert!(t.snapshot(i).is_none());
        assert_eq!(t.pending_of(7), Some(i));
        assert_eq!(t.pending_of(8), None);
        let q = NewWait {
            csd: 0xc5d,
            ..nw(7, 1)
        };
        assert!(t.queue_single(i, &q, 3));
        let s = t.snapshot(i).unwrap();
        assert_eq!(s.kind, Kind::Single);
        assert_eq!(s.state, State::Live);
        assert_eq!(s.target, 3);
        assert_eq!(s.watcher, 1);
        // queued once only
        assert!(!t.queue_single(i, &q, 2));
    }

    #[test]
    fn pending_that_never_queued_is_freed() {
        let t = table(4);
        let i = t.begin_single(7, 0, 50).unwrap();
        assert_eq!(t.end(i, 60), None);
        assert_eq!(t.pending_of(7), None);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn stalled_wait_is_closed_by_the_watchdog() {
        let t = table(4);
        let i = t.begin_many(&nw(1, 2)).unwrap();
        let gen = t.snapshot(i).unwrap().gen;
        assert!(t.mark_stalled(i, gen));
        assert_eq!(t.end(i, 900), None);
        let s = t.snapshot(i).unwrap();
        assert_eq!(s.state, State::Ended);
        assert_eq!(s.end_ns, 900);
        assert_eq!(t.watched_by(2), 1);
        assert_eq!(t.release_ended(i, gen), Some(2));
        assert_eq!(t.release_ended(i, gen), None);
        assert!(t.snapshot(i).is_none());
        assert_eq!(t.watched_by(2), 0);
    }

    #[test]
    fn a_reused_slot_is_a_new_wait() {
        let t = table(1);
        let i = t.begin_many(&nw(1, 2)).unwrap();
        let old = t.snapshot(i).unwrap().gen;
        t.end(i, 10);
        let j = t.begin_many(&nw(2, 2)).unwrap();
        assert_eq!(i, j);
        assert!(t.snapshot(j).unwrap().gen != old);
        // the watchdog's stale view of the old wait changes nothing
        assert!(!t.mark_stalled(j, old));
        assert_eq!(t.snapshot(j).unwrap().state, State::Live);
    }

    #[test]
    fn full_table_refuses() {
        let t = table(4);
        for k in 0..4 {
            assert!(t.begin_many(&nw(k, 0)).is_some());
        }
        assert!(t.begin_many(&nw(99, 0)).is_none());
    }

    #[test]
    fn tasks_start_at_different_slots() {
        // kernel task_structs are slab objects a few KiB apart
        let t = table(64);
        let mut used = [false; 64];
        for k in 0..8usize {
            let i = t
                .begin_many(&nw(0xffff_8880_0100_0000 + k * 0x2680, 0))
                .unwrap();
            used[i] = true;
        }
        assert_eq!(used.iter().filter(|&&u| u).count(), 8);
        // claiming from slot 0 upward (the contended old way) fills 0..8
        assert!(!used[..8].iter().all(|&u| u));
    }

    #[test]
    fn oldest_waiter_speaks_for_a_target() {
        let t = table(4);
        let a = t
            .begin_many(&NewWait {
                start_ns: 10,
                ..nw(1, 0)
            })
            .unwrap();
        let b = t
            .begin_many(&NewWait {
                start_ns: 20,
                ..nw(2, 2)
            })
            .unwrap();
        t.set_blocked_on(a, 1);
        t.set_blocked_on(b, 1);
        assert_eq!(t.others_on(a, 1, 10), (1, false));
        assert_eq!(t.others_on(b, 1, 20), (1, true));
    }

    #[test]
    fn a_later_call_from_the_same_cpu_overtakes() {
        let t = table(4);
        let a = t
            .begin_many(&NewWait {
                start_ns: 10,
                ..nw(1, 0)
            })
            .unwrap();
        assert!(!t.overtaken(a, 0, 10));
        // another CPU's call, and a single call from CPU 0, use other csds
        let other = t
            .begin_many(&NewWait {
                start_ns: 20,
                ..nw(2, 1)
            })
            .unwrap();
        let single = t.begin_single(3, 0, 20).unwrap();
        assert!(t.queue_single(
            single,
            &NewWait {
                csd: 0xc5d,
                start_ns: 20,
                ..nw(3, 0)
            },
            2
        ));
        assert!(!t.overtaken(a, 0, 10));
        // a later many-call from CPU 0 does; the earlier one does not for it
        let b = t
            .begin_many(&NewWait {
                start_ns: 30,
                ..nw(4, 0)
            })
            .unwrap();
        assert!(t.overtaken(a, 0, 10));
        assert!(!t.overtaken(b, 0, 30));
        // once it returned, the csds are free of it again
        assert_eq!(t.end(b, 40), Some((0, 30)));
        assert!(!t.overtaken(a, 0, 10));
        t.end(other, 40);
        t.end(single, 40);
    }

    #[test]
    fn rehome_moves_watched_waits() {
        let t = table(4);
        let i = t.begin_many(&nw(1, 3)).unwrap();
        t.set_blocked_on(i, 2);
        let mut blocked = NO_CPU;
        t.blocked_targets_of(3, |c| blocked = c);
        assert_eq!(blocked, 2);
        let mut counted = 0;
        assert_eq!(t.rehome(3, 0, |d| counted += d), 1);
        assert_eq!(counted, 1);
        assert_eq!(t.watched_by(3), 0);
        assert_eq!(t.watched_by(0), 1);
        assert_eq!(t.snapshot(i).unwrap().watcher, 0);
        let mut tried = 0;
        assert_eq!(t.rehome(3, 0, |_| tried += 1), 0);
        // a pending wait is not watched yet: not moved, not counted
        let p = t.begin_single(9, 3, 5).unwrap();
        assert_eq!(t.rehome(3, 1, |_| tried += 1), 0);
        assert_eq!(tried, 0);
        assert_eq!(t.end(p, 6), None);
    }

    /// Counts of watched waits per CPU, as `Target::watch` keeps them.
    struct Counts([Cell<i32>; 4]);

    impl Counts {
        fn new() -> Self {
            Counts([Cell::new(0), Cell::new(0), Cell::new(0), Cell::new(0)])
        }
        fn add(&self, cpu: u32, d: i32) {
            let c = &self.0[cpu as usize];
            c.set(c.get() + d);
        }
        fn get(&self, cpu: u32) -> i32 {
            self.0[cpu as usize].get()
        }
    }

    #[test]
    fn a_waiter_ending_during_a_rehome_is_counted_off_once() {
        // Watcher 3 goes offline; rehome() to heir 0 has read the live wait
        // and counted +1 on 0 when the waiter (on another CPU) returns:
        // the count_to callback runs exactly there. The end's -1 must go
        // to the CPU that holds the +1 for the wait in the end, and the
        // heir must not keep one for a wait that is gone (it would look
        // watched and overdue for ever, a stand-in ticking for it).
        let t = table(4);
        let c = Counts::new();
        let i = t.begin_many(&nw(1, 3)).unwrap();
        c.add(3, 1); // hooks: the new wait's watcher counts it
        let moved = t.rehome(3, 0, |d| {
            c.add(0, d);
            if d > 0 {
                if let Some((w, _)) = t.end(i, 50) {
                    c.add(w, -1);
                }
            }
        });
        c.add(3, -(moved as i32)); // hooks::rehome: the moved ones leave 3
        assert_eq!(moved, 0);
        assert_eq!(t.in_flight(), 0);
        assert_eq!((c.get(3), c.get(0)), (0, 0));
    }

    #[test]
    fn a_wait_closed_after_a_rehome_is_counted_off_the_heir() {
        // Stalled, then ended while watched by 3; 3 goes offline before
        // its watchdog closed it: the close (by the heir's watchdog, from
        // a snapshot taken before the move) counts it off the heir.
        let t = table(4);
        let c = Counts::new();
        let i = t.begin_many(&nw(1, 3)).unwrap();
        c.add(3, 1);
        let gen = t.snapshot(i).unwrap().gen;
        assert!(t.mark_stalled(i, gen));
        assert_eq!(t.end(i, 40), None);
        let moved = t.rehome(3, 0, |d| c.add(0, d));
        c.add(3, -(moved as i32));
        assert_eq!(moved, 1);
        let w = t.release_ended(i, gen).unwrap();
        c.add(w, -1);
        assert_eq!(w, 0);
        assert_eq!((c.get(3), c.get(0)), (0, 0));
    }
}
