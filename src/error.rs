//! The suite's error type: the estimator core's errors
//! ([`meta_router_core::Error`], wrapped as [`Error::Core`]) and those of the
//! simulation engine, the reports and the real-data commands.
//!
//! Variants carry structured fields naming the offending input (which file,
//! line, key or parameter) so that the command-line layer can report them
//! verbatim.

use thiserror::Error;

/// Errors raised by the meta-router suite.
#[non_exhaustive]
#[derive(Debug, Error)]
pub enum Error {
    /// An error of the estimator core (data, learners, meta-learners,
    /// routing, inference, limits).
    #[error(transparent)]
    Core(#[from] meta_router_core::Error),

    /// Reading or writing a file failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file or folder.
        path: String,
        /// The underlying error (shown in the message, not repeated as a source).
        cause: std::io::Error,
    },

    /// A stored record or data file could not be parsed.
    #[error("{path}{}: {message}", line.map_or(String::new(), |l| format!(", line {l}")))]
    Parse {
        /// The file.
        path: String,
        /// One-based line number, when the problem is on one line.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },

    /// A scenario could not draw a data set (e.g. a replicate with fewer than
    /// two GS rows) or its truth sample.
    #[error("scenario `{scenario}` could not draw {what}: {reason}")]
    Draw {
        /// The scenario's name.
        scenario: String,
        /// What was being drawn (a replicate, the truth sample).
        what: String,
        /// Why.
        reason: String,
    },

    /// A study folder cannot be used as asked (not a study folder, incomplete
    /// records, shards that do not fit together, a path that must not be
    /// replaced).
    #[error("{path}: {message}")]
    Study {
        /// The folder.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },

    /// Another process holds the study folder's lock.
    #[error("{path} is in use by another meta-router process ({holder}); wait for it to finish or stop it, then try again")]
    Busy {
        /// The folder.
        path: String,
        /// Who holds the lock (process id, command, start time), as recorded in the lock file.
        holder: String,
    },

    /// Two study summaries cannot be compared: they come from different
    /// specs, scenarios or grids.
    #[error("cannot compare {run} with {baseline}: {reason}")]
    Incomparable {
        /// The run (folder or file).
        run: String,
        /// The baseline (folder or file).
        baseline: String,
        /// What differs.
        reason: String,
    },

    /// A file carries a version tag this version of the suite does not read.
    #[error("{path}: format `{found}`, but this version of meta-router reads `{expected}`; regenerate it with this version (`meta-router report`)")]
    UnsupportedFormat {
        /// The file.
        path: String,
        /// The tag found (empty when there is none).
        found: String,
        /// The tag this version reads.
        expected: String,
    },

    /// An output file exists and the command was not asked to replace it
    /// (or another process wrote it while this one was writing).
    #[error("{path} exists; pass --force to replace it")]
    Exists {
        /// The file.
        path: String,
    },
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

pub use meta_router_core::error::{excerpt, excerpt_to, EXCERPT_CHARS};

impl Error {
    /// Shorthand for the core's [`meta_router_core::Error::InvalidParameter`].
    pub fn param(name: impl Into<String>, value: impl ToString, reason: impl Into<String>) -> Self {
        Error::Core(meta_router_core::Error::param(name, value, reason))
    }

    /// Shorthand for the core's [`meta_router_core::Error::Config`]: an
    /// invalid study or router configuration file.
    pub fn spec(
        file: impl Into<String>,
        line: Option<usize>,
        key: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Core(meta_router_core::Error::Config {
            file: file.into(),
            line,
            key,
            message: message.into(),
        })
    }

    /// Shorthand for the core's [`meta_router_core::Error::Input`] (a
    /// malformed data or model file).
    pub fn input(
        file: impl Into<String>,
        line: Option<u64>,
        column: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Core(meta_router_core::Error::input(file, line, column, message))
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl AsRef<std::path::Path>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            cause,
        }
    }

    /// Shorthand for [`Error::Study`].
    pub fn study(path: impl AsRef<std::path::Path>, message: impl Into<String>) -> Self {
        Error::Study {
            path: path.as_ref().display().to_string(),
            message: message.into(),
        }
    }
}
