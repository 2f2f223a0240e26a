// SPDX-License-Identifier: GPL-2.0

//! Refuse to load when GCC cloned a probed function.
//!
//! A probe sits on the function's own symbol. If the compiler also emitted
//! a specialised copy (`NAME.constprop.N`, `NAME.isra.N`) or inlined its
//! head into callers that then call the rest (`NAME.part.N`), some callers
//! run code the probe never sees, and csdwatch would silently miss their
//! waits. (`NAME.cold`, the unlikely tail moved out of line, is only ever
//! reached through the function's own entry: no caller bypasses the probe,
//! so it is not refused.) A clone's calling
//! convention is the compiler's own, so probing it with the same argument
//! decoding would be wrong too: the only honest answer is to say which
//! clone exists and not load.

use core::ffi::CStr;

/// The functions shim.c probes.
pub(crate) const PROBED: [&CStr; 4] = [
    c"__flush_smp_call_function_queue",
    c"__smp_call_single_queue",
    SINGLE,
    c"smp_call_function_many_cond",
];

/// The single call's waiter: 7.3 runs smp_call_function_single() and
/// smp_call_function_any() through __smp_call_function_single(); 6.12
/// has smp_call_function_single() only (shim.c, CSDW_KERNEL_612).
#[cfg(not(csdw_kernel_612))]
const SINGLE: &CStr = c"__smp_call_function_single";
#[cfg(csdw_kernel_612)]
const SINGLE: &CStr = c"smp_call_function_single";

/// Suffixes GCC gives clones; the numbered ones are tried for 0..MAX_N.
const NUMBERED: [&str; 3] = [".constprop.", ".isra.", ".part."];
const MAX_N: u32 = 4;

/// A symbol name built in a fixed buffer (no allocation).
pub(crate) struct Name {
    buf: [u8; 96],
    len: usize,
}

impl Name {
    fn new(base: &CStr, suffix: &str, n: u32) -> Option<Name> {
        let mut nm = Name {
            buf: [0; 96],
            len: 0,
        };
        nm.push(base.to_bytes())?;
        nm.push(suffix.as_bytes())?;
        // single digit: MAX_N <= 10
        nm.push(&[b'0' + (n % 10) as u8])?;
        Some(nm)
    }

    fn push(&mut self, b: &[u8]) -> Option<()> {
        // keep one byte for the NUL
        let end = self.len.checked_add(b.len())?;
        if end >= self.buf.len() {
            return None;
        }
        self.buf[self.len..end].copy_from_slice(b);
        self.len = end;
        Some(())
    }

    /// The name as a C string.
    pub(crate) fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or(c"?")
    }
}

/// The first clone of a function in `names` that `exists` finds.
pub(crate) fn find_clone(names: &[&CStr], exists: impl Fn(&CStr) -> bool) -> Option<Name> {
    for base in names {
        for sfx in NUMBERED {
            for n in 0..MAX_N {
                if let Some(nm) = Name::new(base, sfx, n) {
                    if exists(nm.as_cstr()) {
                        return Some(nm);
                    }
                }
            }
        }
    }
    None
}

#[cfg(csdw_kunit)] // Kbuild: CONFIG_KUNIT=y and a kernel crate with kunit_tests
#[kernel::macros::kunit_tests(csdwatch_clones)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_constprop_clone() {
        let c = find_clone(&PROBED, |n| n == c"__smp_call_single_queue.constprop.1");
        assert_eq!(
            c.as_ref().map(Name::as_cstr),
            Some(c"__smp_call_single_queue.constprop.1")
        );
    }

    #[test]
    fn finds_a_split_part_but_not_a_cold_tail() {
        let c = find_clone(&PROBED, |n| n == c"smp_call_function_many_cond.part.0");
        assert!(c.is_some());
        let c = find_clone(&PROBED, |n| n == c"__flush_smp_call_function_queue.cold");
        assert!(c.is_none());
    }

    #[test]
    fn plain_kernel_has_none() {
        // the functions themselves, and unrelated clones, are not clones
        assert!(find_clone(&PROBED, |n| PROBED.contains(&n)
            || n == c"__smp_call_single_queue_x.isra.0")
        .is_none());
    }
}
