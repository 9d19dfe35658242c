//! `[[methods]]` entries: each entry's method (an estimator, over its
//! preset, or a reference: `oracle`, `random`, `all-gold`) with its label,
//! and the expansion of every entry (sweeps included) into the study's
//! uniquely labelled methods.

use std::collections::BTreeMap;

use super::locate::{deserialize_located, render, Source};
use super::{parse_estimator, MethodKind, MethodSpec, METHOD_NAMES};
use crate::error::Result;
use crate::learners::LearnerConfig;
use crate::meta::MetaRouterConfig;
use meta_router_core::Error as CoreError;

/// Presets of an estimator table (`preset = "…"`): their values are the
/// defaults the table's own keys override.
pub const METHOD_PRESETS: &[&str] = &["paper-script"];

/// `table` over the values of its `preset`, if it names one. `prefix` is the
/// table's key path in the file with a trailing dot (`methods[2].`, or empty).
pub(super) fn with_preset(
    table: &toml::Table,
    prefix: &str,
    source: &Source,
) -> Result<toml::Table> {
    let key = format!("{prefix}preset");
    let Some(preset) = table.get("preset") else {
        return Ok(table.clone());
    };
    let method: crate::meta::Method = table
        .get("method")
        .cloned()
        .and_then(|m| m.try_into().ok())
        .ok_or_else(|| {
            source.error(
                &format!("{prefix}method"),
                "a preset needs an estimator method",
            )
        })?;
    let base = match preset.as_str() {
        Some("paper-script") => MetaRouterConfig::paper_script(method),
        _ => {
            return Err(source.error(
                &key,
                format!(
                    "unknown preset {preset} (known: {})",
                    METHOD_PRESETS.join(", ")
                ),
            ))
        }
    };
    let mut merged = match toml::Value::try_from(&base) {
        Ok(toml::Value::Table(t)) => t,
        _ => unreachable!("an estimator configuration serializes to a table"),
    };
    for (k, v) in table {
        if k != "preset" {
            merged.insert(k.clone(), v.clone());
        }
    }
    Ok(merged)
}

/// Whether `name` is an estimator (a learner-based method, not a reference).
pub(super) fn is_estimator(name: &str) -> bool {
    METHOD_NAMES.contains(&name) && !matches!(name, "oracle" | "random" | "all-gold")
}

/// Parses `[[methods]]` entry `index` (one variant of a sweep): its method
/// name and label, the keys the method allows, and the estimator
/// configuration or reference it names.
pub(crate) fn parse_method(
    table: &toml::Table,
    index: usize,
    source: &Source,
) -> Result<MethodSpec> {
    let key = |k: &str| format!("methods[{index}].{k}");
    let (name, label) = name_and_label(table, index, source)?;
    let mut rest = table.clone();
    rest.remove("label");
    let only = |allowed: &[&str]| -> Result<()> {
        match rest.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(source.error(
                &key(k),
                format!(
                    "method `{name}` takes no key `{k}` (allowed: label, {})",
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    };
    let kind = match name.as_str() {
        "oracle" => {
            only(&["method"])?;
            MethodKind::Oracle
        }
        "random" => {
            only(&["method"])?;
            MethodKind::Random
        }
        "all-gold" => {
            only(&["method", "learner"])?;
            MethodKind::AllGold(all_gold_learner(&rest, index, source)?)
        }
        other if METHOD_NAMES.contains(&other) || other == "r" || other == "dr" => {
            let config = parse_estimator(&rest, &format!("methods[{index}]."), source)?;
            MethodKind::Estimator(Box::new(config))
        }
        other => {
            return Err(source.error(
                &key("method"),
                format!(
                    "unknown method `{other}` (known: {})",
                    METHOD_NAMES.join(", ")
                ),
            ))
        }
    };
    Ok(MethodSpec {
        family: label.clone(),
        label,
        kind,
        entry: index,
        setting: BTreeMap::new(),
    })
}

/// An entry's `method` (required, a string) and `label` (non-empty, no
/// control characters; defaults to the method's name).
fn name_and_label(table: &toml::Table, index: usize, source: &Source) -> Result<(String, String)> {
    let key = |k: &str| format!("methods[{index}].{k}");
    let name = match table.get("method") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(_) => return Err(source.error(&key("method"), "`method` must be a string")),
        None => {
            return Err(source.error(
                &key("method"),
                format!("missing `method` (one of: {})", METHOD_NAMES.join(", ")),
            ))
        }
    };
    let label = match table.get("label") {
        Some(toml::Value::String(s)) if !s.is_empty() && !s.chars().any(char::is_control) => {
            s.clone()
        }
        Some(_) => {
            return Err(source.error(
                &key("label"),
                "`label` must be a non-empty string without control characters",
            ))
        }
        None => name.clone(),
    };
    Ok((name, label))
}

/// The outcome learner of an `all-gold` entry (default when absent), read
/// and validated; errors name `methods[i].learner.<key>`.
fn all_gold_learner(rest: &toml::Table, index: usize, source: &Source) -> Result<LearnerConfig> {
    let key = |k: &str| format!("methods[{index}].{k}");
    let learner_error = |role: &str, e: CoreError| match e {
        CoreError::InvalidParameter { ref name, .. } => {
            source.error(&key(&format!("{role}.{name}")), e.to_string())
        }
        other => source.error(&key(role), other.to_string()),
    };
    let learner: LearnerConfig = match rest.get("learner") {
        Some(value) => deserialize_located(value).map_err(|(path, message)| {
            let inner = render(&path);
            let at = if inner.is_empty() {
                key("learner")
            } else {
                key(&format!("learner.{inner}"))
            };
            source.error(&at, message)
        })?,
        None => LearnerConfig::default(),
    };
    learner
        .validate()
        .map_err(|e| learner_error("learner", e))?;
    Ok(learner)
}

/// Every `[[methods]]` entry expanded (sweeps into their variants), in entry
/// order: labels must be unique, and a swept entry's label (its family) may
/// not be another entry's label or family; at most `MAX_METHODS` methods.
pub(super) fn expand_methods(tables: &[toml::Table], source: &Source) -> Result<Vec<MethodSpec>> {
    let mut methods: Vec<MethodSpec> = Vec::with_capacity(tables.len());
    for (i, table) in tables.iter().enumerate() {
        let variants = super::sweep::expand_method(table, i, source)?;
        let swept = table.contains_key("sweep");
        let family = variants[0].family.clone();
        let at = if swept { "sweep" } else { "label" };
        for method in variants {
            let clash = methods.iter().find(|m| {
                m.label == method.label
                    || (m.entry != i && (m.family == family || m.label == family))
            });
            if let Some(other) = clash {
                let message = if !swept && other.setting.is_empty() {
                    format!("duplicate method label `{}`", method.label)
                } else {
                    format!(
                        "the label `{}` clashes with methods[{}] (`{}`): a swept entry's \
                         label names its family of variants, and every label is unique",
                        method.label, other.entry, other.label
                    )
                };
                return Err(source.error(&format!("methods[{i}].{at}"), message));
            }
            methods.push(method);
        }
        if methods.len() > super::check::MAX_METHODS {
            return Err(source.error(
                &format!("methods[{i}]"),
                format!(
                    "the study has more than {} methods once its sweeps are expanded",
                    super::check::MAX_METHODS
                ),
            ));
        }
    }
    Ok(methods)
}
