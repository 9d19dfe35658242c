//! `meta_router._core`: the Python bindings of meta-router's estimator core.
//!
//! This is the thin layer under the Python package `meta_router` (its
//! scikit-learn-style `MetaRouter` is written in Python over this module).
//! Every number comes from `meta-router-core` through the same functions the
//! command line uses:
//! - settings: [`parse_router_table`] (the parser of router configuration
//!   files and of study files' method entries), so `MetaRouter(...)` takes
//!   the same keys, defaults and validation as `meta-router fit --config`;
//! - fitting: [`MetaRouterConfig::fit`] with [`FitSeeds::from_seed`], then
//!   [`describe_fit`] (inference, notes) and the checked router file, as
//!   `meta-router fit` does: the same data, settings and seed give the same
//!   router file up to the training files' names, and bit-identical ψ̂;
//! - routing: [`route_rows`], the decision of `meta-router route`;
//! - many models: per model the fit above, with [`model_seeds`], the file by
//!   [`write_models`], routing by `routing::multi::assign`;
//! - from the suite's library (`meta-router`): the evaluation of
//!   `meta-router evaluate` (its `evaluation.csv`), simulation studies
//!   (`study::run` and the reports of `meta-router simulate`) and the
//!   scenarios' draws (`dgp::export`, as `meta-router scenarios export`).
//!
//! Arrays: queries in row-major (C) order are read in place, without a
//! copy; another layout is copied to row-major first, because the core's
//! sums run in memory order and the command line's rows are row-major
//! (ψ̂ is then bit-identical to the command line's). Training arrays are
//! copied once, row-major, into the core's [`TrainingData`], which owns them. Fitting, predicting and routing release
//! the GIL. Errors of the core become `MetaRouterError` (a `ValueError`)
//! carrying the core's message, which names the setting, array and row.

use meta_router_core::checks::MAX_MAGNITUDE;
use meta_router_core::config_file::{locate::Source, parse_router_table};
use meta_router_core::meta::model_seeds;
use meta_router_core::meta::overlap::OverlapRule;
use meta_router_core::meta::size::estimate_fit;
use meta_router_core::prelude::*;
use meta_router_core::router_file::describe::describe_fit;
use meta_router_core::router_file::multi::{check_names, parse_models, write_models, LoadedModels};
use meta_router_core::routing::router::{route_rows, OutsideRoute};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    _core,
    MetaRouterError,
    PyValueError,
    "Invalid settings, data or router file (the message names which)."
);

/// The Python exception of a core error, its message unchanged.
fn py_error(error: impl std::fmt::Display) -> PyErr {
    MetaRouterError::new_err(error.to_string())
}

/// How errors name the settings of `MetaRouter(...)`.
const SETTINGS: &str = "MetaRouter settings";

/// The estimator configuration of `settings` (a JSON object of the keys of
/// a router configuration file), validated by the core's parser.
fn parse_settings(settings: &str) -> PyResult<MetaRouterConfig> {
    let mut json: serde_json::Value = serde_json::from_str(settings)
        .map_err(|e| py_error(format!("{SETTINGS}: not a JSON object: {e}")))?;
    drop_nulls(&mut json);
    let table = match toml::Value::try_from(json) {
        Ok(toml::Value::Table(table)) => table,
        Ok(_) => return Err(py_error(format!("{SETTINGS}: expected keyword settings"))),
        Err(e) => return Err(py_error(format!("{SETTINGS}: {e}"))),
    };
    parse_router_table(table, &Source::new(SETTINGS, "")).map_err(py_error)
}

