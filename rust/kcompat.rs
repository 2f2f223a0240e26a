// SPDX-License-Identifier: GPL-2.0

//! The pieces of the `kernel` crate that csdwatch uses and Linux 6.12
//! LTS's crate does not have, or has in another form: LKMM atomics
//! (`kernel::sync::atomic`) and barriers (`kernel::sync::barrier`), both
//! added after 6.12; `EOPNOTSUPP`; `CStrExt` for C `char` pointers; and
//! `KVec::push_within_capacity` (here [`filled`], which both crates can
//! express).
//!
//! The atomics and barriers are, on every kernel, the subset of the 7.3
//! crate's API that csdwatch uses, built on `core::sync::atomic`. On 7.3
//! the crate's own `Atomic` reaches every load and store through an out-
//! of-line C helper (`rust/helpers/atomic.c`), inlined only in kernels
//! built with `CONFIG_RUST_INLINE_HELPERS` (clang): on Debian's and the
//! test kernels (GCC) each access on the csd hot path was a call. Inline,
//! a single cross call costs 430 guest instructions less (2003 -> 1573;
//! Documentation/performance.rst). 6.12's Rust code uses
//! `core` atomics itself. They act on the aligned 32- and 64-bit words
//! csdwatch shares with C and with itself: Relaxed, Acquire and Release
//! map to their `core` namesakes (a plain access, `ldar`/`stlr` on
//! arm64). A Full read-modify-write is LKMM's fully ordered one, a full
//! barrier on both sides, which a `SeqCst` RMW alone is not on arm64
//! (`ldaxr`/`stlxr` lets an earlier store pass a later load): it is the
//! `SeqCst` RMW followed by a `SeqCst` fence (`dmb ish`), as the kernel's
//! own LL/SC form ends in `dmb ish`. As in the 7.3 crate, loads take
//! Relaxed or Acquire and stores Relaxed or Release, checked at compile
//! time. csdwatch supports x86_64 and arm64 only (rust/arch/), where
//! these are the instructions the kernel's C atomics use.

/// A table sized at load from `nr_cpu_ids`: from `kvmalloc`, so that on a
/// long-running, fragmented machine with thousands of possible CPUs (the
/// histograms alone are 2.6 MB at `NR_CPUS=8192`) `insmod` does not fail
/// for want of physically contiguous pages; small ones still come from
/// kmalloc.
pub(crate) type Table<T> = kernel::alloc::KVVec<T>;

/// A [`Table`] of `n` values made by `f`, allocated once with `flags`.
/// (`push` within the capacity reserved first never allocates again;
/// 6.12's `Vec` has no `push_within_capacity`.)
pub(crate) fn filled<T>(
    n: usize,
    flags: kernel::alloc::Flags,
    mut f: impl FnMut() -> T,
) -> Result<Table<T>, kernel::alloc::AllocError> {
    let mut v = Table::with_capacity(n, flags)?;
    for _ in 0..n {
        v.push(f(), flags)?;
    }
    Ok(v)
}

/// `s` as a pointer to C `char`s (the kernel's `char` is unsigned;
/// 6.12's crate has no `CStrExt` for `core::ffi::CStr`).
pub(crate) fn char_ptr(s: &core::ffi::CStr) -> *const kernel::ffi::c_char {
    #[cfg(not(csdw_kernel_612))]
    return kernel::str::CStrExt::as_char_ptr(s);
    #[cfg(csdw_kernel_612)]
    return s.as_ptr().cast();
}

/// The C string at `p`.
///
/// # Safety
///
/// `p` points to a NUL-terminated string that lives and does not change
/// for `'a`.
pub(crate) unsafe fn cstr_at<'a>(p: *const kernel::ffi::c_char) -> &'a core::ffi::CStr {
    #[cfg(not(csdw_kernel_612))]
    // SAFETY: the caller's contract is `from_char_ptr`'s.
    return unsafe { <core::ffi::CStr as kernel::str::CStrExt>::from_char_ptr(p) };
    #[cfg(csdw_kernel_612)]
    // SAFETY: the caller's contract is `from_ptr`'s.
    return unsafe { core::ffi::CStr::from_ptr(p.cast()) };
}

/// -EOPNOTSUPP (6.12's `kernel::error::code` has no `EOPNOTSUPP`).
pub(crate) fn eopnotsupp() -> kernel::error::Error {
    #[cfg(not(csdw_kernel_612))]
    return kernel::error::code::EOPNOTSUPP;
    #[cfg(csdw_kernel_612)]
    return kernel::error::Error::from_errno(-(kernel::bindings::EOPNOTSUPP as i32));
}

pub(crate) mod atomic {
    //! `kernel::sync::atomic`'s `Atomic<T>` for u32, u64, usize and i32.

