//! What a claim points at: the variant of a swept method its `setting`
//! selects, the position of a curve metric on the ρ or w grid, and the grid
//! points its `grid` selector matches.

use std::collections::{BTreeMap, BTreeSet};

use super::super::evaluation::EvaluationSpec;
use super::super::locate::Source;
use super::super::{toml_to_json, MethodSpec};
use super::{Context, RawClaim};
use crate::error::Result;
use crate::study::record::MetricAxis;

/// The error of a `setting` for `family` when no method of that label is
/// swept (naming the swept ones).
fn no_sweep(family: &str, cx: &Context, source: &Source, at: &str) -> crate::error::Error {
    let families: BTreeSet<&str> = cx
        .methods
        .iter()
        .filter(|m| !m.setting.is_empty())
        .map(|m| m.family.as_str())
        .collect();
    source
        .error(
            at,
            format!(
                "`setting` selects a variant of a swept method, and no `[[methods]]` entry \
             labelled `{family}` has a sweep (swept: {})",
                if families.is_empty() {
                    "none".to_string()
                } else {
                    families.into_iter().collect::<Vec<_>>().join(", ")
                }
            ),
        )
        .into()
}

/// The label of the variant of swept family `family` whose setting is
/// `setting` (a value for every swept key of the family).
pub(super) fn select_variant(
    family: &str,
    setting: &toml::Table,
    cx: &Context,
    source: &Source,
    index: usize,
) -> Result<String> {
    let key = |k: &str| format!("expect[{index}].{k}");
    let variants: Vec<&MethodSpec> = cx
        .methods
        .iter()
        .filter(|m| m.family == family && !m.setting.is_empty())
        .collect();
    let Some(first) = variants.first() else {
        return Err(no_sweep(family, cx, source, &key("method")));
    };
    let swept: Vec<&str> = first.setting.keys().map(String::as_str).collect();
    let mut wanted = BTreeMap::new();
    for (k, value) in setting {
        if !first.setting.contains_key(k) {
            return Err(source
                .error(
                    &key(&format!("setting.{k}")),
                    format!("`{family}` sweeps {}, not `{k}`", swept.join(", ")),
                )
                .into());
        }
        let value = toml_to_json(value);
        if !variants.iter().any(|m| m.setting.get(k) == Some(&value)) {
            let values: BTreeSet<String> = variants
                .iter()
                .filter_map(|m| m.setting.get(k).map(|v| v.to_string()))
                .collect();
            return Err(source
                .error(
                    &key(&format!("setting.{k}")),
                    format!(
                        "{k} = {value} is not a swept value of `{family}` (values: {})",
                        values.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                )
                .into());
        }
        wanted.insert(k.clone(), value);
    }
    if let Some(missing) = swept.iter().find(|k| !wanted.contains_key(**k)) {
        return Err(source
            .error(
                &key("setting"),
                format!(
                "`{family}` sweeps {}; the setting needs a value for each (missing `{missing}`)",
                swept.join(", ")
            ),
            )
            .into());
    }
    variants
        .iter()
        .find(|m| m.setting == wanted)
        .map(|m| m.label.clone())
        .ok_or_else(|| {
            source
                .error(&key("setting"), "no variant has this setting")
                .into()
        })
}

/// The position of a curve metric from `rho = …` or `w = …`.
pub(super) fn check_position(
    raw: &RawClaim,
    axis: MetricAxis,
    evaluation: &EvaluationSpec,
    source: &Source,
    index: usize,
) -> Result<Option<(usize, f64)>> {
    let key = |k: &str| format!("expect[{index}].{k}");
    let (wanted, grid, name, other) = match axis {
        MetricAxis::Scalar => {
            for (given, name) in [(raw.rho, "rho"), (raw.w, "w")] {
                if given.is_some() {
                    return Err(source
                        .error(
                            &key(name),
                            format!("`{}` is a scalar metric; remove `{name}`", raw.metric),
                        )
                        .into());
                }
            }
            return Ok(None);
        }
        MetricAxis::Rho => (raw.rho, &evaluation.rho, "rho", ("w", raw.w)),
        MetricAxis::W => (raw.w, &evaluation.w, "w", ("rho", raw.rho)),
    };
    if other.1.is_some() {
        return Err(source
            .error(
                &key(other.0),
                format!(
                    "`{}` runs over the {name} grid; use `{name} = …`",
                    raw.metric
                ),
            )
            .into());
    }
    let grid_text = grid
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let Some(x) = wanted else {
        return Err(source
            .error(
                &format!("expect[{index}]"),
                format!(
                    "`{}` is a curve: name its position with `{name} = …` (one of {grid_text})",
                    raw.metric
                ),
            )
            .into());
    };
    match grid
        .iter()
        .position(|&g| (g - x).abs() <= 1e-9 * g.abs().max(1.0))
    {
        Some(i) => Ok(Some((i, grid[i]))),
        None => Err(source
            .error(
                &key(name),
                format!("{x} is not on the {name} grid ({grid_text})"),
            )
            .into()),
    }
}

/// Whether two grid values are equal (numbers by value: `100` = `100.0`).
fn same_value(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The grid points a claim's `grid` selector matches (every point when empty).
pub(super) fn select_points(
    selector: &toml::Table,
    cx: &Context,
    source: &Source,
    index: usize,
) -> Result<Vec<BTreeMap<String, serde_json::Value>>> {
    let names: Vec<&str> = cx.grid.keys().map(String::as_str).collect();
    for (name, value) in selector {
        let at = format!("expect[{index}].grid.{name}");
        let Some(values) = cx.grid.get(name) else {
            return Err(source
                .error(
                    &at,
                    if names.is_empty() {
                        format!("`{name}` is not a grid parameter (the study has no [grid])")
                    } else {
                        format!(
                            "`{name}` is not a grid parameter (grid parameters: {})",
                            names.join(", ")
                        )
                    },
                )
                .into());
        };
        let wanted = toml_to_json(value);
        if !values.iter().any(|v| same_value(&toml_to_json(v), &wanted)) {
            let listed: Vec<String> = values.iter().map(|v| toml_to_json(v).to_string()).collect();
            return Err(source
                .error(
                    &at,
                    format!(
                        "no grid point has {name} = {wanted} (values: {})",
                        listed.join(", ")
                    ),
                )
                .into());
        }
    }
    Ok(cx
        .points
        .iter()
        .filter(|p| {
            selector.iter().all(|(name, value)| {
                p.values
                    .get(name)
                    .is_some_and(|v| same_value(v, &toml_to_json(value)))
            })
        })
        .map(|p| p.values.clone())
        .collect())
}
