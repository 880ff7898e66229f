//! `deny` notices: the kernel side stopped an action synchronously.
use monitor_common::{
    EventKind,
    deny::{DENY_CHANGE, DENY_CONNECT, DENY_EXEC, DENY_IO_URING, DENY_MOUNT, DENY_OPEN, DenyEvent},
};
use serde::Serialize;

use super::{Notes, DecodeError, KindInfo, Line, read_record};
use crate::schema::{self, ConvertError};

/// What the kernel denied: its code in `DenyEvent::what`, its name, its value in the recording.
const WHATS: [(u8, &str, schema::DenyWhat); 6] = [
    (DENY_EXEC, "exec", schema::DenyWhat::Exec),
    (DENY_OPEN, "open", schema::DenyWhat::Open),
    (DENY_CHANGE, "change", schema::DenyWhat::Change),
    (DENY_MOUNT, "mount", schema::DenyWhat::Mount),
    (DENY_CONNECT, "connect", schema::DenyWhat::Connect),
    (DENY_IO_URING, "io_uring", schema::DenyWhat::IoUring),
];

fn unknown_what(value: i32) -> ConvertError {
    ConvertError::UnknownEnum {
        what: "deny target",
        value,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DenyInfo {
    /// exec, open, change, mount, connect or `io_uring` (see [`WHATS`]).
    pub what: &'static str,
    pub rule_id: u32,
}

impl KindInfo for DenyInfo {
    const KIND: EventKind = EventKind::Deny;
    const RULES: bool = false;

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: DenyEvent = read_record(bytes, "deny event")?;
        let what = WHATS
            .iter()
            .find(|(code, _, _)| *code == ev.what)
            .map_or("unknown", |(_, name, _)| *name);
        Ok(DenyInfo {
            what,
            rule_id: ev.rule_id,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("deny ").lit(self.what).lit(" rule=").num(self.rule_id);
    }

    type Proto = schema::Deny;

    fn to_proto(&self) -> schema::Deny {
        schema::Deny {
            what: WHATS
                .iter()
                .find(|(_, name, _)| *name == self.what)
                .map_or(schema::DenyWhat::Unknown, |(_, _, w)| *w) as i32,
            rule_id: self.rule_id,
        }
    }

    fn from_proto(p: schema::Deny) -> Result<Self, ConvertError> {
        Ok(Self {
            what: match schema::DenyWhat::try_from(p.what) {
                Ok(schema::DenyWhat::Unknown) => "unknown",
                Ok(w) => match WHATS.iter().find(|(_, _, x)| *x == w) {
                    Some((_, name, _)) => name,
                    None => return Err(unknown_what(p.what)),
                },
                Err(_) => return Err(unknown_what(p.what)),
            },
            rule_id: p.rule_id,
        })
    }
}
