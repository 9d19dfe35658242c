//! The GS-label budget plan (`meta-router plan`): a study of a plasmode
//! scenario over GS budgets (grid key `n_gold`) read as "how many GS labels
//! do I need".
//!
//! # Model
//! For each budget `n` and method the plan reports the Monte Carlo means
//! (± MCSE over R replicates) of the EG area `∫ EG(ρ) dρ` (the gain over
//! random routing integrated over the ρ grid, [`eg_area`]; its MCSE is an
//! upper bound), the NEG area, the peak efficiency gain `max_ρ EG(ρ)` (the
//! peak of the mean curve, and the ρ it sits at), the regret at the user's
//! cost weight `w` and the MSE of ψ̂. For the router and each baseline `b`,
//! the paired difference `D = A_router − A_b` of the decision metric `A`
//! ([`PlanMetric`]: the EG area by default, or the NEG area) over the
//! replicates both fitted, its MCSE `s_D` (for the EG area the bound), and
//! the one-sided lower confidence bound `L = D − z_c·s_D` at confidence `c`
//! (`z_c` the standard normal `c`-quantile). The router **beats `b` by the
//! margin `m` at budget `n`** when `L > m`. The smallest such budget is
//! reported, and whether it also holds at every larger budget of the plan.
//! The confidence is per budget and baseline (no correction for the several
//! budgets compared); with the EG area's MCSE bound it is at least `c`.
//!
//! The EG area leads because it is what a plasmode plan can forecast: the
//! NEG area divides by the oracle's gain, which in a plasmode scenario is
//! that of the planted truth, whose heterogeneity beyond what the pilot's
//! learner captures is unknowable from the pilot (`docs/planning.md`).
//!
//! The peak EG is the maximum of the mean curve over the ρ grid, so it is
//! biased upward by the selection of ρ by about one MCSE; its MCSE is the
//! one at the selected ρ.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::study::record::{Summary, SummaryRow};
use meta_router_core::inference::normal_quantile;
use meta_router_core::routing::trapezoid;

use super::format_significant;
use super::tabular::csv_field;

/// The metric whose paired differences decide whether the router beats a
/// baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlanMetric {
    /// `∫ EG(ρ) dρ` over the ρ grid, in label units (the default).
    #[default]
    EgArea,
    /// The NEG area.
    NegArea,
}

impl PlanMetric {
    /// The metric's name in `plan.csv` and on the command line's
    /// `--metric` (with `-` for `_`).
    pub fn name(self) -> &'static str {
        match self {
            PlanMetric::EgArea => "eg_area",
            PlanMetric::NegArea => "neg_area",
        }
    }

    /// The metric in prose.
    fn label(self) -> &'static str {
        match self {
            PlanMetric::EgArea => "EG-area",
            PlanMetric::NegArea => "NEG-area",
        }
    }
}

/// What the plan compares and how it decides.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSettings {
    /// The router's method label (a meta-learner).
    pub router: String,
    /// The baselines' labels.
    pub baselines: Vec<String>,
    /// The cost weight whose regret is reported (a value of the summary's w grid).
    pub w: f64,
    /// The metric of the decision.
    pub metric: PlanMetric,
    /// The margin `m` (in the decision metric's units) by which the router
    /// must beat a baseline.
    pub margin: f64,
    /// The one-sided confidence `c` in (0.5, 1).
    pub confidence: f64,
}

/// A mean with its Monte Carlo standard error.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Estimate {
    /// Mean over the replicates (`None` when no replicate succeeded).
    pub mean: Option<f64>,
    /// Its MCSE (`None` with fewer than two replicates).
    pub mcse: Option<f64>,
}

/// One method at one budget.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCell {
    /// Method label.
    pub method: String,
    /// EG area (its `mcse` an upper bound; both missing when a point of the
    /// mean EG curve or of its MCSEs is, e.g. with a single replicate).
    pub eg_area: Estimate,
    /// NEG area.
    pub neg_area: Estimate,
    /// Peak of the mean EG curve, and the ρ it sits at.
    pub peak_eg: Option<(Estimate, f64)>,
    /// The peak EG on the paper's scale, divided by the test queries' mean
    /// gain `m` (`None` unless `m > 0`: the scale needs a positive mean gain).
    pub peak_eg_over_m: Option<Estimate>,
    /// Regret at the plan's w.
    pub regret: Estimate,
    /// MSE of ψ̂.
    pub mse_psi: Estimate,
    /// Failed fits.
    pub failures: usize,
}

