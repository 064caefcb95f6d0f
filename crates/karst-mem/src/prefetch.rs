//! A hint to the CPU to start loading a cache line that will be read soon.
//!
//! A pipeline's commands are known before they run: while one runs, the memory a later one will
//! read (a large hash's index slot, then the pair it points to) can already be on its way, so
//! that its cache misses overlap the work in between instead of following one another.

/// Starts loading the cache line holding `p` into every cache level. Only a hint: it reads
/// nothing the caller can see and never faults, so `p` may be dangling, stale or null. Does
/// nothing where no prefetch instruction is wired up (and under Miri).
#[inline(always)]
pub fn prefetch_read<T>(p: *const T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `_mm_prefetch` requires SSE, which every x86-64 CPU has. A prefetch does not access
    // memory in the language's sense: an address that is not mapped is ignored, not faulted on.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live, dangling and null addresses alike are only hints.
    #[test]
    fn any_address_is_a_hint() {
        let v = vec![1u8; 256];
        prefetch_read(v.as_ptr());
        prefetch_read(v.as_ptr().wrapping_add(128));
        let gone = v.as_ptr();
        drop(v);
        prefetch_read(gone);
        prefetch_read(std::ptr::null::<u64>());
        prefetch_read(std::ptr::without_provenance::<u8>(usize::MAX));
    }
}
