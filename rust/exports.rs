// SPDX-License-Identifier: GPL-2.0

//! C calls Rust: the entry points of the shim's probes, timers, hotplug
//! callbacks and sysfs files (declared in shim.h). Each turns C's types
//! into Rust's and dispatches: the other half of the FFI boundary
//! (`ffi.rs` is Rust -> C). A file of its own, at the top of the crate:
//! it calls down into every layer, while `ffi.rs` stays below them all.
//!
//! Every entry point is `unsafe extern "C"`: C cannot be held to a Rust
//! signature, so each states in its `# Safety` section the context and
//! the arguments shim.c promises (which CPU, which context, how long a
//! pointer stays valid). They are never called from Rust.

use crate::ffi;
use crate::params::{self, Param};
use crate::{hooks, stats, watchdog};
use core::ffi::{c_int, c_ulong, c_void};
use kernel::prelude::*;

/// `kernel_param_ops.set` of every tunable lands here (shim.c).
///
/// # Safety
///
/// Only shim.c's `kernel_param_ops` and sysfs `show`/`store` callbacks call it, in process
/// context, while the module's parameters and files exist.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_param_set(id: u32, val: u32) -> c_int {
    match Param::from_id(id) {
        Some(p) if params::set(p, val).is_ok() => 0,
        _ => EINVAL.to_errno(),
    }
}

/// `kernel_param_ops.get` of every tunable lands here (shim.c).
///
/// # Safety
///
/// Only shim.c's `kernel_param_ops` and sysfs `show`/`store` callbacks call it, in process
/// context, while the module's parameters and files exist.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_param_get(id: u32) -> u32 {
    Param::from_id(id).map_or(0, Param::shown)
}

/// `hooks=` is set (shim.c's parameter ops): `len` bytes at `text`;
/// -EINVAL, nothing changed, if it names no mode.
///
/// # Safety
///
/// Only shim.c's `kernel_param_ops` and sysfs `show`/`store` callbacks call it, in process
/// context, while the module's parameters and files exist. `text` points to `len` readable bytes
/// that stay valid for the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_hooks_set(text: *const u8, len: usize) -> c_int {
    // SAFETY: by this function's contract `text` points to `len` readable
    // bytes for the duration of this call (shim.c passes the parameter's
    // string and its length).
    let t = unsafe { core::slice::from_raw_parts(text, len) };
    if crate::hooks_mode::request(t) {
        0
    } else {
        EINVAL.to_errno()
    }
}

/// `hooks=` as shown in sysfs: its NUL-terminated name.
///
/// # Safety
///
/// Only shim.c's `kernel_param_ops` and sysfs `show`/`store` callbacks call it, in process
/// context, while the module's parameters and files exist.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_hooks_name() -> *const kernel::ffi::c_char {
    crate::kcompat::char_ptr(match crate::hooks_mode::shown() {
        crate::hooks_mode::Mode::Auto => c"auto",
        crate::hooks_mode::Mode::Tracepoints => c"tracepoints",
        crate::hooks_mode::Mode::Kprobes => c"kprobes",
        crate::hooks_mode::Mode::Pushes => c"pushes",
    })
}

/// Read by the sysfs `stats/` files (shim.c).
///
/// # Safety
///
/// Only shim.c's `kernel_param_ops` and sysfs `show`/`store` callbacks call it, in process
/// context, while the module's parameters and files exist.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_stat(id: u32) -> u64 {
    if id == stats::Stat::InFlight as u32 {
        return hooks::in_flight();
    }
    let v = stats::Stat::from_id(id).map_or(0, crate::state::stat);
    if id == stats::Stat::Dropped as u32 {
        return v + ffi::probes_missed();
    }
    v
}

/// Entry of `__smp_call_function_single()` (kretprobe entry handler).
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_single_enter(wait: bool) -> c_int {
    hooks::single_enter(wait)
}

/// `__smp_call_single_queue(cpu, csd)` entry for a csd (kprobe).
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_single_queue(
    cpu: u32,
    csd: *const c_void,
    func: c_ulong,
    sync: bool,
) {
    hooks::single_queue(cpu, csd as usize, func as usize, sync);
}

/// Entry of `smp_call_function_many_cond()` with `SCF_WAIT` and a remote
/// online target (kretprobe entry handler).
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_many_enter(func: c_ulong, info: c_ulong) -> c_int {
    hooks::many_enter(func as usize, info as usize)
}

/// A call is about to be pushed on `cpu`'s queue: `__smp_call_single_queue`
/// entry for a node that is no csd (kprobe), or (`cfd`) a remote target of
/// a `smp_call_function_many_cond()` (`watch`: no wait tracks it). `node`:
/// the node pushed (NULL for the kprobe's records at that call's entry).
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_queue_push(
    cpu: u32,
    node: *const c_void,
    watch: bool,
    cfd: bool,
) {
    hooks::queue_push(cpu, node as usize, watch, cfd);
}

/// The kernel sent `cpu` a call-function IPI (kprobes on the arch's send
/// functions; csdwatch's own resends are left out in C).
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_ipi_sent(cpu: u32) {
    hooks::ipi_sent(cpu);
}

