// SPDX-License-Identifier: GPL-2.0

//! csdwatch: catch CPUs stuck in `csd_lock_wait()`, tell why, resend the
//! lost IPI and report the owner and target CPUs.
//!
//! Layout: `detector` is the pure per-wait state machine, `waits` the
//! lock-free table of waits in flight and `targets` the per-CPU flush
//! record (all KUnit-tested, no kernel calls); `state` holds what is
//! allocated at load; `hooks` is what the probes on the csd path record;
//! `watchdog` is the per-CPU timer tick that feeds the detector and acts,
//! with `tracked` its memory per wait, and `queues` the queue sweep it
//! runs while unloading; `report` prints; `histogram` counts wait times
//! per CPU and `debugfs` shows them; `clones` refuses a
//! kernel whose probed functions were cloned, and `proof` refuses one
//! whose hooks do not see a cross call made at load; `params`, `stats` and
//! `ratelimit` are the tunables, counters and message limit; `ffi` is the
//! only boundary to the C shim (`shim.c`, `arch/*.c`) and holds every
//! `unsafe`: `ffi.rs` the calls into C, `ffi/exports.rs` the entry points C
//! calls.

use kernel::prelude::*;

mod cfd;
mod clones;
mod debugfs;
mod detector;
mod events;
mod exports;
mod ffi;
mod histogram;
mod hooks;
mod hooks_mode;
mod hookup;
mod origin;
mod params;
mod proof;
mod push_watch;
mod queues;
mod ratelimit;
mod report;
mod state;
mod stats;
mod targets;
mod tracked;
mod waits;
mod watchdog;

mod kcompat;

// The one difference in module!: 6.12's takes `author`, 7.3's `authors`.
#[cfg(not(csdw_kernel_612))]
module! {
    type: Csdwatch,
    name: "csdwatch",
    authors: ["csdwatch developers"],
    description: "Detect, explain and recover stalled cross-CPU calls (csd_lock_wait)",
    license: "GPL",
}
#[cfg(csdw_kernel_612)]
module! {
    type: Csdwatch,
    name: "csdwatch",
    author: "csdwatch developers",
    description: "Detect, explain and recover stalled cross-CPU calls (csd_lock_wait)",
    license: "GPL",
}

/// The module; the probes go first, in `drop` (no new waits, no handler
/// running), then the fields drop in order: the watchdogs (no timer armed or running, no
/// report work pending), then the sysfs counters and the debugfs files,
/// and last the state all of them used.
struct Csdwatch {
    /// `None` only while dropping.
    probes: Option<ffi::Probes>,
    _watchdogs: ffi::Watchdogs,
    _stats: ffi::StatsDir,
    _debugfs: debugfs::DebugFs,
    _state: ffi::Installed<state::Shared>,
}

impl kernel::Module for Csdwatch {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // before any hook or timer reads a tunable
        params::settle();
        ffi::resolve()?;
        if let Some(c) = clones::find_clone(&clones::PROBED, ffi::has_symbol) {
            pr_err!(
                "kernel has a compiler clone {} of a probed function: its callers would not be watched; not loading\n",
                c.as_cstr().to_str().unwrap_or("?")
            );
            return Err(kcompat::eopnotsupp());
        }
        let shared = state::install(ffi::nr_cpu_ids())?;
        let stats = ffi::StatsDir::register()?;
        let debugfs = debugfs::DebugFs::create()?;
        let watchdogs = ffi::Watchdogs::start()?;
        let mode = hookup::select()?;
        let probes = ffi::Probes::register()?;
        let proven = hookup::prove()?;
        pr_info!(
            "loaded: resend_ms={} report_ms={} panic_ms={} irq_frozen_ms={} tick_ms={}; {} CPUs, {} wait slots; target stacks: {}; hooks: {}, {}\n",
            params::Param::Resend.get(),
            params::Param::Report.get(),
            params::Param::Panic.get(),
            params::Param::IrqFrozen.get(),
            params::Param::Tick.get(),
            ffi::nr_cpu_ids(),
            state::with(|sh| sh.waits.len()).unwrap_or(0),
            ffi::no_nmi().unwrap_or("NMI backtrace"),
            mode.name(),
            proven.as_str()
        );
        ffi::lockdown_note();
        Ok(Csdwatch {
            probes: Some(probes),
            _watchdogs: watchdogs,
            _stats: stats,
            _debugfs: debugfs,
            _state: shared,
        })
    }
}

impl Drop for Csdwatch {
    fn drop(&mut self) {
        // Before the fields drop: record nothing new, and keep the
        // watchdogs from reporting waits whose end the probes can no
        // longer see (they still resend lost IPIs: hooks::STOPPING). One
        // watchdog at least runs from now until they are stopped, after
        // the probes: it sweeps the queues (watchdog::tick), rescuing lost
        // IPIs the probes no longer see while unregistering them waits for
        // RCU.
        hooks::stop();
        ffi::watchdog_arm_here(params::Param::Tick.ns());
        pr_info!(
            "unloading: {} waits seen, {} in flight\n",
            state::stat(stats::Stat::Waits),
            hooks::in_flight()
        );
        drop(self.probes.take());
        // A flush in progress when its hook went never told its end: the
        // watchdogs, still rescuing until they stop, must not wait on it.
        hooks::flush_hooks_gone();
    }
}
