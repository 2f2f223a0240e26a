// SPDX-License-Identifier: GPL-2.0

//! The stall detector: a pure state machine, no kernel calls.
//!
//! The hooks and the watchdog timer feed it numbers (times in ns, counters)
//! and it answers what to do: nothing, resend the call-function IPI, print a
//! report, panic. It keeps, per wait, only what it needs to classify a stall
//! and to back off repeated reports. Everything here is plain arithmetic on
//! values handed in, so it is tested by KUnit without a stalled machine.
//!
//! Invariants:
//! - `Wait::start_ns` is the time the wait was first seen; `now_ns` handed to
//!   [`Wait::tick`] is never compared across CPUs' clocks going backward: an
//!   earlier `now_ns` than `start_ns` is treated as age 0 (the clock the
//!   hooks use, `local_clock()`, can differ slightly between CPUs).
//! - A wait resends at most once per `resend_ns`, and only once it has
//!   looked like a lost IPI on two ticks in a row: never to a target inside
//!   its csd flush (the flush will reach the csd by itself), offline, with
//!   IRQs off, or just out of its flush or IRQs-off section (its pending
//!   IPI is about to run).
//! - "IRQs off" needs proof beyond a frozen interrupt count (a tickless
//!   CPU takes no interrupt with IRQs on): one resend left untaken for
//!   `irq_frozen_ns`; with resends off, the frozen count of a CPU that is
//!   not `nohz_full`.

use core::ffi::CStr;

/// Why a wait is stalled, as far as the evidence tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Not (yet) stalled.
    None,
    /// The target takes interrupts but has not run the csd flush since the
    /// csd was queued: the IPI that should have kicked it never came.
    LostIpi,
    /// The target's interrupt count is frozen: it runs with IRQs disabled.
    TargetIrqsOff,
    /// The target is inside the csd flush, running queued functions.
    SlowHandler,
    /// The target CPU is offline.
    TargetOffline,
}

impl Class {
    /// How reports, the panic message and docs name it (a C string, so the
    /// panic in C can print it too).
    pub(crate) fn cname(self) -> &'static CStr {
        match self {
            Class::None => c"none",
            Class::LostIpi => c"lost IPI",
            Class::TargetIrqsOff => c"target IRQs off",
            Class::SlowHandler => c"slow handler",
            Class::TargetOffline => c"target offline",
        }
    }

    /// [`Class::cname`] as text.
    pub(crate) fn name(self) -> &'static str {
        self.cname().to_str().unwrap_or("?")
    }
}

/// What the watchdog read of the target CPU at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TargetSample {
    /// The CPU is online.
    pub online: bool,
    /// Interrupts the CPU has taken so far (any source).
    pub irqs: u64,
    /// When the CPU last entered the csd flush (0: never seen).
    pub last_flush_ns: u64,
    /// The CPU is inside the csd flush now (entered at `last_flush_ns`).
    pub in_flush: bool,
    /// The CPU is `nohz_full`: its tick stops while one task runs, so its
    /// interrupt count stands still with IRQs on.
    pub tickless: bool,
}

/// Tunables the detector needs, in ns (0 disables the step where noted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Thresholds {
    /// Resend the IPI to a wait this old (0: never resend).
    pub resend_ns: u64,
    /// First report of a wait this old (0: never report).
    pub report_ns: u64,
    /// Panic once a wait is this old (0: off).
    pub panic_ns: u64,
    /// The target's interrupt count must stay unchanged this long to call
    /// it "IRQs off".
    pub irq_frozen_ns: u64,
}

/// What the caller must do after a tick.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Actions {
    /// Send the call-function IPI to the target again.
    pub resend: bool,
    /// Print a stall report now.
    pub report: bool,
    /// Panic now.
    pub panic: bool,
}

