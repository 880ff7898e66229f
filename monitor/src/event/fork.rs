//! `fork` events: a new process; the header describes the parent.
use monitor_common::{EventKind, fork::ForkEvent};
use serde::Serialize;

use super::{Notes, DecodeError, KindInfo, Line, read_record};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForkInfo {
    /// The new process; the header describes the parent.
    pub child_pid: u32,
}

impl KindInfo for ForkInfo {
    const KIND: EventKind = EventKind::Fork;
    const RULES: bool = false;

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: ForkEvent = read_record(bytes, "fork event")?;
        Ok(ForkInfo {
            child_pid: ev.child_tgid,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("fork child=").num(self.child_pid);
    }

    type Proto = schema::Fork;

    fn to_proto(&self) -> schema::Fork {
        schema::Fork {
            child_pid: self.child_pid,
        }
    }

    fn from_proto(p: schema::Fork) -> Result<Self, ConvertError> {
        Ok(Self { child_pid: p.child_pid })
    }
}
