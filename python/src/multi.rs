//! Many models: [`MultiRouter`], one [`Router`](crate::router::Router)
//! fit per non-reference model on its labelled rows, in the command line's
//! multi-model router file.

use meta_router_core::checks::MAX_MAGNITUDE;
use meta_router_core::meta::model_seeds;
use meta_router_core::prelude::*;
use meta_router_core::router_file::multi::{check_names, parse_models, write_models, LoadedModels};
use ndarray::{Array1, Array2, ArrayView2};
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::router::{fit_router, Arrays};
use crate::{check_values, fit_folds, parse_overlap, parse_settings, py_error};

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
pub(crate) struct MultiRouter {
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
