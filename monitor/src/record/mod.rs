//! Forensic recording and replay.
//!
//! A log is a chain of frames (layout in [`format`] and `docs/RECORDING.md`): a header frame, then
//! batch frames holding the enriched events, their process contexts ([`context`]), alerts and drop
//! notices ([`batch`]), then a trailer when closed. Records are protobuf messages from
//! `proto/agentmon.proto` ([`proto`]), converted from and to agentmon's own types in [`convert`].
//! Every frame carries CRC32C checksums and a hash chained to the previous frame, so corruption,
//! truncation, removal and reordering are detected ([`verify`]).
//!
//! - [`writer::Recorder`] appends to a log (one `write(2)` per batch, size-based rotation).
//! - [`reader::FrameReader`] / [`reader::RecordReader`] stream a log back (memory flat in its size).
//! - [`replay`] runs recorded events through an [`replay::Evaluator`] (the rule engine).
pub(crate) mod batch;
pub mod context;
pub(crate) mod convert;
pub mod decoder;
pub mod format;
pub(crate) mod live;
pub mod reader;
pub(crate) mod replay;
pub mod verify;
mod wire;
pub(crate) mod writer;

pub use crate::schema as proto;
pub(crate) use crate::schema::ConvertError;
pub use batch::{Entries, Entry};
pub(crate) use format::FrameError;
pub(crate) use live::LiveRecorder;
pub use reader::{FrameReader, ReaderOptions, Record, RecordReader};
pub(crate) use replay::{Evaluator, ReplayOptions};
pub use writer::{Recorder, RecorderOptions};

use thiserror::Error;

/// Errors of the recording side.
#[derive(Debug, Error)]
pub enum RecordError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("record too large: {0} bytes (the limit is {max})", max = format::MAX_PAYLOAD_LEN)]
    TooLarge(usize),
    #[error("{0}")]
    Convert(#[from] ConvertError),
}

impl RecordError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests;
