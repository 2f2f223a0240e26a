// SPDX-License-Identifier: GPL-2.0

//! csdwatch: catch CPUs stuck in `csd_lock_wait()`, tell why, resend the
//! lost IPI and report the owner and target CPUs.
//!
//! Layout: `detector` is the pure state machine (KUnit-tested); `params`
//! and `stats` hold the run-time tunables and counters; `ffi` is the only
//! boundary to the C shim (`shim.c`).

use kernel::prelude::*;

mod detector;
mod ffi;
mod params;
mod stats;

module! {
    type: Csdwatch,
    name: "csdwatch",
    authors: ["csdwatch developers"],
    description: "Detect, explain and recover stalled cross-CPU calls (csd_lock_wait)",
    license: "GPL",
}

struct Csdwatch {
    _stats: ffi::StatsDir,
}

impl kernel::Module for Csdwatch {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let stats = ffi::StatsDir::register()?;
        pr_info!(
            "loaded: resend_ms={} report_ms={} panic_ms={} irq_frozen_ms={} tick_ms={}\n",
            params::Param::Resend.get(),
            params::Param::Report.get(),
            params::Param::Panic.get(),
            params::Param::IrqFrozen.get(),
            params::Param::Tick.get()
        );
        Ok(Csdwatch { _stats: stats })
    }
}

impl Drop for Csdwatch {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
