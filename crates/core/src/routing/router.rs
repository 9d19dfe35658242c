//! Routing with a fitted router: `ψ̂` and `Δ̂` of every query, the
//! decision `ψ̂ > w·(C_p − C_a)` ([`super::route`]), and for a truncated
//! router the fallback of queries outside its overlap region
//! ([`OutsideRoute`]). `meta-router route` and the Python package's
//! `MetaRouter.route` both decide here.

use ndarray::{Array1, ArrayView1, ArrayView2};

use crate::error::Result;
use crate::meta::FittedRouter;

/// Per-query output of `route`.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// `ψ̂(q)` in GS units.
    pub psi_hat: Array1<f64>,
    /// `Δ̂(q)` for meta-learner routers.
    pub delta_hat: Option<Array1<f64>>,
    /// `true`: send to the primary model (`ψ̂ > w·(C_p − C_a)`, or the
    /// fallback of [`OutsideRoute`] outside a truncated router's region).
    pub primary: Vec<bool>,
    /// For a truncated router: whether each query lies in its overlap region.
    pub in_overlap: Option<Vec<bool>>,
}

/// How a truncated router (`truncate`) routes queries outside its overlap
/// region, where `Δ̂` is extrapolated from the region and GS queries were
/// too rare to check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutsideRoute {
    /// By `ψ̂` like every other query (the refit saw those queries' PB
    /// labels corrected by the extrapolated `Δ̂`).
    #[default]
    Router,
    /// Always to the primary model (the cautious choice when a wrong
    /// `alternative` costs more than the primary's price).
    Primary,
    /// Always to the alternative model.
    Alternative,
}

impl OutsideRoute {
    /// Parses `router`, `primary` or `alternative`.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        match text.trim() {
            "router" => Ok(Self::Router),
            "primary" => Ok(Self::Primary),
            "alternative" => Ok(Self::Alternative),
            other => Err(format!(
                "`{}`: expected router, primary or alternative",
                other.chars().take(40).collect::<String>()
            )),
        }
    }
}

impl Routed {
    /// Share of queries sent to the primary model.
    pub fn usage_ratio(&self) -> f64 {
        self.primary.iter().filter(|&&p| p).count() as f64 / self.primary.len().max(1) as f64
    }
}

/// Routes the rows `x` (the router's feature columns, in its order) with
/// per-query cost differences `differences` (`C_p − C_a`,
/// [`super::cost_differences`]) at cost weight `w`; queries outside a
/// truncated router's overlap region are decided by `outside` (other
/// routers ignore it).
pub fn route_rows(
    router: &FittedRouter,
    x: ArrayView2<f64>,
    differences: ArrayView1<f64>,
    w: f64,
    outside: OutsideRoute,
) -> Result<Routed> {
    let psi_hat = router.predict_psi(x);
    let delta_hat = router.predict_delta(x);
    let mut primary = super::route(psi_hat.view(), differences, w)?;
    let in_overlap = router.overlap().map(|_| router.in_overlap(x));
    if let Some(inside) = &in_overlap {
        for (primary, &inside) in primary.iter_mut().zip(inside) {
            if !inside {
                match outside {
                    OutsideRoute::Router => {}
                    OutsideRoute::Primary => *primary = true,
                    OutsideRoute::Alternative => *primary = false,
                }
            }
        }
    }
    Ok(Routed {
        psi_hat,
        delta_hat,
        primary,
        in_overlap,
    })
}
