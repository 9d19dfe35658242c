//! Sample means, standard deviations and standard errors: the one definition
//! used by the study summaries, the truth samples and the inference summaries.
//!
//! # Algorithm
//! For values `x_1..x_n`: `x̄ = Σx/n`; the sample variance
//! `s² = Σ(x − x̄)²/(n − 1)`; the standard error of the mean `√(s²/n)`.

/// `Σx/n` (`None` for no values).
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// `Σ(x − mean)²/(n − 1)` (`None` for fewer than two values).
pub(crate) fn sample_variance(values: &[f64], mean: f64) -> Option<f64> {
    (values.len() >= 2).then(|| {
        values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (values.len() as f64 - 1.0)
    })
}

/// Sample standard deviation `s` (`None` for fewer than two values).
pub(crate) fn sample_sd(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    sample_variance(values, m).map(f64::sqrt)
}

/// The mean and its standard error `s/√n` (`None`s where undefined: no values;
/// fewer than two for the SE).
pub(crate) fn mean_and_se(values: &[f64]) -> (Option<f64>, Option<f64>) {
    match mean(values) {
        None => (None, None),
        Some(m) => (
            Some(m),
            sample_variance(values, m).map(|v| (v / values.len() as f64).sqrt()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_hand() {
        // 1, 2, 3, 6: mean 3, s² = 14/3, SE = √(14/12).
        let v = [1.0, 2.0, 3.0, 6.0];
        assert_eq!(mean(&v), Some(3.0));
        assert_eq!(sample_variance(&v, 3.0), Some(14.0 / 3.0));
        assert!((sample_sd(&v).unwrap() - (14.0f64 / 3.0).sqrt()).abs() < 1e-15);
        let (m, se) = mean_and_se(&v);
        assert_eq!(m, Some(3.0));
        assert!((se.unwrap() - (14.0f64 / 12.0).sqrt()).abs() < 1e-15);
        assert_eq!(mean_and_se(&[]), (None, None));
        assert_eq!(mean_and_se(&[2.5]), (Some(2.5), None));
    }
}
