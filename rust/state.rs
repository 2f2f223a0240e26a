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
use crate::kcompat::filled;
use crate::origin::Origin;
use crate::queues::{Held, QueueWatch, Sweep};
use crate::targets::{StandIn, Target};
use crate::tracked::Tracked;
use crate::waits::{table_size, Waits};
use kernel::alloc::KVec;
use kernel::prelude::*;

/// The module's shared state.
pub(crate) struct Shared {
    /// The waits in flight.
    pub waits: Waits,
    /// One record per possible CPU.
    pub targets: KVec<Target>,
    /// The watchdog's memory of each wait slot.
    pub tracked: WatcherCells<Tracked>,
    /// Each possible CPU's call queue, as pushes and watchdogs see it.
    pub queues: KVec<QueueWatch>,
    /// The queues each possible CPU's watchdog watches.
    pub held: KVec<Held>,
    /// Each possible CPU's first push and last IPI (why an IPI was lost).
    pub origins: KVec<Origin>,
    /// Who sweeps the queues while unloading, and when it last did.
    pub sweep: Sweep,
    /// Who looks for overdue watchers from the scheduler tick
    /// (`watchdog::sched_tick`): one CPU at a time, once per two ticks.
    pub stand_in_scan: Sweep,
    /// Who stands in for them.
    pub stand_in: StandIn,
    /// Wait times by waiting CPU.
    pub histogram: Histogram,
}

impl Shared {
    /// The record of `cpu`, if it is a possible CPU.
    pub(crate) fn target(&self, cpu: u32) -> Option<&Target> {
        self.targets.get(cpu as usize)
    }
}

static SHARED: Global<Shared> = Global::new();

/// The shared state; `None` before load completes or during unload.
pub(crate) fn get() -> Option<&'static Shared> {
    SHARED.get()
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
        },
        GFP_KERNEL,
    )?;
    Ok(SHARED.install(shared))
}
