// SPDX-License-Identifier: GPL-2.0

//! Why a call's IPI was lost: never sent, or sent and never taken.
//!
//! Seed 000's bug is a sender preempted between `llist_add()` and its IPI:
//! the push that found the target's queue empty owed the IPI and never
//! sent it. A hypervisor or interrupt-controller bug loses an IPI that was
//! sent. Per target CPU, one [`Origin`] keeps what tells the two apart:
//! - the first push seen since the target's last flush entry: when, from
//!   which CPU and task (the push that found the queue empty owes the
//!   IPI), or that the queue already held a call no probe saw pushed
//!   (queued before csdwatch was loaded, or not through
//!   `__smp_call_single_queue`);
//! - whether that push was a `smp_call_function_many_cond()` target, seen
//!   at the call's entry: its `cond_func` may then leave the target out
//!   (a TLB flush skips a lazy CPU), and that push queued nothing. Such a
//!   record counts only while the sender's csd for the target stands
//!   (the caller's `stands(sender)`, shim.c's `csdw_cfd_stands()`);
//! - the last call-function IPI the kernel sent it (csdwatch's own resends
//!   left out), from probes on the arch's send functions.
//!
//! [`Origin::why`] reads them at report time; it is pure, KUnit-tested.
//! Writers are the push probes (any context, any CPU) and the IPI probes:
//! all atomics. A record is several words written one by one, under a
//! seqcount (`seq`): a writer takes it from even to odd with a cmpxchg, so
//! two pushes racing to record (both found the queue empty) never
//! interleave their words: the loser records nothing, the winner's record
//! being as much the episode's first. A reader that sees `seq` odd or
//! changed retries once, then takes what it has (a report line, never a
//! decision).

use crate::kcompat::atomic::{
    ordering::{Acquire, Full, Relaxed, Release},
    Atomic,
};
use crate::kcompat::barrier::{smp_mb, Read};

/// Who made a push.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pusher {
    /// Its CPU.
    pub cpu: u32,
    /// Its task (`task_struct` address, only compared, never dereferenced
    /// here) and pid.
    pub task: usize,
    pub pid: u32,
    /// A `smp_call_function_many_cond()` target, seen at the call's entry.
    pub cfd: bool,
    /// The node it pushed (0: not known, as for those entry records).
    pub node: usize,
}

/// The first push of a target's current episode, as [`Origin::why`] sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum First {
    /// This push found the queue empty: it owed the IPI.
    By(Pusher),
    /// Likewise, made from interrupt context on `cpu` (no task owes it).
    InIrq { cpu: u32 },
    /// The queue already held a call that no probe saw pushed.
    Unseen,
}

/// Why the target has not taken its calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Why {
    /// No push seen since the target's last flush entry (queued before
    /// csdwatch was loaded, or the probes do not see the IPI sends), or
    /// the one seen was a conditional cross-call's that left it out.
    Unknown,
    /// A flush went unseen (its entry probe was skipped) since the first
    /// push: it may have served that push, so the record is not trusted.
    Unsure,
    /// The first push was `ago_ns` ago and no IPI was sent since.
    NotSent { first: First, ago_ns: u64 },
    /// The first push was `ago_ns` ago and no IPI was sent since, because
    /// none was needed: the target was polling in idle, so the push set
    /// its need-resched flag instead (`set_nr_if_polling()`), `woke_ago_ns`
    /// ago; its idle loop has not flushed since.
    PollingIdle {
        first: First,
        ago_ns: u64,
        woke_ago_ns: u64,
    },
    /// An IPI was sent `ago_ns` ago, after the first push (`first_ago_ns`
    /// ago), and the target has not entered a flush since.
    NotTaken {
        first: First,
        ago_ns: u64,
        first_ago_ns: u64,
    },
}

