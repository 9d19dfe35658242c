//! `check`: a run's summary against a baseline's, cell by cell, and the
//! study's claims.
//!
//! # Model
//! A *metric cell* is one summary row, keyed by (grid point, method,
//! `versus`, metric, index in the ρ or w grid); paired-difference rows are
//! cells of their own. A *failure cell* is one (grid point, method): the
//! number of failed fits out of the study's replicates. Two summaries are
//! comparable only when they come from the same study: the same summary
//! format, spec hash (seed, replicates, scenario, grid, methods, evaluation;
//! claims excluded), scenario, population constants at every grid point, and
//! ρ and w grids. The crate version may differ — that is what a regression
//! check is for.
//!
//! # Algorithm
//! Every cell present on both sides gets a p-value for "the run estimates the
//! same quantity as the baseline" ([`judge`], [`coverage_p`],
//! [`failure_p`]):
//! - a metric cell with means `x̄_r` (run), `x̄_b` (baseline) and Monte Carlo
//!   SEs `s_r`, `s_b`: `z = (x̄_r − x̄_b) / √(s_r² + s_b²)`, two-sided normal
//!   `p = 2Φ(−|z|)` (both MCSEs 0 and the means different: `p = 0`);
//! - a coverage cell (`<target>.coverage` or `.covered`, a proportion of
//!   `n` replicates): Fisher's exact test of the covered counts, two-sided
//!   (twice the smaller tail, at most 1);
//! - a failure cell with `f_r` and `f_b` failed fits of `R` replicates each:
//!   the one-sided exact test that the failure rate did not rise,
//!   `p = P(X ≥ f_r)` for `X` hypergeometric (`2R` fits, `f_r + f_b` failed,
//!   `R` drawn: Fisher's test, conditional on the total). When the baseline
//!   had **no** failed fit at that grid point and method, any failure in the
//!   run makes the cell worse without a test: the baseline shows fits that
//!   do not fail, and an exact test cannot tell 1 failure in `R` from 0 at
//!   any useful level. This rule is outside the per-run level below (a study
//!   whose fits fail now and then should commit a baseline that shows it).
//!
//! **Per-run false-alarm level.** The default rule ([`Rule::Holm`]) applies
//! Holm's step-down procedure to the p-values of *every* cell that has one,
//! at the per-run level `α` (`--alpha`, default [`DEFAULT_ALPHA`]): a cell
//! is flagged when its Holm-adjusted p-value is at most `α`. Holm controls
//! the family-wise error rate under any dependence between the cells, so a
//! run that estimates the same quantities as its baseline from independent
//! random streams flags one cell or more (of any verdict) with probability
//! at most `α`, up to the normal approximation of the metric cells' means.
//! The older rule ([`Rule::PerCell`], `--sigma k`, deprecated) flags each
//! cell alone at `|z| > k` (the exact tests at their level `2Φ(−k)`), so its
//! per-run rate grows with the number of cells.
//!
//! A flagged cell is `worse` or `better` by the metric's [`Direction`](super::record::Direction)
//! (higher, lower; closer to zero compares `|x̄_r|` with `|x̄_b|`), by the
//! distance `|x̄ − level|` from the nominal level for coverage cells, by the
//! count for failure cells; `changed` for metrics without a better side.
//! Without a p-value:
//! - a cell where either side has no MCSE (fewer than two replicates) is
//!   compared exactly: identical means are `same`, different ones are
//!   `not judged` and counted — they never fail a check, since without an
//!   MCSE nothing separates a regression from noise;
//! - a mean present on one side only is `worse` (the run lost it) or
//!   `better` (the run gained it); `changed` without a better side;
//! - cells only in the baseline are `missing` and fail the check (the run
//!   lost a method, a metric or a grid point); cells only in the run are
//!   `new` and do not.
//!
//! A check fails (exit 1) when a cell is worse or missing, or a claim fails
//! ([`super::claims`]).
//!
//! The test treats the two runs as independent. A run with the same spec
//! and seed draws the same data as its baseline, so the differences of
//! unchanged code are exactly 0 (p = 1), and those of a change that keeps
//! the random streams are smaller than independent runs would give (the
//! check is conservative); a change that re-draws the streams makes the two
//! runs independent, which is what the test assumes.
//!
//! # References
//! Morris, White & Crowther (2019), *Using simulation studies to evaluate
//! statistical methods*, Statistics in Medicine 38(11) (Monte Carlo SEs of
//! the performance measures compared here; `docs/method.md` §5 and §8).
//! Holm (1979), *A simple sequentially rejective multiple test procedure*,
//! Scandinavian Journal of Statistics 6(2). Fisher's exact test: Agresti
//! (2002), *Categorical Data Analysis*, §3.5.
//!
//! # Example
//! ```
//! use meta_router::study::check::{holm, judge, normal_p, Verdict};
//! use meta_router::study::record::Direction;
//! // MSE 0.090 ± 0.001 in the run against 0.080 ± 0.001: z = 7.07.
//! let j = judge(Direction::Lower, (Some(0.090), Some(0.001)), (Some(0.080), Some(0.001)));
//! assert_eq!(j.verdict_if_flagged, Verdict::Worse);
//! assert!((j.z().unwrap() - 7.0711).abs() < 1e-4);
//! assert!(j.p_value.unwrap() < 1e-11);
//! assert!((normal_p(1.959964) - 0.05).abs() < 1e-6);
//! // Holm over three p-values: 3·0.01, then max(0.03, 2·0.02), then max(0.04, 0.04).
//! let adjusted = holm(&[0.04, 0.01, 0.02]);
//! assert!((adjusted[1] - 0.03).abs() < 1e-15 && (adjusted[2] - 0.04).abs() < 1e-15);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::claims::{self, ClaimOutcome};
use super::record::{is_coverage, metric_direction, Summary, SummaryRow, SUMMARY_FORMAT};
use super::spec::StudySpec;
use super::{split_shard, store};
use crate::error::{Error, Result};

