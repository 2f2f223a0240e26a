// SPDX-License-Identifier: GPL-2.0

//! `hooks=pushes`: the watchdog's memory of the queues its CPU pushed to.
//!
//! In this mode the one hook is the kernel's `csd_queue_cpu` event, and its
//! probe (shim.c, `csdw_tp_push`) only notes on the pushing CPU's own
//! record, per target, the newest node pushed and whether some push found
//! the target's queue empty, and arms that CPU's watchdog once per tick
//! period. No clock is read, nothing shared is written and Rust is not
//! called on the push. The watchdog's tick takes the notes into a
//! [`PushWatch`] and reads the queue heads:
//!
//! - a target whose queue is empty now was flushed of every push made
//!   before this look: [`Seen::Served`], forgotten;
//! - a target whose head is no longer the node this CPU pushed was pushed
//!   to since, by another CPU, whose own watchdog watches it now:
//!   [`Seen::Passed`], forgotten (a CPU's note is the newest of its own
//!   pushes, so the newest pusher of a stuck queue always holds it);
//! - a target whose head is still this CPU's node has had no push since
//!   and no flush: its calls stand ([`Seen::Standing`]), for as long as
//!   since the push that found the queue empty (or since this CPU first
//!   saw it non-empty). The watchdog acts on that as on any queue that
//!   stands (resend, report: `watchdog::act_on_queue`).
//!
//! A node pushed again after its flush (a task woken again, by another
//! CPU, into the same empty queue) looks like one that stood: that gives
//! at most a needless resend, and a report only if it is found so at
//! every tick for `report_ms`. A CPU that pushes to more targets between
//! two ticks than its record holds sets a flag, and its tick then looks at
//! every online CPU's queue ([`PushWatch::sighted`]): O(`nr_cpu_ids`) only
//! while that many are in flight.
//!
//! Pure: no kernel call. Only the owning CPU's tick touches a
//! `PushWatch` (its hard IRQ), so every access is `Relaxed`.

use crate::kcompat::atomic::{ordering::Relaxed, Atomic};

/// Targets one CPU's watchdog keeps in mind.
pub(crate) const SLOTS: usize = 16;

/// `target` of a free slot.
const FREE: u32 = u32::MAX;

/// What a look at a remembered target found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Its queue is empty: every push made before the look was flushed.
    Served,
    /// Another CPU pushed to it since: that CPU watches it now.
    Passed,
    /// The node this CPU pushed is still its head, for at least `age_ns`.
    Standing {
        /// Since the push that found the queue empty, or the first sight.
        age_ns: u64,
    },
}

struct Slot {
    target: Atomic<u32>,
    node: Atomic<usize>,
    since: Atomic<u64>,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            target: Atomic::new(FREE),
            node: Atomic::new(0),
            since: Atomic::new(0),
        }
    }
}

/// One CPU's remembered targets (`hooks=pushes`).
pub(crate) struct PushWatch {
    slots: [Slot; SLOTS],
}

impl PushWatch {
    pub(crate) const fn new() -> Self {
        PushWatch {
            slots: [const { Slot::new() }; SLOTS],
        }
    }

    fn find(&self, target: u32) -> Option<&Slot> {
        self.slots.iter().find(|s| s.target.load(Relaxed) == target)
    }

    fn take_free(&self, target: u32, node: usize, now: u64) -> bool {
        let Some(s) = self.find(FREE) else {
            return false;
        };
        s.node.store(node, Relaxed);
        s.since.store(now, Relaxed);
        s.target.store(target, Relaxed);
        true
    }

    /// This CPU pushed `node` to `target` since the last tick, the newest
    /// of its pushes there; `empty`: one of them found the queue empty (an
    /// episode began). False if no slot was free.
    pub(crate) fn note(&self, target: u32, node: usize, empty: bool, now: u64) -> bool {
        match self.find(target) {
            Some(s) => {
                s.node.store(node, Relaxed);
                if empty {
                    s.since.store(now, Relaxed);
                }
                true
            }
            None => self.take_free(target, node, now),
        }
    }

    /// A scan found `head` at the front of `target`'s queue (no push of
    /// this CPU's is known there): remember it, or keep its age if it is
    /// the head already remembered. False if no slot was free.
    pub(crate) fn sighted(&self, target: u32, head: usize, now: u64) -> bool {
        match self.find(target) {
            Some(s) if s.node.load(Relaxed) == head => true,
            Some(s) => {
                s.node.store(head, Relaxed);
                s.since.store(now, Relaxed);
                true
            }
            None => self.take_free(target, head, now),
        }
    }

