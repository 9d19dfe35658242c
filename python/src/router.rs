//! One model: [`Router`] (fit, load, predict, route) and the checked
//! training arrays ([`Arrays`]).

use meta_router_core::checks::MAX_MAGNITUDE;
use meta_router_core::meta::overlap::OverlapRule;
use meta_router_core::meta::size::estimate_fit;
use meta_router_core::prelude::*;
use meta_router_core::router_file::describe::describe_fit;
use meta_router_core::routing::router::{route_rows, OutsideRoute};
use ndarray::{Array1, Array2, ArrayView2};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::{
    check_values, check_vector, fit_folds, parse_overlap, parse_settings, py_error, SETTINGS,
};

/// A fitted router with its router file (configuration, seed, training
/// summary, diagnostics, inference, notes) and the file's text.
#[pyclass(module = "meta_router._core", frozen)]
pub(crate) struct Router {
    pub(crate) file: RouterFile,
    pub(crate) router: FittedRouter,
    json: String,
    /// Seconds the core spent in the fit call (fit, inference, the checked
    /// file), as `meta-router fit` reports its fit time; 0 for a loaded router.
    seconds: f64,
}

/// The training arrays of a fit, as the core takes them.
pub(crate) struct Arrays {
    pub(crate) x_gold: Array2<f64>,
    pub(crate) r: Array1<f64>,
    pub(crate) x_pref: Array2<f64>,
    pub(crate) y: Array1<f64>,
    pub(crate) weights: Option<(Array1<f64>, Array1<f64>)>,
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
    pub(crate) fn into_data(self, folds: usize) -> std::result::Result<TrainingData, String> {
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
pub(crate) fn fit_router(
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
