// SPDX-License-Identifier: GPL-2.0

//! Queue-side rescue: a csd that stands at the head of a CPU's
//! `call_single_queue`, unflushed, for a resend period gets the
//! call-function IPI sent again, whoever queued it and whether or not a
//! waiter is tracked for it.
//!
//! Used today while unloading: once unregistering the probes has begun, a
//! new wait is no longer seen, but it may still meet a lost IPI, and the
//! RCU grace period the unregistering waits for is held up by that waiter
//! (a TLB flush waits with preemption off). The sweep needs no probe, so it
//! keeps rescuing until the probes are gone.
//!
//! One [`QueueWatch`] per possible CPU, written only by the one sweeper of
//! the moment (see [`Sweep`]); a resend is idempotent (a flush takes the
//! whole queue, an extra IPI finds it empty), so a stale view costs at most
//! one needless IPI.

use kernel::prelude::*;
use kernel::sync::atomic::{
    ordering::{Acquire, Relaxed, Release},
    Atomic,
};

/// What the sweeper remembers of one CPU's queue.
pub(crate) struct QueueWatch {
    /// The head csd (its `llist_node` address) at the last look; 0: empty.
    head: Atomic<usize>,
    /// Since when this head has stood without a flush, or since the last
    /// resend for it.
    since_ns: Atomic<u64>,
}

impl QueueWatch {
    /// Nothing seen yet.
    pub(crate) const fn new() -> Self {
        QueueWatch {
            head: Atomic::new(0),
            since_ns: Atomic::new(0),
        }
    }

    /// Look at the queue at `now`: its head `head` (0: empty), the CPU's
    /// last flush entry `last_flush_ns` (0: never seen). True when the same
    /// head has stood unflushed for `resend_ns`: send the IPI (the clock
    /// then restarts, so one IPI per period at most).
    pub(crate) fn observe(
        &self,
        head: usize,
        last_flush_ns: u64,
        now: u64,
        resend_ns: u64,
    ) -> bool {
        let since = self.since_ns.load(Relaxed);
        if head == 0 {
            self.head.store(0, Relaxed);
            return false;
        }
        // a new head, or the same address queued again after a flush
        if head != self.head.load(Relaxed) || last_flush_ns > since {
            self.head.store(head, Relaxed);
            self.since_ns.store(now, Relaxed);
            return false;
        }
        if now.saturating_sub(since) < resend_ns {
            return false;
        }
        self.since_ns.store(now, Relaxed);
        true
    }
}

/// Who sweeps: one watchdog at a time, at most once per `period`.
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

#[kunit_tests(csdwatch_queues)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_standing_head_is_resent_once_per_period() {
        let q = QueueWatch::new();
        assert!(!q.observe(0, 0, 10 * MS, 20 * MS)); // empty
        assert!(!q.observe(0xa0, 0, 11 * MS, 20 * MS)); // first seen
        assert!(!q.observe(0xa0, 0, 30 * MS, 20 * MS)); // 19 ms
        assert!(q.observe(0xa0, 0, 31 * MS, 20 * MS)); // 20 ms: resend
        assert!(!q.observe(0xa0, 0, 40 * MS, 20 * MS)); // clock restarted
        assert!(q.observe(0xa0, 0, 51 * MS, 20 * MS));
    }

    #[test]
    fn a_moving_queue_is_left_alone() {
        let q = QueueWatch::new();
        assert!(!q.observe(0xa0, 0, 0, 20 * MS));
        // another head: the queue was flushed and refilled
        assert!(!q.observe(0xb0, 0, 25 * MS, 20 * MS));
        // same address again, but a flush began after it was first seen
        assert!(!q.observe(0xb0, 30 * MS, 50 * MS, 20 * MS));
        assert!(!q.observe(0xb0, 30 * MS, 69 * MS, 20 * MS));
        assert!(q.observe(0xb0, 30 * MS, 70 * MS, 20 * MS));
        // emptied, then the same address queued anew: its clock starts over
        assert!(!q.observe(0, 30 * MS, 71 * MS, 20 * MS));
        assert!(!q.observe(0xb0, 30 * MS, 72 * MS, 20 * MS));
        assert!(!q.observe(0xb0, 30 * MS, 91 * MS, 20 * MS));
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
