//! `io_uring_setup` events: a process created an `io_uring` instance (or tried to).
use monitor_common::{
    EventKind,
    io_uring_setup::{IORING_SETUP_SQPOLL, IoUringSetupEvent},
};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Notes, Value, read_record, process_names::{describe_fd_result, result_field}};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IoUringSetupInfo {
    /// The ring's fd, or `-errno`.
    pub result: i64,
    /// Submission queue entries asked for.
    pub entries: u32,
    /// `IORING_SETUP_*` flags.
    pub flags: u32,
    /// What the kernel set up (0 on failure).
    pub sq_entries: u32,
    pub cq_entries: u32,
    /// `IORING_FEAT_*` the kernel reported.
    pub features: u32,
    /// With `IORING_SETUP_ATTACH_WQ`: the ring whose workers it shares.
    #[serde(skip_serializing_if = "is_zero")]
    pub wq_fd: u32,
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_zero(v: &u32) -> bool {
    *v == 0
}

impl IoUringSetupInfo {
    pub fn failed(&self) -> bool {
        self.result < 0
    }

    /// A kernel thread polls the submission queue: operations then need no syscall at all.
    pub fn sqpoll(&self) -> bool {
        self.flags & IORING_SETUP_SQPOLL != 0
    }
}

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
        Ok(IoUringSetupInfo {
            result: ev.result,
            entries: ev.entries,
            flags: ev.flags,
            sq_entries: ev.sq_entries,
            cq_entries: ev.cq_entries,
            features: ev.features,
            wq_fd: ev.wq_fd,
        })
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