/// `pid` value of an [`First::Unseen`] record.
const UNSEEN: u32 = u32::MAX;
/// `pid` of a push made outside task context (`csdw_pusher_pid()`, shim.c).
pub(crate) const IN_IRQ: u32 = u32::MAX - 1;

/// One target CPU's record.
pub(crate) struct Origin {
    /// Seqcount of the record below (odd: a writer is filling it).
    seq: Atomic<u32>,
    /// When the first push of the episode was seen (0: never).
    at_ns: Atomic<u64>,
    cpu: Atomic<u32>,
    task: Atomic<usize>,
    /// [`UNSEEN`] for a call no probe saw pushed.
    pid: Atomic<u32>,
    /// The last call-function IPI sent to this CPU (0: none seen).
    ipi_ns: Atomic<u64>,
    /// The last IPI left out because this CPU was polling in idle (0:
    /// none seen, or the kernel has no event for it).
    polled_ns: Atomic<u64>,
    /// Flushes seen missed (on any CPU) when the first push was recorded.
    missed: Atomic<u64>,
    /// 1: the first push is a `smp_call_function_many_cond()` target's.
    cfd: Atomic<u32>,
    /// The node the first push added (0: not known).
    node: Atomic<usize>,
}

impl Origin {
    /// Nothing seen.
    pub(crate) const fn new() -> Self {
        Origin {
            seq: Atomic::new(0),
            at_ns: Atomic::new(0),
            cpu: Atomic::new(0),
            task: Atomic::new(0),
            pid: Atomic::new(0),
            ipi_ns: Atomic::new(0),
            polled_ns: Atomic::new(0),
            missed: Atomic::new(0),
            cfd: Atomic::new(0),
            node: Atomic::new(0),
        }
    }

    /// When the first push of the episode was recorded (0: never), and
    /// the node it added (0: not known); racy reads, for the pusher's
    /// look at whether that node still stands.
    pub(crate) fn first_push(&self) -> (u64, usize) {
        (self.at_ns.load(Relaxed), self.node.load(Relaxed))
    }

    /// A push to this CPU is about to add its node (`queued`: the queue
    /// holds a node already). The push that finds the queue empty is the
    /// first of an episode and owes the IPI; a push onto a queue that
    /// holds calls with no push recorded since the last flush entry
    /// (`last_flush_ns`), or whose recorded first push queued nothing
    /// (`stands`, see [`Origin::why`]), records that the first was unseen.
    /// `missed`: flushes seen missed so far ([`Origin::why`]).
    pub(crate) fn push(
        &self,
        queued: bool,
        last_flush_ns: u64,
        now: u64,
        who: impl FnOnce() -> Pusher,
        missed: impl FnOnce() -> u64,
        stands: impl FnOnce(u32) -> bool,
    ) {
        // Most pushes find the episode's first push recorded and return
        // here: `who` and `missed` are only asked once a record is due.
        let seen = if !queued {
            true
        } else if self.at_ns.load(Relaxed) <= last_flush_ns || self.left_out(stands) {
            false
        } else {
            return; // the episode's first push is recorded
        };
        // another push is recording right now: its record stands
        let s = self.seq.load(Relaxed);
        if s & 1 != 0 || self.seq.cmpxchg(s, s + 1, Full).is_err() {
            return;
        }
        let (who, pid) = if seen {
            let w = who();
            (w, w.pid)
        } else {
            (Pusher::default(), UNSEEN)
        };
        let missed = missed();
        self.cfd.store(u32::from(who.cfd), Relaxed);
        self.node.store(who.node, Relaxed);
        self.cpu.store(who.cpu, Relaxed);
        self.task.store(who.task, Relaxed);
        self.pid.store(pid, Relaxed);
        self.missed.store(missed, Relaxed);
        // a reader that sees the new time sees the fields above
        self.at_ns.store(now.max(1), Release);
        self.seq.store(s + 2, Release);
    }