/// Removes every `null` (Python's `None`) member of the objects in `value`:
/// a setting given as `None` takes its default, as a key absent from a
/// configuration file does (TOML has no null).
fn drop_nulls(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(members) => {
            members.retain(|_, v| !v.is_null());
            members.values_mut().for_each(drop_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The folds a fit of `config` splits each source into (1 for a baseline,
/// which does not cross-fit).
fn fit_folds(config: &MetaRouterConfig) -> usize {
    if config.method.is_meta() {
        config.folds
    } else {
        1
    }
}

/// The warnings `meta-router fit` prints for these settings (e.g. a
/// boosting bias stage with a large learning rate).
#[pyfunction]
fn config_warnings(settings: &str) -> PyResult<Vec<String>> {
    Ok(parse_settings(settings)?.warnings())
}

/// The full configuration of `settings` (every key, defaults filled in) as
/// JSON: what a router fit with these settings records in its file.
#[pyfunction]
fn config_json(settings: &str) -> PyResult<String> {
    let config = parse_settings(settings)?;
    serde_json::to_string(&config).map_err(py_error)
}

/// The inference population rule `text` (`crump`, `none` or a threshold
/// α in (0, 0.5)) as the router file names it.
#[pyfunction]
fn overlap_rule(text: &str) -> PyResult<String> {
    parse_overlap(text).map(|rule| rule.label())
}

/// [`OverlapRule::parse`], its error naming the setting.
fn parse_overlap(text: &str) -> PyResult<OverlapRule> {
    OverlapRule::parse(text).map_err(|e| py_error(format!("{SETTINGS}, key `overlap`: {e}")))
}

/// Errors on the first entry of `x` that is not finite or exceeds
/// [`MAX_MAGNITUDE`] (the limit of the command line's tables), naming the
/// array, the row and the column.
fn check_values(what: &str, x: ArrayView2<f64>) -> std::result::Result<(), String> {
    for ((row, column), &v) in x.indexed_iter() {
        if !v.is_finite() || v.abs() > MAX_MAGNITUDE {
            return Err(format!(
                "{what}: the value {v} at row {row}, column {column} is {} (numbers must be \
                 finite and within ±{MAX_MAGNITUDE:e})",
                if v.is_finite() {
                    "too large in magnitude"
                } else {
                    "not finite"
                }
            ));
        }
    }
    Ok(())
}

/// [`check_values`] for a vector.
fn check_vector(what: &str, v: ArrayView1<f64>) -> std::result::Result<(), String> {
    check_values(what, v.insert_axis(ndarray::Axis(1)))
}

/// A fitted router with its router file (configuration, seed, training
/// summary, diagnostics, inference, notes) and the file's text.
#[pyclass(module = "meta_router._core", frozen)]
struct Router {
    file: RouterFile,
    router: FittedRouter,
    json: String,
    /// Seconds the core spent in the fit call (fit, inference, the checked
    /// file), as `meta-router fit` reports its fit time; 0 for a loaded router.
    seconds: f64,
}

/// The training arrays of a fit, as the core takes them.
struct Arrays {
    x_gold: Array2<f64>,
    r: Array1<f64>,
    x_pref: Array2<f64>,
    y: Array1<f64>,
    weights: Option<(Array1<f64>, Array1<f64>)>,
}

impl Arrays {
    /// The training data, every value checked (finite, within the
    /// magnitude limit, matching lengths).
    ///
    /// The command line's tables refuse the same inputs (a label column with
    /// one value, a positive weight below `1 / MAX_MAGNITUDE`, fewer rows
    /// than folds); these are the array forms of those checks, with the
    /// arrays named as the Python API names them. `folds` is the
    /// configuration's (1 for a baseline).
    fn into_data(self, folds: usize) -> std::result::Result<TrainingData, String> {
        check_values("X_gold", self.x_gold.view())?;
        check_vector("r (the GS labels)", self.r.view())?;
        check_values("X_pref", self.x_pref.view())?;
        check_vector("y (the PB labels)", self.y.view())?;
        for (what, rows) in [
            ("X_gold", self.x_gold.nrows()),
            ("X_pref", self.x_pref.nrows()),
        ] {
            if rows < folds.max(2) {
                return Err(format!(
                    "{what}: {rows} rows, fewer than the {} needed for {folds} cross-fitting folds",
                    folds.max(2)
                ));
            }
        }
        for (what, labels) in [
            ("r (the GS labels)", &self.r),
            ("y (the PB labels)", &self.y),
        ] {
            if let Some(&first) = labels.first() {
                if labels.iter().all(|&v| v == first) {
                    return Err(format!(
                        "{what}: every label equals {first}: one value (class) only, nothing \
                         to learn from"
                    ));
                }
            }
        }
        if let Some((gold, pref)) = &self.weights {
            for (what, w) in [
                ("sample_weight of the GS rows", gold),
                ("sample_weight of the PB rows", pref),
            ] {
                if let Some((row, &v)) = w
                    .iter()
                    .enumerate()
                    .find(|(_, &v)| v > 0.0 && v < 1.0 / MAX_MAGNITUDE)
                {
                    return Err(format!(
                        "{what}: weight {v:e} at row {row} is too small: a positive weight must \
                         be at least {:e} (0 for a row that should not count)",
                        1.0 / MAX_MAGNITUDE
                    ));
                }
            }
        }
        let data = TrainingData::new(self.x_gold, self.r, self.x_pref, self.y)
            .map_err(|e| e.to_string())?;
        match self.weights {
            None => Ok(data),
            Some((gold, pref)) => {
                check_vector("sample_weight of the GS rows", gold.view())?;
                check_vector("sample_weight of the PB rows", pref.view())?;
                data.with_weights(gold, pref).map_err(|e| e.to_string())
            }
        }
    }
}

/// Fits `config` on `data` as `meta-router fit` does, and writes the
/// router file (checked to reload bit for bit).
fn fit_router(
    config: &MetaRouterConfig,
    data: &TrainingData,
    features: Vec<String>,
    (seed, seeds): (u64, FitSeeds),
    overlap: OverlapRule,
) -> meta_router_core::Result<Router> {
    if features.len() != data.dim() {
        return Err(meta_router_core::Error::param(
            "feature_names",
            features.len(),
            format!(
                "{} names for {} feature columns",
                features.len(),
                data.dim()
            ),
        ));
    }
    estimate_fit(
        config,
        data.n_gold() as f64,
        data.n_pref() as f64,
        data.dim() as f64,
        &|key| format!("`{key}` of the {SETTINGS}"),
    )
    .check()?;
    let started = std::time::Instant::now();
    let router = config.fit(data, seeds)?;
    let training = TrainingSummary::of(data, "X_gold", "X_pref");
    let file = describe_fit(
        config,
        &router,
        data,
        features,
        (seed, seeds),
        overlap,
        training,
    )?;
    let json = file.to_json_checked(&router, &[data.gold_x(), data.pref_x()])?;
    Ok(Router {
        file,
        router,
        json,
        seconds: started.elapsed().as_secs_f64(),
    })
}

impl Router {
    /// Checks that `x` has the router's feature columns.
    fn check_queries(&self, x: ArrayView2<f64>) -> PyResult<()> {
        if x.ncols() != self.file.features.len() {
            return Err(py_error(format!(
                "X has {} feature columns; the router was fit on {} ({})",
                x.ncols(),
                self.file.features.len(),
                self.file.features.join(", ")
            )));
        }
        check_values("X", x).map_err(py_error)
    }
}

#[pymethods]
impl Router {
    /// Fits a router: `settings` is a JSON object of configuration keys;
    /// weights are given for both sources or neither; `overlap` is the
    /// inference's target population (`crump`, `none` or a threshold α).
    #[staticmethod]
    #[pyo3(signature = (settings, x_gold, r, x_pref, y, w_gold, w_pref, features, seed, overlap))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        settings: &str,
        x_gold: PyReadonlyArray2<'_, f64>,
        r: PyReadonlyArray1<'_, f64>,
        x_pref: PyReadonlyArray2<'_, f64>,
        y: PyReadonlyArray1<'_, f64>,
        w_gold: Option<PyReadonlyArray1<'_, f64>>,
        w_pref: Option<PyReadonlyArray1<'_, f64>>,
        features: Vec<String>,
        seed: u64,
        overlap: &str,
    ) -> PyResult<Router> {
        let config = parse_settings(settings)?;
        let overlap = parse_overlap(overlap)?;
        let weights =
            match (w_gold, w_pref) {
                (None, None) => None,
                (Some(g), Some(p)) => Some((g.as_array().to_owned(), p.as_array().to_owned())),
                _ => return Err(py_error(
                    "sample_weight: give the weights of both the GS and the PB rows, or neither",
                )),
            };
        let arrays = Arrays {
            x_gold: x_gold.as_array().as_standard_layout().into_owned(),
            r: r.as_array().to_owned(),
            x_pref: x_pref.as_array().as_standard_layout().into_owned(),
            y: y.as_array().to_owned(),
            weights,
        };
        py.detach(|| {
            let data = arrays.into_data(fit_folds(&config)).map_err(py_error)?;
            let seeds = (seed, FitSeeds::from_seed(seed));
            fit_router(&config, &data, features, seeds, overlap).map_err(py_error)
        })
    }

    /// Reads a router file's text (`name` is how errors name it); the
    /// file's models are checked as `meta-router route` checks them.
    #[staticmethod]
    fn load(py: Python<'_>, text: String, name: &str) -> PyResult<Router> {
        if meta_router_core::router_file::multi::is_multi(&text) {
            return Err(py_error(format!(
                "{name}: a multi-model router file (read it with MultiMetaRouter.load)"
            )));
        }
        py.detach(|| {
            let (file, router) =
                meta_router_core::router_file::parse(&text, name).map_err(py_error)?;
            Ok(Router {
                file,
                router,
                json: text,
                seconds: 0.0,
            })
        })
    }

    /// `ψ̂(x)`: the estimated GS gain of the primary model per query.
    fn predict_psi<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let x = x.as_array();
        self.check_queries(x)?;
        let x = x.as_standard_layout();
        let psi = py.detach(|| self.router.predict_psi(x.view()));
        Ok(psi.into_pyarray(py))
    }

    /// `Δ̂(x)`: the estimated PB bias per query (`None` for a router that
    /// does not estimate it).
    fn predict_delta<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Option<Bound<'py, PyArray1<f64>>>> {
        let x = x.as_array();
        self.check_queries(x)?;
        let x = x.as_standard_layout();
        let delta = py.detach(|| self.router.predict_delta(x.view()));
        Ok(delta.map(|d| d.into_pyarray(py)))
    }

    /// The routing decisions (`true`: the primary model) at cost weight `w`
    /// with per-query costs, and for a truncated router whether each query
    /// lies in its overlap region; `outside` decides the queries outside it
    /// (`router`, `primary` or `alternative`).
    #[allow(clippy::type_complexity)]
    fn route<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        cost_weight: f64,
        cost_primary: PyReadonlyArray1<'py, f64>,
        cost_alternative: PyReadonlyArray1<'py, f64>,
        outside: &str,
    ) -> PyResult<(Vec<bool>, Option<Vec<bool>>)> {
        let x = x.as_array();
        self.check_queries(x)?;
        let x = x.as_standard_layout();
        let outside =
            OutsideRoute::parse(outside).map_err(|e| py_error(format!("outside: {e}")))?;
        let (primary, alternative) = (cost_primary.as_array(), cost_alternative.as_array());
        for (what, costs) in [
            ("costs of the primary model", primary),
            ("costs of the alternative model", alternative),
        ] {
            if costs.len() != x.nrows() {
                return Err(py_error(format!(
                    "{what}: {} values for {} queries",
                    costs.len(),
                    x.nrows()
                )));
            }
        }
        let routed = py.detach(|| {
            let differences = meta_router_core::routing::cost_differences(primary, alternative)?;
            route_rows(
                &self.router,
                x.view(),
                differences.view(),
                cost_weight,
                outside,
            )
        });
        let routed = routed.map_err(py_error)?;
        Ok((routed.primary, routed.in_overlap))
    }

    /// The router file's text (format 2, checked to reload bit for bit).
    #[getter]
    fn json(&self) -> &str {
        &self.json
    }

    /// Feature column names, in the order the router reads them.
    #[getter]
    fn features(&self) -> Vec<String> {
        self.file.features.clone()
    }

    /// Seconds the core spent fitting (fit, inference and the checked
    /// router file: what `meta-router fit` reports as its fit time); the
    /// rest of a `MetaRouter.fit` call is the Python side's overhead.
    #[getter]
    fn fit_seconds(&self) -> f64 {
        self.seconds
    }

    /// The fit's seed.
    #[getter]
    fn seed(&self) -> u64 {
        self.file.seed
    }
}

