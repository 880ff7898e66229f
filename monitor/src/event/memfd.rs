//! `memfd` events: an anonymous in-memory file was created (`memfd_create`), or an attempt to.
use monitor_common::{EventKind, memfd::MemfdEvent};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Notes, Value, read_record, tail_string, process_names::{describe_fd_result, result_field}};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemfdInfo {
    /// The name as passed (shown as `/memfd:NAME` in `/proc/PID/fd`).
    pub name: String,
    /// `MFD_*` flags.
    pub flags: u32,
    /// The new fd, or `-errno`.
    pub result: i64,
}

impl MemfdInfo {
    pub fn failed(&self) -> bool {
        self.result < 0
    }
}

impl KindInfo for MemfdInfo {
    const KIND: EventKind = EventKind::Memfd;
    const FIELDS: &'static [Field] = &[Field::MemfdName, Field::MemfdFlags, Field::EvtFailed, Field::EvtErrno];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: MemfdEvent = read_record(bytes, "memfd event")?;
        Ok(MemfdInfo {
            name: tail_string(bytes, ev.name, "memfd name", notes)?.unwrap_or_default(),
            flags: ev.flags,
            result: ev.result,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("memfd_create ")
            .val(&self.name)
            .lit(" flags=")
            .num(format_args!("{:#x}", self.flags));
        describe_fd_result(line, self.result);
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::MemfdName => Value::Str(&self.name),
            Field::MemfdFlags => Value::Num(self.flags.into()),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::Memfd;

    fn to_proto(&self) -> schema::Memfd {
        schema::Memfd {
            name: self.name.clone(),
            flags: self.flags,
            result: self.result,
        }
    }

    fn from_proto(p: schema::Memfd) -> Result<Self, ConvertError> {
        Ok(Self {
            name: p.name,
            flags: p.flags,
            result: p.result,
        })
    }
}