    /// Was the recorded first push a conditional cross-call's that left
    /// this CPU out? `stands(sender)`: does `sender`'s csd for this CPU
    /// stand (locked)? A racy read, as [`Origin::why`]'s.
    fn left_out(&self, stands: impl FnOnce(u32) -> bool) -> bool {
        self.cfd.load(Relaxed) != 0
            && self.pid.load(Relaxed) != UNSEEN
            && !stands(self.cpu.load(Relaxed))
    }

    /// The kernel sent this CPU a call-function IPI.
    pub(crate) fn ipi_sent(&self, now: u64) {
        self.ipi_ns.store(now.max(1), Relaxed);
    }

    /// The kernel sent this CPU no IPI for a push because it was polling
    /// in idle (`sched:sched_wake_idle_without_ipi`).
    pub(crate) fn ipi_not_needed(&self, now: u64) {
        self.polled_ns.store(now.max(1), Relaxed);
    }

    /// The first push recorded, and when: (`at_ns`, [`First`]).
    fn first(&self) -> (u64, First) {
        let mut got = (0, First::Unseen);
        for _ in 0..2 {
            let s = self.seq.load(Acquire);
            got = (self.at_ns.load(Relaxed), self.read());
            // the fields above are read before `seq` is again
            smp_mb(Read);
            if s & 1 == 0 && self.seq.load(Relaxed) == s {
                break;
            }
        }
        got
    }

    fn read(&self) -> First {
        match self.pid.load(Relaxed) {
            UNSEEN => First::Unseen,
            IN_IRQ => First::InIrq {
                cpu: self.cpu.load(Relaxed),
            },
            pid => First::By(Pusher {
                cpu: self.cpu.load(Relaxed),
                task: self.task.load(Relaxed),
                pid,
                cfd: self.cfd.load(Relaxed) != 0,
                node: self.node.load(Relaxed),
            }),
        }
    }

    /// Why the calls queued on this CPU, which last entered a flush at
    /// `last_flush_ns`, still stand at `now`; `missed`: flushes seen
    /// missed so far; `stands(sender)`: does `sender`'s
    /// `smp_call_function_many_cond()` csd for this CPU stand? A first
    /// push recorded at such a call's entry whose csd does not stand
    /// queued nothing here (its `cond_func` left this CPU out) or was
    /// served: it tells nothing.
    pub(crate) fn why(
        &self,
        last_flush_ns: u64,
        now: u64,
        missed: u64,
        stands: impl FnOnce(u32) -> bool,
    ) -> Why {
        let (at, first) = self.first();
        if matches!(first, First::By(p) if p.cfd && !stands(p.cpu)) {
            return Why::Unknown;
        }
        let ipi = self.ipi_ns.load(Relaxed);
        let polled = self.polled_ns.load(Relaxed);
        let why = judge(at, first, ipi, polled, last_flush_ns, now);
        if why != Why::Unknown && self.missed.load(Relaxed) != missed {
            return Why::Unsure;
        }
        why
    }
}

/// The verdict of [`Origin::why`] from its readings.
fn judge(at: u64, first: First, ipi: u64, polled: u64, last_flush_ns: u64, now: u64) -> Why {
    if at == 0 || at <= last_flush_ns {
        return Why::Unknown;
    }
    if ipi >= at {
        Why::NotTaken {
            first,
            ago_ns: now.saturating_sub(ipi),
            first_ago_ns: now.saturating_sub(at),
        }
    } else if polled >= at {
        // the event fires inside the push's send step, after the record
        Why::PollingIdle {
            first,
            ago_ns: now.saturating_sub(at),
            woke_ago_ns: now.saturating_sub(polled),
        }
    } else {
        Why::NotSent {
            first,
            ago_ns: now.saturating_sub(at),
        }
    }
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_origin)]
mod tests {
    use super::*;

