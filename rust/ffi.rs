// SPDX-License-Identifier: GPL-2.0

//! The FFI boundary: every call between Rust and the C shim (rust/shim.c)
//! goes through this file, and every `unsafe` that crosses it is here.

use crate::params::{self, Param};
use crate::stats;
use kernel::error::to_result;
use kernel::prelude::*;

mod c {
    use kernel::ffi::c_int;

    extern "C" {
        pub(super) fn csdw_stats_register() -> c_int;
        pub(super) fn csdw_stats_unregister();
    }
}

/// `kernel_param_ops.set` of every tunable lands here (shim.c).
#[no_mangle]
pub(crate) extern "C" fn csdwatch_rs_param_set(id: u32, val: u32) -> kernel::ffi::c_int {
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
    stats::read(id)
}

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
