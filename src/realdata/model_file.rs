//! Reading router files from disk (the format is the core's
//! [`meta_router_core::router_file`]).

use std::path::Path;

use crate::error::Result;
use meta_router_core::meta::FittedRouter;
pub use meta_router_core::router_file::*;

/// Reads and checks a router file.
pub fn load(path: &Path) -> Result<(RouterFile, FittedRouter)> {
    let text = read_text(path)?;
    Ok(parse(&text, &path.display().to_string())?)
}

/// Memory per byte of a router file while it is read and parsed (its
/// text, the JSON values and the models built from them).
pub const PARSE_FACTOR: f64 = 6.0;

/// Reads a router file's text (single- or multi-model), refusing one whose
/// parsing would not fit the memory limit ([`PARSE_FACTOR`]).
pub fn read_text(path: &Path) -> Result<String> {
    crate::files::read_text(path, PARSE_FACTOR)
}