    /// The target remembered in slot `i`, if any.
    pub(crate) fn target(&self, i: usize) -> Option<u32> {
        let t = self.slots.get(i)?.target.load(Relaxed);
        (t != FREE).then_some(t)
    }

    /// Is `target` remembered?
    pub(crate) fn has(&self, target: u32) -> bool {
        self.find(target).is_some()
    }

    /// Look at slot `i`, whose target's queue has `head` at its front now
    /// (0: empty; `served`: treat it as flushed, e.g. the CPU went
    /// offline). A served or passed target is forgotten.
    pub(crate) fn look(&self, i: usize, head: usize, served: bool, now: u64) -> Option<Seen> {
        let s = self.slots.get(i)?;
        if s.target.load(Relaxed) == FREE {
            return None;
        }
        let seen = if served || head == 0 {
            Seen::Served
        } else if head != s.node.load(Relaxed) {
            Seen::Passed
        } else {
            return Some(Seen::Standing {
                age_ns: now.saturating_sub(s.since.load(Relaxed)),
            });
        };
        s.target.store(FREE, Relaxed);
        Some(seen)
    }

    /// Does it remember any target?
    pub(crate) fn any(&self) -> bool {
        self.slots.iter().any(|s| s.target.load(Relaxed) != FREE)
    }
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_push_watch)]
mod tests {
    use super::*;

    const N: usize = 0x1000;
    const M: usize = 0x2000;

    fn only(w: &PushWatch) -> usize {
        (0..SLOTS).find(|&i| w.target(i).is_some()).unwrap()
    }

    #[test]
    fn a_flushed_push_is_forgotten_at_the_first_look() {
        let w = PushWatch::new();
        assert!(w.note(2, N, true, 100));
        let i = only(&w);
        assert_eq!(w.target(i), Some(2));
        assert_eq!(w.look(i, 0, false, 105), Some(Seen::Served));
        assert!(!w.any());
        assert_eq!(w.look(i, 0, false, 110), None);
    }

    #[test]
    fn a_push_still_at_the_head_ages_from_the_empty_queue() {
        let w = PushWatch::new();
        w.note(3, N, true, 100);
        let i = only(&w);
        assert_eq!(w.look(i, N, false, 100), Some(Seen::Standing { age_ns: 0 }));
        assert_eq!(
            w.look(i, N, false, 130),
            Some(Seen::Standing { age_ns: 30 })
        );
        // more pushes onto the stuck queue (not empty): the age goes on
        w.note(3, M, false, 140);
        assert_eq!(
            w.look(i, M, false, 150),
            Some(Seen::Standing { age_ns: 50 })
        );
        // a push that found it empty began a new episode
        w.note(3, N, true, 160);
        assert_eq!(w.look(i, N, false, 165), Some(Seen::Standing { age_ns: 5 }));
        assert_eq!(w.look(i, 0, false, 170), Some(Seen::Served));
    }

    #[test]
    fn a_later_pusher_takes_it_over() {
        let w = PushWatch::new();
        w.note(1, N, true, 100);
        let i = only(&w);
        assert_eq!(w.look(i, M, false, 110), Some(Seen::Passed));
        assert!(!w.has(1));
    }

    #[test]
    fn an_offline_target_is_served() {
        let w = PushWatch::new();
        w.note(1, N, true, 100);
        let i = only(&w);
        assert_eq!(w.look(i, N, true, 110), Some(Seen::Served));
    }

    #[test]
    fn full_and_sighted() {
        let w = PushWatch::new();
        for t in 0..SLOTS as u32 {
            assert!(w.note(t, N, true, 1));
        }
        assert!(!w.note(99, N, true, 1));
        assert!(w.note(0, M, false, 2)); // a known target still fits
        let w = PushWatch::new();
        assert!(w.sighted(5, N, 10));
        let i = only(&w);
        // the same head seen again keeps its age; another one restarts it
        assert!(w.sighted(5, N, 20));
        assert_eq!(w.look(i, N, false, 30), Some(Seen::Standing { age_ns: 20 }));
        assert!(w.sighted(5, M, 40));
        assert_eq!(w.look(i, M, false, 45), Some(Seen::Standing { age_ns: 5 }));
    }
}
