//! Sweeps over method settings: one `[[methods]]` entry that runs as several
//! variants, one per value of a setting.
//!
//! ```toml
//! [[methods]]
//! label = "R"
//! method = "r-learner"
//! learner = { type = "ridge", basis = "poly2" }
//! bias_learner = { type = "ridge", basis = "linear" }
//! sweep = { pref_weight = [0.5, 1.0, 2.0], "bias_learner.penalty" = [0.1, 1.0] }
//! ```
//!
//! # Model
//! A sweep maps key paths of the entry's table (dotted for a learner's
//! settings: `"learner.penalty"`, `"bias_learner.min_weight_leaf"`) to lists
//! of values. The entry expands into the cartesian product of the lists:
//! keys in sorted order, the last varying fastest (as the scenario grid).
//! Each variant is the entry's table with those values set, validated
//! exactly as a hand-written method, and labelled `<label> <key>=<value>`
//! (several keys separated by spaces; strings bare, other values as TOML
//! writes them: `R pref_weight=0.5`). The entry's label names the variants'
//! family ([`MethodSpec::family`]) and each variant carries its setting
//! ([`MethodSpec::setting`]), which records, summaries and claims use like a
//! grid point's values. Every variant sees the same data and seeds as every
//! other method of the unit, so its numbers equal those of the equivalent
//! hand-written method.
//!
//! # Errors
//! A sweep that is not a table, an empty or non-list value, `label`,
//! `method` or `sweep` as a key, a key the method does not accept, or a
//! value it rejects is refused with the key `methods[i].sweep.<key>` (with
//! the element `[j]` when one value is at fault) and its line.

use std::collections::BTreeMap;

use super::locate::Source;
use super::{cartesian, parse_method, toml_to_json, MethodSpec};
use crate::error::{Error, Result};
use meta_router_core::Error as CoreError;

/// A variant's setting: a value per swept key, in sweep order.
type Setting = [(String, toml::Value)];

/// Keys a sweep cannot vary.
const FIXED_KEYS: &[&str] = &["label", "method", "sweep"];

/// How a variant's label shows a swept value: strings bare, other values as
/// TOML writes them (`0.5`, `1.0`, `3`, `true`).
pub(crate) fn value_label(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The label of the variant of family `family` with `setting` (keys in sweep
/// order): `R pref_weight=0.5 clip=0.01`.
pub(crate) fn variant_label(family: &str, setting: &[(String, toml::Value)]) -> String {
    let mut label = family.to_string();
    for (key, value) in setting {
        label.push(' ');
        label.push_str(key);
        label.push('=');
        label.push_str(&value_label(value));
    }
    label
}

/// Sets the dotted key path `path` of `table` to `value`, creating missing
/// intermediate tables.
fn set_path(
    table: &mut toml::Table,
    path: &str,
    value: toml::Value,
) -> std::result::Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "`{path}` is not a key path (keys separated by single dots)"
        ));
    }
    let (last, parents) = parts.split_last().expect("split yields at least one part");
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            other => {
                return Err(format!(
                    "`{part}` is {}, not a table, so `{path}` cannot be set",
                    other.type_str()
                ))
            }
        };
    }
    current.insert(last.to_string(), value);
    Ok(())
}

/// The message of a validation error of a variant (its key relative to the
/// entry, then the message), without the file and line of the entry.
fn inner_message(error: Error, index: usize) -> String {
    match error {
        Error::Core(CoreError::Config {
            key: Some(key),
            message,
            ..
        }) => {
            let prefix = format!("methods[{index}]");
            let relative = key
                .strip_prefix(&prefix)
                .map(|k| k.trim_start_matches('.'))
                .unwrap_or(&key);
            if relative.is_empty() {
                message
            } else {
                format!("`{relative}`: {message}")
            }
        }
        Error::Core(CoreError::Config { message, .. }) => message,
        other => other.to_string(),
    }
}
/// The methods of `[[methods]]` entry `index`: the method itself, or the
/// variants of its `sweep` in sweep order.
pub(super) fn expand_method(
    table: &toml::Table,
    index: usize,
    source: &Source,
) -> Result<Vec<MethodSpec>> {
    let Some(sweep) = table.get("sweep") else {
        return Ok(vec![parse_method(table, index, source)?]);
    };
    let at = format!("methods[{index}].sweep");
    let toml::Value::Table(sweep) = sweep else {
        return Err(source.error(
            &at,
            "`sweep` must be a table of setting = [values], e.g. sweep = { clip = [0.01, 0.05] }",
        ).into());
    };
    if sweep.is_empty() {
        return Err(source
            .error(&at, "a sweep needs at least one setting")
            .into());
    }
    let mut base = table.clone();
    base.remove("sweep");
    let lists = sweep_lists(sweep, &base, &at, source)?;
    let with = |setting: &[(String, toml::Value)]| -> toml::Table {
        let mut variant = base.clone();
        for (key, value) in setting {
            set_path(&mut variant, key, value.clone()).expect("checked on the first value");
        }
        variant
    };
    check_each_value(&lists, &with, index, source)?;
    let mut variants = Vec::new();
    for setting in cartesian(&lists) {
        let mut method = parse_method(&with(&setting), index, source).map_err(|e| {
            let label = variant_label("", &setting);
            source.error(
                &at,
                format!(
                    "the variant{label} is not valid: {}",
                    inner_message(e, index)
                ),
            )
        })?;
        method.label = variant_label(&method.family, &setting);
        method.setting = setting
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v)))
            .collect();
        variants.push(method);
    }
    Ok(variants)
}