    use core::cell::UnsafeCell;
    use core::sync::atomic::Ordering as CoreOrdering;

    /// The orderings, as the 7.3 crate names them.
    pub(crate) mod ordering {
        /// No ordering.
        pub(crate) struct Relaxed;
        /// Later accesses stay after this load.
        pub(crate) struct Acquire;
        /// Earlier accesses stay before this store.
        pub(crate) struct Release;
        /// Fully ordered (LKMM's unsuffixed RMW, `SeqCst` here).
        pub(crate) struct Full;

        /// An ordering and its `core` equivalent.
        pub(crate) trait Ordering {
            /// For read-modify-write operations.
            const CORE: core::sync::atomic::Ordering;
            /// A read-modify-write is then also a full barrier.
            const FULL: bool = false;
        }
        impl Ordering for Relaxed {
            const CORE: core::sync::atomic::Ordering = core::sync::atomic::Ordering::Relaxed;
        }
        impl Ordering for Acquire {
            const CORE: core::sync::atomic::Ordering = core::sync::atomic::Ordering::Acquire;
        }
        impl Ordering for Release {
            const CORE: core::sync::atomic::Ordering = core::sync::atomic::Ordering::Release;
        }
        impl Ordering for Full {
            const CORE: core::sync::atomic::Ordering = core::sync::atomic::Ordering::SeqCst;
            const FULL: bool = true;
        }

        /// An ordering a load may take.
        pub(crate) trait Load: Ordering {}
        impl Load for Relaxed {}
        impl Load for Acquire {}
        /// An ordering a store may take.
        pub(crate) trait Store: Ordering {}
        impl Store for Relaxed {}
        impl Store for Release {}
    }
    use ordering::Ordering;

    /// A plain integer type with a `core` atomic of the same size and
    /// alignment.
    pub(crate) trait AtomicType: Copy {
        /// Atomic load through `p`.
        ///
        /// # Safety
        ///
        /// `p` is valid, aligned, and only accessed atomically while the
        /// call runs.
        unsafe fn load(p: *mut Self, o: CoreOrdering) -> Self;
        /// Atomic store.
        ///
        /// # Safety
        ///
        /// As for [`AtomicType::load`].
        unsafe fn store(p: *mut Self, v: Self, o: CoreOrdering);
        /// Atomic exchange.
        ///
        /// # Safety
        ///
        /// As for [`AtomicType::load`].
        unsafe fn swap(p: *mut Self, v: Self, o: CoreOrdering) -> Self;
        /// Atomic compare-exchange.
        ///
        /// # Safety
        ///
        /// As for [`AtomicType::load`].
        unsafe fn cas(p: *mut Self, old: Self, new: Self, o: CoreOrdering) -> Result<Self, Self>;
        /// Atomic wrapping add, returning the old value.
        ///
        /// # Safety
        ///
        /// As for [`AtomicType::load`].
        unsafe fn fetch_add(p: *mut Self, v: Self, o: CoreOrdering) -> Self;
    }

    macro_rules! atomic_type {
        ($t:ty, $a:ty) => {
            impl AtomicType for $t {
                unsafe fn load(p: *mut Self, o: CoreOrdering) -> Self {
                    // SAFETY: the caller's contract (valid, aligned, atomic
                    // accesses only) is `from_ptr`'s; `$a` has `$t`'s size
                    // and alignment on 64-bit targets.
                    unsafe { <$a>::from_ptr(p) }.load(o)
                }
                unsafe fn store(p: *mut Self, v: Self, o: CoreOrdering) {
                    // SAFETY: as in `load`.
                    unsafe { <$a>::from_ptr(p) }.store(v, o)
                }
                unsafe fn swap(p: *mut Self, v: Self, o: CoreOrdering) -> Self {
                    // SAFETY: as in `load`.
                    unsafe { <$a>::from_ptr(p) }.swap(v, o)
                }
                unsafe fn cas(
                    p: *mut Self,
                    old: Self,
                    new: Self,
                    o: CoreOrdering,
                ) -> Result<Self, Self> {
                    // A failed compare-exchange is a load: it can not be
                    // Release, and is at most Acquire (Full: SeqCst).
                    let fail = match o {
                        CoreOrdering::Release | CoreOrdering::Relaxed => CoreOrdering::Relaxed,
                        CoreOrdering::SeqCst => CoreOrdering::SeqCst,
                        _ => CoreOrdering::Acquire,
                    };
                    // SAFETY: as in `load`.
                    unsafe { <$a>::from_ptr(p) }.compare_exchange(old, new, o, fail)
                }
                unsafe fn fetch_add(p: *mut Self, v: Self, o: CoreOrdering) -> Self {
                    // SAFETY: as in `load`.
                    unsafe { <$a>::from_ptr(p) }.fetch_add(v, o)
                }
            }
        };
    }
    atomic_type!(u32, core::sync::atomic::AtomicU32);
    atomic_type!(i32, core::sync::atomic::AtomicI32);
    atomic_type!(u64, core::sync::atomic::AtomicU64);
    atomic_type!(usize, core::sync::atomic::AtomicUsize);

