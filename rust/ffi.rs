// SPDX-License-Identifier: GPL-2.0

//! The FFI boundary: every call between Rust and the C shim (rust/shim.c,
//! rust/arch/*.c) goes through this module, and every `unsafe` of the
//! module is here. This file holds the direction Rust -> C (the rest of the
//! crate sees safe functions with the contract written on each) and the
//! module's own kernel-object wrappers; `exports.rs` holds C -> Rust,
//! the entry points the shim calls, which dispatch to `hooks`, `watchdog`,
//! `params` and `stats`. So this file depends on nothing above it.

use crate::cfd;
use crate::kcompat::atomic::{
    ordering::{Acquire, Full, Release},
    Atomic,
};
use crate::kcompat::Table;
use core::cell::UnsafeCell;
use core::ffi::{c_int, c_ulong, c_void, CStr};
use core::marker::PhantomData;
use kernel::alloc::AllocError;
use kernel::error::to_result;
use kernel::ffi::c_char;
use kernel::prelude::*;

mod c {
    use core::ffi::{c_int, c_ulong, c_void};
    use kernel::ffi::c_char;

    /// `struct csdw_param_spec` (shim.h): one row of `CSDW_PARAMS`.
    #[repr(C)]
    pub(super) struct ParamSpec {
        pub(super) name: *const c_char,
        pub(super) def: u32,
        pub(super) min: u32,
        pub(super) max: u32,
        pub(super) zero_off: bool,
    }

    extern "C" {
        pub(super) fn csdw_param_spec(id: u32) -> *const ParamSpec;
        #[cfg(csdw_kunit)]
        pub(super) fn csdw_stat_name(id: u32) -> *const c_char;
        pub(super) fn csdw_stats_register() -> c_int;
        pub(super) fn csdw_stats_unregister();
        pub(super) fn csdw_resolve() -> c_int;
        pub(super) fn csdw_probes_register() -> c_int;
        pub(super) fn csdw_probes_unregister();
        pub(super) fn csdw_probes_missed() -> u64;
        pub(super) fn csdw_flush_missed() -> u64;
        pub(super) fn csdw_watchdogs_start() -> c_int;
        pub(super) fn csdw_watchdogs_stop();
        pub(super) fn csdw_watchdog_arm(now: u64, delay_ns: u64);
        pub(super) fn csdw_watchdog_quiesce();
        pub(super) fn csdw_now_ns() -> u64;
        pub(super) fn csdw_this_cpu() -> u32;
        pub(super) fn csdw_nr_cpu_ids() -> u32;
        pub(super) fn csdw_cpu_online(cpu: u32) -> bool;
        pub(super) fn csdw_current() -> *mut c_void;
        pub(super) fn csdw_csd_locked(csd: *const c_void) -> c_int;
        pub(super) fn csdw_cfd_csd(sender: u32, t: u32, func: c_ulong, info: c_ulong) -> c_int;
        pub(super) fn csdw_next_possible_cpu(prev: c_int) -> u32;
        pub(super) fn csdw_cfd_stands(sender: u32, target: u32) -> bool;
        pub(super) fn csdw_lookup(name: *const c_char) -> *mut c_void;
        pub(super) fn csdw_queue_head(cpu: u32) -> *mut c_void;
        pub(super) fn csdw_nohz_full_cpu(cpu: u32) -> bool;
        pub(super) fn csdw_watchdog_arm_here(delay_ns: u64);
        pub(super) fn csdw_task_info(
            task: *const c_void,
            pid: *mut c_int,
            comm: *mut c_char,
            len: usize,
            running_cpu: *mut c_int,
        );
        pub(super) fn csdw_symbol(buf: *mut c_char, len: usize, addr: c_ulong);
        pub(super) fn csdw_queue_head_desc(cpu: u32, buf: *mut c_char, len: usize);
        pub(super) fn csdw_show_task(task: *const c_void);
        pub(super) fn csdw_backtrace_later(cpu: u32, on: c_int);
        pub(super) fn csdw_nmi_deaf(cpu: u32) -> bool;
        pub(super) fn csdw_show_irq_regs();
        pub(super) fn csdw_print_lock(flags: *mut c_ulong) -> bool;
        pub(super) fn csdw_print_unlock(flags: c_ulong);
        pub(super) fn csdw_lockdown_note();
        pub(super) fn csdw_panic(owner: u32, target: u32, ms: u64, class: *const c_char);
        pub(super) fn csdw_arch_irq_count(cpu: u32) -> u64;
        pub(super) fn csdw_resend_ipi(cpu: u32);
        pub(super) fn csdw_pusher_pid() -> u32;
        pub(super) fn csdw_ipi_sends_seen() -> bool;
        pub(super) fn csdw_sched_tick_hooked() -> bool;
        pub(super) fn csdw_queue_holds(cpu: u32, node: *const c_void) -> bool;
        pub(super) fn csdw_trace_event(
            which: u32,
            waiter: c_int,
            target: c_int,
            func: c_ulong,
            class: c_int,
            age_us: u64,
            ipi_sent: c_int,
            pusher_pid: c_int,
            resends: u32,
        );
        pub(super) fn csdw_pusher_desc(
            task: *const c_void,
            pid: u32,
            buf: *mut c_char,
            len: usize,
        ) -> bool;
        pub(super) fn csdw_pusher_stack(task: *const c_void, pid: u32);
        pub(super) fn csdw_arch_no_nmi() -> *const c_char;
        pub(super) fn csdw_ipi_sends_distrust();
        pub(super) fn csdw_proof_fn_addr() -> c_ulong;
        pub(super) fn csdw_proof_call(many: bool) -> c_int;
        pub(super) fn csdw_selftest_blind() -> *const c_char;
        pub(super) fn csdw_tracepoints_missing() -> *const c_char;
        pub(super) fn csdw_set_hook_mode(events: bool, pushes: bool);
        pub(super) fn csdw_pushes_take(out: *mut super::Push, overflow: *mut bool) -> u32;
    }
}

