// SPDX-License-Identifier: GPL-2.0

//! Counters shown in `/sys/module/csdwatch/stats/` (one value per file).
//!
//! Lock-free relaxed atomics, so hooks and timers can bump them from any
//! context. The file names are stated once, in shim.h's `CSDW_STATS`,
//! whose row order is the id; [`Stat`] mirrors it (the KUnit suite checks
//! the two agree). Documented in
//! Documentation/ABI/testing/sysfs-module-csdwatch.

use crate::kcompat::atomic::{ordering::Relaxed, Atomic};

/// One counter; the value is its id, its row in shim.h's `CSDW_STATS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Stat {
    /// Synchronous cross-CPU waits seen by the hooks.
    Waits = 0,
    /// Stalls classified as lost IPI.
    StallsLostIpi = 1,
    /// Stalls classified as target IRQs off.
    StallsIrqsOff = 2,
    /// Stalls classified as slow handler.
    StallsSlowHandler = 3,
    /// Stalls classified as target offline.
    StallsTargetOffline = 4,
    /// Call-function IPIs sent again.
    IpisResent = 5,
    /// Lost-IPI stalls that ended after a resend.
    Recoveries = 6,
    /// Stall reports printed.
    Reports = 7,
    /// Longest wait seen, in µs.
    LongestWaitUs = 8,
    /// Waits in flight now (computed when read).
    InFlight = 9,
    /// Waits not tracked (table full, CPU going down, probe instance missing).
    Dropped = 10,
    /// Watchdog timer callbacks run (all CPUs): the interrupts csdwatch costs.
    WatchdogTicks = 11,
    /// Watchdog ticks with nothing to look at (no wait of their CPU, no
    /// queue it watches): a timer left armed after a burst of waits
    /// (`Target::ended_in_burst`), or one a cancel missed.
    IdleTicks = 12,
    /// Queues found standing unflushed for `resend_ms` (or `report_ms`
    /// with resends off): episodes the queue side acted on.
    QueueStalls = 13,
    /// Of those, the ones flushed after the queue side resent the IPI.
    QueueRecoveries = 14,
    /// Queue watches taken: pushes that found the target's queue watched
    /// by nobody (the first since a drained queue was let go).
    QueueWatches = 15,
    /// IPIs the queue side resent (counted in `IpisResent` too).
    QueueResends = 16,
    /// Ticks a CPU ran for another CPU whose own watchdog was overdue (it
    /// spins with IRQs off, so its timer cannot fire): see
    /// `watchdog::stand_in`.
    StandIns = 17,
    /// Guest-clock ns spent in watchdog ticks (all CPUs, stand-ins in
    /// their ticks): what the looking costs.
    TickNs = 18,
}

/// Number of counters (the rows of shim.h's `CSDW_STATS`).
pub(crate) const NR_STATS: usize = 19;

static COUNTERS: [Atomic<u64>; NR_STATS] = [const { Atomic::new(0) }; NR_STATS];

/// Counters that a cross call may bump (a wait begins, a queue watch
/// begins) are kept per CPU too: each CPU's [`CpuCounts`] is on a cache
/// line of its own (`state::Shared::counts`), so that no call writes a
/// line other CPUs' calls write; a read sums them (`state::stat`).
const PER_CPU: [Stat; 2] = [Stat::Waits, Stat::QueueWatches];

/// One CPU's share of the per-CPU counters.
#[repr(align(64))]
pub(crate) struct CpuCounts([Atomic<u64>; PER_CPU.len()]);

impl CpuCounts {
    /// All zero.
    pub(crate) const fn new() -> Self {
        CpuCounts([const { Atomic::new(0) }; PER_CPU.len()])
    }

    /// Add one to `s` here; false (nothing done) if `s` is not per-CPU.
    pub(crate) fn inc(&self, s: Stat) -> bool {
        match PER_CPU.iter().position(|&p| p == s) {
            Some(i) => {
                self.0[i].add(1u64, Relaxed);
                true
            }
            None => false,
        }
    }