/// The router against one baseline at one budget.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The baseline's label.
    pub baseline: String,
    /// Paired difference of the decision metric, router − baseline.
    pub difference: Estimate,
    /// One-sided lower confidence bound `L`.
    pub lower: Option<f64>,
    /// `L > margin`.
    pub beats: bool,
}

/// One budget of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetRow {
    /// GS rows.
    pub n_gold: u64,
    /// Every method.
    pub methods: Vec<MethodCell>,
    /// The router against each baseline.
    pub comparisons: Vec<Comparison>,
}

/// The smallest budget at which the router beats a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The baseline's label.
    pub baseline: String,
    /// The smallest budget with `L > margin` (`None`: no budget of the plan).
    pub smallest: Option<u64>,
    /// Whether it also holds at every larger budget of the plan.
    pub holds_above: bool,
}

/// A plan read from a study summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The settings.
    pub settings: PlanSettings,
    /// Replicates per budget.
    pub replicates: usize,
    /// The budgets, increasing.
    pub rows: Vec<BudgetRow>,
    /// Per baseline, the smallest budget at which the router beats it.
    pub thresholds: Vec<Threshold>,
}

impl Plan {
    /// Reads the plan from a summary whose grid varies `n_gold` only.
    pub fn from_summary(summary: &Summary, settings: PlanSettings) -> Result<Self> {
        if !(settings.confidence > 0.5 && settings.confidence < 1.0) {
            return Err(Error::param(
                "confidence",
                settings.confidence,
                "must lie in (0.5, 1)",
            ));
        }
        let w_index = summary
            .w
            .iter()
            .position(|&w| w == settings.w)
            .ok_or_else(|| Error::param("w", settings.w, "is not on the study's w grid"))?;
        let z = normal_quantile(2.0 * settings.confidence - 1.0)?;
        let budgets = budgets(summary);
        if budgets.is_empty() {
            return Err(Error::param(
                "n_gold",
                "(none)",
                "the study has no grid key n_gold",
            ));
        }
        let mut methods = vec![settings.router.clone()];
        methods.extend(settings.baselines.iter().cloned());
        let rows: Vec<BudgetRow> = budgets
            .iter()
            .map(|&n| BudgetRow {
                n_gold: n,
                methods: methods
                    .iter()
                    .map(|method| method_cell(summary, n, method, w_index))
                    .collect(),
                comparisons: settings
                    .baselines
                    .iter()
                    .map(|baseline| comparison(summary, n, &settings, baseline, z))
                    .collect(),
            })
            .collect();
        let budgets: Vec<u64> = rows.iter().map(|r| r.n_gold).collect();
        let thresholds = settings
            .baselines
            .iter()
            .enumerate()
            .map(|(b, baseline)| {
                let beats: Vec<bool> = rows.iter().map(|r| r.comparisons[b].beats).collect();
                threshold(baseline, &budgets, &beats)
            })
            .collect();
        Ok(Self {
            settings,
            replicates: summary.replicates,
            rows,
            thresholds,
        })
    }

    /// The plan as markdown: the decision, then one table per budget.
    pub fn markdown(&self) -> String {
        let s = &self.settings;
        let mut out = String::new();
        let _ = writeln!(out, "# GS-label budget plan\n");
        let _ = writeln!(
            out,
            "Router `{}` against {}; {} replicates per budget; the router beats a baseline at a \
             budget when the one-sided {}% lower bound of its paired {} advantage exceeds \
             the margin {}.\n",
            s.router,
            s.baselines
                .iter()
                .map(|b| format!("`{b}`"))
                .collect::<Vec<_>>()
                .join(", "),
            self.replicates,
            format_significant(100.0 * s.confidence, 3),
            s.metric.label(),
            format_significant(s.margin, 3)
        );
        let _ = writeln!(
            out,
            "| baseline | smallest GS budget at which the router beats it |"
        );
        let _ = writeln!(out, "|---|---|");
        for t in &self.thresholds {
            let verdict = match (t.smallest, t.holds_above) {
                (Some(n), true) => format!("{n} (and every larger budget)"),
                (Some(n), false) => format!("{n} (not at every larger budget)"),
                (None, _) => "none of the budgets planned".to_string(),
            };
            let _ = writeln!(out, "| {} | {verdict} |", t.baseline);
        }
        self.metrics_markdown(&mut out);
        self.comparisons_markdown(&mut out);
        out
    }