    const P: Pusher = Pusher {
        cpu: 3,
        task: 0x1000,
        pid: 42,
        cfd: false,
        node: 0xa0,
    };
    const Q: Pusher = Pusher {
        cpu: 2,
        task: 0x2000,
        pid: 7,
        cfd: false,
        node: 0xb0,
    };

    #[test]
    fn the_first_push_keeps_its_node_an_unseen_one_none() {
        let o = Origin::new();
        assert_eq!(o.first_push(), (0, 0));
        o.push(false, 0, 100, || P, || 0, |_| true);
        assert_eq!(o.first_push(), (100, 0xa0));
        o.push(true, 0, 150, || Q, || 0, |_| true); // P's node stands: kept
        assert_eq!(o.first_push(), (100, 0xa0));
        // served (here told by a later time, as a pusher that finds P's
        // node gone from the queue tells it): what stands is unseen
        o.push(true, 160, 170, || Q, || 0, |_| true);
        assert_eq!(o.first_push(), (170, 0));
        assert_eq!(o.first().1, First::Unseen);
    }

    #[test]
    fn the_push_onto_an_empty_queue_owes_the_ipi() {
        let o = Origin::new();
        o.push(false, 0, 100, || P, || 0, |_| true);
        o.push(true, 0, 150, || Q, || 0, |_| true); // finds P's call: not the first
        assert_eq!(
            o.why(0, 1100, 0, |_| true),
            Why::NotSent {
                first: First::By(P),
                ago_ns: 1000
            }
        );
    }

    #[test]
    fn an_ipi_after_the_first_push_was_sent_and_not_taken() {
        let o = Origin::new();
        o.push(false, 0, 100, || P, || 0, |_| true);
        o.ipi_sent(110);
        assert_eq!(
            o.why(50, 1110, 0, |_| true),
            Why::NotTaken {
                first: First::By(P),
                ago_ns: 1000,
                first_ago_ns: 1010
            }
        );
        // an IPI before the push was for an earlier episode
        let o = Origin::new();
        o.ipi_sent(90);
        o.push(false, 0, 100, || P, || 0, |_| true);
        assert!(matches!(o.why(0, 200, 0, |_| true), Why::NotSent { .. }));
    }

    #[test]
    fn a_push_from_interrupt_context_names_its_cpu() {
        let o = Origin::new();
        o.push(
            false,
            0,
            100,
            || Pusher {
                cpu: 5,
                task: 0x3000,
                pid: IN_IRQ,
                cfd: false,
                node: 0,
            },
            || 0,
            |_| true,
        );
        assert_eq!(
            o.why(0, 150, 0, |_| true),
            Why::NotSent {
                first: First::InIrq { cpu: 5 },
                ago_ns: 50
            }
        );
    }

    #[test]
    fn a_flush_missed_since_the_push_makes_it_unsure() {
        let o = Origin::new();
        o.push(false, 0, 100, || P, || 7, |_| true);
        assert_eq!(o.why(0, 200, 8, |_| true), Why::Unsure);
        assert!(matches!(o.why(0, 200, 7, |_| true), Why::NotSent { .. }));
    }

    #[test]
    fn a_call_no_probe_saw_is_unseen() {
        let o = Origin::new();
        o.push(true, 0, 100, || Q, || 0, |_| true); // the queue already held something
        assert_eq!(
            o.why(0, 300, 0, |_| true),
            Why::NotSent {
                first: First::Unseen,
                ago_ns: 200
            }
        );
    }

    #[test]
    fn a_flush_ends_the_episode() {
        let o = Origin::new();
        o.push(false, 0, 100, || P, || 0, |_| true);
        o.ipi_sent(110);
        // the target flushed at 120: the record is of a served episode
        assert_eq!(o.why(120, 500, 0, |_| true), Why::Unknown);
        // the next push onto the empty queue starts a new one
        o.push(false, 120, 200, || Q, || 0, |_| true);
        assert_eq!(
            o.why(120, 300, 0, |_| true),
            Why::NotSent {
                first: First::By(Q),
                ago_ns: 100
            }
        );
        // one onto a queue refilled unseen after that flush: unseen
        let o = Origin::new();
        o.push(false, 0, 100, || P, || 0, |_| true);
        o.push(true, 120, 200, || Q, || 0, |_| true);
        assert_eq!(
            o.why(120, 300, 0, |_| true),
            Why::NotSent {
                first: First::Unseen,
                ago_ns: 100
            }
        );
        assert_eq!(Origin::new().why(0, 10, 0, |_| true), Why::Unknown);
    }

