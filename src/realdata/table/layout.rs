//! Which header column plays which role (features, label, extras, id,
//! weight), checked against the header.

use std::collections::{HashMap, HashSet};

use super::{input_error, ColumnRoles, FeatureSelection};
use crate::error::{excerpt, Error, Result};

/// Column indices of each role.
pub(super) struct Layout {
    pub(super) features: Vec<usize>,
    pub(super) label: Option<usize>,
    pub(super) extra: Vec<usize>,
    pub(super) id: Option<usize>,
    pub(super) weight: Option<usize>,
}

impl Layout {
    pub(super) fn new(file: &str, names: &[String], roles: &ColumnRoles) -> Result<Self> {
        let header_error =
            |column: Option<&str>, message: String| input_error(file, Some(1), column, message);
        let index = header_index(names, &header_error)?;
        let find = |name: &str, role: &str| -> Result<usize> {
            index.get(name).copied().ok_or_else(|| {
                header_error(
                    Some(name),
                    format!(
                        "no {role} column `{}` in the header (columns: {})",
                        excerpt(name),
                        abbreviate(names)
                    ),
                )
            })
        };
        let label = match &roles.label {
            Some(l) => Some(find(&l.name, "label")?),
            None => None,
        };
        let mut extra = Vec::new();
        for name in &roles.extra {
            extra.push(find(name, "required")?);
        }
        for name in &roles.optional {
            if let Some(&i) = index.get(name.as_str()) {
                extra.push(i);
            }
        }
        let id = match &roles.id {
            Some(name) => Some(find(name, "id")?),
            None => None,
        };
        let weight = match &roles.weight {
            Some(name) => Some(find(name, "weight")?),
            None => None,
        };
        let mut ignored = Vec::new();
        for name in &roles.ignore {
            ignored.push(find(name, "label")?);
        }
        let taken: HashSet<usize> = label
            .iter()
            .chain(&extra)
            .chain(id.iter())
            .chain(weight.iter())
            .chain(&ignored)
            .copied()
            .collect();
        let features = select_features(&roles.features, names, &taken, &find, &header_error)?;
        if features.is_empty() {
            return Err(header_error(
                None,
                format!(
                    "no feature columns selected (selection {}; columns: {})",
                    excerpt(&format!("{:?}", roles.features)),
                    abbreviate(names)
                ),
            ));
        }
        if let Some(&clash) = features.iter().find(|i| taken.contains(i)) {
            return Err(header_error(
                Some(&names[clash]),
            "a column cannot be both a feature and a label, an extra, the id or the weight column"
                .into(),
            ));
        }
        Ok(Self {
            features,
            label,
            extra,
            id,
            weight,
        })
    }
}

/// Each header name's column (hash lookups: a header may have up to
/// `MAX_COLUMNS` names); refuses an empty or repeated name.
fn header_index<'a>(
    names: &'a [String],
    header_error: &dyn Fn(Option<&str>, String) -> Error,
) -> Result<HashMap<&'a str, usize>> {
    // Hash lookups: a header may have up to MAX_COLUMNS names.
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(header_error(
                None,
                format!("header cell {} is empty; every column needs a name", i + 1),
            ));
        }
        if index.insert(name.as_str(), i).is_some() {
            return Err(header_error(
                Some(name),
                "the header names this column twice".into(),
            ));
        }
    }
    Ok(index)
}

/// The feature columns `selection` picks from the header `names` (never a
/// column in `taken`; a listed name must exist, once).
fn select_features(
    selection: &FeatureSelection,
    names: &[String],
    taken: &HashSet<usize>,
    find: &dyn Fn(&str, &str) -> Result<usize>,
    header_error: &dyn Fn(Option<&str>, String) -> Error,
) -> Result<Vec<usize>> {
    Ok(match selection {
        FeatureSelection::Rest => (0..names.len()).filter(|i| !taken.contains(i)).collect(),
        FeatureSelection::Names(list) => {
            let mut out = Vec::with_capacity(list.len());
            let mut seen = HashSet::with_capacity(list.len());
            for name in list {
                let index = find(name, "feature")?;
                if !seen.insert(index) {
                    return Err(header_error(
                        Some(name),
                        "the feature list names this column twice".into(),
                    ));
                }
                out.push(index);
            }
            out
        }
        FeatureSelection::Prefix(prefix) => (0..names.len())
            .filter(|&i| names[i].starts_with(prefix.as_str()) && !taken.contains(&i))
            .collect(),
    })
}

/// The first few names, for messages.
fn abbreviate(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(|n| excerpt(n))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(", … ({} in all)", names.len()));
    }
    text
}
