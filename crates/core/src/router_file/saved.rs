//! The `router` entry of a router file of format 2: the fitted models with
//! every tree ensemble's trees as a [`TreeBlock`] of compressed columns, and
//! the small models (ridge, kernel ridge, logistic), the scale, the overlap
//! region and the clamps as plain JSON, in the same form as format 1.
//!
//! Also the reload check's structural comparison, [`same_models`]: two sets
//! of fitted models are the same bit for bit.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::trees::TreeBlock;
use crate::learners::boosting::Loss;
use crate::learners::{
    Boosting, Clamped, FittedKernelRidge, FittedLogistic, FittedModel, FittedRidge, Forest,
};
use crate::meta::overlap::OverlapRegion;
use crate::meta::{Method, PsiModel, RouterModels};

/// The fitted models of a router in format 2 (module docs); the keys are
/// those of format 1.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SavedRouter<'a> {
    method: Method,
    dim: usize,
    scale: f64,
    psi: SavedPsi<'a>,
    delta: Option<SavedModel<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    overlap: Option<Cow<'a, OverlapRegion>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum SavedPsi<'a> {
    Single(SavedModel<'a>),
    Plugin(SavedModel<'a>),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
enum SavedModel<'a> {
    Ridge(Cow<'a, FittedRidge>),
    KernelRidge(Cow<'a, FittedKernelRidge>),
    Logistic(Cow<'a, FittedLogistic>),
    Forest(SavedForest),
    Boosting(SavedBoosting),
    Clamped(SavedClamped<'a>),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedForest {
    n_features: usize,
    unit_interval: bool,
    oob_fallback_rows: usize,
    trees: TreeBlock,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedBoosting {
    base: f64,
    loss: Loss,
    n_features: usize,
    trees: TreeBlock,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedClamped<'a> {
    lower: f64,
    upper: f64,
    inner: Box<SavedModel<'a>>,
}

impl<'a> SavedRouter<'a> {
    /// The format-2 form of `models` (the small models borrowed). Fails for
    /// a tree the format cannot hold ([`TreeBlock::encode`]), naming where.
    pub(crate) fn encode(models: &'a RouterModels) -> std::result::Result<Self, String> {
        let psi = match &models.psi {
            PsiModel::Single(m) => SavedPsi::Single(SavedModel::encode(m, "router.psi.single")?),
            PsiModel::Plugin(m) => SavedPsi::Plugin(SavedModel::encode(m, "router.psi.plugin")?),
        };
        Ok(SavedRouter {
            method: models.method,
            dim: models.dim,
            scale: models.scale,
            psi,
            delta: match &models.delta {
                Some(m) => Some(SavedModel::encode(m, "router.delta")?),
                None => None,
            },
            overlap: models.overlap.as_ref().map(Cow::Borrowed),
        })
    }

    /// The models with their key paths.
    fn models(&self) -> impl Iterator<Item = (&'static str, &SavedModel<'a>)> {
        let psi = match &self.psi {
            SavedPsi::Single(m) => ("router.psi.single", m),
            SavedPsi::Plugin(m) => ("router.psi.plugin", m),
        };
        std::iter::once(psi).chain(self.delta.as_ref().map(|m| ("router.delta", m)))
    }

    /// Checks that every tree column's declared length is one its text can
    /// hold (before anything is decoded); the message names the key path.
    pub(crate) fn check_declared(&self) -> std::result::Result<(), String> {
        self.models()
            .try_for_each(|(at, model)| model.check_declared(at))
    }

    /// Memory the decoded trees take, bytes (from the declared lengths).
    pub(crate) fn decoded_bytes(&self) -> f64 {
        self.models().map(|(_, m)| m.decoded_bytes()).sum()
    }

    /// The fitted models; every tree block is decoded and checked
    /// ([`TreeBlock::decode`]). The message names the key path.
    pub(crate) fn decode(self) -> std::result::Result<RouterModels, String> {
        let psi = match self.psi {
            SavedPsi::Single(m) => PsiModel::Single(m.decode("router.psi.single")?),
            SavedPsi::Plugin(m) => PsiModel::Plugin(m.decode("router.psi.plugin")?),
        };
        Ok(RouterModels {
            method: self.method,
            dim: self.dim,
            scale: self.scale,
            psi,
            delta: match self.delta {
                Some(m) => Some(m.decode("router.delta")?),
                None => None,
            },
            overlap: self.overlap.map(Cow::into_owned),
        })
    }
}

impl<'a> SavedModel<'a> {
    fn encode(model: &'a FittedModel, at: &str) -> std::result::Result<Self, String> {
        let block = |trees, n_features, kind: &str| {
            TreeBlock::encode(trees, n_features)
                .map_err(|e| format!("`{at}.{kind}.trees` cannot be written: {e}"))
        };
        Ok(match model {
            FittedModel::Ridge(m) => SavedModel::Ridge(Cow::Borrowed(m)),
            FittedModel::KernelRidge(m) => SavedModel::KernelRidge(Cow::Borrowed(m)),
            FittedModel::Logistic(m) => SavedModel::Logistic(Cow::Borrowed(m)),
            FittedModel::Forest(m) => SavedModel::Forest(SavedForest {
                n_features: m.n_features(),
                unit_interval: m.unit_interval(),
                oob_fallback_rows: m.oob_fallback_rows(),
                trees: block(m.trees(), m.n_features(), "forest")?,
            }),
            FittedModel::Boosting(m) => {
                let (base, trees, loss, n_features) = m.parts();
                SavedModel::Boosting(SavedBoosting {
                    base,
                    loss,
                    n_features,
                    trees: block(trees, n_features, "boosting")?,
                })
            }
            FittedModel::Clamped(c) => SavedModel::Clamped(SavedClamped {
                lower: c.lower,
                upper: c.upper,
                inner: Box::new(SavedModel::encode(
                    &c.inner,
                    &format!("{at}.clamped.inner"),
                )?),
            }),
        })
    }

    fn check_declared(&self, at: &str) -> std::result::Result<(), String> {
        let block = |block: &TreeBlock, kind: &str| {
            block
                .check_declared()
                .map_err(|e| format!("invalid `{at}.{kind}.trees`: {e}"))
        };
        match self {
            SavedModel::Forest(f) => block(&f.trees, "forest"),
            SavedModel::Boosting(b) => block(&b.trees, "boosting"),
            SavedModel::Clamped(c) => c.inner.check_declared(&format!("{at}.clamped.inner")),
            SavedModel::Ridge(_) | SavedModel::KernelRidge(_) | SavedModel::Logistic(_) => Ok(()),
        }
    }

    fn decoded_bytes(&self) -> f64 {
        match self {
            SavedModel::Forest(f) => f.trees.decoded_bytes(),
            SavedModel::Boosting(b) => b.trees.decoded_bytes(),
            SavedModel::Clamped(c) => c.inner.decoded_bytes(),
            SavedModel::Ridge(_) | SavedModel::KernelRidge(_) | SavedModel::Logistic(_) => 0.0,
        }
    }

    fn decode(self, at: &str) -> std::result::Result<FittedModel, String> {
        let trees = |block: &TreeBlock, n_features, kind: &str| {
            block
                .decode(n_features)
                .map_err(|e| format!("invalid `{at}.{kind}.trees`: {e}"))
        };
        Ok(match self {
            SavedModel::Ridge(m) => FittedModel::Ridge(m.into_owned()),
            SavedModel::KernelRidge(m) => FittedModel::KernelRidge(m.into_owned()),
            SavedModel::Logistic(m) => FittedModel::Logistic(m.into_owned()),
            SavedModel::Forest(f) => FittedModel::Forest(Forest::from_saved(
                trees(&f.trees, f.n_features, "forest")?,
                f.n_features,
                f.unit_interval,
                f.oob_fallback_rows,
            )),
            SavedModel::Boosting(b) => FittedModel::Boosting(Boosting::from_saved(
                b.base,
                trees(&b.trees, b.n_features, "boosting")?,
                b.loss,
                b.n_features,
            )),
            SavedModel::Clamped(c) => FittedModel::Clamped(Clamped {
                lower: c.lower,
                upper: c.upper,
                inner: Box::new(c.inner.decode(&format!("{at}.clamped.inner"))?),
            }),
        })
    }
}

/// Whether two sets of fitted models are the same bit for bit: the method,
/// dimension, scale (bits) and overlap region; the same kind of model in
/// each place; every tree of every ensemble node for node
/// ([`crate::learners::tree::Tree::same_bits`]) with the ensemble's other
/// fields; the small models' JSON forms equal (numbers are written in
/// shortest round-trip form, one text per bit pattern of a finite number).
/// The message names the first difference.
pub(crate) fn same_models(a: &RouterModels, b: &RouterModels) -> std::result::Result<(), String> {
    if a.method != b.method || a.dim != b.dim || a.scale.to_bits() != b.scale.to_bits() {
        return Err("`router`: the method, feature count or scale differs".into());
    }
    if !same_json(&a.overlap, &b.overlap) {
        return Err("`router.overlap` differs".into());
    }
    match (&a.psi, &b.psi) {
        (PsiModel::Single(x), PsiModel::Single(y)) => same_model(x, y, "router.psi.single")?,
        (PsiModel::Plugin(x), PsiModel::Plugin(y)) => same_model(x, y, "router.psi.plugin")?,
        _ => return Err("`router.psi`: a single model vs a plug-in".into()),
    }
    match (&a.delta, &b.delta) {
        (Some(x), Some(y)) => same_model(x, y, "router.delta"),
        (None, None) => Ok(()),
        _ => Err("`router.delta` is present in one only".into()),
    }
}

fn same_model(a: &FittedModel, b: &FittedModel, at: &str) -> std::result::Result<(), String> {
    let trees = |x: &[crate::learners::tree::Tree], y: &[crate::learners::tree::Tree], kind| {
        if x.len() != y.len() {
            return Err(format!("`{at}.{kind}`: {} trees vs {}", x.len(), y.len()));
        }
        for (t, (u, v)) in x.iter().zip(y).enumerate() {
            u.same_bits(v)
                .map_err(|e| format!("`{at}.{kind}`, tree {t}: {e}"))?;
        }
        Ok(())
    };
    let differs = |what: &str| Err(format!("`{at}`: {what} differs"));
    match (a, b) {
        (FittedModel::Forest(x), FittedModel::Forest(y)) => {
            if x.n_features() != y.n_features()
                || x.unit_interval() != y.unit_interval()
                || x.oob_fallback_rows() != y.oob_fallback_rows()
            {
                return differs("the forest's feature count, clamp or fallback count");
            }
            trees(x.trees(), y.trees(), "forest")
        }
        (FittedModel::Boosting(x), FittedModel::Boosting(y)) => {
            let ((xb, xt, xl, xd), (yb, yt, yl, yd)) = (x.parts(), y.parts());
            if xb.to_bits() != yb.to_bits() || xl != yl || xd != yd {
                return differs("the boosted model's base score, loss or feature count");
            }
            trees(xt, yt, "boosting")
        }
        (FittedModel::Clamped(x), FittedModel::Clamped(y)) => {
            if x.lower.to_bits() != y.lower.to_bits() || x.upper.to_bits() != y.upper.to_bits() {
                return differs("the clamp interval");
            }
            same_model(&x.inner, &y.inner, &format!("{at}.clamped.inner"))
        }
        (FittedModel::Ridge(x), FittedModel::Ridge(y)) if same_json(x, y) => Ok(()),
        (FittedModel::KernelRidge(x), FittedModel::KernelRidge(y)) if same_json(x, y) => Ok(()),
        (FittedModel::Logistic(x), FittedModel::Logistic(y)) if same_json(x, y) => Ok(()),
        _ if a.kind() == b.kind() => differs("the model"),
        _ => Err(format!("`{at}`: a {} model vs a {}", a.kind(), b.kind())),
    }
}

/// Whether two values have the same JSON text.
fn same_json<T: Serialize>(a: &T, b: &T) -> bool {
    match (serde_json::to_string(a), serde_json::to_string(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
