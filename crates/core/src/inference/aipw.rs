//! AIPW means (θ_Δ, θ_ψ, pooled E Δ, E ψ) and the value of a routing policy
//! learned on one half of the data and evaluated on the other (formulas in
//! the [module docs](super)).

use ndarray::{Array1, ArrayView1, Axis};

use super::{Estimate, Nuisances, Population, Quantity};
use crate::data::TrainingData;
use crate::error::{Error, Result};
use crate::meta::folds::stratified_permutations;
use crate::meta::{FitSeeds, FittedRouter, MetaRouterConfig, Method, Normalize};
use crate::rng::derive_seed;
use crate::routing;

/// AIPW estimate of `E[h(s)·q(s) | population]` with `q = ψ` ([`Quantity::Gain`])
/// or `q = Δ` ([`Quantity::Bias`]), `h ≡ 1` when `weights` is `None`, with an
/// influence-function standard error and a normal interval at `level`.
pub fn mean_target(
    nuisances: &Nuisances,
    quantity: Quantity,
    population: Population,
    weights: Option<ArrayView1<f64>>,
    level: f64,
) -> Result<Estimate> {
    ratio_estimate(nuisances, quantity, population, weights, 0.0, level).map(|(e, _)| e)
}

/// `θ̂ = Σ ξ_k / Σ D_k`, `φ_k = (ξ_k − D_k θ̂)/D̄`, `SE = √(Σ φ_k²/N)/√N`;
/// `shift` subtracts `shift·h_k` from the gain (policy value at cost weight w).
/// Returns the normal-interval estimate and the influence-function terms `φ`.
pub(crate) fn ratio_estimate(
    nuisances: &Nuisances,
    quantity: Quantity,
    population: Population,
    weights: Option<ArrayView1<f64>>,
    shift: f64,
    level: f64,
) -> Result<(Estimate, Array1<f64>)> {
    let n = nuisances.len();
    if let Some(h) = weights {
        if h.len() != n {
            return Err(Error::ShapeMismatch {
                what: "target weights vs nuisances".into(),
                expected: n,
                found: h.len(),
            });
        }
        super::check_finite("target weights", h)?;
    }
    let mut xi = Array1::zeros(n);
    let mut d = Array1::zeros(n);
    // ∂ξ_k/∂η_k, the derivative of the score in the logistic propensity's
    // linear predictor (∂p/∂η = p(1 − p)), for the estimated-propensity term.
    let mut slope = Array1::zeros(n);
    for k in 0..n {
        let t = nuisances.treatment[k];
        let o = nuisances.outcome[k];
        let p = nuisances.propensity[k];
        let m1 = nuisances.mean_gold[k];
        let m0 = nuisances.mean_pref[k];
        let h = weights.map_or(1.0, |h| h[k]);
        let (score, indicator) = match (population, quantity) {
            (Population::Pref, Quantity::Gain) => (
                (1.0 - t) * (m1 - shift) + t * (1.0 - p) / p * (o - m1),
                1.0 - t,
            ),
            (Population::Pref, Quantity::Bias) => {
                ((1.0 - t) * (m1 - o) + t * (1.0 - p) / p * (o - m1), 1.0 - t)
            }
            (Population::Pooled, Quantity::Gain) => (m1 - shift + t * (o - m1) / p, 1.0),
            (Population::Pooled, Quantity::Bias) => (
                m1 - m0 + t * (o - m1) / p - (1.0 - t) * (o - m0) / (1.0 - p),
                1.0,
            ),
        };
        let inside = if nuisances.inside[k] { 1.0 } else { 0.0 };
        xi[k] = inside * h * score;
        d[k] = inside * indicator;
        // d/dη of t(1−p)/p·r is −t(1−p)/p·r, of t·r/p is −t(1−p)/p·r, of
        // −(1−t)r/(1−p) is −(1−t)p/(1−p)·r.
        let gold_term = -t * (1.0 - p) / p * (o - m1);
        let derivative = match (population, quantity) {
            (Population::Pooled, Quantity::Bias) => {
                gold_term - (1.0 - t) * p / (1.0 - p) * (o - m0)
            }
            _ => gold_term,
        };
        slope[k] = inside * h * derivative;
    }
    let d_sum = d.sum();
    let theta = xi.sum() / d_sum;
    let d_mean = d_sum / n as f64;
    let mut phi: Array1<f64> = Array1::from_shape_fn(n, |k| (xi[k] - d[k] * theta) / d_mean);
    if let Some(influence) = nuisances.propensity_influence()? {
        // θ̂(β̂) ≈ θ̂(β) + Gᵀ(β̂ − β), G = (1/N) Σ_k ∂ξ_k/∂β / D̄ with
        // ∂ξ_k/∂β = slope_k b_k, and β̂ − β ≈ (1/N) Σ_k U_k.
        let design = nuisances
            .propensity_design
            .as_ref()
            .expect("an influence needs a design");
        let gradient = crate::linalg::matvec(design.t(), slope.view()) / (n as f64 * d_mean);
        phi += &crate::linalg::matvec(influence.view(), gradient.view());
    }
    let sum_sq: f64 = phi.iter().map(|v| v * v).sum();
    let se = (sum_sq / n as f64).sqrt() / (n as f64).sqrt();
    Ok((Estimate::normal(theta, se, level)?, phi))
}