/// Model `k`'s rows of a source: the rows whose label in column `k − 1` of
/// `labels` is not NaN (NaN: no label for that model), and those labels.
fn labelled_rows(
    x: ArrayView2<f64>,
    labels: ArrayView2<f64>,
    k: usize,
) -> (Array2<f64>, Array1<f64>) {
    let rows: Vec<usize> = (0..labels.nrows())
        .filter(|&i| !labels[[i, k - 1]].is_nan())
        .collect();
    let x = x.select(ndarray::Axis(0), &rows);
    let y = Array1::from_iter(rows.iter().map(|&i| labels[[i, k - 1]]));
    (x, y)
}

/// Errors on the first label of `labels` (NaN: no label) that is infinite
/// or exceeds [`MAX_MAGNITUDE`], naming its row in the whole array and its
/// model.
fn check_labels(
    what: &str,
    labels: ArrayView2<f64>,
    models: &[String],
) -> std::result::Result<(), String> {
    for ((row, column), &v) in labels.indexed_iter() {
        if !v.is_nan() && (v.is_infinite() || v.abs() > MAX_MAGNITUDE) {
            return Err(format!(
                "{what}: the value {v} at row {row}, model `{}`, is not a finite number within \
                 ±{MAX_MAGNITUDE:e} (NaN means no label)",
                models[column]
            ));
        }
    }
    Ok(())
}