    /// `plan.md`'s table of every method's metrics per budget.
    fn metrics_markdown(&self, out: &mut String) {
        let s = &self.settings;
        let _ = writeln!(
            out,
            "\n## Metrics per budget (mean ± MCSE)\n\nEG area: the gain over random routing \
             integrated over the ρ grid, in label units (its MCSE an upper bound), higher is \
             better, and the quantity a plasmode plan forecasts best; NEG area: the same \
             divided by the planted truth's oracle gain at each ρ, higher is better, read as \
             the share of the planted heterogeneity recovered rather than as a forecast (a \
             plasmode truth carries heterogeneity the pilot cannot measure); regret at w = {}: \
             lower is better; the peak EG is the highest point of the mean EG curve (its ρ in \
             brackets), and EG/m the peak divided by the test queries' mean gain m (the paper's \
             scale; `—` unless m > 0).\n",
            format_significant(s.w, 3)
        );
        let _ = writeln!(
            out,
            "| n_gold | method | EG area | NEG area | peak EG [ρ] | peak EG/m | regret (w = {}) | MSE ψ̂ | failed |",
            format_significant(s.w, 3)
        );
        let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        for row in &self.rows {
            for cell in &row.methods {
                let peak = match &cell.peak_eg {
                    Some((e, rho)) => format!("{} [{}]", show(*e), format_significant(*rho, 3)),
                    None => "—".into(),
                };
                let scaled = cell.peak_eg_over_m.map_or("—".into(), show);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {peak} | {scaled} | {} | {} | {} |",
                    row.n_gold,
                    cell.method,
                    show(cell.eg_area),
                    show(cell.neg_area),
                    show(cell.regret),
                    show(cell.mse_psi),
                    cell.failures
                );
            }
        }
    }

    /// `plan.md`'s table of the router against each baseline per budget.
    fn comparisons_markdown(&self, out: &mut String) {
        let s = &self.settings;
        let _ = writeln!(
            out,
            "\n## The router against each baseline (paired {} difference)\n",
            s.metric.label()
        );
        let _ = writeln!(
            out,
            "| n_gold | baseline | difference ± MCSE | {}% lower bound | beats by {}? |",
            format_significant(100.0 * s.confidence, 3),
            format_significant(s.margin, 3)
        );
        let _ = writeln!(out, "|---:|---|---:|---:|---|");
        for row in &self.rows {
            for c in &row.comparisons {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    row.n_gold,
                    c.baseline,
                    show(c.difference),
                    c.lower.map_or("—".into(), |l| format_significant(l, 3)),
                    if c.beats { "yes" } else { "no" }
                );
            }
        }
    }

    /// The plan as CSV: one row per budget, method and metric (differences
    /// with `versus` set).
    pub fn csv(&self) -> String {
        let mut out = String::from("n_gold,method,versus,metric,mean,mcse\n");
        let number = |v: Option<f64>| {
            v.filter(|x| x.is_finite())
                .map_or(String::new(), |x| x.to_string())
        };
        let mut line = |n: u64, method: &str, versus: &str, metric: &str, e: Estimate| {
            let _ = writeln!(
                out,
                "{n},{},{},{metric},{},{}",
                csv_field(method),
                csv_field(versus),
                number(e.mean),
                number(e.mcse)
            );
        };
        for row in &self.rows {
            for cell in &row.methods {
                line(row.n_gold, &cell.method, "", "eg_area", cell.eg_area);
                line(row.n_gold, &cell.method, "", "neg_area", cell.neg_area);
                if let Some((e, _)) = cell.peak_eg {
                    line(row.n_gold, &cell.method, "", "peak_eg", e);
                }
                if let Some(e) = cell.peak_eg_over_m {
                    line(row.n_gold, &cell.method, "", "peak_eg_paper", e);
                }
                line(row.n_gold, &cell.method, "", "regret", cell.regret);
                line(row.n_gold, &cell.method, "", "mse_psi", cell.mse_psi);
            }
            for c in &row.comparisons {
                line(
                    row.n_gold,
                    &self.settings.router,
                    &c.baseline,
                    self.settings.metric.name(),
                    c.difference,
                );
            }
        }
        out
    }
}

