// SPDX-License-Identifier: GPL-2.0

//! The FFI boundary: every call between Rust and the C shim (rust/shim.c,
//! rust/arch/*.c) goes through this file, and every `unsafe` of the module
//! is here. The rest of the crate sees safe functions with the contract
//! written on each.

use crate::params::{self, Param};
use crate::waits::{MASK_WORDS, MAX_WAITS};
use crate::{hooks, stats, watchdog};
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_ulong, c_void, CStr};
use kernel::error::to_result;
use kernel::ffi::c_char;
use kernel::prelude::*;

mod c {
    use core::ffi::{c_int, c_ulong, c_void};
    use kernel::ffi::c_char;

    extern "C" {
        pub(super) fn csdw_stats_register() -> c_int;
        pub(super) fn csdw_stats_unregister();
        pub(super) fn csdw_resolve() -> c_int;
        pub(super) fn csdw_probes_register() -> c_int;
        pub(super) fn csdw_probes_unregister();
        pub(super) fn csdw_probes_missed() -> u64;
        pub(super) fn csdw_watchdogs_start() -> c_int;
        pub(super) fn csdw_watchdogs_stop();
        pub(super) fn csdw_watchdog_arm(delay_ns: u64);
        pub(super) fn csdw_watchdog_quiesce();
        pub(super) fn csdw_now_ns() -> u64;
        pub(super) fn csdw_this_cpu() -> u32;
        pub(super) fn csdw_nr_cpu_ids() -> u32;
        pub(super) fn csdw_cpu_online(cpu: u32) -> bool;
        pub(super) fn csdw_current() -> *mut c_void;
        pub(super) fn csdw_csd_locked(csd: *const c_void) -> c_int;
        pub(super) fn csdw_cfd_csd(sender: u32, target: u32) -> *const c_void;
        pub(super) fn csdw_queue_pending(cpu: u32) -> bool;
        pub(super) fn csdw_task_info(
            task: *const c_void,
            pid: *mut c_int,
            comm: *mut c_char,
            len: usize,
            running_cpu: *mut c_int,
        );
        pub(super) fn csdw_symbol(buf: *mut c_char, len: usize, addr: c_ulong);
        pub(super) fn csdw_show_task(task: *const c_void);
        pub(super) fn csdw_dump_stack();
        pub(super) fn csdw_backtrace(words: *const c_ulong);
        pub(super) fn csdw_panic(owner: u32, target: u32, ms: u64, class: *const c_char);
        pub(super) fn csdw_arch_irq_count(cpu: u32) -> u64;
        pub(super) fn csdw_arch_resend_ipi(cpu: u32);
        pub(super) fn csdw_arch_no_nmi() -> *const c_char;
    }
}

// ---------------------------------------------------------------------
// C calls Rust.
// ---------------------------------------------------------------------

/// `kernel_param_ops.set` of every tunable lands here (shim.c).
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_param_set(id: u32, val: u32) -> c_int {
    match Param::from_id(id) {
        Some(p) if params::set(p, val).is_ok() => 0,
        _ => EINVAL.to_errno(),
    }
}

/// `kernel_param_ops.get` of every tunable lands here (shim.c).
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_param_get(id: u32) -> u32 {
    Param::from_id(id).map_or(0, Param::get)
}

/// Read by the sysfs `stats/` files (shim.c).
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_stat(id: u32) -> u64 {
    if id == stats::Stat::InFlight as u32 {
        return hooks::in_flight();
    }
    if id == stats::Stat::Dropped as u32 {
        // SAFETY: csdw_probes_missed() reads counters of static kretprobes.
        let missed = unsafe { c::csdw_probes_missed() };
        return stats::read(id) + missed;
    }
    stats::read(id)
}

/// Entry of `__smp_call_function_single()` (kretprobe entry handler).
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_single_enter(wait: bool) -> c_int {
    hooks::single_enter(wait)
}

/// Entry of `generic_exec_single(cpu, csd)` (kprobe).
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_single_queue(
    cpu: c_ulong,
    csd: *const c_void,
    func: c_ulong,
    sync: bool,
) {
    hooks::single_queue(cpu, csd as usize, func as usize, sync);
}