/// Splits the pooled rows (GS rows first) into two halves stratified by `t`:
/// GS rows and PB rows are each permuted by a ChaCha stream from `seed`, and
/// the first `⌊n/2⌋` of each go to the first half. `true` marks a
/// first-half (learning) row.
pub fn split_halves(n_gold: usize, n_pref: usize, seed: u64) -> Vec<bool> {
    let mut first = vec![false; n_gold + n_pref];
    let [gold, pref] = stratified_permutations(n_gold, n_pref, seed);
    for (offset, order) in [(0, gold), (n_gold, pref)] {
        for &i in &order[..order.len() / 2] {
            first[offset + i] = true;
        }
    }
    first
}

/// The target population and propensity design of a [`policy_value`]
/// (both in the pooled order of its data; `Default`: every query, no
/// estimated-propensity term).
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicyTarget<'a> {
    /// Whether each pooled row lies in the overlap region.
    pub inside: Option<&'a [bool]>,
    /// The design `b(s_k)` of a logistic propensity.
    pub propensity_design: Option<ndarray::ArrayView2<'a, f64>>,
    /// The overlap rule's threshold `α`: the out-of-fold `p̂` of rows inside
    /// is bounded to `[α, 1 − α]` ([`super::Nuisances::bounded_inside`]; 0:
    /// no bound beyond the guard).
    pub alpha: f64,
}

/// A policy value estimate and the router that defines the policy.
#[derive(Debug)]
pub struct PolicyValue {
    /// `E[(ψ − w)π | t = 0]`, estimated on the evaluation half, with the
    /// Student-t interval on [`Self::df`] degrees of freedom.
    pub estimate: Estimate,
    /// Satterthwaite's degrees of freedom of the SE
    /// ([`super::satterthwaite_df`] of the influence-function terms).
    pub df: f64,
    /// The router fit on the learning half; `π(s) = 1{ψ̂(s) > w}`.
    pub router: FittedRouter,
    /// The cost weight `w`.
    pub cost_weight: f64,
    /// Share of the evaluation half's PB rows routed to `M_p`.
    pub routed_fraction: f64,
    /// Rows (GS, PB) in the learning half.
    pub learn_rows: (usize, usize),
    /// Rows (GS, PB) in the evaluation half.
    pub evaluation_rows: (usize, usize),
}

/// Seeds of a policy-value fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicySeeds {
    /// Seed of the half split ([`split_halves`]).
    pub split: u64,
    /// Seeds of the router (learning half) and, through [`derive_seed`], of
    /// the DR nuisance fit on the evaluation half.
    pub fit: FitSeeds,
}

/// The policy value's inputs must agree: the overlap mask and the
/// propensity design have one entry per training row, the cost weight is
/// finite.
fn check_policy_inputs(
    data: &TrainingData,
    cost_weight: f64,
    target: &PolicyTarget<'_>,
) -> Result<()> {
    if let Some(mask) = target.inside {
        if mask.len() != data.n_total() {
            return Err(Error::ShapeMismatch {
                what: "overlap region vs training rows".into(),
                expected: data.n_total(),
                found: mask.len(),
            });
        }
    }
    if let Some(design) = target.propensity_design {
        if design.nrows() != data.n_total() {
            return Err(Error::ShapeMismatch {
                what: "propensity design vs training rows".into(),
                expected: data.n_total(),
                found: design.nrows(),
            });
        }
    }
    if !cost_weight.is_finite() {
        return Err(Error::param(
            "cost_weight",
            cost_weight,
            "must be a finite number",
        ));
    }
    Ok(())
}

