//! Ridge solves: from the Gram matrix in primal or dual form (Cholesky for a
//! fixed penalty, one eigendecomposition for a grid), or from the thin SVD of
//! the weighted design.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use super::penalty::{
    select_penalty, select_penalty_loo, spectral_condition, spectral_solution, Penalty,
    PenaltyChoice, PenaltyGrid, WeightedProblem,
};
use crate::error::{Error, Result};
use crate::linalg;

/// Fixed-penalty solve of `(M + μI) x = rhs`, `μ = λS`, by one Cholesky
/// factorization applied to `rhs` and to the identity; the inverse's trace gives
/// `df = 1 + m − μ tr((M + μI)⁻¹)` and `rss(x, μ)` the weighted RSS, hence GCV
/// (`None` when `df ≥ n_eff`), and with the inverse's 1-norm the condition
/// number `‖M + μI‖₁ ‖(M + μI)⁻¹‖₁` (∞ when jitter was needed). If the
/// factorization needed jitter `δ`, `μ + δ` is used throughout. Costs `O(m³)`.
fn fixed_penalty_solve(
    matrix: Array2<f64>,
    rhs: ArrayView1<f64>,
    lambda: f64,
    problem: &WeightedProblem,
    rss: impl Fn(&Array1<f64>, f64) -> f64,
) -> Result<(Array1<f64>, PenaltyChoice)> {
    let m = matrix.nrows();
    let mut system = matrix;
    system
        .diag_mut()
        .mapv_inplace(|v| v + lambda * problem.total);
    let mut right = Array2::<f64>::zeros((m, m + 1));
    right.column_mut(0).assign(&rhs);
    for i in 0..m {
        right[[i, i + 1]] = 1.0;
    }
    let (solution, info) = linalg::cholesky_solve(system.view(), right.view())?;
    let x = solution.column(0).to_owned();
    let trace: f64 = (0..m).map(|i| solution[[i, i + 1]]).sum();
    let mu = lambda * problem.total + info.jitter;
    let df = 1.0 + m as f64 - mu * trace;
    let gcv = (df < problem.n_eff)
        .then(|| (rss(&x, mu).max(0.0) / problem.total) / (1.0 - df / problem.n_eff).powi(2));
    let condition = if info.jitter > 0.0 {
        f64::INFINITY
    } else {
        let norm_one = |a: ndarray::ArrayView2<f64>| {
            a.columns()
                .into_iter()
                .map(|c| c.iter().map(|v| v.abs()).sum::<f64>())
                .fold(0.0f64, f64::max)
        };
        norm_one(system.view()) * norm_one(solution.slice(ndarray::s![.., 1..]))
    };
    Ok((
        x,
        PenaltyChoice {
            penalty: lambda,
            df: Some(df),
            gcv,
            loo: None,
            jitter: info.jitter,
            condition: Some(condition),
        },
    ))
}