    /// This CPU's share of `s` (0 if `s` is not per-CPU).
    pub(crate) fn get(&self, s: Stat) -> u64 {
        PER_CPU
            .iter()
            .position(|&p| p == s)
            .map_or(0, |i| self.0[i].load(Relaxed))
    }
}

impl Stat {
    /// Add one to the global count (a per-CPU counter's share that no
    /// CPU's [`CpuCounts`] took).
    pub(crate) fn inc(self) {
        COUNTERS[self as usize].add(1u64, Relaxed);
    }

    /// Add `n` to the global count.
    pub(crate) fn add(self, n: u64) {
        COUNTERS[self as usize].add(n, Relaxed);
    }

    /// Raise to at least `v`.
    pub(crate) fn max(self, v: u64) {
        let c = &COUNTERS[self as usize];
        let mut cur = c.load(Relaxed);
        while v > cur {
            match c.cmpxchg(cur, v, Relaxed) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
    }

    /// The global count (for a per-CPU counter, without the CPUs' shares:
    /// `state::stat` adds them).
    pub(crate) fn get(self) -> u64 {
        COUNTERS[self as usize].load(Relaxed)
    }

    /// The counter of id `id`.
    pub(crate) fn from_id(id: u32) -> Option<Stat> {
        ALL.get(id as usize).copied()
    }

    /// Its file name under `stats/`, as shim.h's table states it: the
    /// mirror the KUnit suite checks (nothing else needs it).
    #[cfg(csdw_kunit)]
    const fn name(self) -> &'static str {
        match self {
            Stat::Waits => "waits",
            Stat::StallsLostIpi => "stalls_lost_ipi",
            Stat::StallsIrqsOff => "stalls_irqs_off",
            Stat::StallsSlowHandler => "stalls_slow_handler",
            Stat::StallsTargetOffline => "stalls_target_offline",
            Stat::IpisResent => "ipis_resent",
            Stat::Recoveries => "recoveries",
            Stat::Reports => "reports",
            Stat::LongestWaitUs => "longest_wait_us",
            Stat::InFlight => "in_flight",
            Stat::Dropped => "dropped",
            Stat::WatchdogTicks => "watchdog_ticks",
            Stat::IdleTicks => "idle_ticks",
            Stat::QueueStalls => "queue_stalls",
            Stat::QueueRecoveries => "queue_recoveries",
            Stat::QueueWatches => "queue_watches",
            Stat::QueueResends => "queue_resends",
            Stat::StandIns => "stand_ins",
            Stat::TickNs => "tick_ns",
        }
    }
}

/// Every counter, in id order.
const ALL: [Stat; NR_STATS] = [
    Stat::Waits,
    Stat::StallsLostIpi,
    Stat::StallsIrqsOff,
    Stat::StallsSlowHandler,
    Stat::StallsTargetOffline,
    Stat::IpisResent,
    Stat::Recoveries,
    Stat::Reports,
    Stat::LongestWaitUs,
    Stat::InFlight,
    Stat::Dropped,
    Stat::WatchdogTicks,
    Stat::IdleTicks,
    Stat::QueueStalls,
    Stat::QueueRecoveries,
    Stat::QueueWatches,
    Stat::QueueResends,
    Stat::StandIns,
    Stat::TickNs,
];
// each counter at its id: checked when the module is built
const _: () = {
    let mut i = 0;
    while i < NR_STATS {
        assert!(ALL[i] as usize == i);
        i += 1;
    }
};

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_stats)]
mod tests {
    use super::*;

    #[test]
    fn c_table_agrees() {
        // shim.h's CSDW_STATS, as the stats/ files show it, and this
        // mirror: the file of each id has its name, and there are as many
        // files as ids
        for s in ALL {
            assert_eq!(crate::ffi::stat_name(s as u32), Some(s.name()));
        }
        assert_eq!(crate::ffi::stat_name(NR_STATS as u32), None);
    }
}
