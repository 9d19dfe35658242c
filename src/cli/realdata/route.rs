//! `meta-router route`: send queries to a model by a router file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use meta_router::error::excerpt;
use meta_router::files::{self, Existing};
use meta_router::realdata::{self, model_file, multi, read_table, roles_for_router, Table};
use meta_router_core::checks::MAX_MAGNITUDE;
use ndarray::Array2;

use super::{csv_field, parse_pair, refuse_existing};

/// Options of `meta-router route`.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// The router file written by `fit`.
    #[arg(long)]
    model: PathBuf,
    /// Queries (CSV) with the router's feature columns (found by name; other
    /// columns are ignored).
    #[arg(long)]
    queries: PathBuf,
    /// Cost weight w: a query goes to the primary model iff ψ̂ > w·(C_p − C_a).
    #[arg(long)]
    cost_weight: f64,
    /// Per-query costs `C_p,C_a` of the primary and alternative model
    /// (default 1,0; two-model routers).
    #[arg(long, value_parser = parse_pair)]
    cost: Option<(f64, f64)>,
    /// Many-model routers: a constant cost per model, `name=value,…`
    /// (the reference included).
    #[arg(long, value_delimiter = ',')]
    costs: Vec<String>,
    /// Many-model routers: per-query costs from columns of the queries file,
    /// `name=column,…`. Every model needs a cost from `--costs` or here.
    #[arg(long, value_delimiter = ',')]
    cost_columns: Vec<String>,
    /// A column copied to the output to identify queries (default: the data
    /// row number, 1 for the first row after the header).
    #[arg(long)]
    id: Option<String>,
    /// Output CSV (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Truncated routers (`truncate` in the fit's config): how queries
    /// outside the overlap region are routed: `router` (by ψ̂, the default),
    /// `primary` or `alternative` (always). The output then has an
    /// `in_overlap` column (1 inside, 0 outside).
    #[arg(long, default_value = "router", value_parser = realdata::OutsideRoute::parse)]
    outside: realdata::OutsideRoute,
    /// Replace an existing output file.
    #[arg(long)]
    force: bool,
}

/// `meta-router route`.
pub fn route(args: RouteArgs) -> Result<()> {
    if let Some(out) = &args.out {
        refuse_existing(out, args.force)?;
    }
    let text = model_file::read_text(&args.model)?;
    if multi::is_multi(&text) {
        route_models(&args, &text)
    } else {
        route_two(&args, &text)
    }
}

/// `route` with a two-model router: ψ̂ (and Δ̂) and the decision per query.
fn route_two(args: &RouteArgs, text: &str) -> Result<()> {
    if !args.costs.is_empty() || !args.cost_columns.is_empty() {
        bail!("--costs and --cost-columns are for many-model routers; {} is a two-model router (use --cost Cp,Ca)", args.model.display());
    }
    let cost = args.cost.unwrap_or((1.0, 0.0));
    let (file, router) = model_file::parse(text, &args.model.display().to_string())?;
    let queries = read_table(
        &args.queries,
        &roles_for_router(&file.features, None, Vec::new(), args.id.clone()),
    )?;
    if router.overlap().is_none() && args.outside != realdata::OutsideRoute::Router {
        bail!(
            "--outside is for truncated routers; {} has no overlap region (fit with truncate = \"crump\" or a threshold)",
            args.model.display()
        );
    }
    realdata::estimate_route(queries.rows(), 2, text.len() as u64).check()?;
    let routed =
        realdata::route_table_outside(&router, &queries, args.cost_weight, cost, args.outside)
            .or_else(|e| {
                // Name the router and the query when its scores are not finite.
                let model_name = args.model.display().to_string();
                realdata::check_scores(
                    &router.predict_psi(queries.x.view()),
                    &model_name,
                    &queries,
                )?;
                Err(e)
            })?;
    emit(args, &routed_csv(args, &queries, &routed))?;
    if let Some(inside) = &routed.in_overlap {
        let outside = inside.iter().filter(|&&k| !k).count();
        eprintln!(
            "{outside} of {} queries lie outside the router's overlap region (routed: {})",
            inside.len(),
            match args.outside {
                realdata::OutsideRoute::Router => "by ψ̂, Δ̂ extrapolated from the region",
                realdata::OutsideRoute::Primary => "to the primary model",
                realdata::OutsideRoute::Alternative => "to the alternative model",
            }
        );
    }
    eprintln!(
        "routed {} of {} queries to the primary model (usage ratio {:.4}) at w = {}, costs {},{}",
        routed.primary.iter().filter(|&&p| p).count(),
        routed.primary.len(),
        routed.usage_ratio(),
        args.cost_weight,
        cost.0,
        cost.1
    );
    Ok(())
}

