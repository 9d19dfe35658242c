//! Calibrating a plasmode scenario from pilot data (what `meta-router
//! scenarios calibrate` runs; the file and the scenario are
//! [`super`]).
//!
//! # Algorithm
//! 1. Fit the router (a meta-learner: its `Δ̂` is part of the truth) on the
//!    pilot's GS and PB tables exactly as `fit` does, and check its file.
//! 2. Out-of-fold predictions of the whole router: the pilot's GS and PB rows
//!    are split into `K` folds (the configuration's `folds`, each fold
//!    holding a share of both kinds; assignment from the `Folds` stream of
//!    seed `(seed, 1, 0)`), and for each fold `k` the router is fitted on the
//!    other folds (its seeds from `(seed, 2, k)`) and predicts ψ̂ and η̂ = c·ψ̂ − Δ̂ on
//!    fold `k`.
//! 3. Recalibration (unless turned off): on the GS rows, the least-squares
//!    line of the labels `r` on the out-of-fold ψ̂ gives the calibration
//!    slope `b_ψ = Cov(r, ψ̂_oof)/Var(ψ̂_oof)` (and its standard error); the
//!    map is `a_ψ(x) = r̄ + s_ψ(x − ψ̂̄)` with `ψ̂̄` the full fit's mean over
//!    the GS rows and the scale `s_ψ = b_ψ` (rule `slope`) or
//!    `s_ψ = √(Cov(r, ψ̂_oof))/sd(ψ̂)` (rule `variance`: the planted ψ's
//!    variance over the GS rows is `Cov(r, ψ̂_oof)`, an estimate of the
//!    variance of the part of ψ the learner can represent; see
//!    [`RecalibrationRule`]). Likewise `a_η` from the PB labels on the
//!    out-of-fold η̂ over the PB rows. A negative slope or covariance becomes
//!    0 (no heterogeneity shown out of fold), and a scale is capped where
//!    the recalibrated function would vary more than its labels
//!    (`s ≤ sd(labels)/sd(fit)`).
//! 4. Noise: the labels minus the recalibrated out-of-fold predictions
//!    (`r − a_ψ(ψ̂_oof)` on GS rows, `y − a_η(η̂_oof)` on PB rows), each set
//!    centred; their standard deviations are the Gaussian noise scales.
//!
//! Cost: `K + 1` router fits.

use ndarray::{Array1, Axis};

use super::{
    sample_sd, Affine, NoiseModel, PilotSummary, PlasmodeFile, Recalibration, RecalibrationRule,
    Truth, PLASMODE_FORMAT, PLASMODE_FORMAT_VERSION,
};
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::meta::folds::stratified_folds;
use crate::meta::overlap::OverlapRule;
use crate::meta::{FitSeeds, FittedRouter, MetaRouterConfig};
use crate::rng::{seed_for, Purpose};

use crate::realdata::{fit_tables_with_overlap, training_data, Table};

/// A calibrated plasmode file and its text.
#[derive(Debug)]
pub struct Calibrated {
    /// The file.
    pub file: PlasmodeFile,
    /// Its JSON text (what is written; read back and checked).
    pub text: String,
}

