// SPDX-License-Identifier: GPL-2.0

//! Counters shown in `/sys/module/csdwatch/stats/` (one value per file).
//!
//! Lock-free relaxed atomics, so hooks and timers can bump them from any
//! context. The ids and file names are listed once, in shim.c
//! (`CSDW_STAT()`), and documented in
//! Documentation/ABI/testing/sysfs-module-csdwatch. Only the read side
//! exists so far: the hooks that count are the next step, and until then
//! every file reads 0.

use kernel::sync::atomic::{ordering::Relaxed, Atomic};

/// Number of counters (the `CSDW_STAT()` ids in shim.c are `0..NR_STATS`).
pub(crate) const NR_STATS: usize = 11;

static COUNTERS: [Atomic<u64>; NR_STATS] = [const { Atomic::new(0) }; NR_STATS];

/// Counter `id`; 0 for an unknown id.
pub(crate) fn read(id: u32) -> u64 {
    COUNTERS.get(id as usize).map_or(0, |c| c.load(Relaxed))
}
