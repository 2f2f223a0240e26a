// SPDX-License-Identifier: GPL-2.0

//! What the probes on the csd path do (called through rust/ffi.rs from the
//! handlers in shim.c).
//!
//! Sender side: a synchronous wait is recorded in [`WAITS`] when it begins
//! and closed when the waiter returns. Target side: each CPU's entries into
//! the csd flush are recorded in its [`Target`] record.
//!
//! Every function here runs in kprobe context (preemption off, on RT too,
//! hard IRQs off on the target side): no allocation, no lock, no sleeping,
//! no printing, no cross-CPU call. The only kernel calls are reading the
//! clock, `current`, this CPU's id, and arming this CPU's watchdog.

use crate::ffi;
use crate::params::Param;
use crate::stats::Stat;
use crate::waits::{NewWait, Waits, MASK_WORDS, MAX_CPUS};
use kernel::sync::atomic::{
    ordering::{Acquire, Relaxed, Release},
    Atomic,
};
use kernel::sync::barrier::{smp_mb, Read, Write};

/// The waits in flight.
pub(crate) static WAITS: Waits = Waits::new();

/// Set when the module starts unloading: no new wait is recorded, and the
/// watchdogs stop acting (once the probes are gone, a waiter's return is no
/// longer seen, so its slot would look stalled forever).
static STOPPING: Atomic<u32> = Atomic::new(0);

/// Begin unloading (see [`STOPPING`]).
pub(crate) fn stop() {
    STOPPING.store(1, Release);
}

/// The module is unloading.
pub(crate) fn stopping() -> bool {
    STOPPING.load(Acquire) != 0
}

/// Synchronous csds remembered per flush (shim.c `CSDW_BATCH`).
pub(crate) const BATCH: usize = 8;

/// What one CPU's csd flushes look like, written only by that CPU.
///
/// `seq` is odd while the record is being written (a seqcount): readers
/// on other CPUs retry or give up on an odd or changed `seq`.
pub(crate) struct Target {
    seq: Atomic<u64>,
    in_flush: Atomic<u32>,
    last_flush_ns: Atomic<u64>,
    batch_n: Atomic<u32>,
    batch_csd: [Atomic<usize>; BATCH],
    batch_fn: [Atomic<usize>; BATCH],
    /// The watchdog of this CPU may be armed (CPU online, module running).
    enabled: Atomic<u32>,
}

impl Target {
    const fn new() -> Self {
        Target {
            seq: Atomic::new(0),
            in_flush: Atomic::new(0),
            last_flush_ns: Atomic::new(0),
            batch_n: Atomic::new(0),
            batch_csd: [const { Atomic::new(0) }; BATCH],
            batch_fn: [const { Atomic::new(0) }; BATCH],
            enabled: Atomic::new(0),
        }
    }
}

static TARGETS: [Target; MAX_CPUS] = [const { Target::new() }; MAX_CPUS];

fn target(cpu: u32) -> Option<&'static Target> {
    TARGETS.get(cpu as usize)
}

/// What the watchdog reads of a target's flush state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FlushView {
    /// Inside the flush now.
    pub in_flush: bool,
    /// When it last entered the flush (0: never seen).
    pub last_flush_ns: u64,
    /// The function of the first synchronous csd of the current flush that
    /// has not returned yet: what the target is running (0: unknown).
    pub running_fn: usize,
}

/// Read `cpu`'s flush state from another CPU.
pub(crate) fn flush_view(cpu: u32) -> FlushView {
    let Some(t) = target(cpu) else {
        return FlushView::default();
    };
    for _ in 0..4 {
        let s1 = t.seq.load(Acquire);
        if s1 & 1 != 0 {
            continue;
        }
        let mut v = FlushView {
            in_flush: t.in_flush.load(Relaxed) != 0,
            last_flush_ns: t.last_flush_ns.load(Relaxed),
            running_fn: 0,
        };
        let mut batch = [(0usize, 0usize); BATCH];
        let n = (t.batch_n.load(Relaxed) as usize).min(BATCH);
        for (k, b) in batch.iter_mut().enumerate().take(n) {
            *b = (t.batch_csd[k].load(Relaxed), t.batch_fn[k].load(Relaxed));
        }
        smp_mb(Read);
        if t.seq.load(Relaxed) != s1 {
            continue;
        }
        if v.in_flush {
            // a synchronous csd is unlocked after its function returns
            v.running_fn = batch[..n]
                .iter()
                .find(|(csd, _)| ffi::csd_locked(*csd) == Some(true))
                .map_or(0, |&(_, f)| f);
        }
        return v;
    }
    FlushView::default()
}

