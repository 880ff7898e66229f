//! Rust types generated from `proto/agentmon.proto` (package `agentmon.v1`) by `build.rs`.
#![allow(clippy::all, clippy::pedantic, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/agentmon.v1.rs"));
