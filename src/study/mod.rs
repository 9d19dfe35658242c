//! Study engine (to be completed).
pub mod record;