/// The evidence behind a classification, printed in the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Evidence {
    /// Age of the wait.
    pub age_ns: u64,
    /// Interrupts the target took since the watchdog first saw the wait.
    pub irqs_delta: u64,
    /// How long the target's interrupt count has not moved.
    pub irqs_frozen_ns: u64,
    /// The target entered the csd flush since the wait began.
    pub flush_entered: bool,
    /// The target is in the flush now, and since how long.
    pub in_flush_ns: Option<u64>,
    /// IPIs resent for this wait so far.
    pub resends: u32,
}

/// Detector state of one wait on one target CPU.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Wait {
    start_ns: u64,
    at_queue: TargetSample,
    last_irqs: u64,
    last_irq_change_ns: u64,
    last_resend_ns: u64,
    resends: u32,
    reports: u32,
    next_report_ns: u64,
    panicked: bool,
    /// The class the last tick(s) gave, and for how many ticks in a row.
    last_class: Class,
    same_ticks: u32,
    /// The stall's settled class (see [`Wait::stall_class`]).
    stall: Class,
}

/// Later reports of the same stall come after 2^n times the report
/// threshold (1x, 2x, 4x ...), capped at this shift.
const MAX_BACKOFF_SHIFT: u32 = 6;

impl Wait {
    /// A wait that began at `start_ns`, first seen at `seen_ns` when the
    /// target looked like `target`. Interrupts are counted from `seen_ns`:
    /// the count at `start_ns` is not known (the hooks do not read it, to
    /// stay cheap).
    pub(crate) const fn new(start_ns: u64, seen_ns: u64, target: TargetSample) -> Self {
        Wait {
            start_ns,
            at_queue: target,
            last_irqs: target.irqs,
            last_irq_change_ns: seen_ns,
            last_resend_ns: 0,
            resends: 0,
            reports: 0,
            next_report_ns: 0,
            panicked: false,
            last_class: Class::None,
            same_ticks: 0,
            stall: Class::None,
        }
    }

    /// The stall's class: what reports, counters and the end line use. It
    /// settles over two ticks; a slow-handler or offline stall never goes
    /// back to "lost IPI", an IRQs-off one does once the target has taken
    /// interrupts for two ticks without entering its flush (unlike the
    /// class [`Wait::tick`] returns, which is what the target looks like now).
    pub(crate) fn stall_class(&self) -> Class {
        self.stall
    }

    /// How many reports were printed for it (read by the KUnit suite only,
    /// compiled out with it, as on kernels without CONFIG_KUNIT).
    #[cfg(csdw_kunit)]
    pub(crate) fn reports(&self) -> u32 {
        self.reports
    }

    /// How many IPIs were resent for it (KUnit only, as above).
    #[cfg(csdw_kunit)]
    pub(crate) fn resends(&self) -> u32 {
        self.resends
    }

    fn age(&self, now_ns: u64) -> u64 {
        now_ns.saturating_sub(self.start_ns)
    }

    /// The evidence about the wait in what the target looks like now.
    fn evidence(&self, now_ns: u64, t: &TargetSample) -> Evidence {
        let frozen = if t.irqs == self.last_irqs {
            now_ns.saturating_sub(self.last_irq_change_ns)
        } else {
            0
        };
        Evidence {
            age_ns: self.age(now_ns),
            irqs_delta: t.irqs.wrapping_sub(self.at_queue.irqs),
            irqs_frozen_ns: frozen,
            flush_entered: t.last_flush_ns > self.start_ns,
            in_flush_ns: if t.in_flush {
                Some(now_ns.saturating_sub(t.last_flush_ns))
            } else {
                None
            },
            resends: self.resends,
        }
    }

    /// Is the frozen count proof of IRQs off? A count can stand still with
    /// IRQs on: a tickless CPU (idle, or `nohz_full` running one task)
    /// takes no interrupt at all, and a vCPU the host does not run takes
    /// none either. What proves it is an IPI that went unanswered: when
    /// resends are allowed, the verdict waits for one of ours to stay
    /// untaken for `irq_frozen_ms` (a CPU with IRQs on takes it at once,
    /// and its flush ends the stall). With resends off, a frozen count is
    /// taken as proof except on a `nohz_full` target.
    fn irqs_off_proven(&self, now_ns: u64, t: &TargetSample, th: &Thresholds) -> bool {
        if th.resend_ns == 0 {
            return !t.tickless;
        }
        self.resends > 0
            && now_ns.saturating_sub(self.last_resend_ns) >= th.irq_frozen_ns.max(1)
            && self.last_irq_change_ns <= self.last_resend_ns
    }

