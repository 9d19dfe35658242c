//! `check`: a run's summary against a baseline's, cell by cell, and the
//! study's claims.
//!
//! # Model
//! A *cell* is one summary row, keyed by (grid point, method, `versus`,
//! metric, index in the ρ or w grid); paired-difference rows are cells of
//! their own. Two summaries are comparable only when they come from the same
//! study: the same summary format, spec hash (seed, replicates, scenario,
//! grid, methods, evaluation; claims excluded), scenario, population
//! constants at every grid point, and ρ and w grids. The crate version may
//! differ — that is what a regression check is for.
//!
//! # Algorithm
//! For a cell in both summaries with means `x̄_r` (run), `x̄_b` (baseline) and
//! Monte Carlo SEs `s_r`, `s_b` ([`judge`]):
//! - `d = x̄_r − x̄_b` is *flagged* when `|d| > k·√(s_r² + s_b²)`
//!   (k = `--sigma`, default [`DEFAULT_SIGMA`]);
//! - a flagged cell is `worse` or `better` by the metric's
//!   [`Direction`] (higher, lower; closer to zero compares `|x̄_r|` with
//!   `|x̄_b|`), and `changed` for metrics without a better side;
//! - a cell where either side has no MCSE (fewer than two replicates) is
//!   compared exactly: identical means are `same`, different ones are
//!   `not judged` and counted — they never fail a check, since without an
//!   MCSE nothing separates a regression from noise;
//! - a mean present on one side only is `worse` (the run lost it) or
//!   `better` (the run gained it); `changed` without a better side.
//!
//! Cells only in the baseline are `missing`, cells only in the run `new`;
//! both are reported and neither fails the check. A check fails (exit 1)
//! when a cell is worse or a claim fails ([`super::claims`]).
//!
//! The tolerance treats the two runs as independent. A run with the same
//! spec and seed draws the same data as its baseline, so the differences
//! of unchanged code are exactly 0, and those of a change that keeps the
//! random streams are smaller than the tolerance allows (the test is
//! conservative); a change that re-draws the streams makes the two runs
//! independent, which is what the tolerance assumes. With many cells, a few
//! may then be flagged by chance at small `k`; at `k = 4` one cell does so
//! with probability 6·10⁻⁵.
//!
//! # References
//! Morris, White & Crowther (2019), *Using simulation studies to evaluate
//! statistical methods*, Statistics in Medicine 38(11) (Monte Carlo SEs of
//! the performance measures compared here; `docs/method.md` §5 and §8).
//!
//! # Example
//! ```
//! use meta_router::study::check::{judge, Verdict};
//! use meta_router::study::record::Direction;
//! // MSE 0.090 ± 0.001 in the run against 0.080 ± 0.001: d = 0.01 > 4·√2·0.001.
//! let j = judge(Direction::Lower, (Some(0.090), Some(0.001)), (Some(0.080), Some(0.001)), 4.0);
//! assert_eq!(j.verdict, Verdict::Worse);
//! // With MCSEs of 0.002 the tolerance is 0.0113: the same difference is noise.
//! let j = judge(Direction::Lower, (Some(0.090), Some(0.002)), (Some(0.080), Some(0.002)), 4.0);
//! assert_eq!(j.verdict, Verdict::Same);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::claims::{self, ClaimOutcome};
use super::record::{metric_direction, Direction, Summary, SummaryRow, SUMMARY_FORMAT};
use super::spec::StudySpec;
use super::{split_shard, store};
use crate::error::{Error, Result};

/// The default `k` of `check --sigma`.
pub const DEFAULT_SIGMA: f64 = 4.0;

/// What a cell's comparison found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// Worse beyond the tolerance (fails the check).
    Worse,
    /// Better beyond the tolerance.
    Better,
    /// Different beyond the tolerance, for a metric without a better side.
    Changed,
    /// Different, but without an MCSE on one side (n < 2): not judged.
    NotJudged,
    /// In the baseline, not in the run.
    Missing,
    /// In the run, not in the baseline.
    New,
    /// Within the tolerance.
    Same,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 7] = [
        Verdict::Worse,
        Verdict::Better,
        Verdict::Changed,
        Verdict::NotJudged,
        Verdict::Missing,
        Verdict::New,
        Verdict::Same,
    ];

    /// The verdict's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Worse => "worse",
            Verdict::Better => "better",
            Verdict::Changed => "changed",
            Verdict::NotJudged => "not judged",
            Verdict::Missing => "missing",
            Verdict::New => "new",
            Verdict::Same => "same",
        }
    }
}

