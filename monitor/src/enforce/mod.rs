//! Enforcement: in-kernel deny (compiled from rules) and the cgroup-wide responses.
pub mod spec;