/// Primal solve: `(G + λS I) β = cross`, with `G = Φᵀ W Φ` of weighted-centred
/// features and `cross = Φᵀ W (y − ȳ_w)`; `total_ss = Σ w (y − ȳ_w)²`.
///
/// `scaled` holds `(W^{1/2} Φ, W^{1/2}(y − ȳ_w), w)` row by row; it is needed
/// only for `penalty = "loo"`.
pub(crate) fn solve_primal(
    gram: Array2<f64>,
    cross: ArrayView1<f64>,
    total_ss: f64,
    penalty: Penalty,
    grid: &PenaltyGrid,
    problem: &WeightedProblem,
    scaled: Option<(ArrayView2<f64>, ArrayView1<f64>, ArrayView1<f64>)>,
) -> Result<(Array1<f64>, PenaltyChoice)> {
    match penalty {
        Penalty::Loo => {
            let (design, target, row_weights) = scaled.ok_or_else(|| Error::Unsupported {
                learner: "ridge".into(),
                what: "choose a leave-one-out penalty without the design matrix".into(),
            })?;
            let eigen = linalg::symmetric_eigen(gram.view())?;
            let values = eigen.values.mapv(|e| e.max(0.0));
            let coords = linalg::matvec(eigen.vectors.t(), cross);
            let m = |rows: std::ops::Range<usize>| {
                linalg::matmul(design.slice(ndarray::s![rows, ..]), eigen.vectors.view())
            };
            let choice =
                select_penalty_loo(m, &values, &coords, target, row_weights, grid, problem)?;
            let mu = choice.penalty * problem.total;
            let beta = spectral_solution(&eigen.vectors, &values, &coords, mu);
            Ok((beta, choice))
        }
        Penalty::Fixed(lambda) => {
            // RSS = T − βᵀc − μ‖β‖² because (G + μI)β = c.
            fixed_penalty_solve(gram, cross, lambda, problem, |beta, mu| {
                total_ss - beta.dot(&cross) - mu * beta.dot(beta)
            })
        }
        Penalty::Gcv => {
            let eigen = linalg::symmetric_eigen(gram.view())?;
            let values = eigen.values.mapv(|e| e.max(0.0));
            let coords = linalg::matvec(eigen.vectors.t(), cross);
            let rss = |mu: f64| {
                total_ss
                    - values
                        .iter()
                        .zip(&coords)
                        .map(|(&e, &c)| {
                            let d = e + mu;
                            if d > 0.0 {
                                c * c * (e + 2.0 * mu) / (d * d)
                            } else {
                                0.0
                            }
                        })
                        .sum::<f64>()
            };
            let choice = select_penalty(&values, grid, problem, rss)?;
            let mu = choice.penalty * problem.total;
            let beta = spectral_solution(&eigen.vectors, &values, &coords, mu);
            Ok((beta, choice))
        }
    }
}

/// Dual solve: `γ = (K + λS I)⁻¹ target` for a PSD `K` (`n₊ × n₊`) whose
/// spectrum is that of the weighted-centred Gram; `target = W^{1/2}(y − ȳ_w)`
/// must lie in the centred space.
///
/// `rank_floor` is the numerical-rank threshold of `K`: eigenvalues at or below
/// it are rounding noise and count as exactly 0 (0 keeps every positive one).
/// A caller that builds `K` by subtracting a rank-one term (kernel ridge's
/// centring) passes `n₊ · ε · tr(K_uncentred)`; without the floor, a centred
/// kernel that is zero in exact arithmetic (a constant feature map) keeps
/// eigenvalues of order `ε`, the penalty search ranks the grid by that noise
/// (the chosen penalty then depends on the BLAS kernel's summation order), and
/// the smallest penalty amplifies the noise into the predictions.
pub(crate) fn solve_dual(
    kernel: Array2<f64>,
    target: ArrayView1<f64>,
    penalty: Penalty,
    grid: &PenaltyGrid,
    problem: &WeightedProblem,
    rank_floor: f64,
) -> Result<(Array1<f64>, PenaltyChoice)> {
    let floor = |e: f64| if e > rank_floor { e } else { 0.0 };
    match penalty {
        Penalty::Loo => {
            let eigen = linalg::symmetric_eigen(kernel.view())?;
            let values = eigen.values.mapv(floor);
            let projected = linalg::matvec(eigen.vectors.t(), target);
            let roots = values.mapv(f64::sqrt);
            let coords = &projected * &roots;
            let mut m = eigen.vectors.clone();
            for mut row in m.rows_mut() {
                row *= &roots;
            }
            let positive_weights = Array1::from(problem.positive_weights.clone());
            let choice = select_penalty_loo(
                |rows| m.slice(ndarray::s![rows, ..]).to_owned(),
                &values,
                &coords,
                target,
                positive_weights.view(),
                grid,
                problem,
            )?;
            let mu = choice.penalty * problem.total;
            let gamma = spectral_solution(&eigen.vectors, &values, &projected, mu);
            Ok((gamma, choice))
        }
        Penalty::Fixed(lambda) => {
            // The residual ỹ − Kγ equals μγ because (K + μI)γ = ỹ.
            fixed_penalty_solve(kernel, target, lambda, problem, |gamma, mu| {
                mu * mu * gamma.dot(gamma)
            })
        }
        Penalty::Gcv => {
            let eigen = linalg::symmetric_eigen(kernel.view())?;
            let values = eigen.values.mapv(floor);
            let coords = linalg::matvec(eigen.vectors.t(), target);
            let rss = |mu: f64| {
                values
                    .iter()
                    .zip(&coords)
                    .map(|(&e, &a)| {
                        // (μ/(e + μ))² is exactly 1 where e = 0, so a constant
                        // feature map gives every grid penalty the same score.
                        let d = e + mu;
                        if d > 0.0 {
                            let shrink = mu / d;
                            a * a * shrink * shrink
                        } else {
                            a * a
                        }
                    })
                    .sum::<f64>()
            };
            let choice = select_penalty(&values, grid, problem, rss)?;
            let mu = choice.penalty * problem.total;
            let gamma = spectral_solution(&eigen.vectors, &values, &coords, mu);
            Ok((gamma, choice))
        }
    }
}

