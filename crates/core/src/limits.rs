//! Resource limits: how much memory and work one command may ask for, and
//! the one check every command applies to its size estimate before it
//! allocates.
//!
//! # Model
//! Commands estimate, from their inputs' sizes and settings, the peak memory
//! they will need and the work they will do (an [`Estimate`]: bytes, and
//! elementary floating-point operations counted roughly, within a small
//! factor). Each part of the suite computes its own terms (a fit's learners
//! in `meta::size`, a study's replicates in `study::spec`, an evaluation's
//! bootstrap in `realdata::evaluate`, a table's cells while it is read);
//! [`Estimate::check`] compares them with the limits and refuses with the
//! input key that drives the estimate, the estimate and the limit.
//!
//! The limits:
//! - **memory**: the memory this process may use, the smallest of the
//!   machine's `MemTotal` (`/proc/meminfo`), the cgroup's `memory.max` and
//!   the process's address-space and data limits (`ulimit -v`, `ulimit -d`),
//!   else 8 GiB; the command-line flag `--max-memory SIZE` replaces it.
//! - **work**: [`DEFAULT_WORK_LIMIT`] operations for one fit or one
//!   evaluation (days of computing on one core; no documented configuration
//!   comes within a factor of ten of it); `--max-work N` replaces it.
//!
//! An override is process-wide (the binary sets it once from its flags,
//! before any work starts).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Default limit on the work of one fit, one evaluation or one study unit:
/// 10¹⁴ floating-point operations (about a day of one core).
pub const DEFAULT_WORK_LIMIT: f64 = 1e14;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Bits of the overriding limits (0: none).
static MEMORY_OVERRIDE: AtomicU64 = AtomicU64::new(0);
static WORK_OVERRIDE: AtomicU64 = AtomicU64::new(0);

/// Replaces the memory limit of this process (bytes, `> 0`; infinity for
/// none). The binary calls it for `--max-memory`.
pub fn set_memory_limit(bytes: f64) {
    if bytes > 0.0 {
        MEMORY_OVERRIDE.store(bytes.to_bits(), Ordering::Relaxed);
    }
}

/// Replaces the work limit of this process (operations, `> 0`; infinity for
/// none). The binary calls it for `--max-work`.
pub fn set_work_limit(operations: f64) {
    if operations > 0.0 {
        WORK_OVERRIDE.store(operations.to_bits(), Ordering::Relaxed);
    }
}

fn overridden(cell: &AtomicU64) -> Option<f64> {
    match cell.load(Ordering::Relaxed) {
        0 => None,
        bits => Some(f64::from_bits(bits)),
    }
}

/// The memory limit in bytes (module docs).
pub fn memory_limit() -> f64 {
    overridden(&MEMORY_OVERRIDE).unwrap_or_else(available_memory)
}

/// Whether the memory limit was set by `--max-memory`.
fn memory_overridden() -> bool {
    overridden(&MEMORY_OVERRIDE).is_some()
}

/// The work limit in operations (module docs).
pub fn work_limit() -> f64 {
    overridden(&WORK_OVERRIDE).unwrap_or(DEFAULT_WORK_LIMIT)
}

/// The memory this process may use: the smallest of `MemTotal`, the
/// cgroup (v2) `memory.max` and the `RLIMIT_AS` / `RLIMIT_DATA` limits;
/// 8 GiB when none is known.
pub(crate) fn available_memory() -> f64 {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("MemTotal:"))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
                .map(|kb| kb * 1024.0)
        });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok());
    [total, cgroup, process_limit()]
        .into_iter()
        .flatten()
        .filter(|v| *v > 0.0)
        .reduce(f64::min)
        .unwrap_or(8.0 * GIB)
}

/// The smaller of the address-space and data-segment limits, if any.
#[cfg(unix)]
fn process_limit() -> Option<f64> {
    let limit = |resource| {
        let mut value = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit struct we own.
        let rc = unsafe { libc::getrlimit(resource, &mut value) };
        (rc == 0 && value.rlim_cur != libc::RLIM_INFINITY).then_some(value.rlim_cur as f64)
    };
    [limit(libc::RLIMIT_AS), limit(libc::RLIMIT_DATA)]
        .into_iter()
        .flatten()
        .reduce(f64::min)
}

#[cfg(not(unix))]
fn process_limit() -> Option<f64> {
    None
}

/// Whether an estimate exceeds a limit; NaN (an overflowed product) does.
pub fn exceeds(value: f64, limit: f64) -> bool {
    value.is_nan() || value > limit
}

/// A command's estimated needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Peak memory, bytes.
    pub bytes: f64,
    /// Work, floating-point operations (roughly).
    pub operations: f64,
    /// What is estimated and its largest part, e.g. `a forest fit of
    /// 1000000 trees on 500 rows × 5 features`.
    pub what: String,
    /// The input key (a flag, a key path of a configuration file, a file)
    /// that drives the estimate, e.g. `--bootstrap` or `learner.trees`.
    pub key: String,
}

impl Estimate {
    /// An estimate of `bytes` and `operations` for `what`, driven by `key`.
    pub fn new(
        bytes: f64,
        operations: f64,
        what: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        Self {
            bytes,
            operations,
            what: what.into(),
            key: key.into(),
        }
    }

