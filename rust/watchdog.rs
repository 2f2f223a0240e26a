// SPDX-License-Identifier: GPL-2.0

//! The per-CPU watchdog tick: look at every wait this CPU watches, feed
//! the detector what the target looks like, and carry out what it says
//! (resend the IPI, report, panic). Runs in the hard-IRQ timer callback
//! (HARD mode, so also on PREEMPT_RT); it never sleeps, allocates or
//! issues a cross-CPU call. The timer is armed only while this CPU watches
//! a wait (see shim.c): an idle CPU gets no tick from csdwatch.

use crate::detector::{Class, Evidence, TargetSample, Thresholds, Wait};
use crate::ffi::{self, WatcherCells};
use crate::hooks::{self, WAITS};
use crate::params::Param;
use crate::report;
use crate::stats::Stat;
use crate::waits::{Kind, Snapshot, State, MAX_WAITS, NO_CPU};
use core::cell::UnsafeCell;

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
    const fn new() -> Self {
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

static TRACKED: WatcherCells<Tracked> =
    WatcherCells::new([const { UnsafeCell::new(Tracked::new()) }; MAX_WAITS]);

fn thresholds() -> Thresholds {
    Thresholds {
        resend_ns: Param::Resend.ns(),
        report_ns: Param::Report.ns(),
        panic_ns: Param::Panic.ns(),
        irq_frozen_ns: Param::IrqFrozen.ns(),
    }
}

/// The first target of the wait whose csd has not run yet, in the order
/// `csd_lock_wait()` waits for them; `None` when all have run (the waiter
/// just has not returned yet, e.g. it is preempted).
fn blocking_target(s: &Snapshot) -> Option<u32> {
    match s.kind {
        Kind::Single => {
            let t = s.targets().next()?;
            (ffi::csd_locked(s.csd) == Some(true)).then_some(t)
        }
        Kind::Many => s
            .targets()
            .find(|&t| ffi::csd_locked(ffi::cfd_csd(s.sender, t)) == Some(true)),
    }
}

/// What the detector needs of `cpu` now.
pub(crate) fn sample(cpu: u32) -> (TargetSample, hooks::FlushView) {
    let f = hooks::flush_view(cpu);
    (
        TargetSample {
            online: ffi::cpu_online(cpu),
            irqs: ffi::irq_count(cpu),
            last_flush_ns: f.last_flush_ns,
            in_flush: f.in_flush,
        },
        f,
    )
}

/// One tick of the watchdog of `cpu`; the delay to the next in ns, 0 when
/// it watches nothing any more.
pub(crate) fn tick(cpu: u32) -> u64 {
    if hooks::stopping() {
        return 0;
    }
    Stat::WatchdogTicks.inc();
    let now = ffi::now_ns();
    let th = thresholds();
    let mut busy = false;
    for i in 0..MAX_WAITS {
        let Some(s) = WAITS.snapshot(i) else {
            continue;
        };
        if s.watcher != cpu {
            continue;
        }
        let tr = TRACKED.get(i);
        if tr.gen != s.gen {
            *tr = Tracked::new();
            tr.gen = s.gen;
        }
        if s.state == State::Ended {
            finish(i, &s, tr);
            continue;
        }
        busy = true;
        let blocked = blocking_target(&s);
        WAITS.set_blocked_on(i, blocked.unwrap_or(NO_CPU));
        let Some(t) = blocked else {
            continue;
        };
        let (smp, flush) = sample(t);
        if tr.target != t || tr.wait.is_none() {
            tr.target = t;
            tr.wait = Some(Wait::new(s.start_ns, now, smp));
        }
        let Some(w) = tr.wait.as_mut() else {
            continue;
        };
        let (class, ev, act) = w.tick(now, &smp, &th);
        if class != Class::None {
            tr.class = w.stall_class();
            tr.ev = ev;
        }
        if !(act.resend || act.report || act.panic) {
            continue;
        }
        if !WAITS.mark_stalled(i, s.gen) {
            continue; // the waiter returned meanwhile
        }
        tr.stalled = true;
        if act.resend {
            ffi::resend_ipi(t);
            Stat::IpisResent.inc();
            tr.resends += 1;
        }
        if act.report {
            tr.count();
            report::stall(i, &s, t, tr, &flush, now);
        }
        if act.panic {
            report::panic(i, &s, t, tr, &flush);
        }
    }
    if busy {
        Param::Tick.ns()
    } else {
        0
    }
}

/// A wait the watchdog acted on has ended: count it, say so, free its slot.
fn finish(i: usize, s: &Snapshot, tr: &mut Tracked) {
    let waited = s.end_ns.saturating_sub(s.start_ns);
    Stat::LongestWaitUs.max(waited / 1000);
    tr.count();
    let recovered = tr.class == Class::LostIpi && tr.resends > 0;
    if recovered {
        Stat::Recoveries.inc();
    }
    if tr.reports > 0 {
        report::ended(s, tr, waited);
    } else if recovered {
        report::recovered(s, tr, waited);
    }
    WAITS.release_ended(i, s.gen);
}