/// One method's metrics at budget `n` (`w_index`: the plan's w on the
/// summary's w grid).
fn method_cell(summary: &Summary, n: u64, method: &str, w_index: usize) -> MethodCell {
    let at = |metric: &str, index: Option<usize>| find(summary, n, method, None, metric, index);
    let m = mean_gain(summary, n);
    let peak_eg = peak(summary, n, method);
    MethodCell {
        method: method.to_string(),
        eg_area: area(summary, n, method, None),
        neg_area: estimate(at("neg_area", None)),
        peak_eg_over_m: peak_eg.and_then(|(e, _)| {
            m.filter(|&m| m > 0.0).map(|m| Estimate {
                mean: e.mean.map(|v| v / m),
                mcse: e.mcse.map(|v| v / m),
            })
        }),
        peak_eg,
        regret: estimate(at("regret", Some(w_index))),
        mse_psi: estimate(at("mse_psi", None)),
        failures: at("neg_area", None).map_or(0, |r| r.failures),
    }
}

/// The router against `baseline` at budget `n`: the paired difference of
/// the decision metric, its lower bound `D − z·s_D` and the verdict.
fn comparison(
    summary: &Summary,
    n: u64,
    settings: &PlanSettings,
    baseline: &str,
    z: f64,
) -> Comparison {
    let router = settings.router.as_str();
    let difference = match settings.metric {
        PlanMetric::EgArea => area(summary, n, router, Some(baseline)),
        PlanMetric::NegArea => estimate(find(summary, n, router, Some(baseline), "neg_area", None)),
    };
    let lower = match (difference.mean, difference.mcse) {
        (Some(d), Some(s)) => Some(d - z * s),
        _ => None,
    };
    Comparison {
        baseline: baseline.to_string(),
        difference,
        lower,
        beats: lower.is_some_and(|l| l > settings.margin),
    }
}

/// The smallest of `budgets` (increasing) whose verdict in `beats` is true,
/// and whether every larger budget's is too.
fn threshold(baseline: &str, budgets: &[u64], beats: &[bool]) -> Threshold {
    let first = beats.iter().position(|&x| x);
    Threshold {
        baseline: baseline.to_string(),
        smallest: first.map(|i| budgets[i]),
        holds_above: first.is_some_and(|i| beats[i..].iter().all(|&x| x)),
    }
}

/// A planned value against the known truth's study at one budget.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationRow {
    /// GS rows.
    pub n_gold: u64,
    /// What is compared: a method's NEG area, or the router's paired NEG-area
    /// difference to a baseline (`router − baseline`).
    pub quantity: String,
    /// The plan's value.
    pub planned: Estimate,
    /// The true scenario's value.
    pub truth: Estimate,
    /// `planned − truth` (`None` when either is missing).
    pub difference: Option<f64>,
    /// Its MCSE, `√(s_plan² + s_truth²)` (independent studies).
    pub mcse: Option<f64>,
    /// `|difference| ≤ tolerance`.
    pub within: bool,
}

/// A plan compared with a study of the true scenario at the same budgets
/// and methods (`plan --compare-with`): how far plasmode extrapolation is
/// from the truth.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    /// The tolerance on NEG area.
    pub tolerance: f64,
    /// The relative tolerance on EG areas ([`EgAreaRow::agrees`]).
    pub eg_tolerance: f64,
    /// The plan's decision metric.
    pub metric: PlanMetric,
    /// Every compared quantity at every budget.
    pub rows: Vec<ValidationRow>,
    /// Each method's EG area and the router's paired EG-area difference to
    /// each baseline, planned and true, at every budget (when both studies
    /// have the whole EG curve on one ρ grid).
    pub eg_areas: Vec<EgAreaRow>,
}

