//! Basis expansions (to be completed).
