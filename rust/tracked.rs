// SPDX-License-Identifier: GPL-2.0

//! What the watchdog keeps about one wait between its ticks (one per slot
//! of the wait table, used only by the CPU watching that slot; see
//! `ffi::WatcherCells`).

use crate::detector::{Class, Evidence, Wait};
use crate::stats::Stat;
use crate::waits::NO_CPU;

/// What the watchdog keeps about one wait between ticks.
pub(crate) struct Tracked {
    /// Claim generation of the wait this is about.
    pub gen: u64,
    /// Target the detector follows (the wait's first unfinished target).
    pub target: u32,
    /// Detector state for that target.
    pub wait: Option<Wait>,
    /// The stall's class ([`Wait::stall_class`] of its blocking target).
    pub class: Class,
    /// Evidence behind it.
    pub ev: Evidence,
    /// IPIs resent for this wait (all targets).
    pub resends: u32,
    /// Reports printed for it.
    pub reports: u32,
    /// The watchdog acted on it.
    pub stalled: bool,
    /// Counted in a `stalls_*` counter.
    pub counted: bool,
}

impl Tracked {
    /// Nothing known yet.
    pub(crate) const fn new() -> Self {
        Tracked {
            gen: 0,
            target: NO_CPU,
            wait: None,
            class: Class::None,
            ev: Evidence {
                age_ns: 0,
                irqs_delta: 0,
                irqs_frozen_ns: 0,
                flush_entered: false,
                in_flush_ns: None,
                resends: 0,
            },
            resends: 0,
            reports: 0,
            stalled: false,
            counted: false,
        }
    }

    /// Count the stall once, under its class.
    pub(crate) fn count(&mut self) {
        if self.counted {
            return;
        }
        self.counted = true;
        match self.class {
            Class::LostIpi => Stat::StallsLostIpi.inc(),
            Class::TargetIrqsOff => Stat::StallsIrqsOff.inc(),
            Class::SlowHandler => Stat::StallsSlowHandler.inc(),
            Class::TargetOffline => Stat::StallsTargetOffline.inc(),
            Class::None => self.counted = false,
        }
    }
}