/// The AIPW nuisances of the evaluation half: a DR-learner without
/// normalization and with cross-fitted outcomes, fit on that half with
/// seeds derived from the policy's (tag 1), restricted to the overlap
/// region (`first[k]` marks the learning half's rows) and given the
/// propensity design's rows of the half.
fn evaluation_nuisances(
    config: &MetaRouterConfig,
    data: &TrainingData,
    evaluation: &TrainingData,
    seeds: PolicySeeds,
    first: &[bool],
    target: &PolicyTarget<'_>,
) -> Result<Nuisances> {
    let mut nuisance_config = config.clone();
    nuisance_config.method = Method::DrLearner;
    nuisance_config.normalize = Normalize::None;
    // The AIPW scores use nuisances fit out of fold on the folds (the rule of
    // `inference::unsupported`), whatever the policy's own fit does.
    nuisance_config.cross_fit = true;
    nuisance_config.outcome_oob = false;
    let nuisance_router = nuisance_config.fit(
        evaluation,
        FitSeeds {
            folds: derive_seed(seeds.fit.folds, &[1]),
            learner: derive_seed(seeds.fit.learner, &[1]),
        },
    )?;
    let mut nuisances = Nuisances::from_router(&nuisance_router)?;
    // The evaluation half's rows in pooled order: its GS rows, then its PB rows.
    let half_rows: Vec<usize> = (0..data.n_total()).filter(|&k| !first[k]).collect();
    if let Some(mask) = target.inside {
        let half_mask: Vec<bool> = half_rows.iter().map(|&k| mask[k]).collect();
        nuisances = nuisances.within(&half_mask)?.bounded_inside(target.alpha);
    }
    if let Some(design) = target.propensity_design {
        nuisances =
            nuisances.with_propensity_design(crate::linalg::select_rows(design, &half_rows))?;
    }
    Ok(nuisances)
}

