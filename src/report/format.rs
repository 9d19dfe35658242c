//! Number formatting for reports: fixed significant digits, `—` for missing.

/// The placeholder printed for a missing or non-finite value.
pub(crate) const MISSING: &str = "—";

/// Formats `x` with `digits` significant digits (at least 1): plain decimals
/// for magnitudes in `[1e-4, 1e5)`, scientific notation (`1.234e-5`) outside;
/// zero (also `-0`) prints as `0`, and NaN or ±∞ as `—`.
///
/// ```
/// use meta_router::report::format_significant;
/// assert_eq!(format_significant(0.0123456, 4), "0.01235");
/// assert_eq!(format_significant(1234.56, 2), "1200");
/// assert_eq!(format_significant(-2.5e-7, 3), "-2.50e-7");
/// assert_eq!(format_significant(f64::NAN, 4), "—");
/// ```
pub fn format_significant(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return MISSING.to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let digits = digits.max(1);
    // Round to `digits` significant digits first, so that e.g. 0.99996 is
    // classified by the magnitude it will print with (1.000).
    let rounded: f64 = format!("{:.*e}", digits - 1, x).parse().unwrap_or(x);
    let exponent = rounded.abs().log10().floor() as i32;
    if (-4..5).contains(&exponent) {
        let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
        if decimals == 0 {
            // Integer part only: round the value itself to the digits kept.
            let scale = 10f64.powi(exponent + 1 - digits as i32);
            format!("{:.0}", (rounded / scale).round() * scale)
        } else {
            format!("{rounded:.decimals$}")
        }
    } else {
        format!("{:.*e}", digits - 1, rounded)
    }
}

/// Formats a grid coordinate (ρ, w, tick values) with up to `digits`
/// significant digits and no trailing zeros: `0.25`, `1`, `1.5e-5`.
pub(crate) fn format_coordinate(x: f64, digits: usize) -> String {
    let text = format_significant(x, digits);
    if text.contains('.') && !text.contains('e') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Formats an optional value with 4 significant digits (`—` when missing).
///
/// ```
/// use meta_router::report::format_number;
/// assert_eq!(format_number(Some(3.14159)), "3.142");
/// assert_eq!(format_number(None), "—");
/// ```
pub fn format_number(x: Option<f64>) -> String {
    match x {
        Some(v) => format_significant(v, 4),
        None => MISSING.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(format_significant(1.0, 4), "1.000");
        assert_eq!(format_significant(0.99996, 4), "1.000");
        assert_eq!(format_significant(-0.0, 4), "0");
        assert_eq!(format_significant(12346.0, 4), "12350");
        assert_eq!(format_significant(123456.0, 4), "1.235e5");
        assert_eq!(format_significant(0.001234, 4), "0.001234");
        assert_eq!(format_significant(0.0001234, 4), "0.0001234");
        assert_eq!(format_significant(0.00001234, 4), "1.234e-5");
        assert_eq!(format_significant(-0.5, 2), "-0.50");
        assert_eq!(format_significant(f64::INFINITY, 4), "—");
        assert_eq!(format_significant(7.0, 0), "7");
        assert_eq!(format_coordinate(0.25, 4), "0.25");
        assert_eq!(format_coordinate(1.0, 4), "1");
        assert_eq!(format_coordinate(0.30000000000000004, 3), "0.3");
        assert_eq!(format_coordinate(1500.0, 4), "1500");
    }
}
