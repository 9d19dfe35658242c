//! Study specifications: a TOML file → a validated, resolved [`StudySpec`].
//!
//! ```toml
//! name = "quickstart"          # results go to results/<name>/
//! seed = 20261127              # master seed
//! replicates = 50
//!
//! [scenario]                   # a scenario and its base parameters
//! name = "healthbench-like"
//!
//! [grid]                       # scenario parameters to vary (cartesian product)
//! n_gold = [100, 500]
//!
//! [evaluation]                 # optional
//! rho = [0.0, 0.25, 0.5, 0.75, 1.0]
//! w = [0.0, 0.1, 0.2]
//! cutoff = "none"              # or "positive"
//!
//! [[methods]]                  # every method sees the same data (paired design)
//! label = "R"
//! method = "r-learner"         # or dr-learner, gs-only, pb-only, pooled,
//!                              # mean-shift, all-gold, oracle, random
//! learner = { type = "ridge", basis = "poly2" }
//!
//! [[expect]]                   # optional claims, checked by `simulate` and `check`
//! method = "R"
//! better_than = "pooled"
//! metric = "mse_psi"
//! ```
//! Claims (`[[expect]]`) are described in [`expect`]. They are written to the
//! resolved spec but left out of its hash ([`StudySpec::spec_hash`]): they
//! judge the numbers without changing them, so adding a claim keeps a
//! baseline comparable.
//! Every error names the file, the key path (e.g.
//! `methods[2].bias_learner.penalty`) and its line ([`locate`]). Validation
//! builds the scenario at every grid point, validates every method, and
//! checks that every method can run on every grid point's data (dimensions,
//! rows per fold, memory; module `check`) before anything is written.

pub(crate) mod check;
mod evaluation;
pub mod expect;
mod grid;
pub use meta_router_core::config_file::locate;
mod method;
mod seed;
pub mod sweep;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dgp::{PopulationConstants, ScenarioConfig, TruthSample};
use crate::error::{Error, Result};
use crate::learners::LearnerConfig;
use crate::meta::MetaRouterConfig;
use evaluation::check_evaluation;
use grid::{
    cartesian, check_multi_model, check_rate_key, describe_point, expand_grid, points_are_multi,
};
use locate::{deserialize_located, render, Source};
use meta_router_core::Error as CoreError;
use method::{expand_methods, parse_method};

pub use evaluation::{EvaluationSpec, InferenceTarget};
pub use expect::{Claim, ClaimTest};
pub use meta_router_core::config_file::METHOD_PRESETS;

pub use check::MAX_UNITS;
pub use check::{memory_limit, MemoryEstimate, MAX_THREADS};

/// What a study method does.
// A spec holds a handful of methods; boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum MethodKind {
    /// A Meta-Router estimator or baseline.
    Estimator(Box<MetaRouterConfig>),
    /// The oracle benchmark: `learner` on every training query with a GS-mechanism label.
    AllGold(LearnerConfig),
    /// Evaluation reference: route by the true ψ.
    Oracle,
    /// Evaluation reference: route at random (exact expectations).
    Random,
}

/// One method of a study: a `[[methods]]` entry, or one variant of an
/// entry's `sweep`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodSpec {
    /// Label used in records and reports (a variant's: the entry's label
    /// followed by its setting, `R pref_weight=0.5`).
    pub label: String,
    /// What it does.
    pub kind: MethodKind,
    /// Position of its `[[methods]]` entry in the file (errors name
    /// `methods[entry]`).
    pub entry: usize,
    /// The entry's label: the family a swept variant belongs to (the label
    /// itself for a method without a sweep).
    pub family: String,
    /// The swept settings of a variant (key path → value); empty without a
    /// sweep.
    pub setting: BTreeMap<String, serde_json::Value>,
}

impl MethodSpec {
    /// Whether the method estimates Δ.
    pub fn estimates_delta(&self) -> bool {
        matches!(&self.kind, MethodKind::Estimator(c) if c.method.is_meta())
    }
}

