//! The estimator core's error type.
//!
//! Every fallible function of the core returns [`Result`]. Variants carry
//! structured fields naming the offending input (which array, which row, which
//! parameter) so that a caller (the study engine, the command line, the Python
//! package) can report them verbatim; the engine wraps this type in its own.

use thiserror::Error;

/// Errors raised by the estimator core.
#[non_exhaustive]
#[derive(Debug, Error)]
pub enum Error {
    /// A feature, label or weight is NaN or infinite.
    #[error("{what} contains a non-finite value (NaN or infinite) at row {row}")]
    NonFinite {
        /// Which input (e.g. "gold features").
        what: String,
        /// Zero-based row index of the first offending entry.
        row: usize,
    },

    /// Two inputs that must agree in size do not.
    #[error("shape mismatch in {what}: expected {expected}, found {found}")]
    ShapeMismatch {
        /// Which inputs disagree.
        what: String,
        /// The expected size.
        expected: usize,
        /// The size found.
        found: usize,
    },

    /// An input that must hold rows holds none.
    #[error("{what} is empty")]
    Empty {
        /// Which input.
        what: String,
    },

    /// A data source has fewer rows than cross-fitting folds.
    #[error("{what} has {rows} rows, fewer than the {folds} cross-fitting folds")]
    TooFewRows {
        /// Which data source.
        what: String,
        /// Rows present.
        rows: usize,
        /// Folds requested.
        folds: usize,
    },

    /// A sample weight is negative or non-finite, or all weights are zero.
    #[error("invalid sample weight {value} at row {row} (weights must be finite and >= 0, not all zero)")]
    InvalidWeight {
        /// Zero-based row index.
        row: usize,
        /// The offending value.
        value: f64,
    },

    /// A parameter is outside its valid range.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name as it appears in configs.
        name: String,
        /// The offending value, rendered.
        value: String,
        /// What the valid range is.
        reason: String,
    },

    /// A learner was asked for something it cannot do (e.g. honour weights,
    /// or regress a continuous target with a classifier).
    #[error("learner `{learner}` cannot {what}")]
    Unsupported {
        /// Learner name.
        learner: String,
        /// What was asked.
        what: String,
    },

    /// A linear-algebra routine failed (e.g. a matrix that stays singular after jitter).
    #[error("linear algebra failure in {operation}: {detail}")]
    Linalg {
        /// Which routine.
        operation: String,
        /// What went wrong.
        detail: String,
    },

    /// A fit failed to converge.
    #[error("{what} did not converge after {iterations} iterations")]
    NoConvergence {
        /// Which fit.
        what: String,
        /// Iterations run.
        iterations: usize,
    },

    /// A configuration file (a router configuration; a study file, whose
    /// other errors the engine adds) is invalid: the message names the file,
    /// the line and the key path where known.
    #[error("{file}{}{}: {message}", line.map_or(String::new(), |l| format!(", line {l}")), key.as_ref().map_or(String::new(), |k| format!(", key `{k}`")))]
    Config {
        /// The file.
        file: String,
        /// One-based line of the offending key or value, when known.
        line: Option<usize>,
        /// Key path of the offending entry (e.g. `methods[2].bias_learner.penalty`).
        key: Option<String>,
        /// What is wrong.
        message: String,
    },

    /// A data or model file (a table, a router file) is malformed: the
    /// message names the file and, where known, the line and column.
    #[error("{file}{}{}: {message}", line.map_or(String::new(), |l| format!(", line {l}")), column.as_ref().map_or(String::new(), |c| format!(", column `{}`", excerpt(c))))]
    Input {
        /// The file.
        file: String,
        /// One-based line number (the header is line 1).
        line: Option<u64>,
        /// The column's header name.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },

    /// A command would need more memory or work than its limits allow
    /// ([`crate::limits`]).
    #[error("{what}: estimated {estimate} exceeds the limit {limit}; {advice}")]
    TooLarge {
        /// What was estimated.
        what: String,
        /// The estimate, rendered (e.g. `peak memory 41.2 GiB`).
        estimate: String,
        /// The limit, rendered.
        limit: String,
        /// How to make it fit.
        advice: String,
    },
}

/// The core's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Most characters of a value from an input file that an error message quotes.
pub const EXCERPT_CHARS: usize = 100;

/// `text` as an error message quotes it: at most [`EXCERPT_CHARS`]
/// characters (then `…` and the full length), control characters escaped so
/// a message cannot move the terminal's cursor or forge lines.
pub fn excerpt(text: &str) -> String {
    excerpt_to(text, EXCERPT_CHARS)
}

/// [`excerpt`] with at most `max` characters (for a message of a parser
/// that quotes the input, such as a deserializer's).
pub fn excerpt_to(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max {
            out.push_str(&format!("… ({} bytes in all)", text.len()));
            return out;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: impl Into<String>, value: impl ToString, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Input`].
    pub fn input(
        file: impl Into<String>,
        line: Option<u64>,
        column: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Input {
            file: file.into(),
            line,
            column,
            message: message.into(),
        }
    }
}
