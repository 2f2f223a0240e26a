// SPDX-License-Identifier: GPL-2.0

//! `/sys/kernel/debug/csdwatch/`: what is for looking at, not for scripts
//! that must work on every kernel (those read `/sys/module/csdwatch/`).
//!
//! - `wait_histogram` (0400, read-only): the per-CPU histogram of wait
//!   times (crate::histogram). Read-only so that a kernel in lockdown
//!   (Secure Boot), where debugfs refuses every file with a write bit,
//!   still shows it; it is reset through
//!   `/sys/module/csdwatch/parameters/wait_histogram_reset` (shim.c).
//!
//! Safe `kernel::debugfs`: the file is removed (and any reader waited
//! for) when [`DebugFs`] drops, which the module does before it frees the
//! state the file reads. Without CONFIG_DEBUG_FS there is no file.
//!
//! Linux 6.12's kernel crate has no debugfs (it came later): there the
//! histogram still counts, but has no file, and the load says so once.

#[cfg(not(csdw_kernel_612))]
pub(crate) use files::DebugFs;

/// 6.12: no files.
#[cfg(csdw_kernel_612)]
pub(crate) struct DebugFs;

#[cfg(csdw_kernel_612)]
impl DebugFs {
    /// Say that there is no file.
    pub(crate) fn create() -> kernel::error::Result<Self> {
        kernel::pr_info!(
            "no debugfs/csdwatch/wait_histogram: this kernel's Rust crate has no debugfs (Linux 6.12)\n"
        );
        Ok(DebugFs)
    }
}

#[cfg(not(csdw_kernel_612))]
mod files {
    use crate::state;
    use core::fmt;
    use kernel::debugfs::{Dir, File};
    use kernel::prelude::*;

    /// What the histogram file owns: nothing; it reads the module's state.
    struct HistogramFile;

    /// The directory and its files; removed on drop.
    pub(crate) struct DebugFs {
        _histogram: Pin<KBox<File<HistogramFile>>>,
        _dir: Dir,
    }

    impl DebugFs {
        /// Create the directory and its files.
        pub(crate) fn create() -> Result<Self> {
            let dir = Dir::new(c"csdwatch");
            let histogram = KBox::pin_init(
                dir.read_callback_file(c"wait_histogram", HistogramFile, &show),
                GFP_KERNEL,
            )?;
            Ok(DebugFs {
                _histogram: histogram,
                _dir: dir,
            })
        }
    }

    fn show(_: &HistogramFile, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        state::with(|sh| sh.histogram.write(f)).unwrap_or(Ok(()))
    }
}