/// Routers of `K ≥ 2` models (model 0 the reference) with their
/// multi-model router file, as `meta-router fit --models` writes it.
#[pyclass(module = "meta_router._core", frozen)]
struct MultiRouter {
    loaded: LoadedModels,
    json: String,
    seconds: f64,
}

#[pymethods]
impl MultiRouter {
    /// Fits one router per non-reference model: column `k − 1` of `r` and
    /// `y` holds model `k`'s GS and PB labels (NaN: no label), model `k` is
    /// fit on its labelled rows with the seeds of `meta-router fit
    /// --models` (model 1: the two-model seeds).
    #[staticmethod]
    #[pyo3(signature = (settings, x_gold, r, x_pref, y, features, models, reference, seed, overlap))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        settings: &str,
        x_gold: PyReadonlyArray2<'_, f64>,
        r: PyReadonlyArray2<'_, f64>,
        x_pref: PyReadonlyArray2<'_, f64>,
        y: PyReadonlyArray2<'_, f64>,
        features: Vec<String>,
        models: Vec<String>,
        reference: String,
        seed: u64,
        overlap: &str,
    ) -> PyResult<MultiRouter> {
        let config = parse_settings(settings)?;
        let overlap = parse_overlap(overlap)?;
        check_names(&reference, &models).map_err(py_error)?;
        let (x_gold, r) = (x_gold.as_array(), r.as_array());
        let (x_pref, y) = (x_pref.as_array(), y.as_array());
        for (what, labels, rows) in [("R", r, x_gold.nrows()), ("Y", y, x_pref.nrows())] {
            if labels.ncols() != models.len() || labels.nrows() != rows {
                return Err(py_error(format!(
                    "{what}: shape ({}, {}), expected ({rows}, {}): a row per query and a \
                     column per model ({})",
                    labels.nrows(),
                    labels.ncols(),
                    models.len(),
                    models.join(", ")
                )));
            }
        }
        for (what, labels) in [("R (the GS labels)", r), ("Y (the PB labels)", y)] {
            check_labels(what, labels, &models).map_err(py_error)?;
        }
        let x_gold = x_gold.as_standard_layout();
        let x_pref = x_pref.as_standard_layout();
        py.detach(|| {
            let started = std::time::Instant::now();
            let mut fits = Vec::with_capacity(models.len());
            for (i, name) in models.iter().enumerate() {
                let k = i + 1;
                let of_model = |e: String| py_error(format!("model `{name}`: {e}"));
                let (xg, rg) = labelled_rows(x_gold.view(), r, k);
                let (xp, yp) = labelled_rows(x_pref.view(), y, k);
                let arrays = Arrays {
                    x_gold: xg,
                    r: rg,
                    x_pref: xp,
                    y: yp,
                    weights: None,
                };
                let data = arrays.into_data(fit_folds(&config)).map_err(of_model)?;
                let seeds = (seed, model_seeds(FitSeeds::from_seed(seed), k));
                let fitted = fit_router(&config, &data, features.clone(), seeds, overlap)
                    .map_err(|e| py_error(format!("model `{name}`: {e}")))?;
                fits.push((name.clone(), fitted, data));
            }
            let entries: Vec<_> = fits
                .iter()
                .map(|(name, fitted, data)| {
                    (
                        name.clone(),
                        fitted.file.clone(),
                        &fitted.router,
                        vec![data.gold_x(), data.pref_x()],
                    )
                })
                .collect();
            let (json, loaded) = write_models(&reference, &entries).map_err(py_error)?;
            Ok(MultiRouter {
                loaded,
                json,
                seconds: started.elapsed().as_secs_f64(),
            })
        })
    }

    /// Reads a multi-model router file's text (`name` names it in errors).
    #[staticmethod]
    fn load(py: Python<'_>, text: String, name: &str) -> PyResult<MultiRouter> {
        py.detach(|| {
            let loaded = parse_models(&text, name).map_err(py_error)?;
            Ok(MultiRouter {
                loaded,
                json: text,
                seconds: 0.0,
            })
        })
    }

    /// `ψ̂_k(x)`, one column per model, the reference's (column 0) 0.
    fn predict_psi<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = x.as_array();
        self.check_queries(x)?;
        let x = x.as_standard_layout();
        let psi = py.detach(|| self.loaded.fitted.predict_psi(x.view()));
        Ok(psi.map_err(py_error)?.into_pyarray(py))
    }

    /// The model each query is sent to, `argmax_k [ψ̂_k(q) − w C_k(q)]`
    /// (ties to the lowest index), with `costs` one row per query and one
    /// column per model, the reference first.
    fn route(
        &self,
        py: Python<'_>,
        x: PyReadonlyArray2<'_, f64>,
        cost_weight: f64,
        costs: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Vec<usize>> {
        let x = x.as_array();
        self.check_queries(x)?;
        let x = x.as_standard_layout();
        let costs = costs.as_array();
        let chosen = py.detach(|| {
            let psi = self.loaded.fitted.predict_psi(x.view())?;
            meta_router_core::routing::multi::assign(psi.view(), costs, cost_weight)
        });
        chosen.map_err(py_error)
    }

    /// The file's text.
    #[getter]
    fn json(&self) -> &str {
        &self.json
    }

    /// Feature column names, in order.
    #[getter]
    fn features(&self) -> Vec<String> {
        self.loaded.file.features.clone()
    }

    /// The models' names, the reference first.
    #[getter]
    fn models(&self) -> Vec<String> {
        std::iter::once(self.loaded.file.reference.clone())
            .chain(self.loaded.file.models.iter().map(|m| m.name.clone()))
            .collect()
    }

    /// Seconds the core spent fitting every model and writing the file.
    #[getter]
    fn fit_seconds(&self) -> f64 {
        self.seconds
    }
}