    /// An integer that every access reads or writes atomically.
    ///
    /// Invariant: the value is only ever accessed through the atomic
    /// operations below (there is no `get_mut`), so the `from_ptr`
    /// contracts hold for as long as `&self` lives.
    #[repr(transparent)]
    pub(crate) struct Atomic<T: AtomicType>(UnsafeCell<T>);

    // SAFETY: every access is atomic (the type invariant).
    unsafe impl<T: AtomicType + Send> Sync for Atomic<T> {}

    impl<T: AtomicType> Atomic<T> {
        /// A new atomic holding `v`.
        pub(crate) const fn new(v: T) -> Self {
            Self(UnsafeCell::new(v))
        }

        fn ptr(&self) -> *mut T {
            self.0.get()
        }

        /// Atomic load; `o` is Relaxed or Acquire.
        #[inline(always)]
        pub(crate) fn load<O: ordering::Load>(&self, _o: O) -> T {
            // SAFETY: `ptr()` points into `self`, aligned; atomic accesses
            // only (the type invariant).
            unsafe { T::load(self.ptr(), O::CORE) }
        }

        /// Atomic store; `o` is Relaxed or Release.
        #[inline(always)]
        pub(crate) fn store<O: ordering::Store>(&self, v: T, _o: O) {
            // SAFETY: as in `load`.
            unsafe { T::store(self.ptr(), v, O::CORE) }
        }

        /// Atomic exchange, returning the old value.
        pub(crate) fn xchg<O: Ordering>(&self, v: T, _o: O) -> T {
            // SAFETY: as in `load`.
            let old = unsafe { T::swap(self.ptr(), v, O::CORE) };
            full_barrier_after::<O>();
            old
        }

        /// Atomic compare-exchange: `Ok(old)` if it was `old` and is now
        /// `new`, else `Err(current)`.
        pub(crate) fn cmpxchg<O: Ordering>(&self, old: T, new: T, _o: O) -> Result<T, T> {
            // SAFETY: as in `load`.
            let r = unsafe { T::cas(self.ptr(), old, new, O::CORE) };
            full_barrier_after::<O>();
            r
        }

        /// Atomic wrapping add, Relaxed.
        pub(crate) fn add(&self, v: T, _o: ordering::Relaxed) {
            // SAFETY: as in `load`.
            unsafe { T::fetch_add(self.ptr(), v, CoreOrdering::Relaxed) };
        }

        /// Atomic wrapping add, returning the old value.
        pub(crate) fn fetch_add<O: Ordering>(&self, v: T, _o: O) -> T {
            // SAFETY: as in `load`.
            let old = unsafe { T::fetch_add(self.ptr(), v, O::CORE) };
            full_barrier_after::<O>();
            old
        }
    }

    /// After a read-modify-write with ordering `O`: a full fence if `O` is
    /// Full (the module comment says why).
    #[inline(always)]
    fn full_barrier_after<O: Ordering>() {
        if O::FULL {
            core::sync::atomic::fence(CoreOrdering::SeqCst);
        }
    }
}

pub(crate) mod barrier {
    //! `kernel::sync::barrier::smp_mb` with its Full, Read and Write
    //! orderings, as `core` fences. On x86_64 smp_rmb()/smp_wmb() are
    //! compiler barriers and smp_mb() a locked add; Acquire/Release fences
    //! are compiler barriers there and SeqCst an `mfence`. On arm64,
    //! smp_rmb() is `dmb ishld` (an Acquire fence), smp_mb() `dmb ish`
    //! (SeqCst), and smp_wmb() `dmb ishst`, for which the Release fence's
    //! `dmb ish` is stronger, never weaker.

    use core::sync::atomic::{fence, Ordering};

    pub(crate) use super::atomic::ordering::Full;
    /// Read-read ordering.
    pub(crate) struct Read;
    /// Write-write ordering.
    pub(crate) struct Write;

    /// A barrier kind.
    pub(crate) trait Barrier {
        /// The fence that gives at least this ordering.
        const FENCE: Ordering;
    }
    impl Barrier for Full {
        const FENCE: Ordering = Ordering::SeqCst;
    }
    impl Barrier for Read {
        const FENCE: Ordering = Ordering::Acquire;
    }
    impl Barrier for Write {
        const FENCE: Ordering = Ordering::Release;
    }

    /// A memory barrier between CPUs.
    #[inline]
    pub(crate) fn smp_mb<B: Barrier>(_b: B) {
        fence(B::FENCE)
    }
}