    fn class_of(&self, now_ns: u64, t: &TargetSample, ev: &Evidence, th: &Thresholds) -> Class {
        let frozen_ns = th.irq_frozen_ns.max(1);
        if !t.online {
            Class::TargetOffline
        } else if t.in_flush {
            Class::SlowHandler
        } else if ev.irqs_frozen_ns >= frozen_ns && self.irqs_off_proven(now_ns, t, th) {
            Class::TargetIrqsOff
        } else {
            Class::LostIpi
        }
    }

    /// One watchdog tick for a wait still in flight at `now_ns`.
    ///
    /// Returns the class (`Class::None` while the wait is younger than the
    /// first threshold), the evidence, and what to do.
    pub(crate) fn tick(
        &mut self,
        now_ns: u64,
        t: &TargetSample,
        th: &Thresholds,
    ) -> (Class, Evidence, Actions) {
        let ev = self.evidence(now_ns, t);
        if t.irqs != self.last_irqs {
            self.last_irqs = t.irqs;
            self.last_irq_change_ns = now_ns;
        }
        let age = ev.age_ns;
        let mut act = Actions::default();

        let first = match (th.resend_ns, th.report_ns) {
            (0, 0) => u64::MAX,
            (0, r) | (r, 0) => r,
            (a, b) => a.min(b),
        };
        if age < first && (th.panic_ns == 0 || age < th.panic_ns) {
            return (Class::None, ev, act);
        }
        let class = self.class_of(now_ns, t, &ev, th);
        if class == self.last_class {
            self.same_ticks = self.same_ticks.saturating_add(1);
        } else {
            self.last_class = class;
            self.same_ticks = 1;
        }
        // The stall keeps its most telling class: a new class takes over
        // only after two ticks in a row (the flush that ends a lost IPI, or
        // the first interrupts after an IRQs-off section, last one tick).
        // A slow-handler or offline stall never becomes a lost IPI. An
        // IRQs-off one does after two ticks of interrupts with no flush: a
        // target with IRQs on takes a pending IPI at once, so none is
        // pending. A frozen count alone is not proof of IRQs off: a vCPU
        // the host does not run (steal time; a loaded TCG host) freezes it
        // too, and its lost IPI must not stay blamed on the target.
        if (self.stall == Class::None || self.same_ticks >= 2)
            && matches!(
                self.stall,
                Class::None | Class::LostIpi | Class::TargetIrqsOff
            )
        {
            self.stall = class;
        }

        // Resend only what looks like a lost IPI (online, not flushing, taking
        // interrupts), at most once per resend period. A flushing target will
        // reach the csd by itself; an IRQs-off target keeps one pending IPI
        // latched, so more would be noise (a resend made before the count was
        // seen frozen is that pending IPI).
        // Two ticks in a row: a target that has just left its flush (or
        // turned IRQs back on) takes its pending IPI by the next tick.
        if th.resend_ns != 0
            && age >= th.resend_ns
            && class == Class::LostIpi
            && self.same_ticks >= 2
            && (self.resends == 0 || now_ns.saturating_sub(self.last_resend_ns) >= th.resend_ns)
        {
            act.resend = true;
            self.resends += 1;
            self.last_resend_ns = now_ns;
        }

        if th.report_ns != 0 && age >= th.report_ns && age >= self.next_report_ns {
            act.report = true;
            self.reports += 1;
            let shift = self.reports.min(MAX_BACKOFF_SHIFT);
            self.next_report_ns = th.report_ns.saturating_mul(1u64 << shift);
        }

        if th.panic_ns != 0 && age >= th.panic_ns && !self.panicked {
            act.panic = true;
            self.panicked = true;
        }
        (
            class,
            Evidence {
                resends: self.resends,
                ..ev
            },
            act,
        )
    }
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_detector)]
mod tests {
    use super::*;
    use kernel::prelude::*;

