//! Scenarios (to be completed).
