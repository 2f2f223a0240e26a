// SPDX-License-Identifier: GPL-2.0

//! Which hooks feed csdwatch (`hooks=`, a load parameter): the kernel's
//! csd and ipi tracepoints for the pushes, the IPI sends and the functions
//! a flush runs, where the kernel has them, or kprobes on the functions
//! that make them (the flush: a kretprobe). With the events a single
//! call's wait begins at its push and ends at its function's exit event;
//! with kprobes, at a kretprobe on the waiter. The many-CPU waiter's
//! kretprobe is the same in both.
//!
//! `auto` (the default) takes the tracepoints when the kernel has every
//! event csdwatch needs and kprobes otherwise; `tracepoints` refuses to
//! load without them, naming the one missing; `kprobes` never uses them.
//! `pushes` hooks only the `csd_queue_cpu` event, with a probe that keeps
//! a few stores in C, and leaves the rest to the watchdog's tick
//! (`push_watch`): the cheapest mode, which sees the queues but no wait,
//! flush or IPI send (Documentation/csdwatch.rst, "hooks=pushes").
//! The choice is made once, at load, before any hook is registered
//! (`hookup::select`); this file holds no kernel call.

use crate::kcompat::atomic::{ordering::Relaxed, Atomic};

/// What `hooks=` asks for, or what is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Mode {
    /// Tracepoints where the kernel has them, else kprobes.
    Auto = 0,
    /// The kernel's csd and ipi tracepoints.
    Tracepoints = 1,
    /// Kprobes only.
    Kprobes = 2,
    /// The `csd_queue_cpu` event only; the tick reads the queues.
    Pushes = 3,
}

impl Mode {
    /// The parameter's text for this mode.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Tracepoints => "tracepoints",
            Mode::Kprobes => "kprobes",
            Mode::Pushes => "pushes",
        }
    }

    /// `hooks=` text (a trailing newline allowed) to a mode.
    pub(crate) fn parse(text: &[u8]) -> Option<Mode> {
        let t = text.strip_suffix(b"\n").unwrap_or(text);
        [Mode::Auto, Mode::Tracepoints, Mode::Kprobes, Mode::Pushes]
            .into_iter()
            .find(|m| m.name().as_bytes() == t)
    }

    fn from_id(id: u32) -> Mode {
        match id {
            1 => Mode::Tracepoints,
            2 => Mode::Kprobes,
            3 => Mode::Pushes,
            _ => Mode::Auto,
        }
    }
}

/// The mode to use for `requested` on a kernel that lacks the event
/// `missing` (`None`: it has them all); `Err` with the missing event
/// when tracepoints were asked for and cannot be had.
pub(crate) fn choose(requested: Mode, missing: Option<&str>) -> Result<Mode, &str> {
    match (requested, missing) {
        (Mode::Kprobes, _) | (Mode::Auto, Some(_)) => Ok(Mode::Kprobes),
        (Mode::Tracepoints | Mode::Auto, None) => Ok(Mode::Tracepoints),
        (Mode::Tracepoints, Some(m)) => Err(m),
        // the same events found (one table in shim.c), one of them hooked
        (Mode::Pushes, None) => Ok(Mode::Pushes),
        (Mode::Pushes, Some(m)) => Err(m),
    }
}

/// What `hooks=` asked for (set by the parameter, before init).
static REQUESTED: Atomic<u32> = Atomic::new(0);
/// What is in use once chosen (`Auto`: not chosen yet).
static IN_USE: Atomic<u32> = Atomic::new(0);

/// The parameter was set to `text`; false (nothing changed) if it names
/// no mode.
pub(crate) fn request(text: &[u8]) -> bool {
    match Mode::parse(text) {
        Some(m) => {
            REQUESTED.store(m as u32, Relaxed);
            true
        }
        None => false,
    }
}

/// What the parameter shows: the mode in use once loaded, else what was
/// asked for.
pub(crate) fn shown() -> Mode {
    match Mode::from_id(IN_USE.load(Relaxed)) {
        Mode::Auto => Mode::from_id(REQUESTED.load(Relaxed)),
        m => m,
    }
}

/// Record the mode chosen at load (`hookup::select`).
pub(crate) fn set_in_use(m: Mode) {
    IN_USE.store(m as u32, Relaxed);
}

/// Are the kernel's events in use (chosen at load)?
pub(crate) fn events() -> bool {
    IN_USE.load(Relaxed) == Mode::Tracepoints as u32
}

/// Is only the push event in use (`hooks=pushes`, chosen at load)?
pub(crate) fn pushes() -> bool {
    IN_USE.load(Relaxed) == Mode::Pushes as u32
}

/// What `hooks=` asked for.
pub(crate) fn requested() -> Mode {
    Mode::from_id(REQUESTED.load(Relaxed))
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_hooks_mode)]
mod tests {
    use super::*;

    #[test]
    fn parse_names() {
        assert_eq!(Mode::parse(b"auto"), Some(Mode::Auto));
        assert_eq!(Mode::parse(b"tracepoints\n"), Some(Mode::Tracepoints));
        assert_eq!(Mode::parse(b"kprobes"), Some(Mode::Kprobes));
        assert_eq!(Mode::parse(b"pushes\n"), Some(Mode::Pushes));
        assert_eq!(Mode::parse(b"push"), None);
        assert_eq!(Mode::parse(b"kprobe"), None);
        assert_eq!(Mode::parse(b""), None);
        assert_eq!(Mode::parse(b"Tracepoints"), None);
    }

    #[test]
    fn choice() {
        assert_eq!(choose(Mode::Auto, None), Ok(Mode::Tracepoints));
        assert_eq!(choose(Mode::Auto, Some("csd_queue_cpu")), Ok(Mode::Kprobes));
        assert_eq!(choose(Mode::Tracepoints, None), Ok(Mode::Tracepoints));
        assert_eq!(
            choose(Mode::Tracepoints, Some("ipi_send_cpumask")),
            Err("ipi_send_cpumask")
        );
        assert_eq!(choose(Mode::Kprobes, None), Ok(Mode::Kprobes));
        assert_eq!(choose(Mode::Kprobes, Some("x")), Ok(Mode::Kprobes));
        assert_eq!(choose(Mode::Pushes, None), Ok(Mode::Pushes));
        assert_eq!(
            choose(Mode::Pushes, Some("csd_queue_cpu")),
            Err("csd_queue_cpu")
        );
    }
}
