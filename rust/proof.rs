// SPDX-License-Identifier: GPL-2.0

//! The load-time proof that the hooks fire.
//!
//! A hook on a function the compiler was free to inline or clone can be
//! registered and still never run: a partially inlined
//! `__smp_call_single_queue` (inlined into `generic_exec_single`, an
//! out-of-line copy kept for the other callers) would leave csdwatch
//! loaded and blind to every `smp_call_function_single()`. So before the
//! load succeeds, csdwatch makes cross calls of its own, one through each
//! path it watches, and every hook that path relies on must have seen its
//! call; else the load is refused with a line naming the silent hook.
//!
//! The hooks mark what they see with [`saw`]: one relaxed load of a static
//! when no check runs (the only cost it adds to a cross call).
//! [`silent`] is the judgement, KUnit-tested. No kernel calls here:
//! `hookup.rs` makes the calls and prints.

use crate::hooks_mode::Mode;
use crate::kcompat::atomic::{ordering::Relaxed, Atomic};

/// A hook the check asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Hook {
    /// Entry of the single-target call (`__smp_call_function_single`).
    SingleEntry = 0,
    /// `__smp_call_single_queue`: the push of a single call's csd.
    Queue = 1,
    /// `__flush_smp_call_function_queue` entry on the target, with the
    /// call's csd in its batch.
    Flush = 2,
    /// The waiter's return (the kretprobe of the call being checked), or
    /// with the events the target's `csd_function_exit` ending its wait.
    Return = 3,
    /// Entry of `smp_call_function_many_cond` with `SCF_WAIT`.
    ManyEntry = 4,
    /// The arch's call-function IPI send (optional: without it reports do
    /// not say whether an IPI was sent).
    IpiSend = 5,
}

/// Every hook, in the order the check names them.
pub(crate) const HOOKS: [Hook; 6] = [
    Hook::SingleEntry,
    Hook::Queue,
    Hook::Flush,
    Hook::Return,
    Hook::ManyEntry,
    Hook::IpiSend,
];

impl Hook {
    const fn bit(self) -> u32 {
        1 << self as u32
    }

    /// The name `selftest_blind=` takes.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Hook::SingleEntry => "single_entry",
            Hook::Queue => "queue",
            Hook::Flush => "flush",
            Hook::Return => "return",
            Hook::ManyEntry => "many_entry",
            Hook::IpiSend => "ipi_send",
        }
    }

    /// What is hooked, for the refusal line; `events`: the pushes and the
    /// flushes come from the kernel's csd events (`hooks=tracepoints`).
    pub(crate) fn site(self, call: Call, events: bool) -> &'static str {
        match (self, call) {
            (Hook::Queue, _) if events => "the csd_queue_cpu event",
            (Hook::Flush, _) if events => "the csd_function_entry event",
            (Hook::IpiSend, _) if events => "the ipi_send_cpu/ipi_send_cpumask events",
            (Hook::Return, Call::Single) if events => "the csd_function_exit event",
            (Hook::SingleEntry, _) => SINGLE_FN,
            (Hook::Queue, _) => "__smp_call_single_queue",
            (Hook::Flush, _) => "__flush_smp_call_function_queue",
            (Hook::Return, Call::Single) => RETURN_SINGLE,
            (Hook::Return, Call::Many) => "the return of smp_call_function_many_cond",
            (Hook::ManyEntry, _) => "smp_call_function_many_cond",
            (Hook::IpiSend, _) => "the arch's call-function IPI send",
        }
    }
}

#[cfg(not(csdw_kernel_612))]
const SINGLE_FN: &str = "__smp_call_function_single";
#[cfg(csdw_kernel_612)]
const SINGLE_FN: &str = "smp_call_function_single";
#[cfg(not(csdw_kernel_612))]
const RETURN_SINGLE: &str = "the return of __smp_call_function_single";
#[cfg(csdw_kernel_612)]
const RETURN_SINGLE: &str = "the return of smp_call_function_single";

/// A cross call the check makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    /// `smp_call_function_single(cpu, f, info, wait=1)`.
    Single,
    /// `smp_call_function_many(mask, f, info, wait=1)`.
    Many,
}

impl Call {
    /// The hooks that must see this call; `events`: with the kernel's
    /// events a single call's wait begins at its push (no entry hook) and
    /// ends at its function's exit event on the target.
    pub(crate) const fn required(self, events: bool) -> u32 {
        match (self, events) {
            (Call::Single, false) => {
                Hook::SingleEntry.bit() | Hook::Queue.bit() | Hook::Flush.bit() | Hook::Return.bit()
            }
            (Call::Single, true) => Hook::Queue.bit() | Hook::Flush.bit() | Hook::Return.bit(),
            (Call::Many, _) => Hook::ManyEntry.bit() | Hook::Flush.bit() | Hook::Return.bit(),
        }
    }

    /// The hooks that must see this call under `hooks=` mode `mode`
    /// (`pushes`: only the push event, for either call).
    pub(crate) const fn required_in(self, mode: Mode) -> u32 {
        match mode {
            Mode::Pushes => Hook::Queue.bit(),
            Mode::Tracepoints => self.required(true),
            Mode::Kprobes | Mode::Auto => self.required(false),
        }
    }

    /// The kernel function the check calls.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Call::Single => "smp_call_function_single",
            Call::Many => "smp_call_function_many",
        }
    }
}

/// The first hook of `required` that `seen` lacks.
pub(crate) fn silent(required: u32, seen: u32) -> Option<Hook> {
    HOOKS
        .iter()
        .copied()
        .find(|h| required & h.bit() != 0 && seen & h.bit() == 0)
}

