//! Router configuration files: an estimator's options as TOML (the
//! `--config` file of `meta-router fit`, and each estimator entry of a study
//! file's `[[methods]]` list), read over a preset, validated, and every error
//! located by file, line and key path ([`locate`]).
//!
//! # Format
//! The keys of [`MetaRouterConfig`] (`method`, learners by stage, `folds`,
//! `propensity`, `clip`, …; defaults filled in), optionally over a `preset`
//! ([`METHOD_PRESETS`]) whose values the file's own keys override.
//!
//! # Example
//! ```
//! use meta_router_core::config_file::parse_router_config;
//! use meta_router_core::meta::Method;
//!
//! let config = parse_router_config("folds = 3\nlearner = { type = \"ridge\" }\n", "router.toml")
//!     .unwrap();
//! assert_eq!(config.method, Method::DrLearner); // the default method
//! assert_eq!(config.folds, 3);
//! let error = parse_router_config("folds = 1\n", "router.toml").unwrap_err();
//! assert!(error.to_string().starts_with("router.toml, line 1, key `folds`"), "{error}");
//! ```

pub mod locate;

use crate::error::{Error, Result};
use crate::meta::MetaRouterConfig;
use locate::{deserialize_located, render, Source};

/// Memory per byte of a configuration file while it is parsed (its text,
/// the TOML values, the spanned tree that locates errors); a reader refuses
/// a file whose parse would not fit the memory limit.
pub const PARSE_FACTOR: f64 = 64.0;

/// The estimator methods' names (a study file adds its references).
pub const ESTIMATOR_NAMES: &[&str] = &[
    "r-learner",
    "dr-learner",
    "gs-only",
    "pb-only",
    "pooled",
    "mean-shift",
];

/// Whether `name` is an estimator method ([`ESTIMATOR_NAMES`]).
pub(crate) fn is_estimator(name: &str) -> bool {
    ESTIMATOR_NAMES.contains(&name)
}

/// Presets of an estimator table (`preset = "…"`): their values are the
/// defaults the table's own keys override.
pub const METHOD_PRESETS: &[&str] = &["paper-script"];

/// `table` over the values of its `preset`, if it names one. `prefix` is the
/// table's key path in the file with a trailing dot (`methods[2].`, or empty).
pub(crate) fn with_preset(
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

/// An estimator table (a `[[methods]]` entry without `label`, or a router
/// configuration file) read over its preset and validated; errors name the
/// key under `prefix` (`methods[2].`, or empty).
pub fn parse_estimator(
    table: &toml::Table,
    prefix: &str,
    source: &Source,
) -> Result<MetaRouterConfig> {
    let key = |k: &str| format!("{prefix}{k}");
    let whole = prefix.trim_end_matches('.');
    let table = with_preset(table, prefix, source)?;
    let config: MetaRouterConfig =
        deserialize_located(&toml::Value::Table(table)).map_err(|(path, message)| {
            let inner = render(&path);
            let at = if inner.is_empty() {
                whole.to_string()
            } else {
                key(&inner)
            };
            source.error(&at, message)
        })?;
    for (role, learner) in config.learner_roles() {
        learner.validate().map_err(|e| match e {
            Error::InvalidParameter { ref name, .. } => {
                source.error(&key(&format!("{role}.{name}")), e.to_string())
            }
            other => source.error(&key(role), other.to_string()),
        })?;
    }
    config.validate().map_err(|e| match &e {
        Error::InvalidParameter { name, .. } => source.error(&key(name), e.to_string()),
        _ => source.error(whole, e.to_string()),
    })?;
    Ok(config)
}

/// Reads a router configuration (the `--config` file of `meta-router fit`):
/// the keys of one estimator entry of a study file's `[[methods]]` list
/// (`method`, `preset`, learners by stage, options; no `label`), with the
/// same defaults and validation. `method` defaults to `dr-learner` when
/// absent. Errors name `file`, the line and the key.
pub fn parse_router_config(text: &str, file: &str) -> Result<MetaRouterConfig> {
    let source = Source::new(file, text);
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| source.line_of(span.start));
        let first = e.message().lines().next().unwrap_or("").trim().to_string();
        source.error_on_line(line, format!("not valid TOML: {first}"))
    })?;
    parse_router_table(table, &source)
}

/// A router configuration given as a table rather than a file's text (the
/// settings of the Python package's `MetaRouter(...)`): the same keys,
/// defaults and validation as [`parse_router_config`]; errors name
/// `source.file` and the key (and the line, when `source` has a text).
pub fn parse_router_table(mut table: toml::Table, source: &Source) -> Result<MetaRouterConfig> {
    match table.get("method") {
        None => {
            table.insert("method".into(), toml::Value::String("dr-learner".into()));
        }
        Some(toml::Value::String(name)) if name == "r" || name == "dr" || is_estimator(name) => {}
        Some(other) => {
            return Err(source.error(
                "method",
                format!(
                    "a router's `method` is one of r-learner, dr-learner, gs-only, pb-only, \
                     pooled, mean-shift; found {other}"
                ),
            ))
        }
    }
    if table.contains_key("label") {
        return Err(source.error("label", "a router configuration takes no `label`"));
    }
    parse_estimator(&table, "", source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::Method;

    /// The one list of names: every name parses to the method that reports it.
    #[test]
    fn estimator_names_are_the_methods_names() {
        for name in ESTIMATOR_NAMES {
            let method: Method = toml::Value::String(name.to_string()).try_into().unwrap();
            assert_eq!(method.name(), *name);
        }
        assert_eq!(ESTIMATOR_NAMES.len(), 6);
    }

    /// A table without a text: the same defaults as a file, and errors that
    /// name the source and the key but no line.
    #[test]
    fn a_table_parses_like_the_file_it_would_be() {
        let text = "method = \"r\"\nfolds = 3\n";
        let from_text = parse_router_config(text, "router.toml").unwrap();
        let table: toml::Table = toml::from_str(text).unwrap();
        let from_table = parse_router_table(table, &Source::new("settings", "")).unwrap();
        assert_eq!(
            serde_json::to_string(&from_text).unwrap(),
            serde_json::to_string(&from_table).unwrap()
        );
        let empty = parse_router_table(toml::Table::new(), &Source::new("settings", "")).unwrap();
        assert_eq!(empty.method, Method::DrLearner);
        let mut bad = toml::Table::new();
        bad.insert("folds".into(), toml::Value::Integer(1));
        let error = parse_router_table(bad, &Source::new("settings", "")).unwrap_err();
        assert!(
            error.to_string().starts_with("settings, key `folds`: "),
            "{error}"
        );
    }
}