/// An EG area `∫ EG(ρ) dρ` (a method's, or the router's paired difference
/// to a baseline) in the plan and in the true scenario's study at one
/// budget ([`eg_area`]: means, with MCSE bounds).
#[derive(Debug, Clone, PartialEq)]
pub struct EgAreaRow {
    /// GS rows.
    pub n_gold: u64,
    /// Method label.
    pub method: String,
    /// For a paired difference, the baseline (`method − versus`).
    pub versus: Option<String>,
    /// The plan's EG area and its MCSE bound.
    pub planned: (f64, f64),
    /// The true scenario's.
    pub truth: (f64, f64),
}

impl EgAreaRow {
    /// `planned / true` (`None` when the true area is 0).
    pub fn ratio(&self) -> Option<f64> {
        (self.truth.0 != 0.0).then(|| self.planned.0 / self.truth.0)
    }

    /// The planned area agrees with the true one when it is within the
    /// relative `tolerance` of it (`|planned − true| ≤ tolerance·|true|`),
    /// or indistinguishable from it by the two studies' Monte Carlo error
    /// (`|planned − true| ≤ 2·√(s_plan² + s_true²)` with the MCSE bounds):
    /// a difference of two near-equal methods is then planned right even
    /// when its ratio to a true value near 0 is arbitrary.
    pub fn agrees(&self, tolerance: f64) -> bool {
        let gap = (self.planned.0 - self.truth.0).abs();
        gap <= tolerance * self.truth.0.abs() || gap <= 2.0 * self.planned.1.hypot(self.truth.1)
    }
}

impl Plan {
    /// Compares the plan's NEG areas (each method) and paired differences
    /// (router − each baseline) with those of `truth`, a summary of the same
    /// methods (labels) and budgets (`n_gold`) on the true scenario. Errors
    /// name the budget or method `truth` lacks.
    /// `tolerance` applies to NEG areas and their differences,
    /// `eg_tolerance` (relative) to EG areas and theirs.
    pub fn validate(
        &self,
        plan: &Summary,
        truth: &Summary,
        (tolerance, eg_tolerance): (f64, f64),
    ) -> Result<Validation> {
        let mut rows = Vec::new();
        for budget in &self.rows {
            let n = budget.n_gold;
            let mut compare = |quantity: String, method: &str, versus: Option<&str>| {
                let planned = estimate(find(plan, n, method, versus, "neg_area", None));
                let found = find(truth, n, method, versus, "neg_area", None).ok_or_else(|| {
                    Error::param(
                        "compare-with",
                        format!("n_gold = {n}, {quantity}"),
                        "the true scenario's study has no such NEG area (run it with the plan's methods, labels and budgets)",
                    )
                })?;
                let truth = estimate(Some(found));
                let difference = match (planned.mean, truth.mean) {
                    (Some(a), Some(b)) => Some(a - b),
                    _ => None,
                };
                let mcse = match (planned.mcse, truth.mcse) {
                    (Some(a), Some(b)) => Some(a.hypot(b)),
                    _ => None,
                };
                rows.push(ValidationRow {
                    n_gold: n,
                    quantity,
                    planned,
                    truth,
                    difference,
                    mcse,
                    within: difference.is_some_and(|d| d.abs() <= tolerance),
                });
                Ok::<(), Error>(())
            };
            for cell in &budget.methods {
                compare(format!("{} NEG area", cell.method), &cell.method, None)?;
            }
            for c in &budget.comparisons {
                compare(
                    format!("{} − {}", self.settings.router, c.baseline),
                    &self.settings.router,
                    Some(&c.baseline),
                )?;
            }
        }
        Ok(Validation {
            tolerance,
            eg_tolerance,
            metric: self.settings.metric,
            rows,
            eg_areas: self.eg_area_rows(plan, truth),
        })
    }