/// One side of a cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellValue {
    /// Mean over replicates.
    pub mean: Option<f64>,
    /// Its Monte Carlo SE.
    pub mcse: Option<f64>,
    /// Replicates contributing.
    pub n: usize,
    /// Failed fits.
    pub failures: usize,
}

impl From<&SummaryRow> for CellValue {
    fn from(row: &SummaryRow) -> Self {
        Self {
            mean: row.mean,
            mcse: row.mcse,
            n: row.n,
            failures: row.failures,
        }
    }
}

/// One compared cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// The grid point.
    pub grid: BTreeMap<String, serde_json::Value>,
    /// Method label.
    pub method: String,
    /// Reference method of a paired-difference row.
    pub versus: Option<String>,
    /// Metric name.
    pub metric: String,
    /// Position in the ρ or w grid.
    pub index: Option<usize>,
    /// The usage ratio at `index` (ρ curves).
    pub rho: Option<f64>,
    /// The cost weight at `index` (w curves).
    pub w: Option<f64>,
    /// The run's row (`None`: missing).
    pub run: Option<CellValue>,
    /// The baseline's row (`None`: new).
    pub baseline: Option<CellValue>,
    /// The judgement.
    pub judgement: Judgement,
}

/// The comparison of two means with their MCSEs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// `x̄_run − x̄_baseline`, when both exist.
    pub difference: Option<f64>,
    /// `√(s_run² + s_baseline²)`, when both MCSEs exist.
    pub se: Option<f64>,
    /// `k · se`.
    pub tolerance: Option<f64>,
}

impl Judgement {
    /// `difference / se` (`None` without both, or when `se = 0`).
    pub fn z(&self) -> Option<f64> {
        match (self.difference, self.se) {
            (Some(d), Some(se)) if se > 0.0 => Some(d / se),
            _ => None,
        }
    }
}

/// Judges one cell: run `(mean, mcse)` against baseline `(mean, mcse)` at `k
/// = sigma` (rules in the module docs).
pub fn judge(
    direction: Direction,
    run: (Option<f64>, Option<f64>),
    baseline: (Option<f64>, Option<f64>),
    sigma: f64,
) -> Judgement {
    let directed = |better: bool| match direction {
        Direction::Neither => Verdict::Changed,
        _ if better => Verdict::Better,
        _ => Verdict::Worse,
    };
    let mut judgement = Judgement {
        verdict: Verdict::Same,
        difference: None,
        se: None,
        tolerance: None,
    };
    let (r, b) = match (run.0, baseline.0) {
        (None, None) => return judgement,
        (None, Some(_)) => {
            judgement.verdict = directed(false);
            return judgement;
        }
        (Some(_), None) => {
            judgement.verdict = directed(true);
            return judgement;
        }
        (Some(r), Some(b)) => (r, b),
    };
    let d = r - b;
    judgement.difference = Some(d);
    let (Some(sr), Some(sb)) = (run.1, baseline.1) else {
        judgement.verdict = if r == b {
            Verdict::Same
        } else {
            Verdict::NotJudged
        };
        return judgement;
    };
    let se = (sr * sr + sb * sb).sqrt();
    let tolerance = sigma * se;
    judgement.se = Some(se);
    judgement.tolerance = Some(tolerance);
    if d.abs() <= tolerance {
        return judgement;
    }
    judgement.verdict = match direction {
        Direction::Higher => directed(d > 0.0),
        Direction::Lower => directed(d < 0.0),
        Direction::TowardZero if r.abs() == b.abs() => Verdict::Changed,
        Direction::TowardZero => directed(r.abs() < b.abs()),
        Direction::Neither => Verdict::Changed,
    };
    judgement
}