// ---------------------------------------------------------------------
// Rust calls C.
// ---------------------------------------------------------------------

/// A tunable's default and accepted range (all in ms), as shim.h's table
/// `CSDW_PARAMS` states them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ParamSpec {
    /// Value at load.
    pub(crate) default: u32,
    /// Smallest accepted value.
    pub(crate) min: u32,
    /// Largest accepted value.
    pub(crate) max: u32,
    /// 0 is also accepted, meaning "off" (even when `min` is above it).
    pub(crate) zero_off: bool,
}

/// The row of `CSDW_PARAMS` in shim.h, `None` past the table.
fn param_row(id: u32) -> Option<&'static c::ParamSpec> {
    // The row lives in shim.c's csdw_param_specs, a static const array of
    // `struct csdw_param_spec` (`c::ParamSpec` is its `#[repr(C)]` twin).
    // SAFETY: no precondition; NULL or a pointer into that array, which
    // lives as long as the module and is never written.
    unsafe { c::csdw_param_spec(id).as_ref() }
}

/// The default and range of tunable `id` (the table's row `id`), `None`
/// past the table. Any context.
pub(crate) fn param_spec(id: u32) -> Option<ParamSpec> {
    param_row(id).map(|r| ParamSpec {
        default: r.def,
        min: r.min,
        max: r.max,
        zero_off: r.zero_off,
    })
}

/// The name shim.h's table gives tunable `id`, `None` past the table.
#[cfg(csdw_kunit)]
pub(crate) fn param_name(id: u32) -> Option<&'static str> {
    let r = param_row(id)?;
    // SAFETY: a row's name is a string literal (`#name` in shim.c).
    Some(
        unsafe { crate::kcompat::cstr_at(r.name) }
            .to_str()
            .unwrap_or("?"),
    )
}

/// The name of the `stats/` file that shows counter `id`, `None` if none
/// does.
#[cfg(csdw_kunit)]
pub(crate) fn stat_name(id: u32) -> Option<&'static str> {
    // SAFETY: csdw_stat_name() has no precondition and returns NULL or the
    // name of one of shim.c's static attributes, a string literal.
    unsafe { static_str(c::csdw_stat_name(id)) }
}

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

