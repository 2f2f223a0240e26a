// SPDX-License-Identifier: GPL-2.0

//! csdwatch's own trace events, `csdwatch:stall`, `csdwatch:resend` and
//! `csdwatch:recovered` (declared in C, rust/csdwatch_trace.h; fields in
//! Documentation/ABI/testing/tracefs-csdwatch). They are the machine-read
//! twin of the reports: never rate-limited, one per stall counted, per IPI
//! resent and per counted stall that ended. Called from the watchdog (hard
//! IRQ); each is a static-key test in C while its event is off.

use crate::detector::Class;
use crate::ffi;
use crate::origin::{First, Why};

/// The `class` field (csdwatch_trace.h CSDW_TRACE_CLASSES: the numbers are
/// ABI).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum EventClass {
    LostIpi = 0,
    IrqsOff = 1,
    SlowHandler = 2,
    Offline = 3,
    /// A queue the queue side watches, no wait tracked on it.
    UnwaitedQueue = 4,
}

impl EventClass {
    /// The wait's class; a stall not yet classed is a lost IPI, what the
    /// watchdog acts on before any other evidence comes in.
    pub(crate) fn of(c: Class) -> Self {
        match c {
            Class::None | Class::LostIpi => EventClass::LostIpi,
            Class::TargetIrqsOff => EventClass::IrqsOff,
            Class::SlowHandler => EventClass::SlowHandler,
            Class::TargetOffline => EventClass::Offline,
        }
    }
}

/// What the target's first standing call tells (crate::origin), as the
/// events carry it: `ipi_sent` 1 (the kernel sent the IPI), 0 (it sent
/// none: owed, or not needed for a polling-idle CPU), -1 (not known);
/// `pusher_pid` the first pusher's pid, 0 for interrupt context, -1 not
/// known.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Origin {
    pub ipi_sent: i32,
    pub pusher_pid: i32,
}

impl Origin {
    pub(crate) const UNKNOWN: Origin = Origin {
        ipi_sent: -1,
        pusher_pid: -1,
    };

    /// From the origin record's answer.
    pub(crate) fn from_why(why: Why) -> Self {
        let (ipi_sent, first) = match why {
            Why::Unsure | Why::Unknown => return Origin::UNKNOWN,
            Why::NotSent { first, .. } | Why::PollingIdle { first, .. } => (0, first),
            Why::NotTaken { first, .. } => (1, first),
        };
        let pusher_pid = match first {
            First::By(p) => i32::try_from(p.pid).unwrap_or(-1),
            First::InIrq { .. } => 0,
            First::Unseen => -1,
        };
        Origin {
            ipi_sent,
            pusher_pid,
        }
    }

    /// From what the origin record tells now (`None`: no record), as
    /// far as this kernel lets csdwatch see IPI sends.
    pub(crate) fn of(why: Option<Why>) -> Self {
        let Some(why) = why else {
            return Origin::UNKNOWN;
        };
        let mut got = Origin::from_why(why);
        if !ffi::ipi_sends_seen() {
            got.ipi_sent = -1;
        }
        got
    }
}

/// Which event (the numbers are shim.h's CSDW_EV_*, ffi::trace_event's).
#[derive(Clone, Copy)]
pub(crate) enum Event {
    /// A stall counted in `stats/stalls_*` or `stats/queue_stalls`.
    Stall = 0,
    /// A call-function IPI resent (`stats/ipis_resent`).
    Resend = 1,
    /// A counted stall ended.
    Recovered = 2,
}

/// One event's fields. `waiter`: the waiting CPU, `None` for a queue
/// nobody waits on; `func`: the waited call's function (0: not known, as
/// for a queue); `age_ns`: since the stall began (for `Recovered`, the
/// whole stall); `resends`: IPIs resent for it so far.
pub(crate) struct Fields {
    pub waiter: Option<u32>,
    pub target: u32,
    pub func: usize,
    pub class: EventClass,
    pub age_ns: u64,
    pub origin: Origin,
    pub resends: u32,
}

/// Emit `ev` (nothing while it is off).
pub(crate) fn emit(ev: Event, f: &Fields) {
    ffi::trace_event(
        ev as u32,
        f.waiter.map_or(-1, |w| w as i32),
        f.target as i32,
        f.func,
        f.class as i32,
        f.age_ns / 1000,
        f.origin.ipi_sent,
        f.origin.pusher_pid,
        f.resends,
    );
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_events)]
mod tests {
    use super::*;
    use crate::origin::{Pusher, IN_IRQ};

    const P: Pusher = Pusher {
        cpu: 3,
        task: 0x1000,
        pid: 42,
        cfd: false,
        node: 0,
    };

    #[test]
    fn an_owed_ipi_names_its_pusher() {
        let o = Origin::from_why(Why::NotSent {
            first: First::By(P),
            ago_ns: 5,
        });
        assert_eq!((o.ipi_sent, o.pusher_pid), (0, 42));
    }

    #[test]
    fn a_sent_ipi_is_one_and_an_irq_pusher_pid_zero() {
        let o = Origin::from_why(Why::NotTaken {
            first: First::InIrq { cpu: 2 },
            ago_ns: 1,
            first_ago_ns: 2,
        });
        assert_eq!((o.ipi_sent, o.pusher_pid), (1, 0));
        // the sentinel for interrupt context never leaks out as a pid
        let p = Pusher { pid: IN_IRQ, ..P };
        assert_eq!(
            Origin::from_why(Why::NotSent {
                first: First::By(p),
                ago_ns: 1
            })
            .pusher_pid,
            -1
        );
    }

    #[test]
    fn nothing_known_is_minus_one() {
        assert_eq!(Origin::from_why(Why::Unknown), Origin::UNKNOWN);
        assert_eq!(Origin::from_why(Why::Unsure), Origin::UNKNOWN);
        let o = Origin::from_why(Why::NotSent {
            first: First::Unseen,
            ago_ns: 1,
        });
        assert_eq!((o.ipi_sent, o.pusher_pid), (0, -1));
    }

    #[test]
    fn classes_keep_their_abi_numbers() {
        assert_eq!(EventClass::of(Class::None) as i32, 0);
        assert_eq!(EventClass::of(Class::LostIpi) as i32, 0);
        assert_eq!(EventClass::of(Class::TargetIrqsOff) as i32, 1);
        assert_eq!(EventClass::of(Class::SlowHandler) as i32, 2);
        assert_eq!(EventClass::of(Class::TargetOffline) as i32, 3);
        assert_eq!(EventClass::UnwaitedQueue as i32, 4);
    }
}