/// A validated study.
#[derive(Debug, Clone)]
pub struct StudySpec {
    /// Study name (results folder name).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Master seed.
    pub seed: u64,
    /// Replicates per grid point.
    pub replicates: usize,
    /// Base scenario table (with `name`).
    pub scenario: toml::Table,
    /// Grid: scenario parameter → values.
    pub grid: BTreeMap<String, Vec<toml::Value>>,
    /// Evaluation settings.
    pub evaluation: EvaluationSpec,
    /// Methods, in spec order.
    pub methods: Vec<MethodSpec>,
    /// The method tables as written (for the resolved spec).
    method_tables: Vec<toml::Table>,
    /// One scenario configuration per grid point.
    pub points: Vec<GridPoint>,
    /// Settings that are valid but known to behave badly (printed before a run).
    pub warnings: Vec<String>,
    /// Claims about the summary (`[[expect]]`), in spec order.
    pub claims: Vec<Claim>,
    /// The claim tables as written (for the resolved spec).
    claim_tables: Vec<toml::Table>,
}

/// Truth of a grid point for inference studies: population constants and a
/// fixed-seed truth sample.
#[derive(Debug, Clone)]
pub struct PointTruth {
    /// The scenario's population constants.
    pub constants: PopulationConstants,
    /// The truth sample.
    pub sample: TruthSample,
}

/// One expanded grid point.
#[derive(Debug, Clone)]
pub struct GridPoint {
    /// The varied parameters' values.
    pub values: BTreeMap<String, serde_json::Value>,
    /// The scenario at this point.
    pub scenario: ScenarioConfig,
    /// The fixed-seed truth sample of inference studies, drawn once on first use.
    pub truth: std::sync::Arc<std::sync::OnceLock<std::result::Result<PointTruth, String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(deserialize_with = "seed::deserialize")]
    seed: u64,
    replicates: usize,
    scenario: toml::Table,
    #[serde(default)]
    grid: BTreeMap<String, Vec<toml::Value>>,
    #[serde(default)]
    evaluation: EvaluationSpec,
    methods: Vec<toml::Table>,
    #[serde(default)]
    expect: Vec<toml::Table>,
}

#[derive(Debug, Serialize)]
struct ResolvedSpec<'a> {
    name: &'a str,
    description: &'a str,
    #[serde(serialize_with = "seed::serialize")]
    seed: u64,
    replicates: usize,
    scenario: &'a toml::Table,
    grid: &'a BTreeMap<String, Vec<toml::Value>>,
    evaluation: &'a EvaluationSpec,
    methods: &'a [toml::Table],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    expect: &'a [toml::Table],
}

/// Memory per byte of a spec file while it is parsed and validated (for
/// [`crate::files::read_text`]): generous, so only absurd files are refused.
pub const SPEC_FACTOR: f64 = meta_router_core::config_file::PARSE_FACTOR;

/// Default reference methods of paired differences.
pub(crate) const DEFAULT_COMPARE_TO: &[&str] = &["pooled", "gs-only"];

/// The references a study may list besides the estimators
/// ([`meta_router_core::config_file::ESTIMATOR_NAMES`]).
pub(crate) const REFERENCE_NAMES: &[&str] = &["all-gold", "oracle", "random"];

/// Every method name a study may list: the estimators, then the references.
pub(crate) fn method_names() -> Vec<&'static str> {
    meta_router_core::config_file::ESTIMATOR_NAMES
        .iter()
        .chain(REFERENCE_NAMES)
        .copied()
        .collect()
}

/// Refuses an `[evaluation] compare_to` label that names no method.
fn check_compare_to(
    evaluation: &EvaluationSpec,
    methods: &[MethodSpec],
    source: &Source,
) -> Result<()> {
    if let Some(labels) = &evaluation.compare_to {
        for (i, label) in labels.iter().enumerate() {
            if !methods.iter().any(|m| &m.label == label) {
                return Err(source
                    .error(
                        &format!("evaluation.compare_to[{i}]"),
                        format!("no method is labelled `{label}`"),
                    )
                    .into());
            }
        }
    }
    Ok(())
}