/// The possible CPUs, ascending.
pub(crate) fn possible_cpus() -> impl Iterator<Item = u32> {
    let nr = nr_cpu_ids();
    let mut prev: c_int = -1;
    core::iter::from_fn(move || {
        // SAFETY: cpumask_next() on cpu_possible_mask, a boot-time mask;
        // `prev` is -1 or a CPU it returned (< nr_cpu_ids).
        let next = unsafe { c::csdw_next_possible_cpu(prev) };
        (next < nr).then(|| {
            prev = next as c_int;
            next
        })
    })
}

/// The states of `sender`'s `smp_call_function_many_cond()` csds for every
/// other possible CPU, ascending, for a call of `func(info)`: what
/// [`cfd::blocker`] chooses from (`None`: that csd could not be read).
pub(crate) fn cfd_csds(
    sender: u32,
    func: usize,
    info: usize,
) -> impl Iterator<Item = (u32, Option<cfd::Csd>)> {
    possible_cpus().filter(move |&t| t != sender).map(move |t| {
        // cfd_data lives as long as the kernel; its per-CPU csd arrays are
        // freed when their CPU goes offline.
        // SAFETY: both CPUs are bounds- and possible-checked in C, the csd
        // is read with get_kernel_nofault(); func and info only compared.
        let state = unsafe { c::csdw_cfd_csd(sender, t, func as c_ulong, info as c_ulong) };
        // shim.h's CSDW_CFD_UNLOCKED, _OTHER, _OWN; anything else is
        // CSDW_CFD_UNREADABLE
        let state = match state {
            0 => Some(cfd::Csd::Unlocked),
            1 => Some(cfd::Csd::Other),
            2 => Some(cfd::Csd::Own),
            _ => None,
        };
        (t, state)
    })
}

/// Does `sender`'s `smp_call_function_many_cond()` csd for `target` stand
/// (locked: queued or running)? Its `cond_func` can leave a target out.
pub(crate) fn cfd_stands(sender: u32, target: u32) -> bool {
    // SAFETY: both CPUs are bounds-checked in C; cfd_data was resolved at
    // load and is static; the csd flag is read with get_kernel_nofault(),
    // so a csd array freed with its CPU's hotplug reads as false.
    unsafe { c::csdw_cfd_stands(sender, target) }
}

/// Does the kernel have a symbol `name`?
pub(crate) fn has_symbol(name: &CStr) -> bool {
    // SAFETY: `name` is NUL-terminated; csdw_lookup() runs in process
    // context (module init) and only reads it.
    !unsafe { c::csdw_lookup(crate::kcompat::char_ptr(name)) }.is_null()
}

/// The head of `cpu`'s call_single_queue, as an address to compare (0:
/// empty).
pub(crate) fn queue_head(cpu: u32) -> usize {
    // SAFETY: bounds-checked in C; call_single_queue was resolved at load;
    // a racy read of the list head pointer, never dereferenced.
    unsafe { c::csdw_queue_head(cpu) as usize }
}

/// Is `cpu` a `nohz_full` CPU (its tick stops while one task runs)?
pub(crate) fn nohz_full(cpu: u32) -> bool {
    // SAFETY: bounds-checked in C; reads the exported nohz_full mask.
    unsafe { c::csdw_nohz_full_cpu(cpu) }
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
    // preemption off (the C side marks it as csdwatch's own for the IPI
    // probes).
    unsafe { c::csdw_resend_ipi(cpu) }
}

/// Probe hits the kprobes machinery skipped (stats/dropped).
pub(crate) fn probes_missed() -> u64 {
    // SAFETY: reads counters of static kretprobes.
    unsafe { c::csdw_probes_missed() }
}

/// Flushes, on any CPU, whose entry probe was skipped so far.
pub(crate) fn flush_missed() -> u64 {
    // SAFETY: reads two counters of a static kretprobe.
    unsafe { c::csdw_flush_missed() }
}

/// Emit csdwatch's trace event `ev`: 0 `stall`, 1 `resend`, 2
/// `recovered` (shim.h's CSDW_EV_*, events::Event's ids; any other emits
/// nothing), with the fields rust/csdwatch_trace.h declares.
#[allow(clippy::too_many_arguments)]
pub(crate) fn trace_event(
    ev: u32,
    waiter: i32,
    target: i32,
    func: usize,
    class: i32,
    age_us: u64,
    ipi_sent: i32,
    pusher_pid: i32,
    resends: u32,
) {
    // SAFETY: plain values only; trace_events.c writes them to the ring
    // buffer if the event `ev` is on (no sleeping lock: any context), and
    // ignores an `ev` that names no event.
    unsafe {
        c::csdw_trace_event(
            ev,
            waiter,
            target,
            func as c_ulong,
            class,
            age_us,
            ipi_sent,
            pusher_pid,
            resends,
        )
    }
}

