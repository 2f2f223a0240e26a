// SPDX-License-Identifier: GPL-2.0

//! csdwatch: catch CPUs stuck in `csd_lock_wait()`, tell why, resend the
//! lost IPI and report the owner and target CPUs.
//!
//! Layout: `detector` is the pure per-wait state machine and `waits` the
//! lock-free table of waits in flight (both KUnit-tested, no kernel
//! calls); `hooks` is what the probes on the csd path record; `watchdog`
//! is the per-CPU timer tick that feeds the detector and acts; `report`
//! prints; `params`, `stats` and `ratelimit` are the tunables, counters
//! and message limit; `ffi` is the only boundary to the C shim (`shim.c`,
//! `arch/*.c`) and holds every `unsafe`.

use kernel::prelude::*;

mod detector;
mod ffi;
mod hooks;
mod params;
mod ratelimit;
mod report;
mod stats;
mod waits;
mod watchdog;

module! {
    type: Csdwatch,
    name: "csdwatch",
    authors: ["csdwatch developers"],
    description: "Detect, explain and recover stalled cross-CPU calls (csd_lock_wait)",
    license: "GPL",
}

/// The module; fields drop in order: probes first (no new waits, no
/// handler running), then the watchdogs (no timer armed or running), then
/// the sysfs counters.
struct Csdwatch {
    _probes: ffi::Probes,
    _watchdogs: ffi::Watchdogs,
    _stats: ffi::StatsDir,
}

impl kernel::Module for Csdwatch {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        ffi::resolve()?;
        let stats = ffi::StatsDir::register()?;
        let watchdogs = ffi::Watchdogs::start()?;
        let probes = ffi::Probes::register()?;
        pr_info!(
            "loaded: resend_ms={} report_ms={} panic_ms={} irq_frozen_ms={} tick_ms={}; target stacks: {}\n",
            params::Param::Resend.get(),
            params::Param::Report.get(),
            params::Param::Panic.get(),
            params::Param::IrqFrozen.get(),
            params::Param::Tick.get(),
            ffi::no_nmi().unwrap_or("NMI backtrace")
        );
        Ok(Csdwatch {
            _probes: probes,
            _watchdogs: watchdogs,
            _stats: stats,
        })
    }
}

impl Drop for Csdwatch {
    fn drop(&mut self) {
        // Before the fields drop: record nothing new, and keep the
        // watchdogs from acting on waits whose end the probes can no
        // longer see.
        hooks::stop();
        pr_info!(
            "unloading: {} waits seen, {} in flight\n",
            stats::Stat::Waits.get(),
            hooks::in_flight()
        );
    }
}
