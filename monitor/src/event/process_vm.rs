//! `process_vm` events: another process's memory read or written (`process_vm_readv/writev`).
use monitor_common::{EventKind, process_vm::ProcessVmEvent};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    process_names::{describe_exe, describe_result, result_field},
    read_record, tail_string,
};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProcessVmInfo {
    /// `process_vm_writev` (else `process_vm_readv`).
    pub write: bool,
    pub target_pid: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_exe: Option<String>,
    /// The level of the caller's pid namespace (0: the initial one, where `target_pid` is the pid
    /// agentmon's `/proc` shows); `None` unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_pidns_level: Option<u32>,
    /// Bytes moved, or `-errno`.
    pub result: i64,
    pub local_iovcnt: u64,
    pub remote_iovcnt: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_exe: Option<String>,
}

impl KindInfo for ProcessVmInfo {
    const KIND: EventKind = EventKind::ProcessVm;
    const FIELDS: &'static [Field] = &[
        Field::ProcessVmWrite,
        Field::TargetPid,
        Field::TargetExe,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: ProcessVmEvent = read_record(bytes, "process_vm event")?;
        Ok(Self {
            write: ev.write != 0,
            target_pid: ev.target_pid,
            target_exe: None,
            caller_pidns_level: (ev.caller_pidns_level != u32::MAX).then_some(ev.caller_pidns_level),
            result: ev.result,
            local_iovcnt: ev.local_iovcnt,
            remote_iovcnt: ev.remote_iovcnt,
            kernel_exe: tail_string(bytes, ev.exe, "process_vm exe", notes)?,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit(if self.write { "process_vm_writev" } else { "process_vm_readv" })
            .lit(" pid=")
            .num(self.target_pid);
        if let Some(t) = &self.target_exe {
            line.lit(" target=").val(t);
        }
        if self.result >= 0 {
            line.lit(" bytes=").num(self.result);
        }
        describe_result(line, self.result);
        describe_exe(line, self.kernel_exe.as_deref());
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::ProcessVmWrite => Value::Bool(self.write),
            Field::TargetPid => Value::Num(u64::from(self.target_pid.unsigned_abs())),
            Field::TargetExe => Value::Str(self.target_exe.as_deref()?),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::ProcessVm;

    fn to_proto(&self) -> schema::ProcessVm {
        schema::ProcessVm {
            result: self.result,
            target_pid: self.target_pid,
            write: self.write,
            local_iovcnt: self.local_iovcnt,
            remote_iovcnt: self.remote_iovcnt,
            target_exe: self.target_exe.clone(),
            caller_pidns_level: self.caller_pidns_level,
            kernel_exe: self.kernel_exe.clone(),
        }
    }

    fn from_proto(p: schema::ProcessVm) -> Result<Self, ConvertError> {
        Ok(Self {
            write: p.write,
            target_pid: p.target_pid,
            target_exe: p.target_exe,
            caller_pidns_level: p.caller_pidns_level,
            result: p.result,
            local_iovcnt: p.local_iovcnt,
            remote_iovcnt: p.remote_iovcnt,
            kernel_exe: p.kernel_exe,
        })
    }
}