    #[test]
    fn a_target_polling_in_idle_needed_no_ipi() {
        let o = Origin::new();
        o.push(false, 0, 100, || P, || 0, |_| true);
        // the kernel set the target's need-resched flag instead of an IPI
        o.ipi_not_needed(101);
        assert_eq!(
            o.why(0, 300, 0, |_| true),
            Why::PollingIdle {
                first: First::By(P),
                ago_ns: 200,
                woke_ago_ns: 199
            }
        );
        // a polling wake of an earlier episode tells nothing of this one
        o.push(false, 150, 400, || Q, || 0, |_| true);
        assert_eq!(
            o.why(150, 500, 0, |_| true),
            Why::NotSent {
                first: First::By(Q),
                ago_ns: 100
            }
        );
    }

    #[test]
    fn a_push_racing_a_recording_one_leaves_its_record_whole() {
        // P's push found the queue empty and is filling the record (seq
        // odd) when Q's push, which found it empty too, comes: Q must not
        // write into P's record
        let o = Origin::new();
        o.seq.store(1, Relaxed);
        o.push(false, 0, 100, || Q, || 0, |_| true);
        assert_eq!(o.at_ns.load(Relaxed), 0);
        assert_eq!(o.cpu.load(Relaxed), 0);
        // P done: the next episode's first push records again
        o.seq.store(2, Relaxed);
        o.push(false, 0, 200, || Q, || 0, |_| true);
        assert_eq!(
            o.why(0, 300, 0, |_| true),
            Why::NotSent {
                first: First::By(Q),
                ago_ns: 100
            }
        );
    }

    #[test]
    fn a_conditional_call_that_left_the_cpu_out_queued_nothing() {
        // P's smp_call_function_many_cond() entry saw the queue empty; its
        // cond_func then left this CPU out: P's csd for it never stood
        let c = Pusher { cfd: true, ..P };
        let o = Origin::new();
        o.push(false, 0, 100, || c, || 0, |_| true);
        assert_eq!(o.why(0, 300, 0, |_| false), Why::Unknown);
        // a call no probe saw, then Q's push onto it: unseen, not P's
        let asked = core::cell::Cell::new(u32::MAX);
        o.push(
            true,
            0,
            200,
            || Q,
            || 0,
            |s| {
                asked.set(s);
                false
            },
        );
        assert_eq!(asked.get(), P.cpu);
        assert_eq!(
            o.why(0, 300, 0, |_| false),
            Why::NotSent {
                first: First::Unseen,
                ago_ns: 100
            }
        );
        // while P's csd stands, P's push is the first
        let o = Origin::new();
        o.push(false, 0, 100, || c, || 0, |_| true);
        o.push(true, 0, 200, || Q, || 0, |_| true);
        assert_eq!(
            o.why(0, 300, 0, |_| true),
            Why::NotSent {
                first: First::By(c),
                ago_ns: 200
            }
        );
        // a push that is no cross-call's is never asked about
        let asked = core::cell::Cell::new(false);
        let ask = |_| {
            asked.set(true);
            false
        };
        let o = Origin::new();
        o.push(false, 0, 100, || P, || 0, ask);
        o.push(true, 0, 200, || Q, || 0, ask);
        assert!(matches!(o.why(0, 300, 0, ask), Why::NotSent { .. }));
        assert!(!asked.get());
    }
}