/// The cells of two comparable summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// `k`.
    pub sigma: f64,
    /// Crate version of the run.
    pub run_version: String,
    /// Crate version of the baseline.
    pub baseline_version: String,
    /// Every cell: the baseline's rows in order, then the run's new ones.
    pub cells: Vec<Cell>,
}

impl Comparison {
    /// Cells with this verdict.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.cells
            .iter()
            .filter(|c| c.judgement.verdict == verdict)
            .count()
    }
}

type Key = (String, String, Option<String>, String, Option<usize>);

fn key(row: &SummaryRow) -> Key {
    (
        serde_json::to_string(&row.grid).unwrap_or_default(),
        row.method.clone(),
        row.versus.clone(),
        row.metric.clone(),
        row.index,
    )
}

/// Why two summaries cannot be compared (`None`: they can).
pub fn incomparable(run: &Summary, baseline: &Summary) -> Option<String> {
    if run.format != baseline.format {
        return Some(format!(
            "summary formats differ (`{}` vs `{}`)",
            run.format, baseline.format
        ));
    }
    if run.provenance.spec_hash != baseline.provenance.spec_hash {
        let mut differences = Vec::new();
        if run.study != baseline.study {
            differences.push(format!("study `{}` vs `{}`", run.study, baseline.study));
        }
        if run.seed != baseline.seed {
            differences.push(format!("seed {} vs {}", run.seed, baseline.seed));
        }
        if run.replicates != baseline.replicates {
            differences.push(format!(
                "replicates {} vs {}",
                run.replicates, baseline.replicates
            ));
        }
        let detail = if differences.is_empty() {
            "its scenario, grid, methods or evaluation settings changed".to_string()
        } else {
            differences.join(", ")
        };
        return Some(format!(
            "they come from different specs (spec hash {} vs {}: {detail}); compare runs of one \
             spec, or regenerate the baseline from the new spec",
            short(&run.provenance.spec_hash),
            short(&baseline.provenance.spec_hash)
        ));
    }
    if run.provenance.scenario != baseline.provenance.scenario {
        return Some(format!(
            "different scenarios (`{}` vs `{}`)",
            run.provenance.scenario, baseline.provenance.scenario
        ));
    }
    for constants in &baseline.provenance.constants {
        let other = run
            .provenance
            .constants
            .iter()
            .find(|c| c.grid == constants.grid);
        if other != Some(constants) {
            return Some(format!(
                "the scenario's population constants differ at grid point {} (the scenario \
                 changed, so the truth the metrics are measured against changed); regenerate the \
                 baseline",
                serde_json::to_string(&constants.grid).unwrap_or_default()
            ));
        }
    }
    if run.rho != baseline.rho || run.w != baseline.w {
        return Some("the ρ or w grids differ".into());
    }
    None
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Joins two summaries cell by cell and judges every cell at `k = sigma`;
/// refuses summaries that are not comparable ([`incomparable`]).
pub fn compare(
    run: &Summary,
    baseline: &Summary,
    sigma: f64,
    names: (&Path, &Path),
) -> Result<Comparison> {
    if let Some(reason) = incomparable(run, baseline) {
        return Err(Error::Incomparable {
            run: names.0.display().to_string(),
            baseline: names.1.display().to_string(),
            reason,
        });
    }
    let run_rows: HashMap<Key, &SummaryRow> = run.rows.iter().map(|r| (key(r), r)).collect();
    let base_keys: HashMap<Key, ()> = baseline.rows.iter().map(|r| (key(r), ())).collect();
    let cell = |row: &SummaryRow, run: Option<&SummaryRow>, base: Option<&SummaryRow>| {
        let judgement = match (run, base) {
            (Some(r), Some(b)) => judge(
                metric_direction(&row.metric),
                (r.mean, r.mcse),
                (b.mean, b.mcse),
                sigma,
            ),
            (r, _) => Judgement {
                verdict: if r.is_some() {
                    Verdict::New
                } else {
                    Verdict::Missing
                },
                difference: None,
                se: None,
                tolerance: None,
            },
        };
        Cell {
            grid: row.grid.clone(),
            method: row.method.clone(),
            versus: row.versus.clone(),
            metric: row.metric.clone(),
            index: row.index,
            rho: row.rho,
            w: row.w,
            run: run.map(CellValue::from),
            baseline: base.map(CellValue::from),
            judgement,
        }
    };
    let mut cells: Vec<Cell> = baseline
        .rows
        .iter()
        .map(|b| cell(b, run_rows.get(&key(b)).copied(), Some(b)))
        .collect();
    cells.extend(
        run.rows
            .iter()
            .filter(|r| !base_keys.contains_key(&key(r)))
            .map(|r| cell(r, Some(r), None)),
    );
    Ok(Comparison {
        sigma,
        run_version: run.provenance.crate_version.clone(),
        baseline_version: baseline.provenance.crate_version.clone(),
        cells,
    })
}

/// Reads a `summary.json` (or the one in a study folder); returns the file's
/// path and the summary. A file of another summary format is an
/// [`Error::UnsupportedFormat`].
pub fn load_summary(path: &Path) -> Result<(PathBuf, Summary)> {
    let file = if path.is_dir() {
        path.join(store::SUMMARY_FILE)
    } else {
        path.to_path_buf()
    };
    let bytes = crate::files::read_bounded(&file, 8.0)?;
    let parse_error = |message: String| Error::Parse {
        path: file.display().to_string(),
        line: None,
        message,
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| parse_error(format!("not a study summary (not JSON: {e})")))?;
    let format = value.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != SUMMARY_FORMAT {
        return Err(Error::UnsupportedFormat {
            path: file.display().to_string(),
            found: format.to_string(),
            expected: SUMMARY_FORMAT.to_string(),
        });
    }
    let summary: Summary = serde_json::from_value(value)
        .map_err(|e| parse_error(format!("not a study summary: {e}")))?;
    summary.validate().map_err(parse_error)?;
    Ok((file, summary))
}

/// Everything `check` found.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    /// The run's summary file.
    pub run: PathBuf,
    /// The baseline's summary file, when compared.
    pub baseline: Option<PathBuf>,
    /// The study's name.
    pub study: String,
    /// The cell-by-cell comparison, when a baseline was given.
    pub comparison: Option<Comparison>,
    /// The spec the claims came from (`None`: no spec found).
    pub claims_from: Option<PathBuf>,
    /// Every claim at every grid point it covers.
    pub claims: Vec<ClaimOutcome>,
}