/// The kernel sent `cpu` no IPI for a push: it was polling in idle
/// (`sched:sched_wake_idle_without_ipi`, tracepoint mode).
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_ipi_not_needed(cpu: u32) {
    hooks::ipi_not_needed(cpu);
}

/// `parameters/wait_histogram_reset` was written 1: empty the histogram.
///
/// # Safety
///
/// Only shim.c's `kernel_param_ops` and sysfs `show`/`store` callbacks call it, in process
/// context, while the module's parameters and files exist.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_histogram_reset() {
    crate::state::with(|sh| sh.histogram.reset());
}

/// Slots of the wait table (the sender kretprobes' instance count).
///
/// # Safety
///
/// Only shim.c calls it, in process context, while it sizes the sender kretprobes at load (the
/// shared state is installed).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_wait_slots() -> u32 {
    crate::state::with(|sh| u32::try_from(sh.waits.len()).unwrap_or(u32::MAX)).unwrap_or(0)
}

/// Return of a tracked waiter (kretprobe return handler).
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep). `slot` is what the matching entry handler returned.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_wait_exit(slot: c_int) {
    hooks::wait_exit(slot);
}

/// Entry of `__flush_smp_call_function_queue()` on `cpu`, with the
/// synchronous csds it is about to run, oldest first.
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep). `csds` and `funcs` each point to `n` readable entries that stay valid for
/// the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_flush_enter(
    cpu: u32,
    csds: *const *const c_void,
    funcs: *const c_ulong,
    n: c_int,
) {
    let n = n.clamp(0, crate::targets::BATCH as c_int) as usize;
    // SAFETY: by this function's contract both arrays hold `n` readable
    // entries for the call (shim.c's, on its stack), and `n` was only
    // lowered here (clamped to 0..=BATCH).
    let (csds, funcs) = unsafe {
        (
            core::slice::from_raw_parts(csds, n),
            core::slice::from_raw_parts(funcs, n),
        )
    };
    hooks::flush_enter(
        cpu,
        csds.iter()
            .zip(funcs)
            .map(|(&c, &f)| (c as usize, f as usize)),
    );
}

/// A flush on `cpu` runs `func` from `csd` now (`csd_function_entry`).
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_function_enter(
    cpu: u32,
    csd: *const c_void,
    func: c_ulong,
) {
    hooks::function_enter(cpu, csd as usize, func as usize);
}

/// A function a flush on `cpu` ran from `csd` returned (`csd_function_exit`).
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_function_exit(cpu: u32, csd: *const c_void) {
    hooks::function_exit(cpu, csd as usize);
}

/// Return of `__flush_smp_call_function_queue()` on `cpu`.
///
/// # Safety
///
/// Only shim.c's probe handlers call it, on the CPU that runs the probed code, with preemption
/// off, between the probe's registration and the unregistration that waits for running handlers
/// (nothing may sleep).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_flush_exit(cpu: u32) {
    hooks::flush_exit(cpu);
}

/// The watchdog timer of `cpu` fired; returns the delay to the next tick in
/// ns, 0 to stop.
///
/// # Safety
///
/// Only the watchdog hrtimer of `cpu` calls it, on `cpu`, in hard IRQ, until shim.c cancels that
/// timer for good.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_tick(cpu: u32) -> u64 {
    watchdog::tick(cpu)
}

/// `hooks=pushes`: the csd_queue_cpu probe saw a push of the load-time
/// check's function (shim.c compares it first; every other push stays in C).
///
/// # Safety
///
/// Called by the probe, preemption off, in the context of the push.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_push_seen(func: c_ulong) {
    hooks::push_seen(func as usize);
}

/// The scheduler tick ran on `cpu` (`sched_tick()` entry, hard IRQ).
///
/// # Safety
///
/// Only shim.c's `sched_tick()` probe calls it, on `cpu`, in hard IRQ, between its registration
/// and its unregistration.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_sched_tick(cpu: u32) {
    watchdog::sched_tick(cpu)
}

/// Does the watchdog of `cpu` have a wait to look after?
///
/// # Safety
///
/// Only shim.c calls it, from its hotplug callbacks and timer arming, while the shared state is
/// installed (it reads atomics only; any context).
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_watching(cpu: u32) -> bool {
    hooks::watching(cpu)
}

/// CPU hotplug: `cpu` is up (its watchdog may be armed).
///
/// # Safety
///
/// Only shim.c's CPU hotplug callbacks call it, serialised by the hotplug lock, in process
/// context.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_cpu_online(cpu: u32) {
    hooks::set_cpu_enabled(cpu, true);
}

/// CPU hotplug: `cpu` is going down (no new waits watched there).
///
/// # Safety
///
/// Only shim.c's CPU hotplug callbacks call it, serialised by the hotplug lock, in process
/// context.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_cpu_offline(cpu: u32) {
    hooks::set_cpu_enabled(cpu, false);
}

/// CPU hotplug: hand the waits `cpu` watched to another CPU; returns that
/// CPU if there were any (shim.c then starts its watchdog), else -1.
///
/// # Safety
///
/// Only shim.c's CPU hotplug callbacks call it, serialised by the hotplug lock, in process
/// context.
#[no_mangle]
pub(crate) unsafe extern "C" fn csdwatch_rs_rehome(cpu: u32) -> c_int {
    hooks::rehome(cpu).map_or(-1, |c| c as c_int)
}