/// The hook `selftest_blind=` names; `Err` for a name that is none.
pub(crate) fn parse_blind(name: &[u8]) -> Result<Option<Hook>, ()> {
    let name = name.strip_suffix(b"\n").unwrap_or(name);
    if name.is_empty() {
        return Ok(None);
    }
    HOOKS
        .iter()
        .copied()
        .find(|h| h.key().as_bytes() == name)
        .map(Some)
        .ok_or(())
}

/// The task making the check's calls (0: no check runs).
static PROVER: Atomic<usize> = Atomic::new(0);
/// The function the check's calls run (its address).
static FUNC: Atomic<usize> = Atomic::new(0);
/// Hooks that saw the call being checked (one flag each).
static SEEN: [Atomic<u32>; HOOKS.len()] = [const { Atomic::new(0) }; HOOKS.len()];
/// Hooks the check ignores (`selftest_blind=`, for testing the refusal).
static BLIND: Atomic<u32> = Atomic::new(0);

/// A hook saw a call to `func` (0 if it does not know the function)
/// made by task `current` (`current()` is only read while a check runs).
/// The hooks on the caller's side count only the prover's own calls (one
/// made from an interrupt on its CPU has another function); the flush on
/// the target, only the check's function.
pub(crate) fn saw(h: Hook, func: usize, current: impl FnOnce() -> usize) {
    let prover = PROVER.load(Relaxed);
    if prover == 0 {
        return;
    }
    let ours = match h {
        Hook::Flush => func == FUNC.load(Relaxed),
        Hook::Queue | Hook::ManyEntry => prover == current() && func == FUNC.load(Relaxed),
        Hook::SingleEntry | Hook::Return | Hook::IpiSend => prover == current(),
    };
    if ours && BLIND.load(Relaxed) & h.bit() == 0 {
        SEEN[h as usize].store(1, Relaxed);
    }
}

/// Whether a check runs (so the flush hook looks at its batch at all).
pub(crate) fn checking() -> bool {
    PROVER.load(Relaxed) != 0
}

fn seen() -> u32 {
    HOOKS
        .iter()
        .filter(|h| SEEN[**h as usize].load(Relaxed) != 0)
        .fold(0, |m, h| m | h.bit())
}

/// A check begins: the hooks count calls of task `prover` to `func`,
/// except those of `blind`.
pub(crate) fn begin(prover: usize, func: usize, blind: Option<Hook>) {
    for f in SEEN.iter() {
        f.store(0, Relaxed);
    }
    BLIND.store(blind.map_or(0, Hook::bit), Relaxed);
    FUNC.store(func, Relaxed);
    PROVER.store(prover, Relaxed);
}

/// The check's call returned: the hooks that saw it (a mask of
/// [`Hook`] bits); the hooks stop counting.
pub(crate) fn end() -> u32 {
    PROVER.store(0, Relaxed);
    seen()
}

/// Whether `seen` holds `h`.
pub(crate) fn has(seen: u32, h: Hook) -> bool {
    seen & h.bit() != 0
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_proof)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_hook_is_named() {
        let single = Call::Single.required(false);
        assert_eq!(silent(single, single), None);
        // more seen than required (the IPI hook) is fine
        assert_eq!(silent(single, single | Hook::IpiSend.bit()), None);
        assert_eq!(
            silent(single, single & !Hook::Queue.bit()),
            Some(Hook::Queue)
        );
        // the first in order when several are silent
        assert_eq!(silent(single, Hook::Return.bit()), Some(Hook::SingleEntry));
        let many = Call::Many.required(false);
        assert_eq!(many, Call::Many.required(true));
        // hooks=pushes: the push event alone, for both calls
        assert_eq!(Call::Single.required_in(Mode::Pushes), Hook::Queue.bit());
        assert_eq!(Call::Many.required_in(Mode::Pushes), Hook::Queue.bit());
        assert_eq!(Call::Single.required_in(Mode::Kprobes), single);
        assert_eq!(
            silent(Call::Many.required_in(Mode::Pushes), Hook::Flush.bit()),
            Some(Hook::Queue)
        );
        // with the events the single call has no entry hook
        let ev = Call::Single.required(true);
        assert_eq!(ev & Hook::SingleEntry.bit(), 0);
        assert_eq!(
            silent(ev, Hook::Queue.bit() | Hook::Flush.bit()),
            Some(Hook::Return)
        );
        assert_eq!(
            Hook::Return.site(Call::Single, true),
            "the csd_function_exit event"
        );
        assert_eq!(
            Hook::Return.site(Call::Many, true),
            "the return of smp_call_function_many_cond"
        );
        assert_eq!(
            silent(many, Hook::ManyEntry.bit() | Hook::Flush.bit()),
            Some(Hook::Return)
        );
        // the single call's hooks say nothing of the many call
        assert_eq!(silent(many, single), Some(Hook::ManyEntry));
        // the IPI hook is never required
        assert_eq!(silent(single | many, single | many), None);
        assert_eq!(single & Hook::IpiSend.bit(), 0);
    }

    #[test]
    fn blind_names() {
        assert_eq!(parse_blind(b""), Ok(None));
        assert_eq!(parse_blind(b"queue"), Ok(Some(Hook::Queue)));
        assert_eq!(parse_blind(b"return\n"), Ok(Some(Hook::Return)));
        assert_eq!(parse_blind(b"Queue"), Err(()));
        assert_eq!(parse_blind(b"nothing"), Err(()));
        for h in HOOKS {
            assert_eq!(parse_blind(h.key().as_bytes()), Ok(Some(h)));
        }
    }
}
