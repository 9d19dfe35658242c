//! Routing metrics (to be completed).