/// The lists of a sweep table (at key `at`) by key: every key settable on
/// the entry `base` and not fixed, every list non-empty without repeats or
/// control characters in its labels, and at most
/// `MAX_METHODS` variants in the product.
fn sweep_lists(
    sweep: &toml::Table,
    base: &toml::Table,
    at: &str,
    source: &Source,
) -> Result<BTreeMap<String, Vec<toml::Value>>> {
    let key_at = |key: &str| format!("{at}.{key}");
    let mut lists: BTreeMap<String, Vec<toml::Value>> = BTreeMap::new();
    for (key, values) in sweep {
        if FIXED_KEYS.contains(&key.as_str()) {
            return Err(source
                .error(
                    &key_at(key),
                    format!("`{key}` cannot be swept (a sweep varies a method's settings)"),
                )
                .into());
        }
        let toml::Value::Array(values) = values else {
            return Err(source
                .error(
                    &key_at(key),
                    format!(
                        "a swept setting needs a list of values, e.g. {key} = [a, b]; found {}",
                        values.type_str()
                    ),
                )
                .into());
        };
        if values.is_empty() {
            return Err(source
                .error(&key_at(key), "a swept setting needs at least one value")
                .into());
        }
        for (j, value) in values.iter().enumerate() {
            if let Some(first) = values[..j].iter().position(|v| v == value) {
                return Err(source
                    .error(
                        &format!("{}[{j}]", key_at(key)),
                        format!("the value {value} repeats element {first}"),
                    )
                    .into());
            }
            if value_label(value).chars().any(char::is_control) {
                return Err(source
                    .error(
                        &format!("{}[{j}]", key_at(key)),
                        "a swept value labels its variant and cannot hold control characters",
                    )
                    .into());
            }
        }
        let mut probe = base.clone();
        set_path(&mut probe, key, values[0].clone())
            .map_err(|message| source.error(&key_at(key), message))?;
        lists.insert(key.clone(), values.clone());
    }
    let count = lists
        .values()
        .try_fold(1usize, |n, v| n.checked_mul(v.len()))
        .filter(|&n| n <= super::check::MAX_METHODS);
    if count.is_none() {
        return Err(source
            .error(
                at,
                format!(
                    "the sweep has more than {} variants",
                    super::check::MAX_METHODS
                ),
            )
            .into());
    }
    Ok(lists)
}

/// Validates each swept value on its own (the other settings at their first
/// values, `with` building the variant's table), so that an error names the
/// key and the element at fault — or the key alone when no value is
/// accepted for the same reason.
fn check_each_value(
    lists: &BTreeMap<String, Vec<toml::Value>>,
    with: &dyn Fn(&Setting) -> toml::Table,
    index: usize,
    source: &Source,
) -> Result<()> {
    let key_at = |key: &str| format!("methods[{index}].sweep.{key}");
    let first: Vec<(String, toml::Value)> = lists
        .iter()
        .map(|(k, values)| (k.clone(), values[0].clone()))
        .collect();
    for (position, (key, values)) in lists.iter().enumerate() {
        let mut failures = Vec::new();
        for (j, value) in values.iter().enumerate() {
            let mut setting = first.clone();
            setting[position].1 = value.clone();
            if let Err(e) = parse_method(&with(&setting), index, source) {
                failures.push((j, value, inner_message(e, index)));
            }
        }
        if let Some((j, value, message)) = failures.first() {
            let every_value_same =
                failures.len() == values.len() && failures.iter().all(|f| f.2 == *message);
            let (key_path, message) = if every_value_same && values.len() > 1 {
                (
                    key_at(key),
                    format!("no value of `{key}` is accepted: {message}"),
                )
            } else if values.len() == 1 {
                (key_at(key), format!("{key} = {value}: {message}"))
            } else {
                (
                    format!("{}[{j}]", key_at(key)),
                    format!("{key} = {value}: {message}"),
                )
            };
            return Err(source.error(&key_path, message).into());
        }
    }
    Ok(())
}