mod judge;

pub use judge::apply_rule;
pub use judge::{coverage_p, failure_p, holm, judge, normal_p};
pub(crate) use judge::{judge_coverage, judge_failures};

/// The default per-run false-alarm level `α` of `check` ([`Rule::Holm`]).
pub const DEFAULT_ALPHA: f64 = 0.01;

/// Metric name of the failure cells in reports.
pub const FAILURES_METRIC: &str = "failed fits";

/// How the cells' p-values become flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Holm's step-down procedure over every cell with a p-value, at the
    /// per-run family-wise level `alpha` (the default).
    Holm {
        /// Per-run false-alarm level, in (0, 1).
        alpha: f64,
    },
    /// Deprecated: each cell alone, flagged at `|z| > sigma` (exact tests at
    /// their level `2Φ(−sigma)`); the per-run false-alarm rate grows with the
    /// number of cells.
    PerCell {
        /// `k`, finite and ≥ 0.
        sigma: f64,
    },
}

impl Default for Rule {
    fn default() -> Self {
        Rule::Holm {
            alpha: DEFAULT_ALPHA,
        }
    }
}

impl Rule {
    /// Refuses a level outside (0, 1) or a negative or non-finite `k`.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Rule::Holm { alpha } if !(alpha > 0.0 && alpha < 1.0) => {
                Err(Error::param("alpha", alpha, "must lie in (0, 1)"))
            }
            Rule::PerCell { sigma } if !(sigma.is_finite() && sigma >= 0.0) => {
                Err(Error::param("sigma", sigma, "must be finite and >= 0"))
            }
            _ => Ok(()),
        }
    }

    /// The rule in words, for reports.
    pub fn describe(&self) -> String {
        match *self {
            Rule::Holm { alpha } => format!(
                "a cell is flagged when its Holm-adjusted p-value is at most α = {alpha} (the \
                 per-run false-alarm level over every judged cell)"
            ),
            Rule::PerCell { sigma } => format!(
                "a cell is flagged when |run − baseline| > {sigma}·√(mcse_run² + \
                 mcse_baseline²) (exact tests at p < 2Φ(−{sigma})); each cell alone, so the \
                 per-run false-alarm rate grows with the number of cells (--sigma is \
                 deprecated: use --alpha)"
            ),
        }
    }
}