impl StudySpec {
    /// Parses and validates a spec; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let text = &seed::quote_large(text);
        let source = Source::new(file, text);
        let document: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|span| source.line_of(span.start));
            let first = e.message().lines().next().unwrap_or("").trim().to_string();
            source.error_on_line(line, format!("not valid TOML: {first}"))
        })?;
        let raw: RawSpec = deserialize_located(&toml::Value::Table(document))
            .map_err(|(path, message)| source.error(&render(&path), message))?;
        let spec = Self::from_raw(raw, &source)?;
        check::check_feasible(&spec, &source)?;
        Ok(spec)
    }

    /// Reads and parses a spec file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = crate::files::read_text(path, SPEC_FACTOR)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Validates a deserialized spec: name, replicates, evaluation, grid,
    /// methods, the cross-checks between them, and the claims.
    fn from_raw(raw: RawSpec, source: &Source) -> Result<Self> {
        if raw.name.is_empty()
            || !raw
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(source
                .error(
                    "name",
                    "the study name must be non-empty and use only letters, digits, '-' and '_'",
                )
                .into());
        }
        if raw.replicates == 0 {
            return Err(source
                .error("replicates", "need at least one replicate")
                .into());
        }
        let evaluation = raw.evaluation;
        check_evaluation(&evaluation, source)?;
        let points = expand_grid(&raw.scenario, &raw.grid, source)?;
        if raw.methods.is_empty() {
            return Err(source
                .error("methods", "a study needs at least one [[methods]] entry")
                .into());
        }
        let methods = expand_methods(&raw.methods, source)?;
        check_compare_to(&evaluation, &methods, source)?;
        if points_are_multi(&points) {
            check_multi_model(&methods, &evaluation, source)?;
        }
        check_rate_key(&evaluation, &raw.grid, source)?;
        let warnings = methods
            .iter()
            .filter_map(|m| match &m.kind {
                MethodKind::Estimator(config) => Some((m.label.clone(), config.warnings())),
                _ => None,
            })
            .flat_map(|(label, list)| {
                list.into_iter()
                    .map(move |w| format!("method `{label}`: {w}"))
            })
            .collect();
        let claims = expect::parse_claims(
            &raw.expect,
            &expect::Context {
                methods: &methods,
                points: &points,
                grid: &raw.grid,
                evaluation: &evaluation,
            },
            source,
        )?;
        Ok(Self {
            warnings,
            name: raw.name,
            description: raw.description,
            seed: raw.seed,
            replicates: raw.replicates,
            scenario: raw.scenario,
            grid: raw.grid,
            evaluation,
            methods,
            method_tables: raw.methods,
            points,
            claims,
            claim_tables: raw.expect,
        })
    }

    /// Whether the study's scenario has several candidate models (then every
    /// method is fit once per non-reference model and evaluated by the
    /// many-model metrics).
    pub fn is_multi_model(&self) -> bool {
        points_are_multi(&self.points)
    }

    /// The resolved spec as TOML, claims included (written to `spec.toml`).
    pub fn resolved_toml(&self) -> String {
        self.resolved(&self.claim_tables)
    }

    /// SHA-256 of the resolved spec without its claims: what the records and
    /// the summary's numbers depend on. Summaries with equal hashes come from
    /// the same study and can be compared cell by cell.
    pub fn spec_hash(&self) -> String {
        super::store::sha256_hex(&self.resolved(&[]))
    }

    fn resolved(&self, expect: &[toml::Table]) -> String {
        let resolved = ResolvedSpec {
            name: &self.name,
            description: &self.description,
            seed: self.seed,
            replicates: self.replicates,
            scenario: &self.scenario,
            grid: &self.grid,
            evaluation: &self.evaluation,
            methods: &self.method_tables,
            expect,
        };
        toml::to_string(&resolved).expect("a parsed spec serializes")
    }

    /// Replaces the number of replicates (a command-line override), with
    /// the checks [`StudySpec::parse`] applies to it: at least one, at most
    /// [`MAX_UNITS`] units, records that fit in memory. `flag` names the
    /// override in errors (e.g. `--replicates`).
    pub fn set_replicates(&mut self, replicates: usize, flag: &str) -> Result<()> {
        let error = |message: String| Error::param(flag, replicates, message);
        if replicates == 0 {
            return Err(error("need at least one replicate".into()));
        }
        let units = replicates as f64 * self.points.len() as f64;
        if units > MAX_UNITS as f64 {
            return Err(error(format!(
                "{} grid point(s) × {replicates} replicates = {units:e} units; at most \
                 {MAX_UNITS} are supported",
                self.points.len()
            )));
        }
        let previous = self.replicates;
        self.replicates = replicates;
        let bytes = check::records_bytes(self);
        let limit = memory_limit();
        if crate::limits::exceeds(bytes, limit) {
            self.replicates = previous;
            return Err(CoreError::TooLarge {
                what: format!(
                    "{flag} {replicates}: the records of {units} units × {} methods",
                    self.methods.len()
                ),
                estimate: format!("peak memory {}", crate::limits::render_bytes(bytes)),
                limit: crate::limits::render_bytes(limit),
                advice: format!("use fewer {flag}, or raise the limit with --max-memory"),
            }
            .into());
        }
        Ok(())
    }

    /// Number of (grid point × replicate) units.
    pub fn units(&self) -> usize {
        self.points.len() * self.replicates
    }

    /// The variants of swept methods, in spec order (empty without sweeps).
    pub fn variants(&self) -> Vec<crate::study::record::Variant> {
        self.methods
            .iter()
            .filter(|m| !m.setting.is_empty())
            .map(|m| crate::study::record::Variant {
                method: m.label.clone(),
                family: m.family.clone(),
                setting: m.setting.clone(),
            })
            .collect()
    }

    /// Method labels in spec order.
    pub fn method_labels(&self) -> Vec<String> {
        self.methods.iter().map(|m| m.label.clone()).collect()
    }

    /// Reference methods of the summary's paired differences: `[evaluation]
    /// compare_to`, or by default the labels `pooled` and `gs-only` where the
    /// study has them; then the references of `better_than` claims, which
    /// are judged by those rows, and of slope claims' `versus` (the excess
    /// errors' slopes are fitted on those rows).
    pub fn compare_to(&self) -> Vec<String> {
        let mut labels: Vec<String> = match &self.evaluation.compare_to {
            Some(labels) => labels.clone(),
            None => DEFAULT_COMPARE_TO
                .iter()
                .filter(|l| self.methods.iter().any(|m| m.label == **l))
                .map(|l| l.to_string())
                .collect(),
        };
        for claim in &self.claims {
            let reference = match &claim.test {
                ClaimTest::BetterThan { reference, .. } => Some(reference),
                ClaimTest::Within { .. } => claim.versus.as_ref(),
            };
            if let Some(reference) = reference {
                if !labels.contains(reference) {
                    labels.push(reference.clone());
                }
            }
        }
        labels
    }
}

