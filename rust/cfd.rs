// SPDX-License-Identifier: GPL-2.0

//! Which CPU holds a `smp_call_function_many_cond()` that waits: the
//! choice, made from the states of the sender's per-target csds (read in
//! C, `ffi::cfd_csds`). Pure: no kernel calls, KUnit-tested.
//!
//! In its wait the call walks its targets ascending and waits on the first
//! csd still locked. But a csd can also be locked by an earlier call from
//! the same CPU that did not wait (no `SCF_WAIT`) and whose function has
//! not run (its IPI was lost, its target is stuck): the call's queue loop
//! then spins in `csd_lock()` on it, and the targets before it are locked
//! by this call, queued, and not sent their IPI yet (the IPIs go out after
//! the loop). Such a stale csd still has the earlier call's function or
//! argument (this call sets them right after `csd_lock()`). So the holder
//! is the first locked csd that is not this call's and lies above one that
//! is; else the first of this call's; or, with none of them locked (the
//! loop is at its first target), the first locked one.
//!
//! Not told apart: an earlier call of the same function and argument, and
//! a stale csd outside this call's targets above one of its own still owed
//! (that one is named; its target is stuck too).

/// The state of the sender's csd for one target CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Csd {
    /// Not locked: its function ran (or it was never queued).
    Unlocked,
    /// Locked, with another call's function or argument.
    Other,
    /// Locked, with this call's function and argument.
    Own,
}

/// The CPU that holds the call, from `(cpu, state)` of the sender's csds in
/// ascending CPU order (the sender's own left out); a state that could not
/// be read (`None`: the array was freed under the reader) answers `None`,
/// as does no csd locked.
pub(crate) fn blocker(csds: impl IntoIterator<Item = (u32, Option<Csd>)>) -> Option<u32> {
    let mut first = None;
    let mut first_own = None;
    for (cpu, state) in csds {
        let own = match state? {
            Csd::Unlocked => continue,
            Csd::Other => false,
            Csd::Own => true,
        };
        if !own && first_own.is_some() {
            return Some(cpu);
        }
        if own && first_own.is_none() {
            first_own = Some(cpu);
        }
        if first.is_none() {
            first = Some(cpu);
        }
    }
    first_own.or(first)
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_cfd)]
mod tests {
    use super::*;
    use Csd::{Other, Own, Unlocked};

    fn at(states: &[Option<Csd>]) -> Option<u32> {
        blocker(states.iter().enumerate().map(|(i, &s)| (i as u32, s)))
    }

    #[test]
    fn waits_on_the_first_of_its_own() {
        assert_eq!(at(&[Some(Unlocked), Some(Unlocked)]), None);
        assert_eq!(
            at(&[Some(Unlocked), Some(Own), Some(Unlocked), Some(Own)]),
            Some(1)
        );
    }

    #[test]
    fn a_stale_csd_above_its_own_holds_the_queue_loop() {
        // csd_lock() spins on CPU 3's stale csd: 1 is this call's, queued,
        // its IPI not sent yet
        assert_eq!(
            at(&[Some(Unlocked), Some(Own), Some(Unlocked), Some(Other)]),
            Some(3)
        );
        // a stale one below this call's first is not what it waits for
        assert_eq!(at(&[Some(Other), Some(Unlocked), Some(Own)]), Some(2));
    }

    #[test]
    fn none_of_its_own_locked_names_the_first_locked() {
        assert_eq!(at(&[Some(Unlocked), Some(Other), Some(Other)]), Some(1));
    }

    #[test]
    fn an_unreadable_csd_answers_nothing() {
        assert_eq!(at(&[Some(Own), None, Some(Other)]), None);
        assert_eq!(at(&[]), None);
    }
}