/// What a cell's comparison found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// Worse beyond chance (fails the check).
    Worse,
    /// In the baseline, not in the run (fails the check).
    Missing,
    /// Better beyond chance.
    Better,
    /// Different beyond chance, for a metric without a better side.
    Changed,
    /// Different, but without an MCSE on one side (n < 2): not judged.
    NotJudged,
    /// In the run, not in the baseline.
    New,
    /// Not flagged.
    Same,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 7] = [
        Verdict::Worse,
        Verdict::Missing,
        Verdict::Better,
        Verdict::Changed,
        Verdict::NotJudged,
        Verdict::New,
        Verdict::Same,
    ];

    /// The verdict's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Worse => "worse",
            Verdict::Missing => "missing",
            Verdict::Better => "better",
            Verdict::Changed => "changed",
            Verdict::NotJudged => "not judged",
            Verdict::New => "new",
            Verdict::Same => "same",
        }
    }

    /// Whether the verdict fails a check.
    pub fn fails(self) -> bool {
        matches!(self, Verdict::Worse | Verdict::Missing)
    }
}

/// What a cell holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    /// A summary row's mean.
    Metric,
    /// A coverage (`<target>.coverage` or `.covered`): a proportion of `n`
    /// replicates, judged towards the nominal level.
    Coverage,
    /// The failed fits of one method at one grid point
    /// ([`FAILURES_METRIC`]).
    Failures,
}

/// How a cell's p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// Two-sided normal test of `z = difference / se` from the MCSEs.
    Normal,
    /// Fisher's exact test of the covered counts, two-sided.
    ExactCoverage,
    /// Fisher's exact test that the failure rate did not rise, one-sided.
    ExactFailures,
}

/// One side of a cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CellValue {
    /// Mean over replicates (failure cells: the share of failed fits).
    pub mean: Option<f64>,
    /// Its Monte Carlo SE.
    pub mcse: Option<f64>,
    /// Replicates contributing (failure cells: the study's replicates).
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
    /// Metric name ([`FAILURES_METRIC`] for failure cells).
    pub metric: String,
    /// Position in the ρ or w grid.
    pub index: Option<usize>,
    /// The usage ratio at `index` (ρ curves).
    pub rho: Option<f64>,
    /// The cost weight at `index` (w curves).
    pub w: Option<f64>,
    /// What the cell holds.
    pub kind: CellKind,
    /// The run's side (`None`: missing).
    pub run: Option<CellValue>,
    /// The baseline's side (`None`: new).
    pub baseline: Option<CellValue>,
    /// The judgement.
    pub judgement: Judgement,
}

/// The comparison of one cell's two sides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    /// The verdict (after the per-run rule).
    pub verdict: Verdict,
    /// What a flag means for this cell: worse, better or changed.
    pub verdict_if_flagged: Verdict,
    /// `x̄_run − x̄_baseline` (failure cells: the difference in counts).
    pub difference: Option<f64>,
    /// `√(s_run² + s_baseline²)`, when both MCSEs exist.
    pub se: Option<f64>,
    /// The test, when the cell has one.
    pub test: Option<Test>,
    /// The test's p-value.
    pub p_value: Option<f64>,
    /// The p-value the rule compared with its level (Holm-adjusted under
    /// [`Rule::Holm`]).
    pub adjusted_p: Option<f64>,
}

impl Judgement {
    fn fixed(verdict: Verdict) -> Self {
        Self {
            verdict,
            verdict_if_flagged: verdict,
            difference: None,
            se: None,
            test: None,
            p_value: None,
            adjusted_p: None,
        }
    }

    /// `difference / se` of a normal test (`None` for other tests, without
    /// both MCSEs, or when `se = 0`).
    pub fn z(&self) -> Option<f64> {
        match (self.test, self.difference, self.se) {
            (Some(Test::Normal), Some(d), Some(se)) if se > 0.0 => Some(d / se),
            _ => None,
        }
    }
}

/// The cells of two comparable summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The rule the cells were judged by.
    pub rule: Rule,
    /// Cells with a test (the family of the per-run rule).
    pub tested: usize,
    /// Crate version of the run.
    pub run_version: String,
    /// Crate version of the baseline.
    pub baseline_version: String,
    /// Every cell: the baseline's rows in order, then the run's new ones,
    /// then one failure cell per grid point and method.
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

    /// Cells that fail the check (worse or missing).
    pub fn failing(&self) -> usize {
        self.cells
            .iter()
            .filter(|c| c.judgement.verdict.fails())
            .count()
    }
}