impl CheckOutcome {
    /// Cells worse than the baseline.
    pub fn worse_cells(&self) -> usize {
        self.comparison
            .as_ref()
            .map_or(0, |c| c.count(Verdict::Worse))
    }

    /// Claims that do not hold.
    pub fn failed_claims(&self) -> usize {
        self.claims.iter().filter(|c| !c.passed).count()
    }

    /// No cell is worse and every claim holds.
    pub fn passed(&self) -> bool {
        self.worse_cells() == 0 && self.failed_claims() == 0
    }
}

/// The spec whose claims apply to a summary: `claims_spec` when given, else
/// the `spec.toml` next to the summary file (`None` when there is none).
/// The spec must describe the summary's study (the same spec hash).
fn claims_spec(
    summary_file: &Path,
    summary: &Summary,
    claims_spec: Option<&Path>,
) -> Result<Option<(PathBuf, StudySpec)>> {
    let (path, spec) = match claims_spec {
        Some(path) => (path.to_path_buf(), StudySpec::from_file(path)?),
        None => {
            let path = summary_file
                .parent()
                .unwrap_or(Path::new("."))
                .join(store::SPEC_FILE);
            if !path.is_file() {
                return Ok(None);
            }
            let text = crate::files::read_text(&path, super::spec::SPEC_FACTOR)?;
            let spec = StudySpec::parse(split_shard(&text).1, &path.display().to_string())?;
            (path, spec)
        }
    };
    if spec.spec_hash() != summary.provenance.spec_hash {
        return Err(Error::Incomparable {
            run: summary_file.display().to_string(),
            baseline: path.display().to_string(),
            reason: format!(
                "the spec describes a different study than the summary (spec hash {} vs {}), so \
                 its claims do not apply",
                short(&spec.spec_hash()),
                short(&summary.provenance.spec_hash)
            ),
        });
    }
    Ok(Some((path, spec)))
}

