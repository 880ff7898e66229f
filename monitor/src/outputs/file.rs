//! Alerts as JSON lines appended to a file (`--output-file`, `outputs.file`).
use std::{
    io::{self, LineWriter, Write},
    path::{Path, PathBuf},
};

use thiserror::Error;

use crate::rules::Alert;

#[derive(Debug, Error)]
#[error("opening output file {path}: {error}")]
pub struct OpenError {
    pub(crate) path: PathBuf,
    pub(crate) error: io::Error,
}

pub struct JsonLines {
    out: Box<dyn Write + Send>,
}

impl JsonLines {
    /// Appends to `path`, creating it (mode 0600) if needed. An existing `path` must be a regular
    /// file of agentmon's user, not a symlink nor a hard link; its mode is tightened to 0600
    /// ([`crate::files::open_append`]).
    pub fn file(path: &Path) -> Result<Self, OpenError> {
        let f = crate::files::open_append(path).map_err(|error| OpenError {
            path: path.to_path_buf(),
            error,
        })?;
        Ok(Self::new(Box::new(LineWriter::new(f))))
    }

    pub(crate) fn new(out: Box<dyn Write + Send>) -> Self {
        Self { out }
    }

    /// Writes one alert as one line.
    pub fn alert(&mut self, a: &Alert) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, a)?;
        self.out.write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
