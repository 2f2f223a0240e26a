// SPDX-License-Identifier: GPL-2.0

//! Per-CPU histogram of csd wait times, in log2 buckets: what the
//! csdlatency BPF tool gives, built in and cheap enough to stay on.
//!
//! A wait is counted on the CPU that waited, when its waiter returns
//! (`hooks::wait_exit`): one relaxed add to a counter on a cache line of
//! that CPU's own (each CPU's buckets are 64-byte aligned, so no two CPUs
//! write one line on the fast path). A wait the watchdog acted on (a
//! stall) is counted by the watchdog when it sees it ended
//! (`watchdog::finish`), with the same length: from its start to the
//! waiter's return. Read and reset through debugfs (`crate::debugfs`,
//! `/sys/kernel/debug/csdwatch/wait_histogram`).
//!
//! Bucket `k` (1 ≤ k < [`BUCKETS`] - 1) holds waits of `[2^k, 2^(k+1))` ns;
//! bucket 0 holds `[0, 2)` ns and the last one everything from
//! `2^(BUCKETS-1)` ns (about 550 s) on. A reset stores 0 in every counter
//! one by one: a wait that ends during a reset may or may not be counted,
//! and the counters are never torn (each is one 64-bit atomic).

use crate::kcompat::atomic::{ordering::Relaxed, Atomic};
use crate::kcompat::Table;
use core::fmt;
use kernel::prelude::*;

/// Number of buckets.
pub(crate) const BUCKETS: usize = 40;

/// The bucket of a wait of `ns` nanoseconds.
pub(crate) fn bucket_of(ns: u64) -> usize {
    let k = (63 - (ns | 1).leading_zeros()) as usize;
    k.min(BUCKETS - 1)
}

/// The range of bucket `k`: `[lo, hi)` ns, `hi` `None` for the last.
pub(crate) fn bounds(k: usize) -> (u64, Option<u64>) {
    let lo = if k == 0 { 0 } else { 1u64 << k };
    let hi = if k + 1 >= BUCKETS {
        None
    } else {
        Some(1u64 << (k + 1))
    };
    (lo, hi)
}

/// One CPU's buckets, on cache lines of their own.
#[repr(align(64))]
pub(crate) struct CpuHistogram {
    counts: [Atomic<u64>; BUCKETS],
}

impl CpuHistogram {
    const fn new() -> Self {
        CpuHistogram {
            counts: [const { Atomic::new(0) }; BUCKETS],
        }
    }
}

/// The histograms of every possible CPU.
pub(crate) struct Histogram {
    cpus: Table<CpuHistogram>,
}

impl Histogram {
    /// Empty histograms for `nr_cpus` CPUs.
    pub(crate) fn new(nr_cpus: u32, flags: kernel::alloc::Flags) -> Result<Self> {
        let cpus = crate::kcompat::filled(nr_cpus as usize, flags, CpuHistogram::new)?;
        Ok(Histogram { cpus })
    }

    /// Count a wait of `ns` on `cpu` (any context; an unknown CPU is ignored).
    pub(crate) fn record(&self, cpu: u32, ns: u64) {
        if let Some(h) = self.cpus.get(cpu as usize) {
            h.counts[bucket_of(ns)].add(1u64, Relaxed);
        }
    }

    /// The count of bucket `k` of `cpu` (0 for an unknown one).
    pub(crate) fn count(&self, cpu: usize, k: usize) -> u64 {
        self.cpus
            .get(cpu)
            .and_then(|h| h.counts.get(k))
            .map_or(0, |c| c.load(Relaxed))
    }

    /// Waits counted on `cpu`, all buckets (the tests use it).
    #[cfg(csdw_kunit)]
    pub(crate) fn total(&self, cpu: usize) -> u64 {
        (0..BUCKETS).map(|k| self.count(cpu, k)).sum()
    }

    /// Forget every count.
    #[cfg_attr(csdw_kernel_612, allow(dead_code))] // debugfs only (crate::debugfs)
    pub(crate) fn reset(&self) {
        for h in self.cpus.iter() {
            for c in h.counts.iter() {
                c.store(0, Relaxed);
            }
        }
    }

    /// The table that debugfs shows: a header, then one row per non-empty
    /// bucket of each CPU, then the same rows summed over all CPUs
    /// (`all`). Columns: cpu, from_ns, to_ns (`inf` for the last bucket),
    /// count.
    #[cfg_attr(csdw_kernel_612, allow(dead_code))] // debugfs only (crate::debugfs)
    pub(crate) fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "cpu from_ns to_ns count")?;
        for cpu in 0..self.cpus.len() {
            for k in 0..BUCKETS {
                let n = self.count(cpu, k);
                if n != 0 {
                    row(f, Some(cpu), k, n)?;
                }
            }
        }
        for k in 0..BUCKETS {
            let n: u64 = (0..self.cpus.len()).map(|cpu| self.count(cpu, k)).sum();
            if n != 0 {
                row(f, None, k, n)?;
            }
        }
        Ok(())
    }
}

fn row(f: &mut fmt::Formatter<'_>, cpu: Option<usize>, k: usize, n: u64) -> fmt::Result {
    match cpu {
        Some(c) => write!(f, "{c} ")?,
        None => write!(f, "all ")?,
    }
    match bounds(k) {
        (lo, Some(hi)) => writeln!(f, "{lo} {hi} {n}"),
        (lo, None) => writeln!(f, "{lo} inf {n}"),
    }
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_histogram)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_log2_ranges() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(2), 1);
        assert_eq!(bucket_of(3), 1);
        assert_eq!(bucket_of(1023), 9);
        assert_eq!(bucket_of(1024), 10);
        assert_eq!(bucket_of(25_000), 14); // 16384..32768
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_of(1 << (BUCKETS - 1)), BUCKETS - 1);
        assert_eq!(bucket_of((1 << (BUCKETS - 1)) - 1), BUCKETS - 2);
    }

    #[test]
    fn every_wait_falls_in_its_bucket_bounds() {
        for ns in [0u64, 1, 2, 7, 8, 999, 1000, 65_536, 5_000_000_000, u64::MAX] {
            let (lo, hi) = bounds(bucket_of(ns));
            assert!(ns >= lo);
            assert!(hi.is_none_or(|h| ns < h));
        }
        assert_eq!(bounds(0), (0, Some(2)));
        assert_eq!(bounds(BUCKETS - 1).1, None);
    }

    #[test]
    fn counts_per_cpu_and_resets() -> Result {
        let h = Histogram::new(3, GFP_KERNEL)?;
        h.record(0, 1500);
        h.record(0, 1600);
        h.record(2, 40_000_000);
        h.record(7, 1); // not a CPU: ignored
        assert_eq!(h.count(0, bucket_of(1500)), 2);
        assert_eq!(h.total(0), 2);
        assert_eq!(h.total(1), 0);
        assert_eq!(h.total(2), 1);
        assert_eq!(h.count(2, bucket_of(40_000_000)), 1);
        h.reset();
        assert_eq!(h.total(0) + h.total(2), 0);
        Ok(())
    }
}
