// SPDX-License-Identifier: GPL-2.0

//! What the watchdog keeps about one wait between its ticks (one per slot
//! of the wait table, used only by the CPU watching that slot; see
//! `ffi::WatcherCells`).

use crate::detector::{Class, Evidence, Wait};
use crate::events::Origin;
use crate::stats::Stat;
use crate::waits::NO_CPU;

/// What the watchdog keeps about one wait between ticks.
pub(crate) struct Tracked {
    /// Claim generation of the wait this is about.
    pub gen: u64,
    /// Target the detector follows (the wait's first unfinished target).
    pub target: u32,
    /// Since when that target blocks the wait (the stall's start).
    pub since: u64,
    /// The last look found nothing of the wait locked.
    pub free: bool,
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
    /// The class its last report printed (`Class::None`: none printed).
    pub reported: Class,
    /// The watchdog acted on it.
    pub stalled: bool,
    /// Counted in a `stalls_*` counter.
    pub counted: bool,
    /// Its target's first standing call, as the trace events tell it:
    /// read when the watchdog first acts on the wait (by the time it ends,
    /// the target has flushed and the record tells nothing).
    pub origin: Origin,
}

impl Tracked {
    /// Nothing known yet.
    pub(crate) const fn new() -> Self {
        Tracked {
            gen: 0,
            target: NO_CPU,
            since: 0,
            free: false,
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
            reported: Class::None,
            stalled: false,
            counted: false,
            origin: Origin::UNKNOWN,
        }
    }

    /// Follow the wait's blocking target as a look at `now` found it
    /// (`None`: nothing of the wait is locked). A stall is aged from when
    /// the watcher first saw the blocking csd locked: the first blocker,
    /// seen with nothing free before it, from the wait's start (the waiter
    /// locked that csd, or found it locked, as it began); a new blocker, or
    /// one seen again after a look found nothing locked (a later call
    /// locked the csd anew), from `now`. Returns the blocker, since when,
    /// and whether the stall starts afresh there.
    pub(crate) fn follow(
        &mut self,
        blocked: Option<u32>,
        start_ns: u64,
        now: u64,
    ) -> Option<(u32, u64, bool)> {
        let Some(t) = blocked else {
            self.free = true;
            return None;
        };
        let fresh = self.free || self.target != t;
        if fresh {
            self.since = if self.target == NO_CPU && !self.free {
                start_ns
            } else {
                now
            };
            self.target = t;
            self.free = false;
        }
        Some((t, self.since, fresh))
    }

    /// Count the stall once, under its class: true the one time it is
    /// counted.
    pub(crate) fn count(&mut self) -> bool {
        if self.counted {
            return false;
        }
        self.counted = true;
        match self.class {
            Class::LostIpi => Stat::StallsLostIpi.inc(),
            Class::TargetIrqsOff => Stat::StallsIrqsOff.inc(),
            Class::SlowHandler => Stat::StallsSlowHandler.inc(),
            Class::TargetOffline => Stat::StallsTargetOffline.inc(),
            Class::None => self.counted = false,
        }
        self.counted
    }
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_tracked)]
mod tests {
    use super::*;

    #[test]
    fn the_first_blocker_is_aged_from_the_wait_start() {
        let mut tr = Tracked::new();
        assert_eq!(tr.follow(Some(2), 100, 105), Some((2, 100, true)));
        assert_eq!(tr.follow(Some(2), 100, 110), Some((2, 100, false)));
    }

    #[test]
    fn a_later_blocker_is_aged_from_first_sight() {
        let mut tr = Tracked::new();
        tr.follow(Some(2), 100, 105);
        // CPU 2 ran its csd; CPU 1 was sent its IPI only now
        assert_eq!(tr.follow(Some(1), 100, 2500), Some((1, 2500, true)));
        assert_eq!(tr.follow(Some(1), 100, 2505), Some((1, 2500, false)));
    }

    #[test]
    fn a_csd_locked_again_is_a_new_stall() {
        let mut tr = Tracked::new();
        // nothing locked at the first look: the waiter's csds ran
        assert_eq!(tr.follow(None, 100, 105), None);
        // another task's call on that CPU locked the same csd
        assert_eq!(tr.follow(Some(2), 100, 900), Some((2, 900, true)));
        assert_eq!(tr.follow(None, 100, 905), None);
        assert_eq!(tr.follow(Some(2), 100, 1500), Some((2, 1500, true)));
        assert_eq!(tr.follow(Some(2), 100, 1505), Some((2, 1500, false)));
    }
}