pub use meta_router_core::config_file::parse_router_config;

/// Converts a TOML value to JSON for records.
pub fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => serde_json::Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
seed = 1
replicates = 3
[scenario]
name = "healthbench-like"
pool = 400
n_test = 50
d = 5
[grid]
n_gold = [30, 60]
sigma_gold = [0.3, 0.6]
[[methods]]
method = "r"
folds = 3
learner = { type = "ridge", basis = "linear" }
[[methods]]
label = "gold"
method = "gs-only"
"#;

    #[test]
    fn a_minimal_spec_expands_its_grid_in_order() {
        let spec = StudySpec::parse(MINIMAL, "t.toml").unwrap();
        assert_eq!(spec.units(), 4 * 3);
        // Keys sorted, the last varying fastest.
        let points: Vec<String> = spec
            .points
            .iter()
            .map(|p| describe_point(&p.values))
            .collect();
        assert_eq!(
            points,
            [
                " (at grid point n_gold = 30, sigma_gold = 0.3)",
                " (at grid point n_gold = 30, sigma_gold = 0.6)",
                " (at grid point n_gold = 60, sigma_gold = 0.3)",
                " (at grid point n_gold = 60, sigma_gold = 0.6)",
            ]
        );
        // A label defaults to the method name; the alias "r" is the R-learner.
        assert_eq!(spec.method_labels(), ["r", "gold"]);
        match &spec.methods[0].kind {
            MethodKind::Estimator(config) => {
                assert_eq!(config.method, crate::meta::Method::RLearner);
                assert_eq!(config.folds, 3);
            }
            other => panic!("{other:?}"),
        }
        assert!(spec.methods[0].estimates_delta());
        assert!(!spec.methods[1].estimates_delta());
        // Defaults of the evaluation table.
        assert_eq!(spec.evaluation.rho.len(), 21);
        assert_eq!(spec.evaluation.level, 0.95);
    }

    #[test]
    fn the_resolved_spec_parses_to_the_same_spec() {
        let spec = StudySpec::parse(MINIMAL, "t.toml").unwrap();
        let resolved = spec.resolved_toml();
        let again = StudySpec::parse(&resolved, "resolved.toml").unwrap();
        assert_eq!(again.resolved_toml(), resolved);
        assert_eq!(again.methods, spec.methods);
        assert_eq!(again.evaluation, spec.evaluation);
    }

    #[test]
    fn errors_carry_file_key_and_line() {
        let bad = MINIMAL.replace("folds = 3", "folds = 3\nclip = 2.0");
        match StudySpec::parse(&bad, "t.toml") {
            Err(Error::Core(meta_router_core::Error::Config {
                file, line, key, ..
            })) => {
                assert_eq!(file, "t.toml");
                assert_eq!(key.as_deref(), Some("methods[0].clip"));
                assert_eq!(line, Some(16));
            }
            other => panic!("{other:?}"),
        }
        let bad = MINIMAL.replace("n_gold = [30, 60]", "n_gold = [30, 600]");
        let message = StudySpec::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(
            message.starts_with("t.toml, line 11, key `grid.n_gold`"),
            "{message}"
        );
        assert!(message.contains("n_gold = 600"), "{message}");
    }

    #[test]
    fn every_u64_seed_is_a_valid_seed() {
        for seed in ["18446744073709551615", "9223372036854775808"] {
            let text = MINIMAL.replace("seed = 1", &format!("seed = {seed}  # the largest"));
            let spec = StudySpec::parse(&text, "t.toml").unwrap();
            assert_eq!(spec.seed.to_string(), seed);
            let again = StudySpec::parse(&spec.resolved_toml(), "resolved.toml").unwrap();
            assert_eq!(again.seed, spec.seed);
            assert_eq!(again.spec_hash(), spec.spec_hash());
        }
        // Small seeds stay integers in the resolved spec.
        let spec = StudySpec::parse(MINIMAL, "t.toml").unwrap();
        assert!(spec.resolved_toml().contains("seed = 1\n"));
        let negative = MINIMAL.replace("seed = 1", "seed = -1");
        let message = StudySpec::parse(&negative, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(message.contains("key `seed`"), "{message}");
        let too_large = MINIMAL.replace("seed = 1", "seed = 18446744073709551616");
        let message = StudySpec::parse(&too_large, "t.toml")
            .unwrap_err()
            .to_string();
        assert!(message.contains("line 3"), "{message}");
    }

    const SWEPT: &str = r#"
name = "t"
seed = 1
replicates = 2
[scenario]
name = "healthbench-like"
pool = 400
n_test = 50
d = 5
[grid]
n_gold = [30, 60]
[[methods]]
label = "R"
method = "r"
folds = 3
learner = { type = "ridge", basis = "linear" }
sweep = { pref_weight = [0.5, 2.0], "learner.penalty" = [0.1, 1.0, 10.0] }
[[methods]]
method = "all-gold"
learner = { type = "ridge", basis = "linear" }
[methods.sweep]
"learner.basis" = ["linear", "poly2"]
[[methods]]
label = "gold"
method = "gs-only"
"#;

    #[test]
    fn a_sweep_expands_in_order_with_labels_and_settings() {
        let spec = StudySpec::parse(SWEPT, "t.toml").unwrap();
        assert_eq!(
            spec.method_labels(),
            [
                "R learner.penalty=0.1 pref_weight=0.5",
                "R learner.penalty=0.1 pref_weight=2.0",
                "R learner.penalty=1.0 pref_weight=0.5",
                "R learner.penalty=1.0 pref_weight=2.0",
                "R learner.penalty=10.0 pref_weight=0.5",
                "R learner.penalty=10.0 pref_weight=2.0",
                "all-gold learner.basis=linear",
                "all-gold learner.basis=poly2",
                "gold",
            ]
        );
        let third = &spec.methods[2];
        assert_eq!((third.family.as_str(), third.entry), ("R", 0));
        assert_eq!(
            serde_json::to_value(&third.setting).unwrap(),
            serde_json::json!({"learner.penalty": 1.0, "pref_weight": 0.5})
        );
        match &third.kind {
            MethodKind::Estimator(config) => {
                assert_eq!(config.pref_weight, 0.5);
                assert_eq!(config.folds, 3);
                // The swept learner setting lands in the learner table.
                let hand = parse_method(
                    &toml::from_str(
                        "method = \"r\"\nfolds = 3\npref_weight = 0.5\n\
                         learner = { type = \"ridge\", basis = \"linear\", penalty = 1.0 }",
                    )
                    .unwrap(),
                    0,
                    &Source::new("h.toml", ""),
                )
                .unwrap();
                assert_eq!(third.kind, hand.kind);
            }
            other => panic!("{other:?}"),
        }
        let gold = &spec.methods[8];
        assert!(gold.setting.is_empty());
        assert_eq!((gold.family.as_str(), gold.entry), ("gold", 2));
        assert_eq!(spec.variants().len(), 8);
        // The resolved spec keeps the sweep as written and expands the same.
        let again = StudySpec::parse(&spec.resolved_toml(), "resolved.toml").unwrap();
        assert_eq!(again.methods, spec.methods);
        assert_eq!(again.spec_hash(), spec.spec_hash());
    }

    #[test]
    fn a_bad_sweep_is_refused_with_its_key_and_line() {
        let cases: &[(&str, &str, &str, usize)] = &[
            // (replace, with, key, line)
            (
                "pref_weight = [0.5, 2.0]",
                "pref_weight = []",
                "methods[0].sweep.pref_weight",
                17,
            ),
            (
                "pref_weight = [0.5, 2.0]",
                "pref_weight = 0.5",
                "methods[0].sweep.pref_weight",
                17,
            ),
            (
                "pref_weight = [0.5, 2.0]",
                "clip_x = [0.1, 0.2]",
                "methods[0].sweep.clip_x",
                17,
            ),
            (
                "pref_weight = [0.5, 2.0]",
                "pref_weight = [0.5, -1.0]",
                "methods[0].sweep.pref_weight[1]",
                17,
            ),
            (
                "pref_weight = [0.5, 2.0]",
                "pref_weight = [0.5, 0.5]",
                "methods[0].sweep.pref_weight[1]",
                17,
            ),
            (
                "pref_weight = [0.5, 2.0]",
                "label = [\"a\", \"b\"]",
                "methods[0].sweep.label",
                17,
            ),
            (
                "pref_weight = [0.5, 2.0]",
                "method = [\"r\", \"dr\"]",
                "methods[0].sweep.method",
                17,
            ),
            (
                "\"learner.basis\" = [\"linear\", \"poly2\"]",
                "\"learner.basis\" = [\"linear\", \"cubic\"]",
                "methods[1].sweep.learner.basis[1]",
                22,
            ),
            (
                "\"learner.basis\" = [\"linear\", \"poly2\"]",
                "folds = [2, 3]",
                "methods[1].sweep.folds",
                22,
            ),
            ("label = \"gold\"", "label = \"R\"", "methods[2].label", 24),
        ];
        for (from, to, key, line) in cases {
            assert!(SWEPT.contains(from), "{from}");
            let text = SWEPT.replace(from, to);
            match StudySpec::parse(&text, "t.toml") {
                Err(Error::Core(meta_router_core::Error::Config {
                    key: Some(k),
                    line: l,
                    message,
                    ..
                })) => {
                    assert_eq!((k.as_str(), l), (*key, Some(*line)), "{to}: {message}");
                }
                other => panic!("{to}: {other:?}"),
            }
        }
        // A sweep that is not a table, or empty.
        for (sweep, key) in [
            ("sweep = 3", "methods[0].sweep"),
            ("sweep = {}", "methods[0].sweep"),
        ] {
            let text = SWEPT.replace(
                "sweep = { pref_weight = [0.5, 2.0], \"learner.penalty\" = [0.1, 1.0, 10.0] }",
                sweep,
            );
            let message = StudySpec::parse(&text, "t.toml").unwrap_err().to_string();
            assert!(message.contains(&format!("key `{key}`")), "{message}");
            assert!(message.contains("line 17"), "{message}");
        }
        // Too many variants.
        let many: Vec<String> = (1..=40).map(|i| format!("{i}.0")).collect();
        let text = SWEPT.replace(
            "pref_weight = [0.5, 2.0]",
            &format!("pref_weight = [{}], clip = [{}]", many.join(", "), {
                let clips: Vec<String> =
                    (1..=30).map(|i| format!("{}", i as f64 / 100.0)).collect();
                clips.join(", ")
            }),
        );
        let message = StudySpec::parse(&text, "t.toml").unwrap_err().to_string();
        assert!(message.contains("more than 1000"), "{message}");
    }

    #[test]
    fn a_claim_selects_a_variant_by_its_setting() {
        let text = format!(
            "{SWEPT}[[expect]]\nmethod = \"R\"\nsetting = {{ pref_weight = 2.0, \"learner.penalty\" = 1.0 }}\n\
             metric = \"mse_psi\"\nwithin = [0.0, 10.0]\n"
        );
        let spec = StudySpec::parse(&text, "t.toml").unwrap();
        assert_eq!(
            spec.claims[0].method,
            "R learner.penalty=1.0 pref_weight=2.0"
        );
        // By its full label, too.
        let by_label = text.replace(
            "method = \"R\"\nsetting = { pref_weight = 2.0, \"learner.penalty\" = 1.0 }",
            "method = \"R learner.penalty=1.0 pref_weight=2.0\"",
        );
        let spec = StudySpec::parse(&by_label, "t.toml").unwrap();
        assert_eq!(
            spec.claims[0].method,
            "R learner.penalty=1.0 pref_weight=2.0"
        );
        for (setting, key) in [
            (
                "{ pref_weight = 3.0, \"learner.penalty\" = 1.0 }",
                "expect[0].setting.pref_weight",
            ),
            (
                "{ clip = 0.1, \"learner.penalty\" = 1.0 }",
                "expect[0].setting.clip",
            ),
            ("{ pref_weight = 2.0 }", "expect[0].setting"),
        ] {
            let bad = text.replace("{ pref_weight = 2.0, \"learner.penalty\" = 1.0 }", setting);
            let message = StudySpec::parse(&bad, "t.toml").unwrap_err().to_string();
            assert!(message.contains(&format!("key `{key}`")), "{message}");
            assert!(message.contains("line 28"), "{message}");
        }
        let bad = text.replace("method = \"R\"\nsetting", "method = \"gold\"\nsetting");
        let message = StudySpec::parse(&bad, "t.toml").unwrap_err().to_string();
        assert!(message.contains("key `expect[0].method`"), "{message}");
    }

    #[test]
    fn toml_values_become_json() {
        let value: toml::Value = toml::from_str::<toml::Table>("a = [1, 2.5, \"x\", true]")
            .unwrap()
            .remove("a")
            .unwrap();
        assert_eq!(toml_to_json(&value), serde_json::json!([1, 2.5, "x", true]));
        // A non-finite float has no JSON form.
        assert_eq!(
            toml_to_json(&toml::Value::Float(f64::NAN)),
            serde_json::Value::Null
        );
    }
}