/// Splits `name=value` items of `flag`.
pub(super) fn named_items<'a>(items: &'a [String], flag: &str) -> Result<Vec<(&'a str, &'a str)>> {
    items
        .iter()
        .map(|item| {
            item.split_once('=')
                .map(|(n, v)| (n.trim(), v.trim()))
                .filter(|(n, v)| !n.is_empty() && !v.is_empty())
                .ok_or_else(|| anyhow::anyhow!("--{flag} {item}: expected name=value"))
        })
        .collect()
}

/// `route` with a many-model router: every ψ̂_k and the chosen model per query.
fn route_models(args: &RouteArgs, text: &str) -> Result<()> {
    if args.cost.is_some() {
        bail!("--cost is for two-model routers; {} routes among several models: give --costs name=value,… or --cost-columns name=column,…", args.model.display());
    }
    let loaded = multi::parse_models(text, &args.model.display().to_string())?;
    let names = loaded.names();
    let constants = named_items(&args.costs, "costs")?;
    let columns = named_items(&args.cost_columns, "cost-columns")?;
    check_cost_names(&names, &constants, &columns, &args.model)?;
    let queries = read_table(
        &args.queries,
        &roles_for_router(
            &loaded.file.features,
            None,
            columns.iter().map(|(_, c)| c.to_string()).collect(),
            args.id.clone(),
        ),
    )?;
    realdata::estimate_route(queries.rows(), names.len(), text.len() as u64).check()?;
    let costs = cost_matrix(&names, &constants, &columns, &queries)?;
    let routed = multi::route_models(
        &loaded.fitted,
        queries.x.view(),
        costs.view(),
        args.cost_weight,
    )
    .or_else(|e| {
        // Name the router and the query when a model's scores are not finite.
        let model_name = args.model.display().to_string();
        for router in loaded.fitted.routers() {
            realdata::check_scores(&router.predict_psi(queries.x.view()), &model_name, &queries)?;
        }
        Err(e)
    })?;
    let mut text = csv_field(args.id.as_deref().unwrap_or("row"));
    for name in &names[1..] {
        text.push_str(&format!(",{}", csv_field(&format!("psi_hat_{name}"))));
    }
    text.push_str(",route\n");
    for (i, &k) in routed.chosen.iter().enumerate() {
        let id = query_id(&queries, i);
        text.push_str(&id);
        for m in 1..names.len() {
            text.push_str(&format!(",{}", routed.psi_hat[[i, m]]));
        }
        text.push_str(&format!(",{}\n", csv_field(&names[k])));
    }
    emit(args, &text)?;
    let shares: Vec<String> = names
        .iter()
        .zip(routed.shares())
        .map(|(n, s)| format!("{n} {s:.4}"))
        .collect();
    eprintln!(
        "routed {} queries at w = {}: {}",
        routed.chosen.len(),
        args.cost_weight,
        shares.join(", ")
    );
    Ok(())
}

