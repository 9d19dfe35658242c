//! `meta-router fit`, `route`, `evaluate`, `scenarios export`,
//! `scenarios calibrate` and `scenarios check`: the
//! real-data commands, one file each. Every input is read and validated, and
//! every result computed, before the first output file is written.

mod calibrate;
mod evaluate;
mod export;
mod fit;
mod pilot_check;
mod route;

use std::path::Path;

use anyhow::{bail, Result};

pub use calibrate::{calibrate, CalibrateArgs};
pub(crate) use calibrate::{calibrate_tables, parse_rule};
pub use evaluate::{evaluate_command, EvaluateArgs};
pub use export::{export, ExportArgs};
pub(crate) use fit::{config_key, router_config, PilotTableArgs};
pub use fit::{fit, FitArgs};
pub(crate) use pilot_check::{check_plan, CheckSettings, PlanStudy};
pub use pilot_check::{pilot_check_command, PilotCheckArgs};
pub use route::{route, RouteArgs};

/// `lo,hi` as a pair of finite numbers with `lo <= hi`.
pub fn parse_pair(text: &str) -> std::result::Result<(f64, f64), String> {
    let (a, b) = text
        .split_once(',')
        .ok_or_else(|| format!("expected two numbers `a,b`, found `{text}`"))?;
    let number = |s: &str| -> std::result::Result<f64, String> {
        match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("`{}` is not a finite number", s.trim())),
        }
    };
    Ok((number(a)?, number(b)?))
}

/// A comma-separated list of finite numbers.
pub fn parse_list(text: &str) -> std::result::Result<Vec<f64>, String> {
    text.split(',')
        .map(|s| match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("`{}` is not a finite number", s.trim())),
        })
        .collect()
}

/// Refuses to replace an existing `path` unless `force`.
pub(crate) fn refuse_existing(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        bail!("{} exists; pass --force to replace it", path.display());
    }
    Ok(())
}

pub(crate) use meta_router::report::csv_field;