impl MultiRouter {
    /// Checks that `x` has the routers' feature columns.
    fn check_queries(&self, x: ArrayView2<f64>) -> PyResult<()> {
        let features = &self.loaded.file.features;
        if x.ncols() != features.len() {
            return Err(py_error(format!(
                "X has {} feature columns; the routers were fit on {} ({})",
                x.ncols(),
                features.len(),
                features.join(", ")
            )));
        }
        check_values("X", x).map_err(py_error)
    }
}

/// The evaluation of scores `psi` against gains `gains` (true gains, or GS
/// labels) as `meta-router evaluate` computes it: EG, NEG and EG/m over the
/// usage-ratio grid, the NEG area, regret over the cost weights `w`
/// (`None`: the command line's grid), MSE, with bootstrap intervals. Returns
/// the text of the command line's `evaluation.csv`.
#[pyfunction]
#[pyo3(signature = (psi, gains, w, costs, bootstrap, level, seed))]
#[allow(clippy::too_many_arguments)]
fn evaluate_scores(
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
fn simulate(
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
    let protected = std::path::Path::new(file)
        .parent()
        .filter(|_| std::path::Path::new(file).is_file())
        .map(|p| {
            if p.as_os_str().is_empty() {
                std::path::PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
        .into_iter()
        .collect();
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
fn export_scenario<'py>(
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

/// The module `meta_router._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MetaRouterError", m.py().get_type::<MetaRouterError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(config_json, m)?)?;
    m.add_function(wrap_pyfunction!(config_warnings, m)?)?;
    m.add_function(wrap_pyfunction!(overlap_rule, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_scores, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(export_scenario, m)?)?;
    m.add_class::<Router>()?;
    m.add_class::<MultiRouter>()?;
    Ok(())
}
