//! From the suite's library (`meta-router`): the evaluation of
//! `meta-router evaluate`, simulation studies as `meta-router simulate`
//! runs them, and the scenarios' draws of `meta-router scenarios export`.

use ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::{check_vector, py_error};

/// The evaluation of scores `psi` against gains `gains` (true gains, or GS
/// labels) as `meta-router evaluate` computes it: EG, NEG and EG/m over the
/// usage-ratio grid, the NEG area, regret over the cost weights `w`
/// (`None`: the command line's grid), MSE, with bootstrap intervals. Returns
/// the text of the command line's `evaluation.csv`.
#[pyfunction]
#[pyo3(signature = (psi, gains, w, costs, bootstrap, level, seed))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn evaluate_scores(
    py: Python<'_>,
    psi: PyReadonlyArray1<'_, f64>,
    gains: PyReadonlyArray1<'_, f64>,
    w: Option<Vec<f64>>,
    costs: (f64, f64),
    bootstrap: usize,
    level: f64,
    seed: u64,
) -> PyResult<String> {
    use meta_router::realdata::evaluate::{evaluate, EvaluationOptions};
    let (psi, gains) = (psi.as_array(), gains.as_array());
    check_vector("psi-hat of the test queries", psi).map_err(py_error)?;
    check_vector("gains", gains).map_err(py_error)?;
    if psi.len() != gains.len() {
        return Err(py_error(format!(
            "gains: {} values for {} test queries",
            gains.len(),
            psi.len()
        )));
    }
    let defaults = EvaluationOptions::default();
    let options = EvaluationOptions {
        w: w.unwrap_or(defaults.w.clone()),
        costs,
        bootstrap,
        level,
        seed,
        ..defaults
    };
    py.detach(|| {
        let evaluation = evaluate(psi, gains, &options).map_err(py_error)?;
        Ok(meta_router::report::evaluation_csv(&evaluation))
    })
}

/// Runs a simulation study as `meta-router simulate` does: the study file's
/// text `spec` (`file` names it in errors), optionally fewer or more
/// replicates, into the folder `out` (its records, `summary.json`,
/// `summary.csv`, `summary.md` and figures). Returns the folder, the table
/// of the study's `[[expect]]` claims (empty without claims), how many do
/// not hold, and the study's warnings.
#[pyfunction]
#[pyo3(signature = (spec, file, out, replicates, threads, force, resume))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn simulate(
    py: Python<'_>,
    spec: &str,
    file: &str,
    out: std::path::PathBuf,
    replicates: Option<usize>,
    threads: Option<usize>,
    force: bool,
    resume: bool,
) -> PyResult<(String, String, usize, Vec<String>)> {
    use meta_router::study::{self, spec::StudySpec, RunOptions};
    let mut study = StudySpec::parse(spec, file).map_err(py_error)?;
    if let Some(r) = replicates {
        study.set_replicates(r, "replicates").map_err(py_error)?;
    }
    // As `meta-router simulate`: `force` never replaces the folder that
    // holds the spec file.
    let spec = std::path::Path::new(file);
    let protected = if spec.is_file() {
        vec![study::spec_folder(spec)]
    } else {
        Vec::new()
    };
    let options = RunOptions {
        out,
        threads,
        resume,
        force,
        protected,
        ..RunOptions::default()
    };
    py.detach(|| {
        let mut outcome = study::run(&study, &options).map_err(py_error)?;
        let files =
            meta_router::report::publish(&outcome.summary, &outcome.dir).map_err(py_error)?;
        outcome.publish(&files).map_err(py_error)?;
        let claims = study::claims::evaluate(&study.claims, &outcome.summary);
        let failed = claims.iter().filter(|c| !c.passed).count();
        let table = if claims.is_empty() {
            String::new()
        } else {
            meta_router::report::claims_table(&claims)
        };
        let mut warnings = study.warnings.clone();
        warnings.extend(outcome.summary.warnings.iter().cloned());
        Ok((outcome.dir.display().to_string(), table, failed, warnings))
    })
}

/// A table's column names and its values (rows × columns).
type NamedTable<'py> = (Vec<String>, Bound<'py, PyArray2<f64>>);

/// The draw of scenario `name` with the settings `settings` (a JSON object
/// of its parameters) from master seed `seed`, as `meta-router scenarios
/// export` writes it: the models (reference first) and the GS, PB and test
/// tables (column names, values; NaN where a query has no label for a
/// model).
#[pyfunction]
pub(crate) fn export_scenario<'py>(
    py: Python<'py>,
    name: &str,
    settings: &str,
    seed: u64,
) -> PyResult<(
    Vec<String>,
    NamedTable<'py>,
    NamedTable<'py>,
    NamedTable<'py>,
)> {
    use meta_router::dgp::export::{check_size, configure, draw_tables, Columns};
    let at = format!("scenario `{name}`");
    let json: serde_json::Value = serde_json::from_str(settings)
        .map_err(|e| py_error(format!("{at}: settings not a JSON object: {e}")))?;
    let table = match toml::Value::try_from(json) {
        Ok(toml::Value::Table(table)) => table,
        _ => return Err(py_error(format!("{at}: expected keyword settings"))),
    };
    let origin = table
        .keys()
        .map(|k| (k.clone(), format!("`{k}`")))
        .collect();
    let tables = py.detach(|| {
        let (config, scenario) = configure(name, table).map_err(|refused| {
            if refused.key.is_empty() {
                py_error(format!("{at}: {}", refused.message))
            } else {
                py_error(format!("{at}, key `{}`: {}", refused.key, refused.message))
            }
        })?;
        check_size(&*scenario, &origin).map_err(py_error)?;
        draw_tables(&config, &*scenario, seed).map_err(py_error)
    })?;
    let array = |columns: &Columns| -> NamedTable<'py> {
        let rows = columns.first().map_or(0, |(_, c)| c.len());
        let values = Array2::from_shape_fn((rows, columns.len()), |(i, j)| columns[j].1[i]);
        (
            columns.iter().map(|(n, _)| n.clone()).collect(),
            values.into_pyarray(py),
        )
    };
    Ok((
        tables.models.clone(),
        array(&tables.gold),
        array(&tables.pref),
        array(&tables.test),
    ))
}