/// Is `node` on `cpu`'s call queue now? True also when that cannot be
/// told (0, a walk too long or unreadable).
pub(crate) fn queue_holds(cpu: u32, node: usize) -> bool {
    // SAFETY: bounds-checked in C; the walk reads every node with
    // get_kernel_nofault(), so any address is allowed.
    unsafe { c::csdw_queue_holds(cpu, node as *const c_void) }
}

/// Is the scheduler tick hooked (`sched_tick`, optional)?
pub(crate) fn sched_tick_hooked() -> bool {
    // SAFETY: reads a flag set at load.
    unsafe { c::csdw_sched_tick_hooked() }
}

/// The pid of the current task, for the record of a push
/// (crate::origin::IN_IRQ outside task context).
pub(crate) fn pusher_pid() -> u32 {
    // SAFETY: reads `current`'s pid and the preempt count; any context.
    unsafe { c::csdw_pusher_pid() }
}

/// Are the kernel's call-function IPI sends seen (the optional probes on
/// the arch's send functions registered)?
pub(crate) fn ipi_sends_seen() -> bool {
    // SAFETY: reads a flag set at load.
    unsafe { c::csdw_ipi_sends_seen() }
}

/// The load-time hook check found the IPI send probes silent: from now on
/// reports do not say whether an IPI was sent.
pub(crate) fn distrust_ipi_sends() {
    // SAFETY: clears a flag that handlers only read.
    unsafe { c::csdw_ipi_sends_distrust() }
}

/// The function the load-time hook check's cross calls run (its address).
pub(crate) fn proof_fn() -> usize {
    // SAFETY: returns the address of a static function; no side effect.
    unsafe { c::csdw_proof_fn_addr() as usize }
}

/// Why the hook check's cross call could not be judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProofError {
    /// No other CPU is online.
    NoOtherCpu,
    /// The call returned but its function did not run there.
    NotRun,
}

/// Make the hook check's cross call from this CPU to another online CPU
/// and wait for it (`many`: through `smp_call_function_many()`); the
/// target CPU.
pub(crate) fn proof_call(many: bool) -> core::result::Result<u32, ProofError> {
    // SAFETY: module init, process context (it takes the CPU-hotplug read
    // lock and disables preemption itself); the probes are registered.
    let r = unsafe { c::csdw_proof_call(many) };
    match u32::try_from(r) {
        Ok(t) => Ok(t),
        Err(_) if r == -(kernel::bindings::ENODEV as c_int) => Err(ProofError::NoOtherCpu),
        Err(_) => Err(ProofError::NotRun),
    }
}

/// `selftest_blind=`, the hook the load-time check ignores (empty: none).
pub(crate) fn selftest_blind() -> &'static [u8] {
    // SAFETY: returns NULL or the parameter's NUL-terminated string, which
    // is read-only (0444) and lives as long as the module.
    let p = unsafe { c::csdw_selftest_blind() };
    if p.is_null() {
        return b"";
    }
    // SAFETY: non-NULL: a NUL-terminated string, as above.
    unsafe { crate::kcompat::cstr_at(p) }.to_bytes()
}

/// The first event csdwatch needs that this kernel lacks (`None`: it
/// has them all). Module init, process context.
pub(crate) fn tracepoints_missing() -> Option<&'static str> {
    // SAFETY: walks the kernel's tracepoints (for_each_kernel_tracepoint,
    // process context) and returns NULL or a static C string.
    unsafe { static_str(c::csdw_tracepoints_missing()) }
}

/// A C string C gave as NULL or a NUL-terminated static, as
/// `&'static str` ("?" if not UTF-8).
///
/// # Safety
///
/// `p` is NULL or a NUL-terminated string that lives as long as the module
/// (a literal, or the module's own static data).
unsafe fn static_str(p: *const c_char) -> Option<&'static str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL here, and NUL-terminated and static by the contract.
    Some(
        unsafe { crate::kcompat::cstr_at(p) }
            .to_str()
            .unwrap_or("?"),
    )
}

