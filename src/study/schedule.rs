//! Which units a run computes, computing them in parallel, and progress.
//!
//! # Algorithm
//! A study's units are `(g, r)` for grid point `g` and replicate `r`, numbered
//! `u = g·R + r`; shard `i/N` holds the units with `u mod N = i − 1`. Pending
//! units run on a rayon pool of the requested size; each unit's records are
//! handed to a sink (which appends them to disk) as soon as the unit ends.
//! Results do not depend on the pool size: a unit's random streams depend only
//! on `(seed, g, r)`.
//!
//! Progress goes to standard error: a bar on a terminal, otherwise a line
//! (units done, elapsed, estimated time left) at most every
//! [`PROGRESS_INTERVAL`] and when the run ends, so CI logs show that a long
//! study is alive.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::evaluate::{run_unit_perturbed, TestingPerturbation};
use super::record::Record;
use super::spec::StudySpec;
use crate::error::Result;

/// Least time between two progress lines without a terminal.
pub const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// The units `(grid index, replicate)` of a study or of shard `(i, N)`.
pub fn units(spec: &StudySpec, shard: Option<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut all = Vec::new();
    for g in 0..spec.points.len() {
        for r in 0..spec.replicates {
            let u = g * spec.replicates + r;
            if shard.is_none_or(|(i, n)| u % n == i - 1) {
                all.push((g, r));
            }
        }
    }
    all
}

/// Runs `pending` on `pool`, handing each unit's records (with their wall
/// times) to `sink`; stops at the first sink error. `perturbation` is for
/// tests only ([`TestingPerturbation`]).
pub(crate) fn execute(
    spec: &StudySpec,
    pending: &[(usize, usize)],
    pool: &rayon::ThreadPool,
    progress: bool,
    perturbation: Option<&TestingPerturbation>,
    sink: impl Fn(Vec<(Record, f64)>) -> Result<()> + Sync,
) -> Result<()> {
    let reporter = Progress::new(progress, &spec.name, pending.len());
    let result = pool.install(|| {
        pending.par_iter().try_for_each(|&(g, r)| {
            sink(run_unit_perturbed(spec, g, r, perturbation))?;
            reporter.unit_done();
            Ok(())
        })
    });
    reporter.finish();
    result
}

/// Progress on standard error: a bar on a terminal, periodic lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    lines: Option<Mutex<LineState>>,
    name: String,
    total: usize,
}

struct LineState {
    started: Instant,
    last: Instant,
    done: usize,
}

impl Progress {
    fn new(enabled: bool, name: &str, total: usize) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let bar = (enabled && terminal).then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} units  elapsed {elapsed}  eta {eta}",
                )
                .expect("static template"),
            );
            bar
        });
        let now = Instant::now();
        let lines = (enabled && !terminal && total > 0).then(|| {
            Mutex::new(LineState {
                started: now,
                last: now,
                done: 0,
            })
        });
        Self {
            bar,
            lines,
            name: name.to_string(),
            total,
        }
    }

    fn unit_done(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Some(lines) = &self.lines {
            let mut state = lines.lock().expect("progress lock");
            state.done += 1;
            let now = Instant::now();
            if now.duration_since(state.last) >= PROGRESS_INTERVAL {
                state.last = now;
                eprintln!("{}", self.line(&state, now));
            }
        }
    }

    fn line(&self, state: &LineState, now: Instant) -> String {
        let elapsed = now.duration_since(state.started).as_secs_f64();
        let left = if state.done == 0 {
            "unknown".to_string()
        } else {
            let rate = elapsed / state.done as f64;
            format!("{:.0} s", rate * (self.total - state.done) as f64)
        };
        format!(
            "{}: {}/{} units, elapsed {elapsed:.0} s, about {left} left",
            self.name, state.done, self.total
        )
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if let Some(lines) = &self.lines {
            let state = lines.lock().expect("progress lock");
            if state.done > 0 {
                eprintln!("{}", self.line(&state, Instant::now()));
            }
        }
    }
}
