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

/// The names for messages: numbered runs folded (`x1 … x50`), and at most
/// [`SHOWN`] items, the first and the last ones (where label columns usually
/// stand), with a count of all.
fn abbreviate(names: &[String]) -> String {
    let items = fold_numbered(names);
    let text = if items.len() > SHOWN {
        let head = &items[..SHOWN / 2];
        let tail = &items[items.len() - SHOWN / 2..];
        format!("{}, …, {}", head.join(", "), tail.join(", "))
    } else {
        items.join(", ")
    };
    if items.len() < names.len() || items.len() > SHOWN {
        format!("{text} ({} in all)", names.len())
    } else {
        text
    }
}

/// Items shown by [`abbreviate`].
const SHOWN: usize = 8;

/// Names with runs of three or more consecutive numbered names (`x1, x2,
/// …, x9` with one prefix) folded into `x1 … x9`.
fn fold_numbered(names: &[String]) -> Vec<String> {
    let split = |name: &str| -> Option<(String, u64)> {
        let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, number) = name.split_at(name.len() - digits);
        Some((prefix.to_string(), number.parse().ok()?))
    };
    let mut items = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        if let Some((prefix, first)) = split(&names[i]) {
            while j < names.len()
                && split(&names[j]) == Some((prefix.clone(), first + (j - i) as u64))
            {
                j += 1;
            }
        }
        if j - i >= 3 {
            items.push(format!(
                "{} … {}",
                excerpt(&names[i]),
                excerpt(&names[j - 1])
            ));
        } else {
            j = i + 1;
            items.push(excerpt(&names[i]));
        }
        i = j;
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn column_lists_fold_numbered_runs_and_keep_the_last_names() {
        let mut many: Vec<String> = (1..=50).map(|j| format!("emb_{j}")).collect();
        many.extend(names(&["small", "large"]));
        assert_eq!(
            abbreviate(&many),
            "emb_1 … emb_50, small, large (52 in all)"
        );
        assert_eq!(abbreviate(&names(&["a", "b", "c1", "c2"])), "a, b, c1, c2");
        let mixed: Vec<String> = (0..12).map(|j| format!("f{}", 2 * j)).collect();
        assert_eq!(
            abbreviate(&mixed),
            "f0, f2, f4, f6, …, f16, f18, f20, f22 (12 in all)"
        );
    }
}