    /// Each method's EG area and the router's paired EG-area difference to
    /// each baseline in `plan` and `truth` at every budget (none when the two
    /// studies' ρ grids differ).
    fn eg_area_rows(&self, plan: &Summary, truth: &Summary) -> Vec<EgAreaRow> {
        let mut eg_areas = Vec::new();
        if plan.rho == truth.rho {
            for budget in &self.rows {
                let pairs = budget
                    .methods
                    .iter()
                    .map(|cell| (&cell.method, None))
                    .chain(
                        budget
                            .comparisons
                            .iter()
                            .map(|c| (&self.settings.router, Some(&c.baseline))),
                    );
                for (method, versus) in pairs {
                    let area = |s: &Summary| {
                        eg_area(
                            s,
                            &plan.rho,
                            budget.n_gold,
                            method,
                            versus.map(|v| v.as_str()),
                        )
                    };
                    if let (Some(planned), Some(truth)) = (area(plan), area(truth)) {
                        eg_areas.push(EgAreaRow {
                            n_gold: budget.n_gold,
                            method: method.clone(),
                            versus: versus.cloned(),
                            planned,
                            truth,
                        });
                    }
                }
            }
        }
        eg_areas
    }
}

impl Validation {
    /// Rows within the tolerance, and all rows.
    pub fn tally(&self) -> (usize, usize) {
        (
            self.rows.iter().filter(|r| r.within).count(),
            self.rows.len(),
        )
    }

    /// EG areas that agree with the truth ([`EgAreaRow::agrees`]), and all
    /// EG areas.
    pub fn eg_tally(&self) -> (usize, usize) {
        (
            self.eg_areas
                .iter()
                .filter(|r| r.agrees(self.eg_tolerance))
                .count(),
            self.eg_areas.len(),
        )
    }

    /// The comparison as markdown.
    pub fn markdown(&self) -> String {
        let (within, total) = self.tally();
        let mut out = String::from("# The plan against the true scenario\n\n");
        let _ = writeln!(
            out,
            "{within} of {total} NEG areas and paired differences are within {} of the true \
             scenario's (mean ± MCSE; the difference's MCSE combines both studies').\n",
            format_significant(self.tolerance, 3)
        );
        let _ = writeln!(
            out,
            "| n_gold | quantity | planned | true | planned − true | within {}? |",
            format_significant(self.tolerance, 3)
        );
        let _ = writeln!(out, "|---:|---|---:|---:|---:|---|");
        for r in &self.rows {
            let difference = Estimate {
                mean: r.difference,
                mcse: r.mcse,
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                r.n_gold,
                r.quantity,
                show(r.planned),
                show(r.truth),
                show(difference),
                if r.within { "yes" } else { "no" }
            );
        }
        self.eg_markdown(&mut out);
        out
    }

    /// The "EG areas" section of [`Validation::markdown`].
    fn eg_markdown(&self, out: &mut String) {
        if self.eg_areas.is_empty() {
            let _ = writeln!(
                out,
                "\n(No EG areas: the two studies do not share one ρ grid with whole EG curves.)"
            );
            return;
        }
        let (within, total) = self.eg_tally();
        let percent = format_significant(100.0 * self.eg_tolerance, 3);
        let decisions = match self.metric {
            PlanMetric::EgArea => {
                "The plan decides on the paired EG-area differences (router − baseline)."
            }
            PlanMetric::NegArea => {
                "(This plan decides on the NEG area's paired differences, `--metric neg-area`.)"
            }
        };
        let _ = writeln!(
            out,
            "\n## EG areas\n\nThe EG area `∫ EG(ρ) dρ` over the study's ρ grid (± an upper bound \
             on its MCSE) is the gain a method achieves over random routing; unlike the NEG area \
             it is not divided by the oracle's gain, which depends on heterogeneity no method \
             can learn and a pilot cannot measure. {decisions}\n\n{within} of {total} EG areas \
             and paired differences agree with the true scenario's: within {percent}% of it, or \
             within 2 combined MCSE bounds.\n"
        );
        let _ = writeln!(
            out,
            "| n_gold | quantity | planned | true | planned / true | agrees? |"
        );
        let _ = writeln!(out, "|---:|---|---:|---:|---:|---|");
        let cell = |(m, s): (f64, f64)| {
            format!(
                "{} ± {}",
                format_significant(m, 3),
                format_significant(s, 2)
            )
        };
        for r in &self.eg_areas {
            let ratio = r.ratio().map_or("—".into(), |x| format_significant(x, 3));
            let quantity = match &r.versus {
                Some(b) => format!("{} − {b}", r.method),
                None => r.method.clone(),
            };
            let agrees = if r.agrees(self.eg_tolerance) {
                "yes"
            } else {
                "no"
            };
            let _ = writeln!(
                out,
                "| {} | {quantity} | {} | {} | {ratio} | {agrees} |",
                r.n_gold,
                cell(r.planned),
                cell(r.truth)
            );
        }
    }
}