/// Tell the shim which hooks to register (before `Probes::register`):
/// the kernel's events (`events`), or only their pushes (`pushes`).
pub(crate) fn set_hook_mode(events: bool, pushes: bool) {
    // SAFETY: sets flags the shim reads when registering; called once at
    // module init before any probe exists.
    unsafe { c::csdw_set_hook_mode(events, pushes) }
}

/// Entries in a CPU's record of its pushes (shim.h's `CSDW_PUSHED`).
pub(crate) const PUSHED: usize = 16;

/// One push a CPU made since its watchdog's last tick (`hooks=pushes`):
/// shim.h's `struct csdw_push`, the newest to its target.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Push {
    /// The node pushed (the queue head it became; compared, never followed).
    pub(crate) node: usize,
    /// The target CPU.
    pub(crate) cpu: u32,
    /// Non-zero if some push to it since the tick found its queue empty.
    pub(crate) empty: u32,
}

const _: () = assert!(core::mem::size_of::<Push>() == 16);

/// Take this CPU's pushes since its last tick into `out`: how many, and
/// whether more targets were pushed than the record holds. From this
/// CPU's watchdog tick (hard IRQ).
pub(crate) fn pushes_take(out: &mut [Push; PUSHED]) -> (usize, bool) {
    let mut overflow = false;
    // C reads this CPU's record with IRQs off (the tick's hard IRQ).
    // SAFETY: `out` holds CSDW_PUSHED `#[repr(C)]` twins of struct
    // csdw_push (size checked above); C writes at most that many and the flag.
    let n = unsafe { c::csdw_pushes_take(out.as_mut_ptr(), &mut overflow) };
    ((n as usize).min(PUSHED), overflow)
}

/// Where the task a push recorded (`task`, `pid`) is now, as text, and
/// whether it lives and is not running (its stack is worth printing).
pub(crate) fn pusher_desc(task: usize, pid: u32) -> (CText<96>, bool) {
    let mut t = CText([0; 96]);
    // SAFETY: `task` is only compared with the task the pid resolves to
    // under RCU in C, never dereferenced unless they match; the buffer is
    // writable for its length and NUL-terminated by C.
    let idle = unsafe {
        c::csdw_pusher_desc(
            task as *const c_void,
            pid,
            t.0.as_mut_ptr().cast::<c_char>(),
            t.0.len(),
        )
    };
    (t, idle)
}