/// Value of the routing policy `π(s) = 1{ψ̂(s) > w}` relative to always-`M_a`,
/// `E[(ψ(s) − w)π(s) | t = 0]`: the router (`config`, any method) is fit on
/// one half of `data` ([`split_halves`]) and the value is estimated by AIPW
/// with `π` fixed on the other half, whose nuisances come from a DR-learner
/// with `config`'s learners and propensity settings (normalization off).
///
/// `target.inside` (pooled order of `data`, GS rows first) restricts the
/// value to an overlap region: `E[(ψ − w)π | t = 0, s ∈ A]`, estimated on
/// the evaluation half's rows inside `A`; `target.propensity_design` (the
/// same order) adds the estimated-propensity term of a logistic propensity
/// ([`Nuisances::with_propensity_design`]).
pub fn policy_value(
    config: &MetaRouterConfig,
    data: &TrainingData,
    cost_weight: f64,
    seeds: PolicySeeds,
    level: f64,
    target: PolicyTarget<'_>,
) -> Result<PolicyValue> {
    check_policy_inputs(data, cost_weight, &target)?;
    let first = split_halves(data.n_gold(), data.n_pref(), seeds.split);
    let half = |want: bool| -> Result<TrainingData> {
        let n_gold = data.n_gold();
        let gold: Vec<usize> = (0..n_gold).filter(|&i| first[i] == want).collect();
        let pref: Vec<usize> = (0..data.n_pref())
            .filter(|&j| first[n_gold + j] == want)
            .collect();
        TrainingData::new(
            crate::linalg::select_rows(data.gold_x().view(), &gold),
            data.gold_y().select(Axis(0), &gold),
            crate::linalg::select_rows(data.pref_x().view(), &pref),
            data.pref_y().select(Axis(0), &pref),
        )
    };
    let learn = half(true)?;
    let evaluation = half(false)?;
    let router = config.fit(&learn, seeds.fit)?;
    let nuisances = evaluation_nuisances(config, data, &evaluation, seeds, &first, &target)?;
    let x = evaluation.pooled_x();
    let psi_hat = router.predict_psi(x.view());
    let policy = routing::routed_indicator(
        psi_hat.view(),
        routing::default_costs(psi_hat.len()).view(),
        cost_weight,
    )?;
    let n_gold = evaluation.n_gold();
    let (routed, pref_inside) = (n_gold..policy.len())
        .filter(|&k| nuisances.inside[k])
        .fold((0.0, 0usize), |(sum, count), k| {
            (sum + policy[k], count + 1)
        });
    let routed_fraction = routed / pref_inside.max(1) as f64;
    let (normal, phi) = ratio_estimate(
        &nuisances,
        Quantity::Gain,
        Population::Pref,
        Some(policy.view()),
        cost_weight,
        level,
    )?;
    // The score lives on the routed rows of the half, its GS part on few
    // heavily weighted rows: a t interval on Satterthwaite's df.
    let df = super::satterthwaite_df(phi.view());
    let estimate = Estimate::student(normal.estimate, normal.se, df, level)?;
    Ok(PolicyValue {
        estimate,
        df,
        router,
        cost_weight,
        routed_fraction,
        learn_rows: (learn.n_gold(), learn.n_pref()),
        evaluation_rows: (evaluation.n_gold(), evaluation.n_pref()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// t = (1, 1, 0, 0), o = (1, 3, 0, 1), p̂ = (0.5, 0.25, 0.5, 0.5),
    /// μ̂₁ = (2, 2, 1, 2), μ̂₀ = (0, 0, 0.5, 0.5).
    fn example() -> Nuisances {
        Nuisances::new(
            array![1.0, 1.0, 0.0, 0.0],
            array![1.0, 3.0, 0.0, 1.0],
            array![0.5, 0.25, 0.5, 0.5],
            array![2.0, 2.0, 1.0, 2.0],
            array![0.0, 0.0, 0.5, 0.5],
        )
        .unwrap()
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    #[test]
    fn theta_delta_by_hand() {
        // ξ = (1/1·(1−2), 3·(3−2), 1−0, 2−1) = (−1, 3, 1, 1); Σξ = 4, Σ(1−t) = 2
        // θ̂ = 2. P̂(t=0) = 1/2; φ = (ξ − (1−t)θ̂)/(1/2) = (−2, 6, −2, −2),
        // Σφ² = 48, SE = √(48/4)/√4 = √3.
        let e = mean_target(&example(), Quantity::Bias, Population::Pref, None, 0.95).unwrap();
        close(e.estimate, 2.0);
        close(e.se, 3f64.sqrt());
        close(e.upper - e.estimate, 1.959963984540054 * 3f64.sqrt());
    }

    #[test]
    fn theta_psi_by_hand() {
        // ξ = (−1, 3, μ̂₁ = 1, μ̂₁ = 2); Σξ = 5, θ̂ = 5/2.
        // φ = (−2, 6, (1 − 2.5)/0.5, (2 − 2.5)/0.5) = (−2, 6, −3, −1), Σφ² = 50,
        // SE = √(50/4)/2 = √3.125.
        let e = mean_target(&example(), Quantity::Gain, Population::Pref, None, 0.95).unwrap();
        close(e.estimate, 2.5);
        close(e.se, 3.125f64.sqrt());
    }

    #[test]
    fn pooled_targets_by_hand() {
        // Gain: ξ = μ̂₁ + t(o − μ̂₁)/p̂ = (2 − 2, 2 + 4, 1, 2) = (0, 6, 1, 2); θ̂ = 9/4,
        // φ = (−2.25, 3.75, −1.25, −0.25), Σφ² = 20.75, SE = √(20.75/4)/2.
        let e = mean_target(&example(), Quantity::Gain, Population::Pooled, None, 0.95).unwrap();
        close(e.estimate, 2.25);
        close(e.se, (20.75f64 / 4.0).sqrt() / 2.0);
        // Bias: ξ = μ̂₁ − μ̂₀ + t(o − μ̂₁)/p̂ − (1 − t)(o − μ̂₀)/(1 − p̂)
        //   = (2 − 2, 2 + 4, 0.5 + 1, 1.5 − 1) = (0, 6, 1.5, 0.5); θ̂ = 2,
        // φ = (−2, 4, −0.5, −1.5), Σφ² = 22.5, SE = √(22.5/4)/2.
        let e = mean_target(&example(), Quantity::Bias, Population::Pooled, None, 0.95).unwrap();
        close(e.estimate, 2.0);
        close(e.se, (22.5f64 / 4.0).sqrt() / 2.0);
    }

    #[test]
    fn weighted_and_shifted_by_hand() {
        // π = (1, 0, 1, 0), w = 0.5, PB gain:
        // ξ = π[(1 − t)(μ̂₁ − w) + t(1 − p̂)/p̂(o − μ̂₁)] = (−1, 0, 0.5, 0); θ̂ = −0.5/2.
        // φ = (ξ − (1 − t)θ̂)/0.5 = (−2, 0, 1.5, 0.5), Σφ² = 6.5, SE = √(6.5/4)/2.
        let pi = array![1.0, 0.0, 1.0, 0.0];
        let (e, _) = ratio_estimate(
            &example(),
            Quantity::Gain,
            Population::Pref,
            Some(pi.view()),
            0.5,
            0.95,
        )
        .unwrap();
        close(e.estimate, -0.25);
        close(e.se, (6.5f64 / 4.0).sqrt() / 2.0);
        let short = array![1.0];
        assert!(mean_target(
            &example(),
            Quantity::Gain,
            Population::Pref,
            Some(short.view()),
            0.95
        )
        .is_err());
    }

    /// A population restricted to some rows: scores and indicators of the
    /// rows outside are zero, the influence function runs over all `N` rows
    /// (its rows outside are 0), and fewer than two GS or PB rows inside is
    /// refused.
    #[test]
    fn restricted_population_by_hand() {
        let n = example();
        assert!(n.clone().within(&[true, false, true, false]).is_err());
        let rows = Nuisances::new(
            array![1.0, 1.0, 0.0, 0.0, 1.0, 0.0],
            array![1.0, 3.0, 0.0, 1.0, 1.0, 1.0],
            array![0.5, 0.25, 0.5, 0.5, 0.5, 0.5],
            array![2.0, 2.0, 1.0, 2.0, 2.0, 2.0],
            array![0.0, 0.0, 0.5, 0.5, 0.0, 0.0],
        )
        .unwrap()
        .within(&[true, false, true, false, true, true])
        .unwrap();
        // Inside: rows 0, 2, 4, 5; ξ (PB bias) = (−1, 1, −1, 1), Σ(1 − t) = 2,
        // θ̂ = 0; D̄ = 2/6, φ = (−3, 3, −3, 3) on them, Σφ² = 36,
        // SE = √(36/6)/√6 = 1.
        let e = mean_target(&rows, Quantity::Bias, Population::Pref, None, 0.95).unwrap();
        close(e.estimate, 0.0);
        close(e.se, 1.0);
        assert!(n.within(&[true]).is_err());
    }

    /// The estimated-propensity term: with a design `b = 1` (an intercept-only
    /// logistic, `p̂ = mean t`), `Î = mean p̂(1 − p̂)`, `U_k = (t_k − p̂_k)/Î`
    /// and `G = Σ slope_k / (N D̄)`; checked against a direct computation.
    #[test]
    fn estimated_propensity_term_by_hand() {
        let base = Nuisances::new(
            array![1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
            array![1.0, 0.5, 0.0, 2.0, 1.0, -1.0],
            Array1::from_elem(6, 1.0 / 3.0),
            array![1.5, 1.0, 0.5, 1.0, 0.5, 0.0],
            array![0.0, 0.5, 0.0, 0.5, 0.5, -0.5],
        )
        .unwrap();
        let plain = mean_target(&base, Quantity::Bias, Population::Pref, None, 0.95).unwrap();
        let adjusted = base
            .clone()
            .with_propensity_design(ndarray::Array2::ones((6, 1)))
            .unwrap();
        let e = mean_target(&adjusted, Quantity::Bias, Population::Pref, None, 0.95).unwrap();
        close(e.estimate, plain.estimate);
        // By hand: p = 1/3, (1−p)/p = 2. ξ = t·2(o − m1) + (1−t)(m1 − o)
        //   = (−1, 0.5, 0.5, 2, −0.5, 1); Σξ = 2.5, Σ(1−t) = 4, θ̂ = 0.625,
        // D̄ = 4/6. φ_k = (ξ_k − (1−t_k)θ̂)/D̄.
        let t = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        let xi = [-1.0, 0.5, 0.5, 2.0, -0.5, 1.0];
        let o = [1.0, 0.5, 0.0, 2.0, 1.0, -1.0];
        let m1 = [1.5, 1.0, 0.5, 1.0, 0.5, 0.0];
        let theta = 2.5 / 4.0;
        let d_mean = 4.0 / 6.0;
        // slope_k = −t(1−p)/p(o − m1) = −2 t (o − m1): (1, 0, 0, −2, 0, 0).
        let slope: Vec<f64> = (0..6).map(|k| -2.0 * t[k] * (o[k] - m1[k])).collect();
        let gradient = slope.iter().sum::<f64>() / (6.0 * d_mean);
        let information = (1.0 / 3.0) * (2.0 / 3.0);
        let sum_sq: f64 = (0..6)
            .map(|k| {
                let phi = (xi[k] - (1.0 - t[k]) * theta) / d_mean;
                let u = (t[k] - 1.0 / 3.0) / information;
                (phi + gradient * u).powi(2)
            })
            .sum();
        close(e.se, (sum_sq / 6.0).sqrt() / 6f64.sqrt());
        assert!((e.se - plain.se).abs() > 1e-3, "the term changes the SE");
    }

    /// The estimated-propensity term against the jackknife of the whole
    /// estimator, `p̂` re-estimated on every leave-one-out sample: with an
    /// intercept-only propensity `p̂ = mean t` (design `b ≡ 1`) and a
    /// misspecified `μ̂₁` (the score then depends on `p̂` at first order),
    /// the jackknife SE of `θ̂(p̂)` agrees with the adjusted SE and not with
    /// the plain one. N = 4000 rows drawn from a fixed ChaCha stream.
    #[test]
    fn estimated_propensity_term_matches_the_jackknife() {
        use rand::RngExt;
        let mut rng = crate::rng::rng_from_seed(7);
        let n = 4000;
        let s: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let t: Vec<f64> = (0..n)
            .map(|_| if rng.random::<f64>() < 0.2 { 1.0 } else { 0.0 })
            .collect();
        // ψ(s) = 1 + 2s, η = ψ − 0.5; noise uniform ±0.5; μ̂₁ ≡ 0 is wrong.
        let o: Vec<f64> = (0..n)
            .map(|k| 1.0 + 2.0 * s[k] - 0.5 * (1.0 - t[k]) + rng.random_range(-0.5..0.5))
            .collect();
        let m1 = vec![0.0; n];
        let m0: Vec<f64> = s.iter().map(|v| 0.5 + 2.0 * v).collect();
        // θ̂(p) over rows `keep` with propensity p for every row.
        let theta = |keep: &dyn Fn(usize) -> bool, p: f64| {
            let (mut num, mut den) = (0.0, 0.0);
            for k in (0..n).filter(|&k| keep(k)) {
                num += (1.0 - t[k]) * (m1[k] - o[k]) + t[k] * (1.0 - p) / p * (o[k] - m1[k]);
                den += 1.0 - t[k];
            }
            num / den
        };
        let t_sum: f64 = t.iter().sum();
        let leave_out: Vec<f64> = (0..n)
            .map(|i| theta(&|k| k != i, (t_sum - t[i]) / (n - 1) as f64))
            .collect();
        let mean = leave_out.iter().sum::<f64>() / n as f64;
        let jackknife = ((n - 1) as f64 / n as f64
            * leave_out.iter().map(|v| (v - mean).powi(2)).sum::<f64>())
        .sqrt();
        let p_hat = t_sum / n as f64;
        let nuisances = Nuisances::new(
            Array1::from(t.clone()),
            Array1::from(o.clone()),
            Array1::from_elem(n, p_hat),
            Array1::from(m1.clone()),
            Array1::from(m0),
        )
        .unwrap();
        let plain = mean_target(&nuisances, Quantity::Bias, Population::Pref, None, 0.95)
            .unwrap()
            .se;
        let adjusted = mean_target(
            &nuisances
                .with_propensity_design(ndarray::Array2::ones((n, 1)))
                .unwrap(),
            Quantity::Bias,
            Population::Pref,
            None,
            0.95,
        )
        .unwrap()
        .se;
        assert!(
            (adjusted / jackknife - 1.0).abs() < 0.02,
            "adjusted {adjusted} vs jackknife {jackknife} (plain {plain})"
        );
        assert!(
            (plain / jackknife - 1.0).abs() > 0.1,
            "plain {plain} vs jackknife {jackknife}: the example must need the term"
        );
    }

    #[test]
    fn halves_are_stratified_and_seeded() {
        let first = split_halves(7, 10, 3);
        assert_eq!(first[..7].iter().filter(|&&b| b).count(), 3);
        assert_eq!(first[7..].iter().filter(|&&b| b).count(), 5);
        assert_eq!(first, split_halves(7, 10, 3));
        assert_ne!(first, split_halves(7, 10, 4));
    }
}