/// `mean ± mcse` with 3 significant digits, `—` when missing.
fn show(e: Estimate) -> String {
    match (e.mean, e.mcse) {
        (Some(m), Some(s)) => format!(
            "{} ± {}",
            format_significant(m, 3),
            format_significant(s, 2)
        ),
        (Some(m), None) => format_significant(m, 3),
        _ => "—".into(),
    }
}

fn estimate(row: Option<&SummaryRow>) -> Estimate {
    row.map_or_else(Estimate::default, |r| Estimate {
        mean: r.mean,
        mcse: r.mcse,
    })
}

/// The EG area `∫ EG(ρ) dρ` of `method` (or of its paired difference to
/// `versus`) at budget `n`: the trapezoid area over the grid `rho` of the
/// mean EG curve (the mean of the replicates' areas, by linearity), and an
/// upper bound on its MCSE, the area of the per-ρ MCSEs (the standard
/// deviation of a sum is at most the sum of the standard deviations).
/// `None` when a point of the curve is missing.
pub fn eg_area(
    summary: &Summary,
    rho: &[f64],
    n: u64,
    method: &str,
    versus: Option<&str>,
) -> Option<(f64, f64)> {
    let rows: Vec<&SummaryRow> = (0..rho.len())
        .map(|i| find(summary, n, method, versus, "eg", Some(i)))
        .collect::<Option<_>>()?;
    let means: Vec<Option<f64>> = rows.iter().map(|r| r.mean).collect();
    let mcses: Vec<Option<f64>> = rows.iter().map(|r| r.mcse).collect();
    if means.iter().chain(&mcses).any(Option::is_none) {
        return None;
    }
    Some((trapezoid(rho, &means), trapezoid(rho, &mcses)))
}

/// `summary` with an `eg_area` row (index `None`) after every method's
/// rows at every grid point: [`eg_area`] of its mean EG curve, the MCSE
/// column holding the bound (for the plan's figure of EG areas).
pub fn with_eg_areas(summary: &Summary) -> Summary {
    let mut out = summary.clone();
    let mut rows = Vec::with_capacity(summary.rows.len());
    let mut iter = summary.rows.iter().peekable();
    while let Some(row) = iter.next() {
        rows.push(row.clone());
        let last_of_method = iter.peek().is_none_or(|next| {
            next.grid != row.grid || next.method != row.method || next.versus != row.versus
        });
        if !(last_of_method && row.versus.is_none()) {
            continue;
        }
        let Some(n) = row.grid.get("n_gold").and_then(serde_json::Value::as_u64) else {
            continue;
        };
        if let Some((mean, bound)) = eg_area(summary, &summary.rho, n, &row.method, None) {
            let eg = find(summary, n, &row.method, None, "eg", Some(0));
            rows.push(SummaryRow {
                grid: row.grid.clone(),
                method: row.method.clone(),
                versus: None,
                metric: "eg_area".into(),
                index: None,
                rho: None,
                w: None,
                mean: Some(mean),
                mcse: Some(bound),
                n: eg.map_or(0, |r| r.n),
                failures: eg.map_or(0, |r| r.failures),
            });
        }
    }
    out.rows = rows;
    out
}

/// [`eg_area`] on the summary's own ρ grid as an [`Estimate`] (its MCSE
/// the bound; both missing when a point of the curve is).
fn area(summary: &Summary, n: u64, method: &str, versus: Option<&str>) -> Estimate {
    eg_area(summary, &summary.rho, n, method, versus).map_or_else(Estimate::default, |(m, s)| {
        Estimate {
            mean: Some(m),
            mcse: Some(s),
        }
    })
}

