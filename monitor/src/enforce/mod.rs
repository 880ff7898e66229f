//! Enforcement: in-kernel deny (compiled from rules) and the cgroup-wide responses.
pub mod kernel;
pub mod respond;
pub mod spec;