/// Print the stack of the task a push recorded, if it still lives.
pub(crate) fn pusher_stack(task: usize, pid: u32) {
    // SAFETY: as in pusher_desc(): looked up by pid under RCU, `task` only
    // compared.
    unsafe { c::csdw_pusher_stack(task as *const c_void, pid) }
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
            unsafe { crate::kcompat::cstr_at(p) }
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

/// What the newest node on `cpu`'s call queue is (for a report).
pub(crate) fn queue_head_call(cpu: u32) -> CText<128> {
    let mut t = CText([0; 128]);
    // SAFETY: the buffer is writable for its length; the C side bounds-
    // checks `cpu`, reads the node without faulting and NUL-terminates.
    unsafe { c::csdw_queue_head_desc(cpu, t.0.as_mut_ptr().cast::<c_char>(), t.0.len()) };
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

/// Print the registers and stack this CPU's current interrupt interrupted
/// (the stack of this CPU if there are none).
pub(crate) fn show_interrupted_regs() {
    // SAFETY: called from the watchdog's hard-IRQ callback, where
    // get_irq_regs() is this interrupt's saved registers.
    unsafe { c::csdw_show_irq_regs() }
}

/// Say at load what kernel lockdown refuses csdwatch (shim.c).
pub(crate) fn lockdown_note() {
    // SAFETY: no arguments; asks the LSM and prints, process context.
    unsafe { c::csdw_lockdown_note() }
}

/// Held while one multi-line report prints: no other CPU's report, NMI
/// backtrace or stack dump lands between its lines (the printk cpu-sync
/// lock, waited for at most 10 ms; shim.c `csdw_print_lock`).
pub(crate) struct PrintGroup {
    flags: c_ulong,
    held: bool,
}

impl PrintGroup {
    /// Take the lock (or not, after 10 ms: [`PrintGroup::held`] says).
    pub(crate) fn begin() -> Self {
        let mut flags: c_ulong = 0;
        // SAFETY: `flags` is a valid place for the saved IRQ state; when
        // this returns false nothing is held and IRQs are as they were.
        let held = unsafe { c::csdw_print_lock(&mut flags) };
        PrintGroup { flags, held }
    }

    /// The lock was taken: the report prints in one piece.
    pub(crate) fn held(&self) -> bool {
        self.held
    }
}

impl Drop for PrintGroup {
    fn drop(&mut self) {
        if self.held {
            // SAFETY: taken by `begin()` on this CPU (a guard is never
            // sent elsewhere: it holds IRQs off), released once here with
            // the flags it saved.
            unsafe { c::csdw_print_unlock(self.flags) }
        }
    }
}

/// Ask for an NMI backtrace of `cpu`: sent at once where the arch can
/// (x86_64), else from csdwatch's thread on CPU `on` (this CPU if `None`
/// or offline) once this callback has returned (shim.c).
pub(crate) fn backtrace_later(cpu: u32, on: Option<u32>) {
    let on = on.and_then(|c| c_int::try_from(c).ok()).unwrap_or(-1);
    // SAFETY: both bounds-checked in C; wake_up_process() is callable from
    // hard IRQ.
    unsafe { c::csdw_backtrace_later(cpu, on) }
}

/// `cpu` did not answer an NMI backtrace before (it is not asked again).
pub(crate) fn nmi_deaf(cpu: u32) -> bool {
    // SAFETY: bounds-checked in C; reads a cpumask.
    unsafe { c::csdw_nmi_deaf(cpu) }
}

/// Panic: `owner` waited `ms` for `target`, stalled as `class`.
pub(crate) fn panic_stall(owner: u32, target: u32, ms: u64, class: &'static CStr) -> ! {
    // SAFETY: `class` is a static NUL-terminated string.
    unsafe { c::csdw_panic(owner, target, ms, crate::kcompat::char_ptr(class)) };
    // Declared as returning in the extern block, and ended by a trap here
    // (LLVM emits ud2 / brk for `unreachable`): objtool accepts that both
    // when it checks rust/ objects alone, where it cannot see that
    // csdw_panic() does not return (a plain `-> !` falls through there),
    // and when it checks the linked module (CONFIG_X86_KERNEL_IBT, distro
    // kernels), where any other instruction after the call is unreachable.
    // SAFETY: csdw_panic() ends in panic(), which never returns, so this
    // point is never reached.
    unsafe { core::hint::unreachable_unchecked() }
}

/// Arm the watchdog of this CPU to tick `delay_ns` after `now` (`now_ns()`
/// clock; 0: read it), or bring an armed one forward to then (no-op if it
/// ticks as soon already). Hooks and timers only.
pub(crate) fn watchdog_arm(now: u64, delay_ns: u64) {
    // SAFETY: called with preemption off (kprobe handler), as the per-CPU
    // timer must be started on its own CPU.
    unsafe { c::csdw_watchdog_arm(now, delay_ns) }
}

/// Arm the watchdog of the CPU this task runs on (task context).
pub(crate) fn watchdog_arm_here(delay_ns: u64) {
    // SAFETY: C disables preemption around the per-CPU start.
    unsafe { c::csdw_watchdog_arm_here(delay_ns) }
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
/// A slot's watcher is normally one CPU, whose timer callbacks never
/// overlap. But a wait can end and its slot be claimed again by a wait
/// watched by another CPU while the old watcher is still inside its tick
/// for the old wait, and a hotplug hand-over moves a slot to another CPU.
/// So each cell carries a busy flag, taken with a cmpxchg (acquire) around
/// every use and released (release) after: a watcher that finds it taken
/// skips the slot for this tick instead of making a second `&mut`.
/// (The cell also remembers the claim generation it is about, so a new
/// wait never inherits an old one's state: `Tracked::gen`.)
pub(crate) struct WatcherCells<T> {
    cells: Table<WatcherCell<T>>,
}

struct WatcherCell<T> {
    busy: Atomic<u32>,
    value: UnsafeCell<T>,
}

// SAFETY: a cell's value is reached only through `with`, which holds the
// cell's busy flag for the whole use: never two references at a time.
unsafe impl<T: Send> Sync for WatcherCells<T> {}

impl<T> WatcherCells<T> {
    /// `n` cells made by `f`.
    pub(crate) fn new(n: usize, f: impl Fn() -> T) -> Result<Self, AllocError> {
        let cells = crate::kcompat::filled(n, GFP_KERNEL, || WatcherCell {
            busy: Atomic::new(0),
            value: UnsafeCell::new(f()),
        })?;
        Ok(WatcherCells { cells })
    }

    /// Run `f` on cell `i` unless another watcher is using it (then `None`).
    pub(crate) fn with<R>(&self, i: usize, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let c = self.cells.get(i)?;
        if c.busy.cmpxchg(0, 1, Acquire).is_err() {
            return None;
        }
        // SAFETY: the busy flag is ours until the release below; every
        // other access also goes through `with`, so this is the only
        // reference to the value, and it does not outlive `f`.
        let r = f(unsafe { &mut *c.value.get() });
        c.busy.store(0, Release);
        Some(r)
    }
}

/// A module-lifetime object that hooks, timers and sysfs reach without an
/// argument (see `state.rs`).
///
/// # Invariants
///
/// - `ptr` is 0 or the address of a `T` leaked from a `KBox` by
///   [`Global::install`], installed at most once.
/// - It is reset to 0, and the box freed, only when the [`Installed`] guard
///   drops, which the module does after every context that calls
///   [`Global::with`] has stopped for good (probes unregistered, watchdog
///   timers and report work cancelled, sysfs files removed).
/// - No `&T` outlives a [`Global::with`] call, so none survives the free.
pub(crate) struct Global<T> {
    ptr: Atomic<usize>,
    _owns: PhantomData<T>,
}

// SAFETY: it hands out `&T` to any context, so `T` must be `Sync`; the
// `T` is dropped by whoever drops the guard, so `T` must be `Send`.
unsafe impl<T: Send + Sync> Sync for Global<T> {}

impl<T> Global<T> {
    /// Empty.
    pub(crate) const fn new() -> Self {
        Global {
            ptr: Atomic::new(0),
            _owns: PhantomData,
        }
    }

    /// Publish `value` (release: its contents are visible to `get`).
    pub(crate) fn install(&'static self, value: KBox<T>) -> Installed<T> {
        let p = KBox::into_raw(value) as usize;
        let old = self.ptr.xchg(p, Full);
        // a second install would leak the first: the module installs once
        debug_assert_eq!(old, 0);
        Installed(self)
    }

    /// Run `f` on the object, if installed. The reference `f` gets lives
    /// only as long as the call (`f` is generic over its lifetime, and `R`
    /// cannot borrow from it), so nothing can keep it past the contexts
    /// that the module stops before it frees the object.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        let p = self.ptr.load(Acquire);
        if p == 0 {
            return None;
        }
        // SAFETY: by the invariant, `p` is a live `T` until the guard drops,
        // which happens only after every context that calls `with` has
        // stopped; the reference does not outlive this call.
        Some(f(unsafe { &*(p as *const T) }))
    }
}

/// Owns what [`Global::install`] published; unpublishes and frees it.
pub(crate) struct Installed<T: 'static>(&'static Global<T>);

impl<T> Drop for Installed<T> {
    fn drop(&mut self) {
        let p = self.0.ptr.xchg(0, Full);
        if p != 0 {
            // SAFETY: `p` came from KBox::into_raw in install() and is
            // freed once, here; nothing uses it any more (invariant).
            drop(unsafe { KBox::from_raw(p as *mut T) });
        }
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

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_cells)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_in_use_is_not_lent_twice() {
        let c = WatcherCells::new(2, || 0u32).expect("small allocation");
        let r = c.with(0, |v| {
            *v += 1;
            // a second watcher of slot 0 is refused; slot 1 is free
            c.with(0, |w| *w += 1).is_none() && c.with(1, |_| ()).is_some()
        });
        assert_eq!(r, Some(true));
        assert_eq!(c.with(0, |v| *v), Some(1));
        assert!(c.with(2, |_| ()).is_none());
    }
}
