//! Where in a configuration file (a router configuration, a study file) an
//! error is: key paths and their lines.
//!
//! # Algorithm
//! - Lines come from the TOML parser's spans: the document is parsed once
//!   into a spanned tree and every key path (`scenario.pool`,
//!   `methods[2].bias_learner.penalty`, `evaluation.rho[1]`) is mapped to the
//!   line of its key (array elements: of the element).
//! - Key paths come from deserializing with `serde_path_to_error`, which
//!   records the path to the value that failed. Inside a value that serde
//!   buffers before deserializing (an internally tagged enum such as a learner
//!   `{ type = "ridge", … }`) that path stops at the table; the culprit inside
//!   is then found by elimination: the first key whose removal makes that
//!   error go away (recursively, for nested tables). Required keys never
//!   qualify, since removing them raises a different error.
//!
//! Hand-rolled because neither piece alone gives a key path *and* a line for
//! an error inside a tagged enum; both pieces are the maintained crates'
//! (`toml`'s spanned parser, `serde_path_to_error`).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

use crate::error::Error;

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Renders a key path: `methods[2].learner.penalty`.
pub fn render(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A configuration file's text with the line of every key path.
#[derive(Debug)]
pub struct Source<'a> {
    /// The file name used in messages.
    pub file: &'a str,
    /// The text.
    pub text: &'a str,
    lines: BTreeMap<String, usize>,
}

impl<'a> Source<'a> {
    /// Indexes `text` (a text that does not parse indexes nothing).
    pub fn new(file: &'a str, text: &'a str) -> Self {
        let mut source = Self {
            file,
            text,
            lines: BTreeMap::new(),
        };
        if let Ok(root) = DeTable::parse(text) {
            let mut lines = BTreeMap::new();
            source.index_table(root.get_ref(), &mut Vec::new(), &mut lines);
            source.lines = lines;
        }
        source
    }

    fn index_table(
        &self,
        table: &DeTable<'_>,
        prefix: &mut Vec<Segment>,
        lines: &mut BTreeMap<String, usize>,
    ) {
        for (key, value) in table.iter() {
            prefix.push(Segment::Key(key.get_ref().to_string()));
            lines
                .entry(render(prefix))
                .or_insert_with(|| self.line_of(key.span().start));
            self.index_value(value.get_ref(), prefix, lines);
            prefix.pop();
        }
    }

    fn index_value(
        &self,
        value: &DeValue<'_>,
        prefix: &mut Vec<Segment>,
        lines: &mut BTreeMap<String, usize>,
    ) {
        match value {
            DeValue::Table(table) => self.index_table(table, prefix, lines),
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    prefix.push(Segment::Index(i));
                    // `[[methods]]` elements: the header line, which the
                    // element's span starts on.
                    lines
                        .entry(render(prefix))
                        .or_insert_with(|| self.line_of(item.span().start));
                    self.index_value(item.get_ref(), prefix, lines);
                    prefix.pop();
                }
            }
            _ => {}
        }
    }

    /// One-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// Line of `path`, or of its nearest ancestor present in the file.
    pub fn line(&self, path: &str) -> Option<usize> {
        let mut candidate = path;
        loop {
            if let Some(&line) = self.lines.get(candidate) {
                return Some(line);
            }
            let cut = candidate.rfind(['.', '['])?;
            candidate = &candidate[..cut];
        }
    }

    /// A configuration error at `key` (its line looked up).
    pub fn error(&self, key: &str, message: impl Into<String>) -> Error {
        Error::Config {
            file: self.file.to_string(),
            line: if key.is_empty() { None } else { self.line(key) },
            key: (!key.is_empty()).then(|| key.to_string()),
            message: message.into(),
        }
    }

    /// A configuration error on a line without a key.
    pub fn error_on_line(&self, line: Option<usize>, message: impl Into<String>) -> Error {
        Error::Config {
            file: self.file.to_string(),
            line,
            key: None,
            message: message.into(),
        }
    }
}

/// Deserializes `value` as `T`; on failure returns the key path (relative to
/// `value`) of the culprit and serde's message.
pub fn deserialize_located<T: DeserializeOwned>(
    value: &toml::Value,
) -> std::result::Result<T, (Vec<Segment>, String)> {
    attempt::<T>(value).map_err(|(path, message)| (narrow::<T>(value, path, &message), message))
}