/// Calibrates a plasmode scenario from the pilot's tables (module docs)
/// with the recalibration `rule`; `None` plants the fitted ψ̂ and η̂ as they
/// are.
pub fn calibrate(
    config: &MetaRouterConfig,
    gold: &Table,
    pref: &Table,
    seed: u64,
    rule: Option<RecalibrationRule>,
) -> Result<Calibrated> {
    if !config.method.is_meta() {
        return Err(Error::param(
            "method",
            config.method.name(),
            "a plasmode calibration fits a meta-learner (dr-learner or r-learner): its Δ̂ is part of the planted truth",
        ));
    }
    let (file, router) = fit_tables_with_overlap(config, gold, pref, seed, OverlapRule::Crump)?;
    let router_text = file.to_json_checked(&router, &[gold.x.view(), pref.x.view()])?;
    let data = training_data(gold, pref, config.folds)?;
    let oof = out_of_fold(config, &data, seed)?;
    let n = data.n_gold();
    let gold_y = data.gold_y().to_owned();
    let pref_y = data.pref_y().to_owned();
    let fitted_psi = router.predict_psi(data.gold_x());
    let fitted_eta = eta_hat(&router, data.pref_x());
    let (psi, eta) = match rule {
        Some(rule) => (
            affine(
                &gold_y,
                &oof.psi.slice(ndarray::s![..n]).to_owned(),
                &fitted_psi,
                rule,
            ),
            affine(
                &pref_y,
                &oof.eta.slice(ndarray::s![n..]).to_owned(),
                &fitted_eta,
                rule,
            ),
        ),
        None => (Affine::IDENTITY, Affine::IDENTITY),
    };
    let recalibration = Recalibration {
        psi,
        eta,
        folds: if rule.is_some() { config.folds } else { 0 },
        rule: rule.unwrap_or_default(),
    };
    // Noise: the labels minus the recalibrated out-of-fold predictions (ψ̂
    // is in GS units).
    let gold_residuals: Vec<f64> = (0..n).map(|k| gold_y[k] - psi.apply(oof.psi[k])).collect();
    let pref_residuals: Vec<f64> = (0..data.n_pref())
        .map(|k| pref_y[k] - eta.apply(oof.eta[n + k]))
        .collect();
    let (gold_residuals, gold_sd) = centred(gold_residuals);
    let (pref_residuals, pref_sd) = centred(pref_residuals);
    let votes = is_votes(&pref_y);
    let pref_tie_share =
        votes.then(|| pref_y.iter().filter(|&&y| y == 0.0).count() as f64 / pref_y.len() as f64);
    let noise = NoiseModel {
        gold_residuals,
        pref_residuals,
        gold_sd,
        pref_sd,
        pref_tie_share,
    };
    let x = data.pooled_x();
    let truth = Truth::of(&router, x.view(), &recalibration, pref_tie_share);
    let router_value: serde_json::Value = serde_json::from_str(&router_text)
        .map_err(|e| Error::param("router", "text", e.to_string()))?;
    let plasmode = PlasmodeFile {
        format: PLASMODE_FORMAT.to_string(),
        format_version: PLASMODE_FORMAT_VERSION,
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        pilot: PilotSummary {
            gold_file: file.training.gold_file.clone(),
            pref_file: file.training.pref_file.clone(),
            n_gold: n,
            n_pref: data.n_pref(),
            seed,
        },
        features: file.features.clone(),
        rows: x.outer_iter().map(|r| r.to_vec()).collect(),
        noise,
        recalibration,
        truth: truth.summary(),
        router: router_value,
    };
    let text = plasmode.to_json()?;
    Ok(Calibrated {
        file: plasmode,
        text,
    })
}

/// Out-of-fold ψ̂ and η̂ on every pooled row (GS rows first).
struct OutOfFold {
    psi: Array1<f64>,
    eta: Array1<f64>,
}

/// Step 2: `K` fits of the router, each predicting its held-out fold.
fn out_of_fold(config: &MetaRouterConfig, data: &TrainingData, seed: u64) -> Result<OutOfFold> {
    let (n, m) = (data.n_gold(), data.n_pref());
    let folds = config.folds;
    let assignment = stratified_folds(n, m, folds, seed_for(seed, 1, 0, Purpose::Folds))?;
    let x = data.pooled_x();
    let y = data.pooled_y();
    let mut psi = Array1::zeros(n + m);
    let mut eta = Array1::zeros(n + m);
    for k in 0..folds {
        let (inside, outside): (Vec<usize>, Vec<usize>) =
            (0..n + m).partition(|&i| assignment[i] == k);
        let gold: Vec<usize> = outside.iter().copied().filter(|&i| i < n).collect();
        let pref: Vec<usize> = outside.iter().copied().filter(|&i| i >= n).collect();
        let train = TrainingData::new(
            x.select(Axis(0), &gold),
            y.select(Axis(0), &gold),
            x.select(Axis(0), &pref),
            y.select(Axis(0), &pref),
        )?;
        let seeds = FitSeeds {
            folds: seed_for(seed, 2, k as u64, Purpose::Folds),
            learner: seed_for(seed, 2, k as u64, Purpose::Learner),
        };
        let router = config.fit(&train, seeds).map_err(|e| {
            Error::param(
                "folds",
                folds,
                format!("the out-of-fold fit {} of {folds} failed: {e}", k + 1),
            )
        })?;
        let held = x.select(Axis(0), &inside);
        let p = router.predict_psi(held.view());
        let e = eta_hat(&router, held.view());
        for (j, &i) in inside.iter().enumerate() {
            psi[i] = p[j];
            eta[i] = e[j];
        }
    }
    Ok(OutOfFold { psi, eta })
}

