// SPDX-License-Identifier: GPL-2.0

//! Everything csdwatch allocates at load, sized from `nr_cpu_ids` (so one
//! build serves a 4-CPU guest and an NR_CPUS=8192 distro kernel alike),
//! and reached from the probes, the watchdogs and sysfs through [`get`].
//!
//! Life: [`install`] runs in module init before any probe, timer or sysfs
//! file exists; the returned guard is the module's last field, so it is
//! dropped (and the memory freed) after the probes are unregistered, the
//! watchdogs and the report work are stopped and sysfs is removed.

use crate::ffi::{Global, Installed, WatcherCells};
use crate::histogram::Histogram;
use crate::hooks_mode::{self, Mode};
use crate::kcompat::{filled, Table};
use crate::origin::Origin;
use crate::push_watch::PushWatch;
use crate::queues::{Held, QueueWatch, Sweep};
use crate::stats::{CpuCounts, Stat};
use crate::targets::{StandIn, Target};
use crate::tracked::Tracked;
use crate::waits::{table_size, Waits};
use kernel::prelude::*;

/// The module's shared state.
pub(crate) struct Shared {
    /// The waits in flight.
    pub waits: Waits,
    /// One record per possible CPU.
    pub targets: Table<Target>,
    /// The watchdog's memory of each wait slot.
    pub tracked: WatcherCells<Tracked>,
    /// Each possible CPU's call queue, as pushes and watchdogs see it.
    pub queues: Table<QueueWatch>,
    /// The queues each possible CPU's watchdog watches.
    pub held: Table<Held>,
    /// Each possible CPU's first push and last IPI (why an IPI was lost).
    pub origins: Table<Origin>,
    /// Who sweeps the queues while unloading, and when it last did.
    pub sweep: Sweep,
    /// Who looks for overdue watchers from the scheduler tick
    /// (`watchdog::sched_tick`): one CPU at a time, once per two ticks.
    pub stand_in_scan: Sweep,
    /// Who stands in for them.
    pub stand_in: StandIn,
    /// Wait times by waiting CPU.
    pub histogram: Histogram,
    /// Each possible CPU's share of the counters a call bumps.
    pub counts: Table<CpuCounts>,
    /// `hooks=pushes`: the targets each possible CPU's watchdog remembers
    /// (empty in the other modes).
    pub pushes: Table<PushWatch>,
}

impl Shared {
    /// Count one `s` on `cpu`: on its own line for a per-CPU counter.
    pub(crate) fn count(&self, cpu: u32, s: Stat) {
        if !self.counts.get(cpu as usize).is_some_and(|c| c.inc(s)) {
            s.inc();
        }
    }

    /// The record of `cpu`, if it is a possible CPU.
    pub(crate) fn target(&self, cpu: u32) -> Option<&Target> {
        self.targets.get(cpu as usize)
    }
}

static SHARED: Global<Shared> = Global::new();

/// Run `f` on the shared state; `None` before load completes or during
/// unload. The reference cannot be kept past the call (see `Global`).
pub(crate) fn with<R>(f: impl FnOnce(&Shared) -> R) -> Option<R> {
    SHARED.with(f)
}

/// Allocate the state for `nr_cpu_ids` possible CPUs and publish it.
pub(crate) fn install(nr_cpu_ids: u32) -> Result<Installed<Shared>> {
    let n = table_size(nr_cpu_ids);
    let waits = Waits::new(n, GFP_KERNEL)?;
    let per_cpu = nr_cpu_ids as usize;
    let targets = filled(per_cpu, GFP_KERNEL, Target::new)?;
    let tracked = WatcherCells::new(n, Tracked::new)?;
    let queues = filled(per_cpu, GFP_KERNEL, QueueWatch::new)?;
    let held = filled(per_cpu, GFP_KERNEL, Held::new)?;
    let origins = filled(per_cpu, GFP_KERNEL, Origin::new)?;
    let counts = filled(per_cpu, GFP_KERNEL, CpuCounts::new)?;
    let pushing = hooks_mode::requested() == Mode::Pushes;
    let pushes = filled(
        if pushing { per_cpu } else { 0 },
        GFP_KERNEL,
        PushWatch::new,
    )?;
    let shared = KBox::new(
        Shared {
            waits,
            targets,
            tracked,
            queues,
            held,
            origins,
            sweep: Sweep::new(),
            stand_in_scan: Sweep::new(),
            stand_in: StandIn::new(),
            histogram: Histogram::new(nr_cpu_ids, GFP_KERNEL)?,
            counts,
            pushes,
        },
        GFP_KERNEL,
    )?;
    Ok(SHARED.install(shared))
}

/// Counter `s`: its global count plus every CPU's share.
pub(crate) fn stat(s: Stat) -> u64 {
    s.get() + with(|sh| sh.counts.iter().map(|c| c.get(s)).sum::<u64>()).unwrap_or(0)
}
