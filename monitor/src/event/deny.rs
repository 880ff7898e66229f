//! `deny` notices: the kernel side stopped an action synchronously.
use monitor_common::{
    EventKind,
    deny::{DENY_CONNECT, DENY_EXEC, DENY_IO_URING, DENY_MOUNT, DENY_OPEN, DenyEvent},
};
use serde::Serialize;

use super::{Notes, DecodeError, KindInfo, Line, read_record};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DenyInfo {
    /// exec, open, mount, connect or `io_uring`.
    pub what: &'static str,
    pub rule_id: u32,
}

impl KindInfo for DenyInfo {
    const KIND: EventKind = EventKind::Deny;
    const RULES: bool = false;

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: DenyEvent = read_record(bytes, "deny event")?;
        let what = match ev.what {
            DENY_EXEC => "exec",
            DENY_OPEN => "open",
            DENY_MOUNT => "mount",
            DENY_CONNECT => "connect",
            DENY_IO_URING => "io_uring",
            _ => "unknown",
        };
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
            what: match self.what {
                "exec" => schema::DenyWhat::Exec,
                "open" => schema::DenyWhat::Open,
                "mount" => schema::DenyWhat::Mount,
                "connect" => schema::DenyWhat::Connect,
                "io_uring" => schema::DenyWhat::IoUring,
                _ => schema::DenyWhat::Unknown,
            } as i32,
            rule_id: self.rule_id,
        }
    }

    fn from_proto(p: schema::Deny) -> Result<Self, ConvertError> {
        Ok(Self {
            what: match schema::DenyWhat::try_from(p.what) {
                Ok(schema::DenyWhat::Exec) => "exec",
                Ok(schema::DenyWhat::Open) => "open",
                Ok(schema::DenyWhat::Mount) => "mount",
                Ok(schema::DenyWhat::Connect) => "connect",
                Ok(schema::DenyWhat::IoUring) => "io_uring",
                Ok(schema::DenyWhat::Unknown) => "unknown",
                _ => {
                    return Err(ConvertError::UnknownEnum {
                        what: "deny target",
                        value: p.what,
                    });
                }
            },
            rule_id: p.rule_id,
        })
    }
}
