//! Process-wide tuning of the C allocator (glibc `malloc`) for this workload.
//!
//! A Monte Carlo replicate allocates and frees many matrices of a few
//! hundred kilobytes to a few megabytes (fold designs, basis expansions,
//! out-of-fold predictions). glibc serves every request above its mmap
//! threshold (128 KiB, adjusted dynamically) with a fresh `mmap` and returns
//! it with `munmap`, and trims the top of the heap as soon as 128 KiB are
//! free: every such matrix then costs a page fault per 4 KiB page. Measured
//! on the quickstart study (60 units, 2 threads), the process spent 5.1 s in
//! the kernel for 12.9 s of user time, with 3.9 million minor page faults.
//!
//! [`tune_malloc`] raises the mmap threshold to 32 MiB (glibc's maximum) and
//! the trim threshold to 1 GiB, so that freed blocks are reused from the heap instead of being
//! handed back to the kernel: the same study then takes 0.05 s of system time
//! and 12 thousand page faults, and its wall time drops by a third. The cost
//! is that the heap keeps its high-water mark until the process ends (peak
//! RSS is unchanged). Blocks above 32 MiB are still mapped directly.
//!
//! The settings change no numbers. They are applied by the `meta-router`
//! binary and the benchmarks at start-up; a program that embeds the library
//! may call [`tune_malloc`] too. `mallopt` is the C library's own interface
//! for this (the `libc` crate only declares it); an allocator crate such as
//! mimalloc was measured as well (0.18 s system time, twice the peak RSS,
//! slightly slower) and is not needed.

/// Mmap threshold set by [`tune_malloc`]: 32 MiB, glibc's largest allowed
/// value on 64-bit targets (on 32-bit ones glibc refuses it and keeps its
/// default; [`tune_malloc`] then returns `false`).
pub(crate) const MMAP_THRESHOLD: i32 = 32 << 20;

/// Trim threshold set by [`tune_malloc`]: 1 GiB.
pub(crate) const TRIM_THRESHOLD: i32 = 1 << 30;

/// Applies the allocator settings described in the module docs. Returns
/// whether they were applied (glibc on Linux only; elsewhere it does nothing
/// and returns `false`). Call it once, early, before worker threads start.
pub fn tune_malloc() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes allocator parameters (invalid values
        // return 0). It writes glibc globals that `malloc` reads without a
        // lock, hence the documented contract: call it before other threads
        // start (the binary and the benches do so first thing).
        let mmap = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        let trim = unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) };
        mmap == 1 && trim == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu", target_pointer_width = "64"))]
    fn glibc_accepts_the_settings() {
        // mallopt returns 0 for a value out of range (e.g. an mmap threshold
        // above glibc's maximum): the settings must be accepted.
        assert!(super::tune_malloc());
    }
}
