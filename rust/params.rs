// SPDX-License-Identifier: GPL-2.0

//! Run-time tunables: `/sys/module/csdwatch/parameters/*` (mode 0644).
//!
//! `module!` parameters are neither visible in sysfs nor writable at run time
//! in 7.3, so the `kernel_param` entries live in the C shim (`module_param_cb`
//! is a macro) and call [`set`] / [`get`] here. The values are plain atomics:
//! hooks and timers read them without locks.

use kernel::prelude::*;

use crate::ffi;
use crate::kcompat::atomic::{ordering::Relaxed, Atomic};

/// One tunable's default and accepted range, from shim.h's table.
pub(crate) type Spec = ffi::ParamSpec;

/// Tunables by id (all values in ms). Each is stated once, in shim.h's
/// `CSDW_PARAMS` (name, default, range, description), whose row order is
/// the id the C shim passes back; this mirrors the ids and names, and the
/// KUnit suite checks the two agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Param {
    /// `resend_ms`: resend the call-function IPI to a wait this old (0 = never).
    Resend = 0,
    /// `report_ms`: first stall report after this long (0 = never).
    Report = 1,
    /// `panic_ms`: panic once a stall lasts this long (0 = off).
    Panic = 2,
    /// `irq_frozen_ms`: a target whose interrupt count stays still this long
    /// has IRQs off.
    IrqFrozen = 3,
    /// `tick_ms`: watchdog timer period while a wait is in flight.
    Tick = 4,
}

/// Number of tunables.
pub(crate) const NR_PARAMS: usize = 5;

/// Every tunable, in id order.
const ALL: [Param; NR_PARAMS] = [
    Param::Resend,
    Param::Report,
    Param::Panic,
    Param::IrqFrozen,
    Param::Tick,
];
// each tunable at its id: checked when the module is built
const _: () = {
    let mut i = 0;
    while i < NR_PARAMS {
        assert!(ALL[i] as usize == i);
        i += 1;
    }
};

/// What [`Param::spec`] gives for an id shim.h's table lacks (none: the
/// KUnit suite checks every id has its row): no value accepted.
const MISSING: Spec = Spec {
    default: 0,
    min: 1,
    max: 0,
    zero_off: false,
};

/// A value never set: the default (shim.h's table) stands. Above every
/// `max`, so never a value a tunable takes.
const UNSET: u32 = u32::MAX;

/// A set of tunable values: the module's live one ([`VALUES`]), or a
/// test's own.
pub(crate) struct Values([Atomic<u32>; NR_PARAMS]);

impl Values {
    /// Every tunable at its default.
    pub(crate) const fn new() -> Self {
        Values([const { Atomic::new(UNSET) }; NR_PARAMS])
    }

    /// The value of `p`, once settled: one load, for the hooks and timers
    /// (module init settles the live values before it registers them).
    pub(crate) fn get(&self, p: Param) -> u32 {
        self.0[p as usize].load(Relaxed)
    }

    /// The value of `p` at any time, before settling too (then its
    /// default): what sysfs shows, whose files exist before module init.
    pub(crate) fn shown(&self, p: Param) -> u32 {
        match self.0[p as usize].load(Relaxed) {
            UNSET => p.spec().default,
            v => v,
        }
    }

    /// Store its default in every tunable still unset, so that [`get`]
    /// reads one word and no check for UNSET; a value set meanwhile
    /// stays.
    ///
    /// [`get`]: Values::get
    fn settle(&self) {
        for p in ALL {
            let _ = self.0[p as usize].cmpxchg(UNSET, p.spec().default, Relaxed);
        }
    }

    /// Set `p` to `v` if valid; on a bad value log why and keep the old one.
    pub(crate) fn set(&self, p: Param, v: u32) -> Result<(), Invalid> {
        let s = p.spec();
        match validate(p, v) {
            Ok(v) => {
                self.0[p as usize].store(v, Relaxed);
                Ok(())
            }
            Err(e) => {
                pr_warn!(
                    "{}={} refused: must be {}{}..={}, kept {}\n",
                    p.name(),
                    v,
                    if s.zero_off && s.min > 0 {
                        "0 (off) or "
                    } else {
                        ""
                    },
                    s.min,
                    s.max,
                    self.shown(p)
                );
                Err(e)
            }
        }
    }
}

/// The values hooks, timers and sysfs use. Values given at load are set
/// before module init runs; the others read as their defaults.
static VALUES: Values = Values::new();

impl Param {
    /// The tunable with id `id`, if there is one.
    pub(crate) fn from_id(id: u32) -> Option<Param> {
        ALL.get(id as usize).copied()
    }

