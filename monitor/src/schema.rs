//! The log schema: Rust types generated from `proto/agentmon.proto` (package `agentmon.v1`) by
//! `build.rs`, and the error of reading a message back into agentmon's types. A leaf: each event
//! kind converts itself to and from its message (`crate::event`), the recorder and replay use the
//! rest (`crate::record`).
use thiserror::Error;

#[allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/agentmon.v1.rs"));
}

pub use generated::*;

/// A message that decodes but does not hold what agentmon's types need: a missing sub-message, an
/// unknown enum value, a number out of range.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConvertError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("unknown {what} value {value}")]
    UnknownEnum { what: &'static str, value: i32 },
    #[error("{what} {value} out of range")]
    OutOfRange { what: &'static str, value: u64 },
    #[error("refers to process context {0}, which is not defined (lost in a damaged frame?)")]
    UnknownContext(u32),
}
