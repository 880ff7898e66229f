//! `chdir` events: the working directory changed.
use monitor_common::chdir::ChdirEvent;
use serde::Serialize;

use super::{DecodeError, c_string, read_record};

/// The working directory changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChdirInfo {
    /// chdir: the path passed (may be relative); fchdir: empty.
    pub path: String,
    /// fchdir: the directory fd; chdir: -1.
    pub fd: i32,
}

pub(super) fn decode(bytes: &[u8]) -> Result<ChdirInfo, DecodeError> {
    let ev: ChdirEvent = read_record(bytes, "chdir event")?;
    Ok(ChdirInfo {
        path: c_string(&ev.path),
        fd: ev.fd,
    })
}