    const MS: u64 = 1_000_000;

    const TH: Thresholds = Thresholds {
        resend_ns: 20 * MS,
        report_ns: 1000 * MS,
        panic_ns: 0,
        irq_frozen_ns: 20 * MS,
    };

    fn busy(irqs: u64) -> TargetSample {
        TargetSample {
            online: true,
            irqs,
            last_flush_ns: 0,
            in_flush: false,
            tickless: false,
        }
    }

    #[test]
    fn young_wait_is_left_alone() {
        let mut w = Wait::new(100 * MS, 100 * MS, busy(10));
        let (c, _, a) = w.tick(110 * MS, &busy(12), &TH);
        assert_eq!(c, Class::None);
        assert_eq!(a, Actions::default());
    }

    #[test]
    fn lost_ipi_is_resent_once_per_period() {
        let mut w = Wait::new(0, 0, busy(10));
        // first tick that calls it a lost IPI: not yet
        let (c, ev, a) = w.tick(25 * MS, &busy(16), &TH);
        assert_eq!(c, Class::LostIpi);
        assert!(!a.resend && !a.report && !a.panic);
        assert!(!ev.flush_entered);
        assert_eq!(ev.irqs_delta, 6);
        // second in a row: resend
        let (_, ev, a) = w.tick(30 * MS, &busy(17), &TH);
        assert!(a.resend);
        assert_eq!(ev.resends, 1);
        // 10 ms later: too soon for another resend.
        let (_, _, a) = w.tick(40 * MS, &busy(19), &TH);
        assert!(!a.resend);
        // One period after the first resend: again.
        let (_, _, a) = w.tick(50 * MS, &busy(22), &TH);
        assert!(a.resend);
        assert_eq!(w.resends(), 2);
    }

    #[test]
    fn target_just_out_of_its_flush_is_not_resent_at_once() {
        let mut w = Wait::new(0, 0, busy(10));
        let flushing = TargetSample {
            in_flush: true,
            last_flush_ns: 1,
            ..busy(10)
        };
        let (c, _, a) = w.tick(1000 * MS, &flushing, &TH);
        assert_eq!(c, Class::SlowHandler);
        assert!(!a.resend);
        // flush over, csd queued behind it not run yet: its IPI is pending
        let out = TargetSample {
            in_flush: false,
            ..busy(11)
        };
        let (c, _, a) = w.tick(1005 * MS, &out, &TH);
        assert_eq!(c, Class::LostIpi);
        assert!(!a.resend);
        // still so a tick later: the IPI was lost after all
        let (_, _, a) = w.tick(1010 * MS, &busy(12), &TH);
        assert!(a.resend);
    }

    #[test]
    fn frozen_interrupts_are_irqs_off_once_a_resend_goes_unanswered() {
        let mut w = Wait::new(0, 0, busy(10));
        // the count stops right after the wait began: not proof yet
        let (c, _, a) = w.tick(21 * MS, &busy(10), &TH);
        assert_eq!(c, Class::LostIpi);
        assert!(!a.resend);
        // second lost-IPI tick: the resend is also the probe
        let (c, _, a) = w.tick(26 * MS, &busy(10), &TH);
        assert_eq!(c, Class::LostIpi);
        assert!(a.resend);
        let (c, _, a) = w.tick(31 * MS, &busy(10), &TH);
        assert_eq!(c, Class::LostIpi);
        assert!(!a.resend);
        // irq_frozen_ms after the resend, still no interrupt: IRQs off
        let (c, _, a) = w.tick(46 * MS, &busy(10), &TH);
        assert_eq!(c, Class::TargetIrqsOff);
        assert!(!a.resend);
        let (c, ev, a) = w.tick(1000 * MS, &busy(10), &TH);
        assert_eq!(c, Class::TargetIrqsOff);
        assert!(a.report);
        assert!(!a.resend);
        assert_eq!(ev.irqs_delta, 0);
        assert_eq!(ev.resends, 1);
        assert!(ev.irqs_frozen_ns >= 999 * MS);
    }