/// Allow or stop watching new waits from `cpu` (CPU hotplug, load, unload).
pub(crate) fn set_cpu_enabled(cpu: u32, on: bool) {
    if let Some(t) = target(cpu) {
        t.enabled.store(u32::from(on), Release);
    }
}

fn cpu_enabled(cpu: u32) -> bool {
    target(cpu).is_some_and(|t| t.enabled.load(Acquire) != 0)
}

/// First watchdog tick of a new wait.
fn first_tick_ns() -> u64 {
    Param::Tick.ns()
}

/// `__smp_call_function_single()` entry: reserve a slot if it will wait.
pub(crate) fn single_enter(wait: bool) -> i32 {
    if !wait || stopping() {
        return -1;
    }
    match WAITS.begin_single(ffi::current_task(), ffi::this_cpu(), ffi::now_ns()) {
        Some(i) => i as i32,
        None => {
            Stat::Dropped.inc();
            -1
        }
    }
}

/// `generic_exec_single(cpu, csd)`: the csd and its real target are known.
pub(crate) fn single_queue(target_cpu: u64, csd: usize, func: usize, sync: bool) {
    if !sync {
        return;
    }
    let task = ffi::current_task();
    let Some(i) = WAITS.pending_of(task) else {
        return;
    };
    let cpu = ffi::this_cpu();
    if target_cpu == u64::from(cpu) || target_cpu >= MAX_CPUS as u64 {
        return; // runs locally (or refused): no wait; the return frees the slot
    }
    if !cpu_enabled(cpu) {
        Stat::Dropped.inc();
        return;
    }
    let nw = NewWait {
        task,
        func,
        csd,
        cpu,
        start_ns: ffi::now_ns(),
    };
    WAITS.queue_single(i, &nw, target_cpu as u32);
    Stat::Waits.inc();
    ffi::watchdog_arm(first_tick_ns());
}

/// `smp_call_function_many_cond()` entry with `SCF_WAIT`.
pub(crate) fn many_enter(targets: &[u64; MASK_WORDS], func: usize) -> i32 {
    if targets.iter().all(|&w| w == 0) || stopping() {
        return -1; // local only (no wait), or unloading
    }
    let cpu = ffi::this_cpu();
    if !cpu_enabled(cpu) {
        Stat::Dropped.inc();
        return -1;
    }
    let nw = NewWait {
        task: ffi::current_task(),
        func,
        csd: 0,
        cpu,
        start_ns: ffi::now_ns(),
    };
    match WAITS.begin_many(&nw, targets) {
        Some(i) => {
            Stat::Waits.inc();
            ffi::watchdog_arm(first_tick_ns());
            i as i32
        }
        None => {
            Stat::Dropped.inc();
            -1
        }
    }
}

/// A tracked waiter returned.
pub(crate) fn wait_exit(slot: i32) {
    let Ok(i) = usize::try_from(slot) else {
        return;
    };
    let now = ffi::now_ns();
    if let Some((watcher, start)) = WAITS.end(i, now) {
        Stat::LongestWaitUs.max(now.saturating_sub(start) / 1000);
        if watcher == ffi::this_cpu() {
            ffi::watchdog_quiesce();
        }
    }
}

/// `__flush_smp_call_function_queue()` entry on `cpu` (hard IRQs off).
pub(crate) fn flush_enter(cpu: u32, batch: impl Iterator<Item = (usize, usize)>) {
    let Some(t) = target(cpu) else {
        return;
    };
    t.seq.add(1u64, Relaxed);
    smp_mb(Write);
    let mut n = 0;
    for (k, (csd, f)) in batch.take(BATCH).enumerate() {
        t.batch_csd[k].store(csd, Relaxed);
        t.batch_fn[k].store(f, Relaxed);
        n = k + 1;
    }
    t.batch_n.store(n as u32, Relaxed);
    t.last_flush_ns.store(ffi::now_ns(), Relaxed);
    t.in_flush.store(1, Relaxed);
    smp_mb(Write);
    t.seq.add(1u64, Relaxed);
}

/// `__flush_smp_call_function_queue()` return on `cpu`.
pub(crate) fn flush_exit(cpu: u32) {
    if let Some(t) = target(cpu) {
        t.in_flush.store(0, Release);
    }
}

/// Hand `cpu`'s waits to another online CPU; that CPU, if any had to move.
pub(crate) fn rehome(cpu: u32) -> Option<u32> {
    let heir =
        (0..ffi::nr_cpu_ids()).find(|&c| c != cpu && ffi::cpu_online(c) && cpu_enabled(c))?;
    WAITS.rehome(cpu, heir).then_some(heir)
}

/// Waits in flight now.
pub(crate) fn in_flight() -> u64 {
    WAITS.in_flight()
}