    /// Its file name under `parameters/` (shim.h's table names it too).
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Param::Resend => "resend_ms",
            Param::Report => "report_ms",
            Param::Panic => "panic_ms",
            Param::IrqFrozen => "irq_frozen_ms",
            Param::Tick => "tick_ms",
        }
    }

    /// Its default and range, from shim.h's table.
    pub(crate) fn spec(self) -> Spec {
        ffi::param_spec(self as u32).unwrap_or(MISSING)
    }

    /// Its default in ns.
    pub(crate) fn default_ns(self) -> u64 {
        u64::from(self.spec().default) * 1_000_000
    }

    /// Its current value (hooks and timers: after module init settled it).
    pub(crate) fn get(self) -> u32 {
        VALUES.get(self)
    }

    /// Its current value as sysfs shows it, at any time.
    pub(crate) fn shown(self) -> u32 {
        VALUES.shown(self)
    }

    /// Its current value in ns.
    pub(crate) fn ns(self) -> u64 {
        u64::from(self.get()) * 1_000_000
    }
}

/// Module init, before any hook or timer reads a value: every tunable not
/// set at load takes its default.
pub(crate) fn settle() {
    VALUES.settle();
}

/// Why a value was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Outside `[min, max]`.
    OutOfRange,
}

/// Check `v` for `p` without changing anything.
pub(crate) fn validate(p: Param, v: u32) -> Result<u32, Invalid> {
    let s = p.spec();
    if v == 0 && s.zero_off {
        Ok(0)
    } else if v < s.min || v > s.max {
        Err(Invalid::OutOfRange)
    } else {
        Ok(v)
    }
}

/// Set the live `p` to `v` if valid; on a bad value log why and keep the
/// old one.
pub(crate) fn set(p: Param, v: u32) -> Result<(), Invalid> {
    VALUES.set(p, v)
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_params)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for id in 0..NR_PARAMS as u32 {
            let p = Param::from_id(id).unwrap();
            assert_eq!(p as u32, id);
        }
        assert!(Param::from_id(NR_PARAMS as u32).is_none());
    }

    #[test]
    fn c_table_agrees() {
        // shim.h's CSDW_PARAMS, the one statement of each tunable, and this
        // mirror: the same names at the same ids, and as many rows as ids
        for p in ALL {
            assert_eq!(ffi::param_name(p as u32), Some(p.name()));
            assert!(ffi::param_spec(p as u32).is_some());
        }
        assert_eq!(ffi::param_name(NR_PARAMS as u32), None);
        assert!(ffi::param_spec(NR_PARAMS as u32).is_none());
        // the ABI, as Documentation/csdwatch.rst documents it: defaults
        // and accepted ranges
        let spec = |p: Param| {
            let s = p.spec();
            (s.default, s.min, s.max, s.zero_off)
        };
        assert_eq!(spec(Param::Resend), (20, 0, 60_000, true));
        assert_eq!(spec(Param::Report), (1000, 0, 600_000, true));
        assert_eq!(spec(Param::Panic), (0, 500, 3_600_000, true));
        assert_eq!(spec(Param::IrqFrozen), (20, 1, 60_000, false));
        assert_eq!(spec(Param::Tick), (5, 1, 1000, false));
    }

    #[test]
    fn unset_reads_as_default_and_settles() {
        let v = Values::new();
        assert_eq!(v.shown(Param::Report), 1000);
        assert_eq!(v.set(Param::Report, 700), Ok(()));
        v.settle();
        assert_eq!(v.get(Param::Report), 700);
        assert_eq!(v.get(Param::Tick), 5);
        for p in ALL {
            assert!(v.0[p as usize].load(Relaxed) != UNSET);
        }
    }

    #[test]
    fn out_of_range_is_refused_and_changes_nothing() {
        // a set of the test's own: the live values stay as they are
        let v = Values::new();
        v.settle();
        assert_eq!(validate(Param::IrqFrozen, 0), Err(Invalid::OutOfRange));
        assert_eq!(v.set(Param::IrqFrozen, 0), Err(Invalid::OutOfRange));
        assert_eq!(v.get(Param::IrqFrozen), 20);
        assert_eq!(v.set(Param::Tick, 1001), Err(Invalid::OutOfRange));
        assert_eq!(v.get(Param::Tick), 5);
        assert_eq!(validate(Param::Report, 600_000), Ok(600_000));
        assert_eq!(validate(Param::Panic, 0), Ok(0));
    }

    #[test]
    fn panic_ms_has_a_floor() {
        // a 1 ms wait must never panic a production machine
        assert_eq!(validate(Param::Panic, 1), Err(Invalid::OutOfRange));
        assert_eq!(validate(Param::Panic, 499), Err(Invalid::OutOfRange));
        assert_eq!(validate(Param::Panic, 500), Ok(500));
        assert_eq!(validate(Param::Panic, 0), Ok(0));
    }

    #[test]
    fn valid_value_is_stored_and_read_back() {
        // a set of the test's own: the running watchdogs' tick_ms stays
        let v = Values::new();
        v.settle();
        assert_eq!(v.set(Param::Tick, 7), Ok(()));
        assert_eq!(v.get(Param::Tick), 7);
        assert_eq!(v.get(Param::Resend), 20);
        assert_eq!(v.set(Param::Panic, 0), Ok(()));
        assert_eq!(v.set(Param::Panic, 600), Ok(()));
        assert_eq!(v.get(Param::Panic), 600);
    }
}
