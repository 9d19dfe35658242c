//! Reports (to be completed).