    #[test]
    fn frozen_time_counts_from_first_sight() {
        // first seen 15 ms into the wait: 6 ms of still count is not enough
        let mut w = Wait::new(0, 15 * MS, busy(10));
        let (c, ev, _) = w.tick(21 * MS, &busy(10), &TH);
        assert_eq!(c, Class::LostIpi);
        assert_eq!(ev.irqs_frozen_ns, 6 * MS);
        let (c, _, a) = w.tick(35 * MS, &busy(10), &TH);
        assert_eq!(c, Class::LostIpi);
        assert!(a.resend);
        let (c, _, _) = w.tick(55 * MS, &busy(10), &TH);
        assert_eq!(c, Class::TargetIrqsOff);
    }

    #[test]
    fn a_tickless_target_is_not_called_irqs_off_without_a_probe() {
        let off = Thresholds { resend_ns: 0, ..TH };
        let tickless = TargetSample {
            tickless: true,
            ..busy(10)
        };
        // resends off: a nohz_full CPU's frozen count proves nothing
        let mut w = Wait::new(0, 0, tickless);
        let (c, _, a) = w.tick(1000 * MS, &tickless, &off);
        assert_eq!(c, Class::LostIpi);
        assert!(!a.resend);
        // a CPU with a tick: it does
        let mut w = Wait::new(0, 0, busy(10));
        let (c, _, _) = w.tick(1000 * MS, &busy(10), &off);
        assert_eq!(c, Class::TargetIrqsOff);
        // resends on: the tickless CPU takes the probe (its count moves)
        let mut w = Wait::new(0, 0, tickless);
        w.tick(21 * MS, &tickless, &TH);
        let (_, _, a) = w.tick(26 * MS, &tickless, &TH);
        assert!(a.resend);
        let moved = TargetSample {
            irqs: 11,
            ..tickless
        };
        let (c, _, _) = w.tick(46 * MS, &moved, &TH);
        assert_eq!(c, Class::LostIpi);
    }

    #[test]
    fn recovery_flush_does_not_relabel_a_lost_ipi() {
        let mut w = Wait::new(0, 0, busy(10));
        w.tick(25 * MS, &busy(11), &TH);
        w.tick(30 * MS, &busy(12), &TH);
        assert_eq!(w.stall_class(), Class::LostIpi);
        // the resent IPI arrives: one tick inside the flush
        let flushing = TargetSample {
            in_flush: true,
            last_flush_ns: 31 * MS,
            ..busy(13)
        };
        let (c, _, _) = w.tick(35 * MS, &flushing, &TH);
        assert_eq!(c, Class::SlowHandler);
        assert_eq!(w.stall_class(), Class::LostIpi);
    }

    #[test]
    fn lost_ipi_settles_into_irqs_off_until_irqs_move() {
        let mut w = Wait::new(0, 15 * MS, busy(10));
        w.tick(21 * MS, &busy(10), &TH);
        assert_eq!(w.stall_class(), Class::LostIpi);
        let (_, _, a) = w.tick(35 * MS, &busy(10), &TH);
        assert!(a.resend);
        assert_eq!(w.stall_class(), Class::LostIpi);
        // the resend went unanswered: IRQs off, settled after two ticks
        w.tick(55 * MS, &busy(10), &TH);
        assert_eq!(w.stall_class(), Class::LostIpi);
        w.tick(60 * MS, &busy(10), &TH);
        assert_eq!(w.stall_class(), Class::TargetIrqsOff);
        // IRQs come back on: one tick of interrupts (the target taking its
        // pending IPI on the way to its flush) does not relabel it
        w.tick(65 * MS, &busy(11), &TH);
        assert_eq!(w.stall_class(), Class::TargetIrqsOff);
        // a second one with no flush: no IPI is pending, it is a lost IPI
        // (the count was frozen because the vCPU did not run)
        w.tick(70 * MS, &busy(12), &TH);
        assert_eq!(w.stall_class(), Class::LostIpi);
    }

