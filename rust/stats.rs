// SPDX-License-Identifier: GPL-2.0

//! Counters shown in `/sys/module/csdwatch/stats/` (one value per file).
//! Lock-free: hooks and timers bump them with relaxed atomics.

use kernel::sync::atomic::{ordering::Relaxed, Atomic};

/// One counter; the id is what the C shim's `CSDW_STAT()` passes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Stat {
    /// Synchronous waits seen by the hooks.
    Waits = 0,
    /// Stalls classified "lost IPI".
    LostIpi = 1,
    /// Stalls classified "target IRQs off".
    IrqsOff = 2,
    /// Stalls classified "slow handler".
    SlowHandler = 3,
    /// Stalls classified "target offline".
    TargetOffline = 4,
    /// Call-function IPIs resent.
    IpisResent = 5,
    /// Waits released after csdwatch resent their IPI.
    Recoveries = 6,
    /// Stall reports printed.
    Reports = 7,
    /// Longest wait seen, in microseconds (a maximum, not a count).
    LongestWaitUs = 8,
    /// Waits in flight now (a gauge).
    InFlight = 9,
    /// Waits not tracked because every slot was busy.
    Dropped = 10,
}

/// Number of counters.
pub(crate) const NR_STATS: usize = 11;

static COUNTERS: [Atomic<u64>; NR_STATS] = [const { Atomic::new(0) }; NR_STATS];

impl Stat {
    /// Counter `id`, if any.
    pub(crate) fn read_id(id: u32) -> u64 {
        COUNTERS.get(id as usize).map_or(0, |c| c.load(Relaxed))
    }

    /// Add one.
    pub(crate) fn inc(self) {
        COUNTERS[self as usize].add(1u64, Relaxed);
    }

    /// Subtract one (gauges only).
    pub(crate) fn dec(self) {
        COUNTERS[self as usize].add(u64::MAX, Relaxed);
    }

    /// Current value.
    pub(crate) fn get(self) -> u64 {
        COUNTERS[self as usize].load(Relaxed)
    }

    /// Raise to `v` if `v` is larger (maxima only).
    pub(crate) fn max(self, v: u64) {
        let c = &COUNTERS[self as usize];
        let mut cur = c.load(Relaxed);
        while v > cur {
            match c.cmpxchg(cur, v, Relaxed) {
                Ok(_) => break,
                Err(old) => cur = old,
            }
        }
    }
}
