// SPDX-License-Identifier: GPL-2.0

//! A message rate limit that any context can use: atomics only, no lock,
//! no clock of its own (the caller passes `now_ns`). At most `burst`
//! messages per `interval_ns`; the rest are counted, and the next message
//! let through is told how many were held back. Races between CPUs can let
//! one extra message through at an interval edge, never a flood.

use crate::kcompat::atomic::{ordering::Relaxed, Atomic};

/// One limit.
pub(crate) struct Ratelimit {
    interval_ns: u64,
    burst: u32,
    begin_ns: Atomic<u64>,
    printed: Atomic<u32>,
    missed: Atomic<u32>,
}

impl Ratelimit {
    /// `burst` messages per `interval_ns`.
    pub(crate) const fn new(interval_ns: u64, burst: u32) -> Self {
        Ratelimit {
            interval_ns,
            burst,
            begin_ns: Atomic::new(0),
            printed: Atomic::new(0),
            missed: Atomic::new(0),
        }
    }

    /// May a message be printed at `now_ns`? `Some(n)`: yes, and `n` were
    /// held back since the last one printed. `None`: no (counted).
    pub(crate) fn check(&self, now_ns: u64) -> Option<u32> {
        let b = self.begin_ns.load(Relaxed);
        if (b == 0 || now_ns.saturating_sub(b) >= self.interval_ns)
            && self.begin_ns.cmpxchg(b, now_ns.max(1), Relaxed).is_ok()
        {
            self.printed.store(0, Relaxed);
        }
        if self.printed.fetch_add(1u32, Relaxed) < self.burst {
            Some(self.missed.xchg(0, Relaxed))
        } else {
            self.missed.add(1u32, Relaxed);
            None
        }
    }
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_ratelimit)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn burst_then_silence_then_count() {
        let r = Ratelimit::new(1000 * MS, 2);
        assert_eq!(r.check(10 * MS), Some(0));
        assert_eq!(r.check(20 * MS), Some(0));
        assert_eq!(r.check(30 * MS), None);
        assert_eq!(r.check(40 * MS), None);
        // next interval: allowed again, told that 2 were held back
        assert_eq!(r.check(1010 * MS), Some(2));
        assert_eq!(r.check(1020 * MS), Some(0));
        assert_eq!(r.check(1030 * MS), None);
    }

    #[test]
    fn a_flood_prints_burst_per_interval() {
        let r = Ratelimit::new(100 * MS, 3);
        let mut printed = 0;
        // 10 000 messages over 1 s: 10 intervals
        for k in 0..10_000u64 {
            if r.check(1 + k * MS / 10).is_some() {
                printed += 1;
            }
        }
        assert!(printed <= 33);
        assert!(printed >= 30);
    }
}