    #[test]
    fn irqs_moving_again_is_not_irqs_off() {
        let mut w = Wait::new(0, 0, busy(10));
        w.tick(25 * MS, &busy(10), &TH);
        let (_, _, a) = w.tick(30 * MS, &busy(10), &TH);
        assert!(a.resend);
        let (c, _, _) = w.tick(50 * MS, &busy(10), &TH);
        assert_eq!(c, Class::TargetIrqsOff);
        let (c, _, _) = w.tick(60 * MS, &busy(11), &TH);
        assert_eq!(c, Class::LostIpi);
    }

    #[test]
    fn slow_handler_is_not_resent() {
        let mut w = Wait::new(0, 0, busy(10));
        let t = TargetSample {
            in_flush: true,
            last_flush_ns: 2 * MS,
            ..busy(10)
        };
        let (c, ev, a) = w.tick(1200 * MS, &t, &TH);
        assert_eq!(c, Class::SlowHandler);
        assert!(!a.resend);
        assert!(a.report);
        assert!(ev.flush_entered);
        assert_eq!(ev.in_flush_ns, Some(1198 * MS));
    }

    #[test]
    fn offline_target_is_named_and_not_resent() {
        let mut w = Wait::new(0, 0, busy(10));
        let t = TargetSample {
            online: false,
            ..busy(30)
        };
        let (c, _, a) = w.tick(1000 * MS, &t, &TH);
        assert_eq!(c, Class::TargetOffline);
        assert!(!a.resend && a.report);
    }

    #[test]
    fn reports_back_off_exponentially() {
        let mut w = Wait::new(0, 0, busy(10));
        let mut printed = KVec::new();
        let mut now = 0;
        let mut irqs = 10;
        while now <= 16_000 * MS {
            irqs += 1;
            let (_, _, a) = w.tick(now, &busy(irqs), &TH);
            if a.report {
                printed.push(now / MS, GFP_KERNEL).unwrap();
            }
            now += 100 * MS;
        }
        assert_eq!(&printed[..], &[1000, 2000, 4000, 8000, 16000]);
        assert_eq!(w.reports(), 5);
    }

    #[test]
    fn panic_fires_once_and_only_when_enabled() {
        let th = Thresholds {
            panic_ns: 3000 * MS,
            ..TH
        };
        let mut w = Wait::new(0, 0, busy(10));
        let (_, _, a) = w.tick(2999 * MS, &busy(10), &th);
        assert!(!a.panic);
        let (_, _, a) = w.tick(3000 * MS, &busy(10), &th);
        assert!(a.panic);
        let (_, _, a) = w.tick(3100 * MS, &busy(10), &th);
        assert!(!a.panic);
        let mut w = Wait::new(0, 0, busy(10));
        let (_, _, a) = w.tick(100_000 * MS, &busy(10), &TH);
        assert!(!a.panic);
    }

    #[test]
    fn clock_going_backward_is_age_zero() {
        let mut w = Wait::new(500 * MS, 500 * MS, busy(10));
        let (c, ev, a) = w.tick(400 * MS, &busy(10), &TH);
        assert_eq!(c, Class::None);
        assert_eq!(ev.age_ns, 0);
        assert_eq!(a, Actions::default());
    }

    #[test]
    fn disabled_steps_do_nothing() {
        let th = Thresholds {
            resend_ns: 0,
            report_ns: 0,
            panic_ns: 0,
            irq_frozen_ns: 20 * MS,
        };
        let mut w = Wait::new(0, 0, busy(10));
        let (c, _, a) = w.tick(60_000 * MS, &busy(10), &th);
        assert_eq!(c, Class::None);
        assert_eq!(a, Actions::default());
    }
}