type Key = (String, String, Option<String>, String, Option<usize>);

fn grid_key(grid: &BTreeMap<String, serde_json::Value>) -> String {
    serde_json::to_string(grid).unwrap_or_default()
}

fn key(row: &SummaryRow) -> Key {
    (
        grid_key(&row.grid),
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

/// Failed fits per (grid point, method) of a summary's own rows, in order of
/// first appearance (the rows of one method at one grid point all carry the
/// same count).
fn failures_of(summary: &Summary) -> Vec<((String, String), &SummaryRow, usize)> {
    let mut out: Vec<((String, String), &SummaryRow, usize)> = Vec::new();
    for row in summary.rows.iter().filter(|r| r.versus.is_none()) {
        let key = (grid_key(&row.grid), row.method.clone());
        match out.iter_mut().find(|(k, _, _)| *k == key) {
            Some(entry) => entry.2 = entry.2.max(row.failures),
            None => out.push((key, row, row.failures)),
        }
    }
    out
}

/// Joins two summaries cell by cell, tests every cell and applies `rule`;
/// refuses summaries that are not comparable ([`incomparable`]).
pub fn compare(
    run: &Summary,
    baseline: &Summary,
    rule: Rule,
    names: (&Path, &Path),
) -> Result<Comparison> {
    rule.validate()?;
    if let Some(reason) = incomparable(run, baseline) {
        return Err(Error::Incomparable {
            run: names.0.display().to_string(),
            baseline: names.1.display().to_string(),
            reason,
        });
    }
    let level = baseline.provenance.level;
    let run_rows: HashMap<Key, &SummaryRow> = run.rows.iter().map(|r| (key(r), r)).collect();
    let base_keys: HashMap<Key, ()> = baseline.rows.iter().map(|r| (key(r), ())).collect();
    let mut cells: Vec<Cell> = baseline
        .rows
        .iter()
        .map(|b| metric_cell(level, b, run_rows.get(&key(b)).copied(), Some(b)))
        .collect();
    cells.extend(
        run.rows
            .iter()
            .filter(|r| !base_keys.contains_key(&key(r)))
            .map(|r| metric_cell(level, r, Some(r), None)),
    );
    cells.extend(failure_cells(run, baseline));
    let tested = apply_rule(&mut cells, rule);
    Ok(Comparison {
        rule,
        tested,
        run_version: run.provenance.crate_version.clone(),
        baseline_version: baseline.provenance.crate_version.clone(),
        cells,
    })
}

/// The cell of summary row `row` (of the baseline, or of the run when the
/// baseline lacks it) with its run and baseline rows: a coverage cell
/// (tested towards `level`) or a metric cell, new or missing when one side
/// lacks it.
fn metric_cell(
    level: f64,
    row: &SummaryRow,
    run: Option<&SummaryRow>,
    base: Option<&SummaryRow>,
) -> Cell {
    let kind = if row.versus.is_none() && is_coverage(&row.metric) {
        CellKind::Coverage
    } else {
        CellKind::Metric
    };
    let judgement = match (run, base) {
        (Some(r), Some(b)) if kind == CellKind::Coverage => {
            judge_coverage(level, &r.into(), &b.into())
        }
        (Some(r), Some(b)) => judge(
            metric_direction(&row.metric),
            (r.mean, r.mcse),
            (b.mean, b.mcse),
        ),
        (Some(_), None) => Judgement::fixed(Verdict::New),
        (None, _) => Judgement::fixed(Verdict::Missing),
    };
    Cell {
        grid: row.grid.clone(),
        method: row.method.clone(),
        versus: row.versus.clone(),
        metric: row.metric.clone(),
        index: row.index,
        rho: row.rho,
        w: row.w,
        kind,
        run: run.map(CellValue::from),
        baseline: base.map(CellValue::from),
        judgement,
    }
}

/// One failure cell per grid point and method: the baseline's in its order
/// (with the run's count when it has the pair), then the run's new pairs.
fn failure_cells(run: &Summary, baseline: &Summary) -> Vec<Cell> {
    let run_failures = failures_of(run);
    let base_failures = failures_of(baseline);
    let failure_value = |failures: usize, replicates: usize| CellValue {
        mean: (replicates > 0).then(|| failures as f64 / replicates as f64),
        mcse: None,
        n: replicates,
        failures,
    };
    let (run_replicates, base_replicates) = (run.replicates, baseline.replicates);
    let failure_cell = |row: &SummaryRow, in_run: Option<usize>, base: Option<usize>| Cell {
        grid: row.grid.clone(),
        method: row.method.clone(),
        versus: None,
        metric: FAILURES_METRIC.to_string(),
        index: None,
        rho: None,
        w: None,
        kind: CellKind::Failures,
        run: in_run.map(|f| failure_value(f, run_replicates)),
        baseline: base.map(|f| failure_value(f, base_replicates)),
        judgement: match (in_run, base) {
            (Some(r), Some(b)) => judge_failures(r, b, base_replicates),
            (Some(_), None) => Judgement::fixed(Verdict::New),
            (None, _) => Judgement::fixed(Verdict::Missing),
        },
    };
    let mut cells = Vec::new();
    for (key, row, failures) in &base_failures {
        let in_run = run_failures.iter().find(|(k, _, _)| k == key).map(|e| e.2);
        cells.push(failure_cell(row, in_run, Some(*failures)));
    }
    for (key, row, failures) in &run_failures {
        if !base_failures.iter().any(|(k, _, _)| k == key) {
            cells.push(failure_cell(row, Some(*failures), None));
        }
    }
    cells
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

    /// Cells of the baseline the run does not have.
    pub fn missing_cells(&self) -> usize {
        self.comparison
            .as_ref()
            .map_or(0, |c| c.count(Verdict::Missing))
    }

    /// Claims that do not hold.
    pub fn failed_claims(&self) -> usize {
        self.claims.iter().filter(|c| !c.passed).count()
    }

    /// No cell is worse or missing and every claim holds.
    pub fn passed(&self) -> bool {
        self.worse_cells() == 0 && self.missing_cells() == 0 && self.failed_claims() == 0
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
/// with `baseline` when given (cells judged by `rule`), and evaluates the
/// claims of `claims_from` (or of the run's own `spec.toml`). Errors mean
/// the inputs cannot be compared: unreadable, of another format, or of
/// different studies, or a rule outside its range.
pub fn check(
    run: &Path,
    baseline: Option<&Path>,
    claims_from: Option<&Path>,
    rule: Rule,
) -> Result<CheckOutcome> {
    rule.validate()?;
    let (run_file, run_summary) = load_summary(run)?;
    let comparison = match baseline {
        Some(path) => {
            let (base_file, base_summary) = load_summary(path)?;
            let comparison = compare(&run_summary, &base_summary, rule, (&run_file, &base_file))?;
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
    use super::judge::{coverage_p, failure_p, fisher_tails, holm, normal_p};
    use super::*;
    use crate::study::record::Direction;

    fn metric_cell(judgement: Judgement) -> Cell {
        Cell {
            grid: BTreeMap::new(),
            method: "m".into(),
            versus: None,
            metric: "mse_psi".into(),
            index: None,
            rho: None,
            w: None,
            kind: CellKind::Metric,
            run: None,
            baseline: None,
            judgement,
        }
    }

    #[test]
    fn flags_take_the_metric_direction() {
        let j = |dir, r: f64, b: f64| judge(dir, (Some(r), Some(0.01)), (Some(b), Some(0.01)));
        assert_eq!(
            j(Direction::Higher, 0.6, 0.5).verdict_if_flagged,
            Verdict::Better
        );
        assert_eq!(
            j(Direction::Higher, 0.4, 0.5).verdict_if_flagged,
            Verdict::Worse
        );
        assert_eq!(
            j(Direction::Lower, 0.4, 0.5).verdict_if_flagged,
            Verdict::Better
        );
        assert_eq!(
            j(Direction::Lower, 0.6, 0.5).verdict_if_flagged,
            Verdict::Worse
        );
        assert_eq!(
            j(Direction::TowardZero, -0.3, 0.4).verdict_if_flagged,
            Verdict::Better
        );
        assert_eq!(
            j(Direction::TowardZero, -0.5, 0.4).verdict_if_flagged,
            Verdict::Worse
        );
        assert_eq!(
            j(Direction::TowardZero, -0.4, 0.4).verdict_if_flagged,
            Verdict::Changed
        );
        assert_eq!(
            j(Direction::Neither, 0.9, 0.5).verdict_if_flagged,
            Verdict::Changed
        );
        // z = 0.1 / (√2 · 0.01); p = 2Φ(−z).
        let worse = j(Direction::Lower, 0.6, 0.5);
        let z = 0.1 / (2f64.sqrt() * 0.01);
        assert!((worse.z().unwrap() - z).abs() < 1e-9);
        assert!((worse.p_value.unwrap() / normal_p(z) - 1.0).abs() < 1e-9);
        assert_eq!(worse.verdict, Verdict::Same, "the rule decides");
        // Φ(−1.959964) = 0.025, Φ(−3) = 0.0013499 (normal tables).
        assert!((normal_p(-1.959964) - 0.05).abs() < 1e-7);
        assert!((normal_p(3.0) - 0.0026998).abs() < 1e-7);
        assert_eq!(normal_p(f64::INFINITY), 0.0);
        assert_eq!(normal_p(0.0), 1.0);
    }

    #[test]
    fn cells_without_mcse_or_mean() {
        let one = judge(Direction::Lower, (Some(0.5), None), (Some(0.5), None));
        assert_eq!((one.verdict, one.p_value), (Verdict::Same, None));
        let other = judge(Direction::Lower, (Some(0.6), None), (Some(0.5), Some(0.1)));
        assert_eq!(other.verdict, Verdict::NotJudged);
        assert_eq!(
            judge(Direction::Higher, (None, None), (Some(0.5), Some(0.1))).verdict,
            Verdict::Worse
        );
        assert_eq!(
            judge(Direction::Higher, (Some(0.5), Some(0.1)), (None, None)).verdict,
            Verdict::Better
        );
        assert_eq!(
            judge(Direction::Neither, (Some(0.5), Some(0.1)), (None, None)).verdict,
            Verdict::Changed
        );
        assert_eq!(
            judge(Direction::Higher, (None, None), (None, None)).verdict,
            Verdict::Same
        );
        // Zero MCSE on both sides: any difference has p = 0, none has p = 1.
        let exact = judge(
            Direction::Higher,
            (Some(0.0), Some(0.0)),
            (Some(0.0), Some(0.0)),
        );
        assert_eq!((exact.p_value, exact.z()), (Some(1.0), None));
        let moved = judge(
            Direction::Higher,
            (Some(0.1), Some(0.0)),
            (Some(0.0), Some(0.0)),
        );
        assert_eq!(moved.p_value, Some(0.0));
    }

    /// Holm by hand: p = (0.01, 0.04, 0.03, 0.5), m = 4; ascending 0.01,
    /// 0.03, 0.04, 0.5 → 4·0.01 = 0.04, max(0.04, 3·0.03) = 0.09,
    /// max(0.09, 2·0.04) = 0.09, max(0.09, 0.5) = 0.5.
    #[test]
    fn holm_by_hand() {
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.5]);
        let expected = [0.04, 0.09, 0.09, 0.5];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-15, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.6, 0.7]), vec![1.0, 1.0]);
        assert!(holm(&[]).is_empty());
    }

    /// Fisher's test by hand: 3 of 5 against 1 of 5 (10 trials, 4 successes,
    /// 5 drawn): P(X ≥ 3) = (C(4,3)C(6,2) + C(4,4)C(6,1)) / C(10,5) = 66/252,
    /// P(X ≤ 3) = 1 − C(4,4)C(6,1)/C(10,5) = 246/252.
    #[test]
    fn fisher_tails_by_hand() {
        let (lower, upper) = fisher_tails(3, 5, 1, 5);
        assert!((upper - 66.0 / 252.0).abs() < 1e-12, "{upper}");
        assert!((lower - 246.0 / 252.0).abs() < 1e-12, "{lower}");
        // Equal counts: both tails cover the middle, the two-sided p is 1.
        assert_eq!(coverage_p((0.5, 10), (0.5, 10)), 1.0);
        // One failure against none of 300: P(X ≥ 1) = 1/2 exactly.
        assert!((failure_p(1, 0, 300) - 0.5).abs() < 1e-12);
        // 5 against 1 of 300: P(X ≥ 5 | 6 failures, half drawn) = (C(6,5) + C(6,6))/2⁶ nearly.
        let p = failure_p(5, 1, 300);
        assert!(p > 0.09 && p < 0.12, "{p}");
    }

    #[test]
    fn failures_and_coverage_cells() {
        // A baseline without failures tolerates none; one with some gets the test.
        assert_eq!(judge_failures(1, 0, 300).verdict, Verdict::Worse);
        assert_eq!(judge_failures(0, 0, 300).verdict, Verdict::Same);
        assert_eq!(judge_failures(0, 0, 300).p_value, None);
        let rose = judge_failures(40, 2, 300);
        assert_eq!(rose.test, Some(Test::ExactFailures));
        assert!(rose.p_value.unwrap() < 1e-8);
        assert!(judge_failures(1, 3, 300).p_value.unwrap() > 0.9);
        // Coverage: worse when farther from the nominal level.
        let value = |mean: f64| CellValue {
            mean: Some(mean),
            mcse: Some((mean * (1.0 - mean) / 300.0).sqrt()),
            n: 300,
            failures: 0,
        };
        let j = |r, b| judge_coverage(0.95, &value(r), &value(b));
        assert_eq!(j(0.88, 0.95).verdict_if_flagged, Verdict::Worse);
        assert_eq!(j(1.0, 0.95).verdict_if_flagged, Verdict::Worse);
        assert_eq!(j(0.94, 0.90).verdict_if_flagged, Verdict::Better);
        // Equally far on either side (exact in binary: level 0.75, 0.5 and 1).
        let equal = judge_coverage(0.75, &value(0.5), &value(1.0));
        assert_eq!(equal.verdict_if_flagged, Verdict::Changed);
        assert_eq!(j(0.88, 0.95).test, Some(Test::ExactCoverage));
    }

    /// The per-cell rule flags at |z| > k; Holm at the adjusted level.
    #[test]
    fn rules_flag_as_documented() {
        let tested = |d: f64| {
            metric_cell(judge(
                Direction::Lower,
                (Some(0.5 + d), Some(0.01)),
                (Some(0.5), Some(0.01)),
            ))
        };
        // z = d / (√2 · 0.01): 4.1 and 3.9 for these two.
        let mut cells = vec![tested(0.058), tested(0.0552)];
        assert_eq!(apply_rule(&mut cells, Rule::PerCell { sigma: 4.0 }), 2);
        assert_eq!(cells[0].judgement.verdict, Verdict::Worse);
        assert_eq!(cells[1].judgement.verdict, Verdict::Same);
        // Holm over 2 cells at α = 0.01: 2·p(4.1) = 8.3e-5 and p(3.9) = 9.6e-5.
        let mut cells = vec![tested(0.058), tested(0.0552)];
        apply_rule(&mut cells, Rule::Holm { alpha: 0.01 });
        assert!(cells.iter().all(|c| c.judgement.verdict == Verdict::Worse));
        // The same two among 200 unchanged cells: 200·p(4.1) = 0.0083 ≤ 0.01,
        // 199·p(3.9) = 0.019 > 0.01.
        let mut cells = vec![tested(0.058), tested(0.0552)];
        cells.extend((0..198).map(|_| tested(0.0)));
        assert_eq!(apply_rule(&mut cells, Rule::Holm { alpha: 0.01 }), 200);
        assert_eq!(cells[0].judgement.verdict, Verdict::Worse);
        assert_eq!(cells[1].judgement.verdict, Verdict::Same);
        assert!(cells[2..]
            .iter()
            .all(|c| c.judgement.verdict == Verdict::Same));
        assert!(Rule::Holm { alpha: 1.0 }.validate().is_err());
        assert!(Rule::PerCell { sigma: -1.0 }.validate().is_err());
    }
}
