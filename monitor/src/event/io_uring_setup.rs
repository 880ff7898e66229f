//! `io_uring_setup` events: a process created an `io_uring` instance (or tried to).
use monitor_common::{
    EventKind,
    io_uring_setup::{IoUringSetup, IoUringSetupEvent},
};

use super::{DecodeError, Field, KindInfo, Line, Notes, Value, read_record, process_names::{describe_fd_result, result_field}};
use crate::schema::{self, ConvertError};

/// The event is the record's payload as the kernel wrote it (methods and JSON form in
/// `monitor_common::io_uring_setup`).
pub type IoUringSetupInfo = IoUringSetup;

impl KindInfo for IoUringSetupInfo {
    const KIND: EventKind = EventKind::IoUringSetup;
    const FIELDS: &'static [Field] = &[
        Field::IouringEntries,
        Field::IouringFlags,
        Field::IouringSqpoll,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: IoUringSetupEvent = read_record(bytes, "io_uring setup event")?;
        Ok(ev.setup)
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("io_uring_setup entries=")
            .num(self.entries)
            .lit(" flags=")
            .num(format_args!("{:#x}", self.flags));
        if self.sqpoll() {
            line.lit(" (sqpoll)");
        }
        describe_fd_result(line, self.result);
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::IouringEntries => Value::Num(self.entries.into()),
            Field::IouringFlags => Value::Num(self.flags.into()),
            Field::IouringSqpoll => Value::Bool(self.sqpoll()),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::IoUringSetup;

    fn to_proto(&self) -> schema::IoUringSetup {
        schema::IoUringSetup {
            result: self.result,
            entries: self.entries,
            flags: self.flags,
            sq_entries: self.sq_entries,
            cq_entries: self.cq_entries,
            features: self.features,
            wq_fd: self.wq_fd,
        }
    }

    fn from_proto(p: schema::IoUringSetup) -> Result<Self, ConvertError> {
        Ok(Self {
            result: p.result,
            entries: p.entries,
            flags: p.flags,
            sq_entries: p.sq_entries,
            cq_entries: p.cq_entries,
            features: p.features,
            wq_fd: p.wq_fd,
        })
    }
}