    /// Refuses an estimate above the memory or the work limit with
    /// [`Error::TooLarge`] (naming the key, the estimate and the limit).
    pub fn check(&self) -> Result<()> {
        self.check_against(memory_limit(), work_limit())
    }

    /// [`Estimate::check`] against given limits.
    pub fn check_against(&self, memory: f64, work: f64) -> Result<()> {
        // NaN (an overflowed product) counts as too large.
        if exceeds(self.bytes, memory) {
            return Err(Error::TooLarge {
                what: format!("{} (set by {})", self.what, self.key),
                estimate: format!("peak memory {}", render_bytes(self.bytes)),
                limit: format!(
                    "{}{}",
                    render_bytes(memory),
                    if memory_overridden() {
                        " (--max-memory)"
                    } else {
                        " (the memory available to this process)"
                    }
                ),
                advice: "reduce that setting, or raise the limit with --max-memory if the machine \
                         has the memory"
                    .into(),
            });
        }
        if exceeds(self.operations, work) {
            return Err(Error::TooLarge {
                what: format!("{} (set by {})", self.what, self.key),
                estimate: format!(
                    "work {} floating-point operations",
                    render_count(self.operations)
                ),
                limit: format!("{} (--max-work)", render_count(work)),
                advice: "reduce that setting, or raise the limit with --max-work if the run may \
                         take that long"
                    .into(),
            });
        }
        Ok(())
    }
}

/// Renders a byte count (`12.3 GiB`).
pub fn render_bytes(bytes: f64) -> String {
    if !bytes.is_finite() {
        return "more than can be counted".into();
    }
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit + 1 == units.len() && value >= 1024.0 {
        return format!("{bytes:.3e} B");
    }
    format!("{value:.1} {}", units[unit])
}

/// Renders a large count (`3.2e15`).
pub fn render_count(count: f64) -> String {
    if !count.is_finite() {
        "more than can be counted".into()
    } else if count < 1e6 {
        format!("{count:.0}")
    } else {
        format!("{count:.1e}")
    }
}

/// Parses a memory size for `--max-memory`: a number of bytes with an
/// optional unit `K`, `M`, `G`, `T` (powers of 1024; `KiB`, `MB`, … are
/// read the same), or `unlimited`.
pub fn parse_bytes(text: &str) -> std::result::Result<f64, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("unlimited") {
        return Ok(f64::INFINITY);
    }
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KB" | "KIB" => 1024.0,
        "M" | "MB" | "MIB" => 1024.0 * 1024.0,
        "G" | "GB" | "GIB" => GIB,
        "T" | "TB" | "TIB" => 1024.0 * GIB,
        _ => return Err(format!("`{text}`: unknown unit (use K, M, G or T)")),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v * scale),
        _ => Err(format!(
            "`{text}`: expected a positive size such as 16G, 500M or unlimited"
        )),
    }
}

/// Parses a work limit for `--max-work`: a positive number of operations
/// (`1e15`) or `unlimited`.
pub fn parse_count(text: &str) -> std::result::Result<f64, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("unlimited") {
        return Ok(f64::INFINITY);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "`{text}`: expected a positive number of operations such as 1e15, or unlimited"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_render_and_parse() {
        assert_eq!(render_bytes(512.0), "512.0 B");
        assert_eq!(render_bytes(3.0 * GIB), "3.0 GiB");
        assert!(render_bytes(1e30).ends_with(" B"));
        assert_eq!(parse_bytes("16G").unwrap(), 16.0 * GIB);
        assert_eq!(parse_bytes("500 MiB").unwrap(), 500.0 * 1024.0 * 1024.0);
        assert_eq!(parse_bytes("unlimited").unwrap(), f64::INFINITY);
        for bad in ["", "-1G", "0", "12X", "G", "nan"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_count("1e15").unwrap(), 1e15);
        assert!(parse_count("-3").is_err());
    }

    #[test]
    fn an_estimate_above_a_limit_names_its_key_estimate_and_limit() {
        let e = Estimate::new(2e12, 1e9, "a forest fit", "learner.trees");
        let message = e.check_against(1e9, 1e14).unwrap_err().to_string();
        assert!(message.contains("learner.trees"), "{message}");
        assert!(
            message.contains("1.8 TiB") && message.contains("953.7 MiB"),
            "{message}"
        );
        let e = Estimate::new(1e3, 1e20, "a bootstrap", "--bootstrap");
        let message = e.check_against(1e9, 1e14).unwrap_err().to_string();
        assert!(
            message.contains("--bootstrap") && message.contains("1.0e20"),
            "{message}"
        );
        // An overflowed estimate is too large, never accepted.
        assert!(Estimate::new(f64::NAN, 0.0, "x", "k")
            .check_against(1e9, 1e14)
            .is_err());
        assert!(Estimate::new(1.0, 1.0, "x", "k")
            .check_against(1e9, 1e14)
            .is_ok());
    }

    #[test]
    fn the_available_memory_is_positive() {
        assert!(available_memory() > 0.0);
    }
}
