//! `ptrace` events: a ptrace request at another process, with the target as named and, from the
//! enrich stage, the target's executable.
use monitor_common::{EventKind, ptrace::PtraceEvent};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    process_names::{PTRACE_REQUESTS, describe_exe, describe_result, name_of, result_field},
    read_record, tail_string,
};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PtraceInfo {
    /// `PTRACE_*` name (or the number).
    pub request: String,
    pub request_nr: i64,
    pub target_pid: i32,
    /// The target's executable (enrich stage: `/proc`, else the process table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_exe: Option<String>,
    /// The level of the caller's pid namespace (0: the initial one, where `target_pid` is the pid
    /// agentmon's `/proc` shows); `None` unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_pidns_level: Option<u32>,
    pub addr: u64,
    pub data: u64,
    /// The syscall's result (`-errno` on failure).
    pub result: i64,
    /// The kernel's path of the caller's executable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_exe: Option<String>,
}

impl KindInfo for PtraceInfo {
    const KIND: EventKind = EventKind::Ptrace;
    const FIELDS: &'static [Field] = &[
        Field::PtraceRequest,
        Field::TargetPid,
        Field::TargetExe,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: PtraceEvent = read_record(bytes, "ptrace event")?;
        Ok(Self {
            request: name_of(PTRACE_REQUESTS, ev.request),
            request_nr: ev.request,
            target_pid: ev.target_pid,
            target_exe: None,
            caller_pidns_level: (ev.caller_pidns_level != u32::MAX).then_some(ev.caller_pidns_level),
            addr: ev.addr,
            data: ev.data,
            result: ev.result,
            kernel_exe: tail_string(bytes, ev.exe, "ptrace exe", notes)?,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("ptrace ").val(&self.request).lit(" pid=").num(self.target_pid);
        if let Some(t) = &self.target_exe {
            line.lit(" target=").val(t);
        }
        describe_result(line, self.result);
        describe_exe(line, self.kernel_exe.as_deref());
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::PtraceRequest => Value::Str(&self.request),
            Field::TargetPid => Value::Num(u64::from(self.target_pid.unsigned_abs())),
            Field::TargetExe => Value::Str(self.target_exe.as_deref()?),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::Ptrace;

    fn to_proto(&self) -> schema::Ptrace {
        schema::Ptrace {
            result: self.result,
            request: self.request_nr,
            addr: self.addr,
            data: self.data,
            target_pid: self.target_pid,
            target_exe: self.target_exe.clone(),
            caller_pidns_level: self.caller_pidns_level,
            kernel_exe: self.kernel_exe.clone(),
        }
    }

    fn from_proto(p: schema::Ptrace) -> Result<Self, ConvertError> {
        Ok(Self {
            request: name_of(PTRACE_REQUESTS, p.request),
            request_nr: p.request,
            target_pid: p.target_pid,
            target_exe: p.target_exe,
            caller_pidns_level: p.caller_pidns_level,
            addr: p.addr,
            data: p.data,
            result: p.result,
            kernel_exe: p.kernel_exe,
        })
    }
}
