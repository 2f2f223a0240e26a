// SPDX-License-Identifier: GPL-2.0

//! Run-time tunables: `/sys/module/csdwatch/parameters/*` (mode 0644).
//!
//! `module!` parameters are neither visible in sysfs nor writable at run time
//! in 7.3, so the `kernel_param` entries live in the C shim (`module_param_cb`
//! is a macro) and call [`set`] / [`get`] here. The values are plain atomics:
//! hooks and timers read them without locks.

use kernel::prelude::*;

use crate::kcompat::atomic::{ordering::Relaxed, Atomic};

/// One tunable: its sysfs name, default and accepted range.
pub(crate) struct Spec {
    /// File name under `parameters/`.
    pub name: &'static str,
    /// Value at load.
    pub default: u32,
    /// Smallest accepted value.
    pub min: u32,
    /// Largest accepted value.
    pub max: u32,
    /// 0 is also accepted, meaning "off" (even when `min` is above it).
    pub zero_off: bool,
}

impl Spec {
    /// The default in ns (all values are in ms).
    pub(crate) fn default_ns(&self) -> u64 {
        u64::from(self.default) * 1_000_000
    }
}

/// Tunables by id (all values in ms); the id is what the C shim passes back (`csdw_param_ids`
/// in shim.c lists them in this order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Param {
    /// Resend the call-function IPI to a wait this old (ms, 0 = never).
    Resend = 0,
    /// First stall report after this long (ms, 0 = never).
    Report = 1,
    /// Panic once a stall lasts this long (ms, 0 = off).
    Panic = 2,
    /// A target whose interrupt count stays still this long has IRQs off (ms).
    IrqFrozen = 3,
    /// Watchdog timer period while a wait is in flight (ms).
    Tick = 4,
}

/// Number of tunables.
pub(crate) const NR_PARAMS: usize = 5;

/// The specs, indexed by `Param as usize`.
pub(crate) const SPECS: [Spec; NR_PARAMS] = [
    Spec {
        name: "resend_ms",
        default: 20,
        min: 0,
        max: 60_000,
        zero_off: true,
    },
    Spec {
        name: "report_ms",
        default: 1000,
        min: 0,
        max: 600_000,
        zero_off: true,
    },
    Spec {
        // Floor: a cross-CPU call that waits half a second is far past any
        // legitimate latency, while host steal time in a VM or an SMI can
        // stretch a healthy one to tens of ms: panicking below that would
        // take a production machine down for noise.
        name: "panic_ms",
        default: 0,
        min: 500,
        max: 3_600_000,
        zero_off: true,
    },
    Spec {
        name: "irq_frozen_ms",
        default: 20,
        min: 1,
        max: 60_000,
        zero_off: false,
    },
    Spec {
        name: "tick_ms",
        default: 5,
        min: 1,
        max: 1000,
        zero_off: false,
    },
];

// Every default within its range, checked when the module is built.
const _: () = {
    let mut i = 0;
    while i < NR_PARAMS {
        let s = &SPECS[i];
        assert!(s.min <= s.default || (s.zero_off && s.default == 0));
        assert!(s.default <= s.max);
        i += 1;
    }
    // The contract: resend in tens of ms at most, report <= 1 s, no panic.
    assert!(SPECS[Param::Resend as usize].default <= 100);
    assert!(SPECS[Param::Report as usize].default <= 1000);
    assert!(SPECS[Param::Panic as usize].default == 0);
};

/// A set of tunable values: the module's live one ([`VALUES`]), or a
/// test's own.
pub(crate) struct Values([Atomic<u32>; NR_PARAMS]);

impl Values {
    /// Every tunable at its default.
    pub(crate) const fn new() -> Self {
        Values([
            Atomic::new(SPECS[0].default),
            Atomic::new(SPECS[1].default),
            Atomic::new(SPECS[2].default),
            Atomic::new(SPECS[3].default),
            Atomic::new(SPECS[4].default),
        ])
    }

    /// The value of `p`.
    pub(crate) fn get(&self, p: Param) -> u32 {
        self.0[p as usize].load(Relaxed)
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
                    s.name,
                    v,
                    if s.zero_off && s.min > 0 {
                        "0 (off) or "
                    } else {
                        ""
                    },
                    s.min,
                    s.max,
                    self.get(p)
                );
                Err(e)
            }
        }
    }
}

/// The values hooks, timers and sysfs use.
static VALUES: Values = Values::new();

impl Param {
    /// The tunable with id `id`, if there is one.
    pub(crate) fn from_id(id: u32) -> Option<Param> {
        Some(match id {
            0 => Param::Resend,
            1 => Param::Report,
            2 => Param::Panic,
            3 => Param::IrqFrozen,
            4 => Param::Tick,
            _ => return None,
        })
    }

    /// Its spec.
    pub(crate) fn spec(self) -> &'static Spec {
        &SPECS[self as usize]
    }

    /// Its current value.
    pub(crate) fn get(self) -> u32 {
        VALUES.get(self)
    }

    /// Its current value in ns.
    pub(crate) fn ns(self) -> u64 {
        u64::from(self.get()) * 1_000_000
    }
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
    fn ids_round_trip_and_match_specs() {
        for id in 0..NR_PARAMS as u32 {
            let p = Param::from_id(id).unwrap();
            assert_eq!(p as u32, id);
        }
        assert!(Param::from_id(NR_PARAMS as u32).is_none());
        assert_eq!(Param::Resend.spec().name, "resend_ms");
        assert_eq!(Param::Tick.spec().name, "tick_ms");
    }

    #[test]
    fn out_of_range_is_refused_and_changes_nothing() {
        // a set of the test's own: the live values stay as they are
        let v = Values::new();
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
        assert_eq!(v.set(Param::Tick, 7), Ok(()));
        assert_eq!(v.get(Param::Tick), 7);
        assert_eq!(v.get(Param::Resend), 20);
        assert_eq!(v.set(Param::Panic, 0), Ok(()));
        assert_eq!(v.set(Param::Panic, 600), Ok(()));
        assert_eq!(v.get(Param::Panic), 600);
    }
}
