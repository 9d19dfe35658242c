//! The configuration-file form of [`ForestParams`]: every field optional,
//! applied on top of a preset.

use serde::{Deserialize, Serialize};

use super::{ForestParams, ForestPreset, MaxFeatures};

/// TOML/JSON form: every field optional, applied on top of `preset`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ForestSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preset: Option<ForestPreset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trees: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_depth: Option<DepthSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_features: Option<FeaturesSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_samples_split: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_samples_leaf: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_weight_leaf: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bootstrap: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threads: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum DepthSpec {
    Depth(usize),
    Name(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum FeaturesSpec {
    Count(usize),
    Fraction(f64),
    Name(String),
}

impl TryFrom<ForestSpec> for ForestParams {
    type Error = String;
    fn try_from(spec: ForestSpec) -> std::result::Result<Self, String> {
        let base = ForestParams::preset(spec.preset.unwrap_or(ForestPreset::Paper));
        let max_depth = match spec.max_depth {
            None => base.max_depth,
            Some(DepthSpec::Depth(d)) => Some(d),
            Some(DepthSpec::Name(name)) if name == "none" => None,
            Some(DepthSpec::Name(name)) => {
                return Err(format!(
                    "max_depth must be a positive integer or \"none\", got \"{name}\""
                ))
            }
        };
        let max_features = match spec.max_features {
            None => base.max_features,
            Some(FeaturesSpec::Count(k)) => MaxFeatures::Count(k),
            Some(FeaturesSpec::Fraction(f)) => MaxFeatures::Fraction(f),
            Some(FeaturesSpec::Name(name)) => match name.as_str() {
                "sqrt" => MaxFeatures::Sqrt,
                "all" => MaxFeatures::All,
                _ => {
                    return Err(format!(
                    "max_features must be a count, a fraction, \"sqrt\" or \"all\", got \"{name}\""
                ))
                }
            },
        };
        Ok(ForestParams {
            trees: spec.trees.unwrap_or(base.trees),
            max_depth,
            max_features,
            min_samples_split: spec.min_samples_split.unwrap_or(base.min_samples_split),
            min_samples_leaf: spec.min_samples_leaf.unwrap_or(base.min_samples_leaf),
            min_weight_leaf: spec.min_weight_leaf.unwrap_or(base.min_weight_leaf),
            bootstrap: spec.bootstrap.unwrap_or(base.bootstrap),
            threads: spec.threads.unwrap_or(base.threads),
        })
    }
}

impl From<ForestParams> for ForestSpec {
    fn from(p: ForestParams) -> Self {
        ForestSpec {
            preset: None,
            trees: Some(p.trees),
            max_depth: Some(match p.max_depth {
                Some(d) => DepthSpec::Depth(d),
                None => DepthSpec::Name("none".into()),
            }),
            max_features: Some(match p.max_features {
                MaxFeatures::Count(k) => FeaturesSpec::Count(k),
                MaxFeatures::Fraction(f) => FeaturesSpec::Fraction(f),
                MaxFeatures::Sqrt => FeaturesSpec::Name("sqrt".into()),
                MaxFeatures::All => FeaturesSpec::Name("all".into()),
            }),
            min_samples_split: Some(p.min_samples_split),
            min_samples_leaf: Some(p.min_samples_leaf),
            min_weight_leaf: Some(p.min_weight_leaf),
            bootstrap: Some(p.bootstrap),
            threads: Some(p.threads),
        }
    }
}