/// Refuses a cost given twice or for a model the router file does not name,
/// and a model without a cost.
pub(super) fn check_cost_names(
    names: &[String],
    constants: &[(&str, &str)],
    columns: &[(&str, &str)],
    model: &Path,
) -> Result<()> {
    for (i, (name, _)) in constants.iter().chain(columns).enumerate() {
        if constants
            .iter()
            .chain(columns)
            .take(i)
            .any(|(n, _)| n == name)
        {
            bail!("model `{name}` is given a cost twice (--costs and --cost-columns name each model once)");
        }
        if !names.iter().any(|n| n == name) {
            bail!(
                "no model `{name}` in {} (models: {})",
                model.display(),
                names.join(", ")
            );
        }
    }
    if let Some(name) = names
        .iter()
        .find(|n| !constants.iter().chain(columns).any(|(m, _)| m == n))
    {
        bail!("model `{name}` has no cost: give it in --costs name=value or --cost-columns name=column");
    }
    Ok(())
}

/// The `queries × models` cost matrix: model `k`'s constant from `--costs`
/// or its column of the queries file from `--cost-columns` (each model
/// exactly one; costs finite and `≥ 0`).
pub(super) fn cost_matrix(
    names: &[String],
    constants: &[(&str, &str)],
    columns: &[(&str, &str)],
    queries: &Table,
) -> Result<Array2<f64>> {
    let mut costs = Array2::zeros((queries.rows(), names.len()));
    for (k, name) in names.iter().enumerate() {
        let constant = constants.iter().find(|(n, _)| n == name);
        let column = columns.iter().find(|(n, _)| n == name);
        match (constant, column) {
            (Some((_, value)), None) => {
                let value: f64 = value
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v >= 0.0 && *v <= MAX_MAGNITUDE)
                    .with_context(|| format!("--costs {name}={value}: a cost must be a finite number from 0 to {MAX_MAGNITUDE:e}"))?;
                costs.column_mut(k).fill(value);
            }
            (None, Some((_, col))) => {
                let values = &queries.extra[*col];
                if let Some((row, v)) = values.iter().enumerate().find(|(_, v)| **v < 0.0) {
                    bail!(
                        "{}: line {}, column `{}`: cost {v} is negative",
                        queries.file,
                        queries.lines[row],
                        excerpt(col)
                    );
                }
                costs.column_mut(k).assign(values);
            }
            (None, None) => bail!("model `{name}` has no cost: give it in --costs name=value or --cost-columns name=column"),
            (Some(_), Some(_)) => bail!("model `{name}` is given a cost twice"),
        }
    }
    Ok(costs)
}

/// The id of query `i`: its `--id` field, or its data row number (from 1).
fn query_id(queries: &Table, i: usize) -> String {
    match &queries.ids {
        Some(ids) => csv_field(&ids[i]),
        None => (i + 1).to_string(),
    }
}

/// Writes the routed CSV to `--out`, or to standard output.
fn emit(args: &RouteArgs, text: &str) -> Result<()> {
    match &args.out {
        Some(path) => files::write_file(path, text.as_bytes(), Existing::from_force(args.force))?,
        None => print!("{text}"),
    }
    Ok(())
}

/// The two-model output: id, ψ̂, Δ̂ (meta-learners), the decision and
/// (truncated routers) whether the query lies in the overlap region.
fn routed_csv(args: &RouteArgs, queries: &Table, routed: &realdata::Routed) -> String {
    let mut text = String::new();
    text.push_str(&format!(
        "{},psi_hat,{}route{}\n",
        csv_field(args.id.as_deref().unwrap_or("row")),
        if routed.delta_hat.is_some() {
            "delta_hat,"
        } else {
            ""
        },
        if routed.in_overlap.is_some() {
            ",in_overlap"
        } else {
            ""
        }
    ));
    for (i, &primary) in routed.primary.iter().enumerate() {
        let id = query_id(queries, i);
        let delta = routed
            .delta_hat
            .as_ref()
            .map_or(String::new(), |d| format!("{},", d[i]));
        let overlap = routed
            .in_overlap
            .as_ref()
            .map_or(String::new(), |inside| format!(",{}", u8::from(inside[i])));
        text.push_str(&format!(
            "{id},{},{delta}{}{overlap}\n",
            routed.psi_hat[i],
            if primary { "primary" } else { "alternative" }
        ));
    }
    text
}