/// The GS budgets of a study (its grid's `n_gold` values), ascending.
pub fn budgets(summary: &Summary) -> Vec<u64> {
    let mut budgets: Vec<u64> = summary
        .rows
        .iter()
        .filter_map(|r| r.grid.get("n_gold").and_then(serde_json::Value::as_u64))
        .collect();
    budgets.sort_unstable();
    budgets.dedup();
    budgets
}

/// The summary row of `method` (or its difference to `versus`) at budget `n`.
pub(super) fn find<'a>(
    summary: &'a Summary,
    n: u64,
    method: &str,
    versus: Option<&str>,
    metric: &str,
    index: Option<usize>,
) -> Option<&'a SummaryRow> {
    summary.rows.iter().find(|r| {
        r.grid.get("n_gold").and_then(serde_json::Value::as_u64) == Some(n)
            && r.method == method
            && r.versus.as_deref() == versus
            && r.metric == metric
            && r.index == index
    })
}

/// The test queries' mean gain `m` of the grid point with budget `n`.
fn mean_gain(summary: &Summary, n: u64) -> Option<f64> {
    summary
        .provenance
        .constants
        .iter()
        .find(|c| c.grid.get("n_gold").and_then(serde_json::Value::as_u64) == Some(n))
        .map(|c| c.test_mean_gain)
        .filter(|m| m.is_finite())
}

/// The highest point of `method`'s mean EG curve at budget `n`, and its ρ.
fn peak(summary: &Summary, n: u64, method: &str) -> Option<(Estimate, f64)> {
    summary
        .rows
        .iter()
        .filter(|r| {
            r.grid.get("n_gold").and_then(serde_json::Value::as_u64) == Some(n)
                && r.method == method
                && r.versus.is_none()
                && r.metric == "eg"
        })
        .filter_map(|r| Some((r.mean?, r.rho?, r)))
        .filter(|(m, _, _)| m.is_finite())
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, rho, r)| (estimate(Some(r)), rho))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_the_first_budget_that_beats_and_says_whether_it_lasts() {
        let budgets = [100, 250, 500, 1000];
        let t = threshold("pooled", &budgets, &[false, true, true, true]);
        assert_eq!((t.smallest, t.holds_above), (Some(250), true));
        let t = threshold("pooled", &budgets, &[false, true, false, true]);
        assert_eq!((t.smallest, t.holds_above), (Some(250), false));
        let t = threshold("pooled", &budgets, &[false; 4]);
        assert_eq!((t.smallest, t.holds_above), (None, false));
    }

    #[test]
    fn an_eg_area_agrees_within_the_relative_tolerance_or_the_monte_carlo_error() {
        let row = |planned: (f64, f64), truth: (f64, f64)| EgAreaRow {
            n_gold: 100,
            method: "dr-learner".into(),
            versus: None,
            planned,
            truth,
        };
        // 20% low with tight MCSEs: inside 25%, outside 10%
        let low = row((0.024, 0.0003), (0.030, 0.0004));
        assert!(low.agrees(0.25) && !low.agrees(0.10));
        assert!((low.ratio().unwrap() - 0.8).abs() < 1e-12);
        // 30% low: outside 25%, and far outside 2 combined MCSEs (0.001)
        assert!(!row((0.021, 0.0003), (0.030, 0.0004)).agrees(0.25));
        // a difference near 0 planned as near 0: its ratio is arbitrary, but
        // the gap is within 2 combined MCSEs
        let tie = row((-0.0002, 0.0003), (-0.0004, 0.0003));
        assert!(tie.agrees(0.0));
        assert!(!row((0.002, 0.0003), (-0.0004, 0.0003)).agrees(0.25));
        // a true area of 0 has no ratio
        assert_eq!(row((0.001, 0.0), (0.0, 0.0)).ratio(), None);
    }

    #[test]
    fn estimates_print_with_their_mcse_or_a_dash() {
        let both = Estimate {
            mean: Some(0.51234),
            mcse: Some(0.0123),
        };
        assert_eq!(show(both), "0.512 ± 0.012");
        assert_eq!(show(Estimate::default()), "—");
    }
}