/// `η̂ = c·ψ̂ − Δ̂` of a meta-learner router.
fn eta_hat(router: &FittedRouter, x: ndarray::ArrayView2<f64>) -> Array1<f64> {
    let psi = router.predict_psi(x);
    let delta = router
        .predict_delta(x)
        .unwrap_or_else(|| Array1::zeros(x.nrows()));
    psi * router.scale() - delta
}

/// Step 3: the affine recalibration of `fitted` against `labels` from the
/// out-of-fold predictions `oof` (same rows), its slope by `rule`.
fn affine(
    labels: &Array1<f64>,
    oof: &Array1<f64>,
    fitted: &Array1<f64>,
    rule: RecalibrationRule,
) -> Affine {
    let n = labels.len() as f64;
    let mean = |v: &Array1<f64>| v.sum() / n;
    let (my, mp) = (mean(labels), mean(oof));
    let sxy: f64 = labels
        .iter()
        .zip(oof)
        .map(|(y, p)| (y - my) * (p - mp))
        .sum();
    let sxx: f64 = oof.iter().map(|p| (p - mp) * (p - mp)).sum();
    let syy: f64 = labels.iter().map(|y| (y - my) * (y - my)).sum();
    let (slope, slope_se) = if sxx > 1e-12 * syy.max(f64::MIN_POSITIVE) {
        let b = sxy / sxx;
        let rss = (syy - b * sxy).max(0.0);
        let se = (rss / (n - 2.0).max(1.0) / sxx).sqrt();
        (b, se)
    } else {
        (0.0, 0.0)
    };
    // No heterogeneity below 0; no more than the labels' own spread.
    let sd_fit = {
        let m = mean(fitted);
        (fitted.iter().map(|f| (f - m) * (f - m)).sum::<f64>() / n).sqrt()
    };
    let cap = if sd_fit > 0.0 {
        (syy / n).sqrt() / sd_fit
    } else {
        0.0
    };
    let cap = cap.max(0.0);
    match rule {
        RecalibrationRule::Slope => Affine {
            from: mean(fitted),
            to: my,
            slope: slope.clamp(0.0, cap),
            slope_se,
            calibration_slope: None,
        },
        RecalibrationRule::Variance => {
            // Var(planted) = b²·Var(fitted) = Cov(labels, oof), floored at 0.
            let covariance = (sxy / n).max(0.0);
            let scale = if sd_fit > 0.0 {
                covariance.sqrt() / sd_fit
            } else {
                0.0
            };
            Affine {
                from: mean(fitted),
                to: my,
                slope: scale.min(cap),
                slope_se,
                calibration_slope: Some(slope),
            }
        }
    }
}

/// Whether PB labels are votes: every label in `{+1, 0, −1}` with both a
/// win and a loss (a 0/1 or −1/0 column is numeric: its 0 is not a tie).
fn is_votes(labels: &Array1<f64>) -> bool {
    labels.iter().all(|&y| y == 1.0 || y == 0.0 || y == -1.0)
        && labels.iter().any(|&y| y == 1.0)
        && labels.iter().any(|&y| y == -1.0)
}

