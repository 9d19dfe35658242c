//! `[[methods]]` entries: each entry's method (an estimator, over its
//! preset, or a reference: `oracle`, `random`, `all-gold`) with its label,
//! and the expansion of every entry (sweeps included) into the study's
//! uniquely labelled methods.

use std::collections::BTreeMap;

use super::locate::{deserialize_located, render, Source};
use super::{method_names, MethodKind, MethodSpec};
use crate::error::Result;
use crate::learners::LearnerConfig;
use meta_router_core::config_file::parse_estimator;
use meta_router_core::Error as CoreError;

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
            Some(k) => Err(source
                .error(
                    &key(k),
                    format!(
                        "method `{name}` takes no key `{k}` (allowed: label, {})",
                        allowed.join(", ")
                    ),
                )
                .into()),
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
        other if method_names().contains(&other) || other == "r" || other == "dr" => {
            let config = parse_estimator(&rest, &format!("methods[{index}]."), source)?;
            MethodKind::Estimator(Box::new(config))
        }
        other => {
            return Err(source
                .error(
                    &key("method"),
                    format!(
                        "unknown method `{other}` (known: {})",
                        method_names().join(", ")
                    ),
                )
                .into())
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
        Some(_) => {
            return Err(source
                .error(&key("method"), "`method` must be a string")
                .into())
        }
        None => {
            return Err(source
                .error(
                    &key("method"),
                    format!("missing `method` (one of: {})", method_names().join(", ")),
                )
                .into())
        }
    };
    let label = match table.get("label") {
        Some(toml::Value::String(s)) if !s.is_empty() && !s.chars().any(char::is_control) => {
            s.clone()
        }
        Some(_) => {
            return Err(source
                .error(
                    &key("label"),
                    "`label` must be a non-empty string without control characters",
                )
                .into())
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
                return Err(source.error(&format!("methods[{i}].{at}"), message).into());
            }
            methods.push(method);
        }
        if methods.len() > super::check::MAX_METHODS {
            return Err(source
                .error(
                    &format!("methods[{i}]"),
                    format!(
                        "the study has more than {} methods once its sweeps are expanded",
                        super::check::MAX_METHODS
                    ),
                )
                .into());
        }
    }
    Ok(methods)
}
