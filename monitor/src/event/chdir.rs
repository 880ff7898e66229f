//! `chdir` events: the working directory changed.
use monitor_common::{EventKind, chdir::ChdirEvent};
use serde::Serialize;

use super::{Notes, DecodeError, KindInfo, Line, c_string, read_record};
use crate::schema::{self, ConvertError};

/// The working directory changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChdirInfo {
    /// chdir: the path passed (may be relative); fchdir: empty.
    pub path: String,
    /// fchdir: the directory fd; chdir: -1.
    pub fd: i32,
}

impl KindInfo for ChdirInfo {
    const KIND: EventKind = EventKind::Chdir;
    const RULES: bool = false;

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: ChdirEvent = read_record(bytes, "chdir event")?;
        Ok(ChdirInfo {
            path: c_string(&ev.path),
            fd: ev.fd,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        if self.fd >= 0 {
            line.lit("fchdir fd=").num(self.fd);
        } else {
            line.lit("chdir ").val(&self.path);
        }
    }

    type Proto = schema::Chdir;

    fn to_proto(&self) -> schema::Chdir {
        schema::Chdir {
            path: self.path.clone(),
            fd: self.fd,
        }
    }

    fn from_proto(p: schema::Chdir) -> Result<Self, ConvertError> {
        Ok(Self { path: p.path, fd: p.fd })
    }
}
