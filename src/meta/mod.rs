//! Meta-Router estimators (to be completed).
