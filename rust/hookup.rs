// SPDX-License-Identifier: GPL-2.0

//! Hooking up at load: which hooks to register (`hooks=`, the choice made
//! by `hooks_mode`) and the proof that each of them fires (the judgement
//! made by `proof`). The parts of both that call the kernel and print.

use crate::ffi;
use crate::hooks_mode::{self, Mode};
use crate::proof::{self, Call, Hook};
use kernel::prelude::*;

/// Choose the hooks (module init, before any is registered) and tell the
/// shim; `Err` after a line naming what is missing.
pub(crate) fn select() -> Result<Mode> {
    let requested = hooks_mode::requested();
    let missing = ffi::tracepoints_missing();
    let mode = match hooks_mode::choose(requested, missing) {
        Ok(m) => m,
        Err(m) => {
            pr_err!(
                "hooks={}: this kernel has no {}; not loading (hooks=kprobes does without)\n",
                requested.name(),
                m
            );
            return Err(kernel::error::code::ENOENT);
        }
    };
    if let (Mode::Auto, Some(m)) = (requested, missing) {
        pr_info!("hooks=auto: no {} in this kernel: using kprobes\n", m);
    }
    ffi::set_hook_mode(mode == Mode::Tracepoints, mode == Mode::Pushes);
    hooks_mode::set_in_use(mode);
    Ok(mode)
}

/// How many times each of the check's calls is made at most.
const ATTEMPTS: u32 = 5;

/// What the check found, for the load line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proven {
    /// Every hook saw its call.
    Seen,
    /// No other CPU was online to call.
    NoOtherCpu,
}

impl Proven {
    /// For the load line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Proven::Seen => "each saw a cross call at load",
            Proven::NoOtherCpu => "not checked (one CPU online)",
        }
    }
}

/// Make one call of each kind and judge the hooks; `Err` (after a line
/// naming the silent hook) refuses the load. Module init, process context,
/// probes and watchdogs running (a call of its own that meets a lost IPI
/// is rescued like any other).
pub(crate) fn prove() -> Result<Proven> {
    let blind = match proof::parse_blind(ffi::selftest_blind()) {
        Ok(b) => b,
        Err(()) => {
            pr_err!(
                "selftest_blind: no hook of that name (single_entry, queue, flush, return, many_entry, ipi_send); not loading\n"
            );
            return Err(EINVAL);
        }
    };
    let mode = hooks_mode::shown();
    let mut ipi_seen = false;
    for call in [Call::Single, Call::Many] {
        // A hook that fires can still miss one call: a kprobe hit while
        // another kprobe runs on that CPU is skipped (kprobes' nmissed;
        // seen on Debian's kernel under cross-call load and CPU hotplug,
        // 3 of ~60 loads), and a target polling in idle is sent no IPI.
        // So each call is made up to ATTEMPTS times, and a hook must see
        // at least one of them; a hook that never fires sees none.
        let mut s = 0;
        let mut target = 0;
        for _ in 0..ATTEMPTS {
            proof::begin(ffi::current_task(), ffi::proof_fn(), blind);
            let r = ffi::proof_call(call == Call::Many);
            s |= proof::end();
            target = match r {
                Ok(t) => t,
                Err(ffi::ProofError::NoOtherCpu) => {
                    pr_info!("hook check skipped: no other CPU is online to call\n");
                    return Ok(Proven::NoOtherCpu);
                }
                Err(ffi::ProofError::NotRun) => {
                    pr_err!(
                        "hook check: {}() returned but its function did not run on the other CPU; not loading\n",
                        call.name()
                    );
                    return Err(EIO);
                }
            };
            if proof::silent(call.required_in(mode), s).is_none()
                && (ipi_seen || !ffi::ipi_sends_seen() || proof::has(s, Hook::IpiSend))
            {
                break;
            }
        }
        if let Some(h) = proof::silent(call.required_in(mode), s) {
            let events = matches!(mode, Mode::Tracepoints | Mode::Pushes);
            let on = h.site(call, events);
            let events = events && on.ends_with("event");
            let why = match (blind == Some(h), events) {
                (true, true) => "not fired, or blinded by selftest_blind",
                (true, false) => "inlined, cloned, or blinded by selftest_blind",
                (false, true) => "not fired in this kernel",
                (false, false) => "inlined, cloned or not probe-able here",
            };
            pr_err!(
                "hook check: {} {}() calls to CPU {} were not seen by the hook on {} ({}); not loading\n",
                ATTEMPTS,
                call.name(),
                target,
                on,
                why
            );
            return Err(kernel::error::code::ENOENT);
        }
        ipi_seen |= proof::has(s, Hook::IpiSend);
    }
    if !ipi_seen && ffi::ipi_sends_seen() {
        // Not one IPI seen for any of the calls (targets polling in idle
        // take none): reports then do not claim whether an IPI was sent.
        pr_warn!(
            "hook check: the IPI send hook saw none of its calls: reports do not say whether an IPI was sent\n"
        );
        ffi::distrust_ipi_sends();
    }
    Ok(Proven::Seen)
}