/// Entry of `smp_call_function_many_cond()` with `SCF_WAIT` (kretprobe
/// entry handler): `targets` is the online target mask, without the sender.
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_many_enter(
    targets: *const u64,
    nwords: u32,
    func: c_ulong,
) -> c_int {
    let mut mask = [0u64; MASK_WORDS];
    let n = (nwords as usize).min(MASK_WORDS);
    // SAFETY: shim.c passes an array of `nwords` words on its stack, valid
    // for the duration of this call; at most MASK_WORDS are read.
    let words = unsafe { core::slice::from_raw_parts(targets, n) };
    for (m, w) in mask.iter_mut().zip(words) {
        *m = *w;
    }
    hooks::many_enter(&mask, func as usize)
}

/// Return of a tracked waiter (kretprobe return handler).
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_wait_exit(slot: c_int) {
    hooks::wait_exit(slot);
}

/// Entry of `__flush_smp_call_function_queue()` on `cpu`, with the
/// synchronous csds it is about to run, oldest first.
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_flush_enter(
    cpu: u32,
    csds: *const *const c_void,
    funcs: *const c_ulong,
    n: c_int,
) {
    let n = n.clamp(0, hooks::BATCH as c_int) as usize;
    // SAFETY: shim.c passes two arrays of `n` (<= BATCH) entries on its
    // stack, valid for the duration of this call.
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

/// Return of `__flush_smp_call_function_queue()` on `cpu`.
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_flush_exit(cpu: u32) {
    hooks::flush_exit(cpu);
}

/// The watchdog timer of `cpu` fired; returns the delay to the next tick in
/// ns, 0 to stop.
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_tick(cpu: u32) -> u64 {
    watchdog::tick(cpu)
}

/// Does the watchdog of `cpu` have a wait to look after?
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_watching(cpu: u32) -> bool {
    hooks::WAITS.watching(cpu)
}

/// CPU hotplug: `cpu` is up (its watchdog may be armed).
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_cpu_online(cpu: u32) {
    hooks::set_cpu_enabled(cpu, true);
}

/// CPU hotplug: `cpu` is going down (no new waits watched there).
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_cpu_offline(cpu: u32) {
    hooks::set_cpu_enabled(cpu, false);
}

/// CPU hotplug: hand the waits `cpu` watched to another CPU; returns that
/// CPU if there were any (shim.c then starts its watchdog), else -1.
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_rehome(cpu: u32) -> c_int {
    hooks::rehome(cpu).map_or(-1, |c| c as c_int)
}

// ---------------------------------------------------------------------
// Rust calls C.
// ---------------------------------------------------------------------

/// Monotonic ns, the same clock on every CPU; safe in any context (NMI too).
pub(crate) fn now_ns() -> u64 {
    // SAFETY: ktime_get_mono_fast_ns() has no precondition.
    unsafe { c::csdw_now_ns() }
}

/// The CPU running the caller (callers run with preemption off: hooks, timers).
pub(crate) fn this_cpu() -> u32 {
    // SAFETY: raw_smp_processor_id() has no precondition.
    unsafe { c::csdw_this_cpu() }
}

/// Number of possible CPU ids.
pub(crate) fn nr_cpu_ids() -> u32 {
    // SAFETY: reads a boot-time constant.
    unsafe { c::csdw_nr_cpu_ids() }
}

/// Is `cpu` online?
pub(crate) fn cpu_online(cpu: u32) -> bool {
    // SAFETY: bounds-checked in C; reads cpu_online_mask.
    unsafe { c::csdw_cpu_online(cpu) }
}

/// The running task, as an opaque id (never dereferenced in Rust).
pub(crate) fn current_task() -> usize {
    // SAFETY: `current` is always valid in task or kprobe context.
    unsafe { c::csdw_current() as usize }
}

/// Is the csd at `csd` still locked? `None` if it cannot be read.
pub(crate) fn csd_locked(csd: usize) -> Option<bool> {
    // SAFETY: csdw_csd_locked() reads with get_kernel_nofault(): any address
    // is allowed, a bad one gives -1.
    match unsafe { c::csdw_csd_locked(csd as *const c_void) } {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// The csd `sender` uses for `target` in `smp_call_function_many_cond()`
/// (0 if none). The per-CPU csd arrays are never freed while the kernel runs.
pub(crate) fn cfd_csd(sender: u32, target: u32) -> usize {
    // SAFETY: bounds-checked in C; cfd_data was resolved at load.
    unsafe { c::csdw_cfd_csd(sender, target) as usize }
}

/// Is anything queued on `cpu`'s call_single_queue?
pub(crate) fn queue_pending(cpu: u32) -> bool {
    // SAFETY: bounds-checked in C; call_single_queue was resolved at load.
    unsafe { c::csdw_queue_pending(cpu) }
}

/// Interrupts `cpu` has taken so far.
pub(crate) fn irq_count(cpu: u32) -> u64 {
    // SAFETY: callers pass cpu < nr_cpu_ids (a wait's target); reads per-CPU counters.
    unsafe { c::csdw_arch_irq_count(cpu) }
}

/// Send the call-function-single IPI to `cpu` again.
pub(crate) fn resend_ipi(cpu: u32) {
    // The IPI only makes the target flush its queue, which runs each queued
    // csd once; the send function is what llist_add() callers use.
    // SAFETY: `cpu` is an online wait target; sending takes any context with
    // preemption off.
    unsafe { c::csdw_arch_resend_ipi(cpu) }
}

/// `None` if an NMI backtrace reaches a CPU with IRQs off; else why not.
pub(crate) fn no_nmi() -> Option<&'static str> {
    // SAFETY: returns NULL or a pointer to a static C string.
    let p = unsafe { c::csdw_arch_no_nmi() };
    if p.is_null() {
        None
    } else {
        // SAFETY: non-NULL: a NUL-terminated static string in the module.
        Some(
            unsafe { CStr::from_char_ptr(p) }
                .to_str()
                .unwrap_or("no NMI"),
        )
    }
}

/// A NUL-terminated text filled in by C.
pub(crate) struct CText<const N: usize>([u8; N]);

impl<const N: usize> CText<N> {
    /// The text up to its NUL.
    pub(crate) fn as_str(&self) -> &str {
        CStr::from_bytes_until_nul(&self.0)
            .ok()
            .and_then(|s| s.to_str().ok())
            .unwrap_or("?")
    }
}

/// Name of a code address (`name+off/size [module]`).
pub(crate) fn symbol(addr: usize) -> CText<128> {
    let mut t = CText([0; 128]);
    // SAFETY: the buffer is writable for its length; snprintf NUL-terminates.
    unsafe {
        c::csdw_symbol(
            t.0.as_mut_ptr().cast::<c_char>(),
            t.0.len(),
            addr as c_ulong,
        )
    };
    t
}

/// What a report says about a waiting task.
pub(crate) struct TaskInfo {
    /// Its pid.
    pub pid: i32,
    /// Its name.
    pub comm: CText<16>,
    /// The CPU it runs on, if it is running now.
    pub running_cpu: Option<u32>,
}

/// Describe `task`. Contract: called only by the watchdog (hard IRQ), for
/// the task of a wait whose snapshot was taken in this same callback.
pub(crate) fn task_info(task: usize) -> TaskInfo {
    let mut pid: c_int = 0;
    let mut cpu: c_int = -1;
    let mut comm = CText([0; 16]);
    // The snapshot proved the wait live (its waiter not returned) at a point
    // inside this hard-IRQ section; a task_struct is freed only after an RCU
    // grace period, which cannot end while this CPU runs with IRQs off.
    // SAFETY: so `task` is a live task_struct; the out-pointers are locals.
    unsafe {
        c::csdw_task_info(
            task as *const c_void,
            &mut pid,
            comm.0.as_mut_ptr().cast::<c_char>(),
            comm.0.len(),
            &mut cpu,
        )
    };
    TaskInfo {
        pid,
        comm,
        running_cpu: u32::try_from(cpu).ok(),
    }
}

/// Print the stack of `task` (not running). Same contract as [`task_info`].
pub(crate) fn show_task(task: usize) {
    // SAFETY: as in task_info(); sched_show_task() pins the stack itself.
    unsafe { c::csdw_show_task(task as *const c_void) }
}

/// Print the stack of this CPU.
pub(crate) fn dump_stack() {
    // SAFETY: dump_stack() has no precondition.
    unsafe { c::csdw_dump_stack() }
}

/// NMI backtrace of the CPUs in `mask`.
pub(crate) fn backtrace(mask: &[u64; MASK_WORDS]) {
    let words: [c_ulong; MASK_WORDS] = mask.map(|w| w as c_ulong);
    // SAFETY: `words` holds MASK_WORDS * 64 >= nr_cpu_ids bits (checked at
    // load), as cpumask_backtrace() reads; both arches are 64-bit.
    unsafe { c::csdw_backtrace(words.as_ptr()) }
}

/// Panic: `owner` waited `ms` for `target`, stalled as `class`.
pub(crate) fn panic_stall(owner: u32, target: u32, ms: u64, class: &'static CStr) -> ! {
    // SAFETY: `class` is a static NUL-terminated string.
    unsafe { c::csdw_panic(owner, target, ms, class.as_char_ptr()) };
    // panic() does not return; declared as returning in the extern block so
    // objtool, which cannot see into shim.o, finds no fall-through.
    loop {
        core::hint::spin_loop();
    }
}

/// Arm the watchdog of this CPU (no-op if armed). Hooks and timers only.
pub(crate) fn watchdog_arm(delay_ns: u64) {
    // SAFETY: called with preemption off (kprobe handler), as the per-CPU
    // timer must be started on its own CPU.
    unsafe { c::csdw_watchdog_arm(delay_ns) }
}

/// Stop this CPU's watchdog if it watches nothing.
pub(crate) fn watchdog_quiesce() {
    // SAFETY: called with preemption off (kretprobe handler).
    unsafe { c::csdw_watchdog_quiesce() }
}

// ---------------------------------------------------------------------
// Watchdog-owned state: the one interior mutability without atomics.
// ---------------------------------------------------------------------

/// Per-slot state that only the watchdog watching that slot touches.
///
/// Invariant: slot `i`'s cell is used only from the timer callback of the
/// CPU named `watcher` in slot `i`. One timer's callbacks never overlap;
/// the watcher changes only in the hotplug offline callback, after
/// `hrtimer_cancel()` of the old watcher's timer has returned and before
/// the new watcher's timer is started (shim.c `csdw_hp_offline`).
pub(crate) struct WatcherCells<T>([UnsafeCell<T>; MAX_WAITS]);

// SAFETY: see the invariant: no two contexts use one cell at a time.
unsafe impl<T> Sync for WatcherCells<T> {}

impl<T> WatcherCells<T> {
    /// Cells built by `f`.
    pub(crate) const fn new(cells: [UnsafeCell<T>; MAX_WAITS]) -> Self {
        WatcherCells(cells)
    }

    /// Cell `i`. Contract: called only from the watchdog callback that
    /// watches slot `i`, and the reference does not outlive the callback.
    #[allow(clippy::mut_from_ref)]
    pub(crate) fn get(&self, i: usize) -> &mut T {
        // SAFETY: by the invariant above, this callback is the only user of
        // cell `i` until it returns; no other reference to it exists.
        unsafe { &mut *self.0[i].get() }
    }
}

// ---------------------------------------------------------------------
// Life cycle.
// ---------------------------------------------------------------------

/// The `stats/` sysfs group; removed on drop.
pub(crate) struct StatsDir(());

impl StatsDir {
    /// Create `/sys/module/csdwatch/stats/`.
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: called once from module init, in process context; the
        // group and its attributes are static in shim.c and live as long as
        // the module.
        to_result(unsafe { c::csdw_stats_register() })?;
        Ok(StatsDir(()))
    }
}

impl Drop for StatsDir {
    fn drop(&mut self) {
        // SAFETY: the group was created by `register` (a `StatsDir` exists
        // only then) and is removed exactly once, here.
        unsafe { c::csdw_stats_unregister() };
    }
}

/// Find the kernel symbols and arch functions csdwatch needs; fails with
/// a log line naming the first one missing.
pub(crate) fn resolve() -> Result {
    // SAFETY: module init, process context.
    to_result(unsafe { c::csdw_resolve() })
}

/// The per-CPU watchdogs and their hotplug callbacks; stopped on drop.
pub(crate) struct Watchdogs(());

impl Watchdogs {
    /// Set up every CPU's timer and register the hotplug callbacks.
    pub(crate) fn start() -> Result<Self> {
        // SAFETY: module init, process context, once.
        to_result(unsafe { c::csdw_watchdogs_start() })?;
        Ok(Watchdogs(()))
    }
}

impl Drop for Watchdogs {
    fn drop(&mut self) {
        // SAFETY: started by `start`; after this no timer is armed or
        // running (cpuhp_remove_state, then hrtimer_cancel on every CPU).
        unsafe { c::csdw_watchdogs_stop() };
    }
}

/// The kprobes and kretprobes on the csd path; unregistered on drop.
pub(crate) struct Probes(());

impl Probes {
    /// Register them all, or none (a log line names what failed).
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: module init, process context, symbols resolved.
        to_result(unsafe { c::csdw_probes_register() })?;
        Ok(Probes(()))
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        // SAFETY: registered by `register`; unregister_k*probe() waits until
        // no handler runs, so nothing calls into the module afterwards.
        unsafe { c::csdw_probes_unregister() };
    }
}