/// SVD solve on the weighted design: `design = A = W^{1/2} Φ` on the `n₊`
/// positively weighted rows (weighted-centred features), `target =
/// W^{1/2}(y − ȳ_w)` on the same rows, `row_weights` their weights.
///
/// With the thin SVD `A = U diag(σ) Vᵀ` (`r = min(n₊, p)` triplets),
/// `a = Uᵀ target` and `e = σ²` (the spectrum of both `G = AᵀA` and
/// `K = AAᵀ`), the solution is `β = V diag(σ/(σ² + μ)) a`, the fitted
/// values `U diag(σ²/(σ² + μ)) a`, the leverages `w_i/S + Σ_j U_ij² σ_j²/(σ_j² + μ)`
/// and `RSS(μ) = ‖target‖² − ‖a‖² + Σ_j a_j² (μ/(σ_j² + μ))²`, so the fixed,
/// GCV and LOO rules are those of the Gram paths with `G`'s eigenvalues
/// computed to relative accuracy `ε σ_max/σ_j` instead of `ε σ_max²/σ_j²`.
/// Singular values at or below `max(n₊, p) · ε · σ_max` are rounding noise of a
/// rank-deficient design and count as 0 (so `λ = 0` gives the minimum-norm
/// least-squares solution, without jitter). Costs `O(n₊ p min(n₊, p))`.
pub(crate) fn solve_svd(
    design: ArrayView2<f64>,
    target: ArrayView1<f64>,
    row_weights: ArrayView1<f64>,
    penalty: Penalty,
    grid: &PenaltyGrid,
    problem: &WeightedProblem,
) -> Result<(Array1<f64>, PenaltyChoice)> {
    let svd = linalg::thin_svd(design)?;
    let largest = svd.values.iter().fold(0.0f64, |m, &s| m.max(s));
    let floor = design.nrows().max(design.ncols()) as f64 * f64::EPSILON * largest;
    let sigma = svd.values.mapv(|s| if s > floor { s } else { 0.0 });
    let values = sigma.mapv(|s| s * s);
    let projected = linalg::matvec(svd.u.t(), target);
    let coords = &projected * &sigma;
    let outside = (target.dot(&target) - projected.dot(&projected)).max(0.0);
    let rss = |mu: f64| {
        outside
            + values
                .iter()
                .zip(&projected)
                .map(|(&e, &a)| {
                    let d = e + mu;
                    if d > 0.0 {
                        let shrink = mu / d;
                        a * a * shrink * shrink
                    } else {
                        a * a
                    }
                })
                .sum::<f64>()
    };
    let choice = match penalty {
        Penalty::Loo => {
            let m = |rows: std::ops::Range<usize>| {
                let mut block = svd.u.slice(ndarray::s![rows, ..]).to_owned();
                for mut row in block.rows_mut() {
                    row *= &sigma;
                }
                block
            };
            select_penalty_loo(m, &values, &coords, target, row_weights, grid, problem)?
        }
        Penalty::Gcv => select_penalty(&values, grid, problem, rss)?,
        Penalty::Fixed(lambda) => {
            let mu = lambda * problem.total;
            let df = 1.0
                + values
                    .iter()
                    .map(|&e| if e + mu > 0.0 { e / (e + mu) } else { 0.0 })
                    .sum::<f64>();
            let gcv = (df < problem.n_eff)
                .then(|| (rss(mu) / problem.total) / (1.0 - df / problem.n_eff).powi(2));
            PenaltyChoice {
                penalty: lambda,
                df: Some(df),
                gcv,
                loo: None,
                jitter: 0.0,
                condition: Some(spectral_condition(&values, mu)),
            }
        }
    };
    let mu = choice.penalty * problem.total;
    let beta = spectral_solution(&svd.v, &values, &coords, mu);
    Ok((beta, choice))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::assert_close;
    use approx::assert_relative_eq;
    use ndarray::array;

    #[test]
    fn primal_gcv_rss_matches_direct_residuals() {
        // Weighted-centred features and target, checked against an explicit solve.
        let phi = array![[1.0, 0.5], [-1.0, 0.2], [0.5, -1.0], [-0.5, 0.3]];
        let w = array![1.0, 2.0, 0.5, 1.5];
        let mean =
            |col: ArrayView1<f64>| col.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / w.sum();
        let mut phi = phi;
        for mut col in phi.columns_mut() {
            let m = mean(col.view());
            col.mapv_inplace(|v| v - m);
        }
        let y = array![1.0, -0.5, 0.7, 0.1];
        let y = y.mapv(|v| v - mean(y.view()));
        let problem = WeightedProblem::new(&w);
        let gram = linalg::weighted_gram(phi.view(), Some(w.view()));
        let cross = linalg::weighted_cross(phi.view(), y.view(), Some(w.view()));
        let total_ss: f64 = y.iter().zip(&w).map(|(v, w)| w * v * v).sum();
        let grid = PenaltyGrid {
            min: 0.3,
            max: 0.3,
            points: 1,
        };
        let (beta, choice) = solve_primal(
            gram.clone(),
            cross.view(),
            total_ss,
            Penalty::Gcv,
            &grid,
            &problem,
            None,
        )
        .unwrap();
        let (direct, fixed_choice) = solve_primal(
            gram,
            cross.view(),
            total_ss,
            Penalty::Fixed(0.3),
            &grid,
            &problem,
            None,
        )
        .unwrap();
        assert_close!(beta, direct, epsilon = 1e-12);
        let resid = &y - &phi.dot(&beta);
        let rss: f64 = resid.iter().zip(&w).map(|(r, w)| w * r * r).sum();
        let df = choice.df.unwrap();
        let expected = (rss / w.sum()) / (1.0 - df / problem.n_eff).powi(2);
        assert_relative_eq!(choice.gcv.unwrap(), expected, max_relative = 1e-10);
        // The fixed-penalty path reports the same df and GCV score.
        assert_relative_eq!(fixed_choice.df.unwrap(), df, max_relative = 1e-10);
        assert_relative_eq!(fixed_choice.gcv.unwrap(), expected, max_relative = 1e-10);

        // Dual form: same numbers for both paths.
        let sqrt_w = w.mapv(f64::sqrt);
        let mut a = phi.clone();
        for (mut row, s) in a.rows_mut().into_iter().zip(&sqrt_w) {
            row *= *s;
        }
        let target = &y * &sqrt_w;
        let kernel = a.dot(&a.t());
        let (gamma, dual_gcv) = solve_dual(
            kernel.clone(),
            target.view(),
            Penalty::Gcv,
            &grid,
            &problem,
            0.0,
        )
        .unwrap();
        let (gamma_fixed, dual_fixed) = solve_dual(
            kernel,
            target.view(),
            Penalty::Fixed(0.3),
            &grid,
            &problem,
            0.0,
        )
        .unwrap();
        assert_close!(a.t().dot(&gamma), beta, epsilon = 1e-10);
        assert_close!(gamma_fixed, gamma, epsilon = 1e-10);
        assert_relative_eq!(dual_gcv.df.unwrap(), df, max_relative = 1e-10);
        assert_relative_eq!(dual_fixed.df.unwrap(), df, max_relative = 1e-10);
        assert_relative_eq!(dual_gcv.gcv.unwrap(), expected, max_relative = 1e-10);
        assert_relative_eq!(dual_fixed.gcv.unwrap(), expected, max_relative = 1e-10);
    }
}
