//! Linear-algebra layer (to be completed).