fn attempt<T: DeserializeOwned>(
    value: &toml::Value,
) -> std::result::Result<T, (Vec<Segment>, String)> {
    serde_path_to_error::deserialize::<_, T>(value.clone()).map_err(|error| {
        let path = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
                _ => None,
            })
            .collect();
        (path, error.into_inner().message().trim().to_string())
    })
}

/// Walks into `path` while the value there is a table, removing one key at a
/// time to find the one that causes `message`.
fn narrow<T: DeserializeOwned>(
    root: &toml::Value,
    mut path: Vec<Segment>,
    message: &str,
) -> Vec<Segment> {
    // The path may end at a key that does not exist (a missing field); keep it.
    loop {
        let Some(toml::Value::Table(table)) = get(root, &path) else {
            return path;
        };
        // Prefer a key whose removal fixes the value; else one whose removal
        // changes the error (a wrong tag: removing it reports it missing).
        let outcome = |key: &String| {
            let mut trial = root.clone();
            let mut key_path = path.clone();
            key_path.push(Segment::Key(key.clone()));
            remove(&mut trial, &key_path);
            attempt::<T>(&trial).map(|_| ()).map_err(|(_, other)| other)
        };
        let culprit = table.keys().find(|key| outcome(key).is_ok()).or_else(|| {
            table
                .keys()
                .find(|key| outcome(key).is_err_and(|other| other != message))
        });
        match culprit {
            Some(key) => path.push(Segment::Key(key.clone())),
            None => return path,
        }
    }
}

fn get<'v>(value: &'v toml::Value, path: &[Segment]) -> Option<&'v toml::Value> {
    path.iter()
        .try_fold(value, |current, segment| match segment {
            Segment::Key(key) => current.as_table()?.get(key),
            Segment::Index(i) => current.as_array()?.get(*i),
        })
}

fn remove(value: &mut toml::Value, path: &[Segment]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = value;
    for segment in parents {
        let next = match segment {
            Segment::Key(key) => current.as_table_mut().and_then(|t| t.get_mut(key)),
            Segment::Index(i) => current.as_array_mut().and_then(|a| a.get_mut(*i)),
        };
        match next {
            Some(next) => current = next,
            None => return,
        }
    }
    match last {
        Segment::Key(key) => {
            if let Some(table) = current.as_table_mut() {
                table.remove(key);
            }
        }
        Segment::Index(i) => {
            if let Some(array) = current.as_array_mut() {
                if *i < array.len() {
                    array.remove(*i);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::learners::LearnerConfig;

    #[test]
    fn lines_of_nested_keys_and_array_elements() {
        let text = "name = \"x\"\n\n[evaluation]\nrho = [0.0,\n  0.5]\n\n[[methods]]\nmethod = \"r\"\n\n[[methods]]\nlabel = \"b\"\nbias_learner = { type = \"ridge\", penalty = 2 }\n";
        let source = Source::new("s.toml", text);
        assert_eq!(source.line("name"), Some(1));
        assert_eq!(source.line("evaluation.rho"), Some(4));
        assert_eq!(source.line("evaluation.rho[1]"), Some(5));
        assert_eq!(source.line("methods[0].method"), Some(8));
        assert_eq!(source.line("methods[1].bias_learner.penalty"), Some(12));
        // A key that is not in the file: its nearest ancestor.
        assert_eq!(source.line("methods[1].bias_learner.basis"), Some(12));
        assert_eq!(source.line("methods[1].folds"), Some(10));
        assert_eq!(source.line("nowhere"), None);
    }

    #[test]
    fn culprits_inside_tagged_enums_are_found_by_elimination() {
        let value: toml::Value =
            toml::from_str("type = \"ridge\"\nbasis = \"poly2\"\npenalty = [1]\n").unwrap();
        let (path, message) = deserialize_located::<LearnerConfig>(&value).unwrap_err();
        assert_eq!(render(&path), "penalty", "{message}");
        let unknown: toml::Value = toml::from_str("type = \"ridge\"\ncolour = 3\n").unwrap();
        let (path, message) = deserialize_located::<LearnerConfig>(&unknown).unwrap_err();
        assert_eq!(render(&path), "colour");
        assert!(message.contains("colour"), "{message}");
        let bad_tag: toml::Value = toml::from_str("type = \"ridgge\"\n").unwrap();
        let (path, message) = deserialize_located::<LearnerConfig>(&bad_tag).unwrap_err();
        assert_eq!(render(&path), "type");
        assert!(message.contains("ridgge"), "{message}");
    }
}