/// `meta-router check`: compares the run (a study folder or `summary.json`)
/// with `baseline` when given, and evaluates the claims of `claims_from` (or
/// of the run's own `spec.toml`). Errors mean the inputs cannot be compared:
/// unreadable, of another format, or of different studies.
pub fn check(
    run: &Path,
    baseline: Option<&Path>,
    claims_from: Option<&Path>,
    sigma: f64,
) -> Result<CheckOutcome> {
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(Error::param("sigma", sigma, "must be finite and >= 0"));
    }
    let (run_file, run_summary) = load_summary(run)?;
    let comparison = match baseline {
        Some(path) => {
            let (base_file, base_summary) = load_summary(path)?;
            let comparison = compare(&run_summary, &base_summary, sigma, (&run_file, &base_file))?;
            Some((base_file, comparison))
        }
        None => None,
    };
    let spec = claims_spec(&run_file, &run_summary, claims_from)?;
    let claims = spec
        .as_ref()
        .map(|(_, spec)| claims::evaluate(&spec.claims, &run_summary))
        .unwrap_or_default();
    if comparison.is_none() && claims.is_empty() {
        return Err(Error::study(
            run,
            match &spec {
                Some((path, _)) => format!(
                    "nothing to check: no --baseline was given and {} has no [[expect]] claims",
                    path.display()
                ),
                None => "nothing to check: no --baseline was given and there is no spec.toml \
                         next to the summary (pass --spec FILE for its claims)"
                    .to_string(),
            },
        ));
    }
    let (baseline, comparison) = comparison.unzip();
    Ok(CheckOutcome {
        run: run_file,
        baseline,
        study: run_summary.study.clone(),
        comparison,
        claims_from: spec.map(|(path, _)| path),
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judgements_by_direction() {
        let j = |dir, r: f64, b: f64| judge(dir, (Some(r), Some(0.01)), (Some(b), Some(0.01)), 4.0);
        // Tolerance 4·√2·0.01 ≈ 0.0566.
        assert_eq!(j(Direction::Higher, 0.5, 0.45).verdict, Verdict::Same);
        assert_eq!(j(Direction::Higher, 0.6, 0.5).verdict, Verdict::Better);
        assert_eq!(j(Direction::Higher, 0.4, 0.5).verdict, Verdict::Worse);
        assert_eq!(j(Direction::Lower, 0.4, 0.5).verdict, Verdict::Better);
        assert_eq!(j(Direction::Lower, 0.6, 0.5).verdict, Verdict::Worse);
        assert_eq!(j(Direction::TowardZero, -0.3, 0.4).verdict, Verdict::Better);
        assert_eq!(j(Direction::TowardZero, -0.5, 0.4).verdict, Verdict::Worse);
        assert_eq!(j(Direction::Neither, 0.9, 0.5).verdict, Verdict::Changed);
        let worse = j(Direction::Lower, 0.6, 0.5);
        assert!((worse.z().unwrap() - 0.1 / (2f64.sqrt() * 0.01)).abs() < 1e-9);
    }

    #[test]
    fn cells_without_mcse_or_mean() {
        let one = judge(Direction::Lower, (Some(0.5), None), (Some(0.5), None), 4.0);
        assert_eq!(one.verdict, Verdict::Same);
        let other = judge(
            Direction::Lower,
            (Some(0.6), None),
            (Some(0.5), Some(0.1)),
            4.0,
        );
        assert_eq!(other.verdict, Verdict::NotJudged);
        assert_eq!(
            judge(Direction::Higher, (None, None), (Some(0.5), Some(0.1)), 4.0).verdict,
            Verdict::Worse
        );
        assert_eq!(
            judge(
                Direction::Neither,
                (Some(0.5), Some(0.1)),
                (None, None),
                4.0
            )
            .verdict,
            Verdict::Changed
        );
        assert_eq!(
            judge(Direction::Higher, (None, None), (None, None), 4.0).verdict,
            Verdict::Same
        );
        // Zero MCSE on both sides: any difference is flagged, none is not.
        let exact = judge(
            Direction::Higher,
            (Some(0.0), Some(0.0)),
            (Some(0.0), Some(0.0)),
            4.0,
        );
        assert_eq!(exact.verdict, Verdict::Same);
        assert_eq!(exact.z(), None);
    }
}
