//! Modules of the `meta-router` binary (above every library layer).

pub mod plan;
pub mod realdata;
pub mod reproduce;
pub mod slurm;
pub mod study;