/// `v − mean(v)` and its standard deviation (divisor `n − 1`).
fn centred(v: Vec<f64>) -> (Vec<f64>, f64) {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let centred: Vec<f64> = v.into_iter().map(|e| e - mean).collect();
    let sd = sample_sd(&centred);
    (centred, sd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn the_calibration_slope_is_least_squares_floored_at_zero_and_capped() {
        // labels = 1 + 0.5·oof exactly: slope 0.5, SE 0
        let oof = array![-2.0, -1.0, 0.0, 1.0, 2.0];
        let labels = oof.mapv(|p| 1.0 + 0.5 * p);
        let a = affine(&labels, &oof, &oof, RecalibrationRule::Slope);
        assert!((a.slope - 0.5).abs() < 1e-12 && a.slope_se < 1e-12);
        assert_eq!((a.from, a.to), (0.0, 1.0));
        assert!((a.apply(2.0) - 2.0).abs() < 1e-12);
        // a negative slope shows no heterogeneity: 0
        let a = affine(&labels.mapv(|y| -y), &oof, &oof, RecalibrationRule::Slope);
        assert_eq!(a.slope, 0.0);
        // labels = 3·oof: slope 3, within the cap sd(labels)/sd(fit) = 30
        // for a fit 10× flatter
        let labels = oof.mapv(|p| 3.0 * p);
        let flat = oof.mapv(|p| 0.1 * p);
        let a = affine(&labels, &oof, &flat, RecalibrationRule::Slope);
        assert!((a.slope - 3.0).abs() < 1e-9, "{}", a.slope);
        // out-of-fold predictions 10× flatter: the raw slope 30 is capped at
        // sd(labels)/sd(fit) = 3, so the truth varies no more than its labels
        let a = affine(&labels, &flat, &oof, RecalibrationRule::Slope);
        assert!((a.slope - 3.0).abs() < 1e-9, "capped at {}", a.slope);
        // constant out-of-fold predictions: no slope
        assert_eq!(
            affine(&labels, &Array1::zeros(5), &oof, RecalibrationRule::Slope).slope,
            0.0
        );
    }

    #[test]
    fn the_variance_rule_plants_the_covariance_as_the_variance() {
        // labels = 2·oof + noise orthogonal to oof: Cov = 2·Var(oof) = 4,
        // so the planted variance over the rows is 4 whatever the fit's scale
        let oof = array![-2.0, -1.0, 0.0, 1.0, 2.0];
        let noise = array![1.0, -2.0, 0.0, 2.0, -1.0]; // Σ noise·oof = 0, Σ noise = 0
        let labels = &oof * 2.0 + &noise;
        let fitted = oof.mapv(|p| 3.0 * p);
        let a = affine(&labels, &oof, &fitted, RecalibrationRule::Variance);
        let planted = fitted.mapv(|f| a.apply(f));
        let mean = planted.sum() / 5.0;
        let variance = planted.iter().map(|p| (p - mean) * (p - mean)).sum::<f64>() / 5.0;
        assert!((variance - 4.0).abs() < 1e-12, "{variance}");
        assert!((a.calibration_slope() - 2.0).abs() < 1e-12);
        // the slope rule keeps the least-squares slope as the map's (a fit
        // as spread as its out-of-fold predictions: below the cap)
        let b = affine(&labels, &oof, &oof, RecalibrationRule::Slope);
        assert!((b.slope - 2.0).abs() < 1e-12 && b.calibration_slope.is_none());
        // no covariance: no heterogeneity
        let flat = affine(
            &labels.mapv(|y| -y),
            &oof,
            &fitted,
            RecalibrationRule::Variance,
        );
        assert_eq!(flat.slope, 0.0);
    }

    #[test]
    fn votes_need_a_win_and_a_loss() {
        assert!(is_votes(&array![1.0, 0.0, -1.0, 1.0]));
        assert!(is_votes(&array![1.0, -1.0]));
        assert!(!is_votes(&array![1.0, 0.0, 0.0]), "0/1 labels are numeric");
        assert!(!is_votes(&array![-1.0, 0.0]));
        assert!(!is_votes(&array![1.0, -1.0, 0.5]));
    }
}
