//! Transparent huge pages, for the whole process.
//!
//! mimalloc asks the kernel for huge pages for its arenas, so with THP in `madvise` or
//! `always` mode the first touch of fresh memory faults in and zeroes 2 MiB at a time. For a
//! collection that keeps growing (LPUSH of millions of elements) that zeroing was a fifth of
//! karst-server's CPU time, while the TLB reach huge pages buy made no difference measurable
//! above the noise for GET, SET or HSET (`docs/benchmarks.md`, "Transparent huge pages").
//! redis-server turns THP off for itself too (`disable-thp yes`, its default).

use std::io;

/// Turns transparent huge pages off for this process (Linux's `PR_SET_THP_DISABLE`): memory
/// faulted in from now on comes in base pages, even where the allocator asked for huge ones.
/// Process-wide, so only a program's `main` should call it. Elsewhere than Linux it reports
/// [`io::ErrorKind::Unsupported`].
pub fn disable_transparent_huge_pages() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let (on, unused): (libc::c_ulong, libc::c_ulong) = (1, 0);
        // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and reads or writes no memory
        // of the caller's.
        let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, on, unused, unused, unused) };
        if r == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }
    #[cfg(not(target_os = "linux"))]
    Err(io::Error::new(io::ErrorKind::Unsupported, "transparent huge pages are Linux's"))
}

/// True when transparent huge pages are off for this process (`PR_GET_THP_DISABLE`).
pub fn transparent_huge_pages_disabled() -> bool {
    #[cfg(target_os = "linux")]
    {
        let unused: libc::c_ulong = 0;
        // SAFETY: PR_GET_THP_DISABLE takes integer arguments only and returns the flag.
        unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, unused, unused, unused, unused) == 1 }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(all(test, target_os = "linux", not(miri)))]
mod tests {
    use super::*;

    #[test]
    fn disabling_sets_the_process_flag() {
        // The flag is per process and only ever set here, so the test owns it.
        disable_transparent_huge_pages().unwrap();
        assert!(transparent_huge_pages_disabled());
    }
}
