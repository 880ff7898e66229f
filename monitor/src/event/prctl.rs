//! `prctl` events: a security-relevant `prctl(2)` option, or `seccomp(2)`.
use monitor_common::{
    EventKind,
    prctl::{PRCTL_SYSCALL_PRCTL, PRCTL_SYSCALL_SECCOMP, PrctlEvent},
};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    process_names::{
        PRCTL_OPTIONS, SECCOMP_OPS, describe_exe, describe_result, name_of, result_field, syscall_from_log,
        syscall_id, syscall_name,
    },
    read_record, tail_string,
};
use crate::schema::{self, ConvertError};

const SYSCALLS: [(u8, &str); 2] = [(PRCTL_SYSCALL_PRCTL, "prctl"), (PRCTL_SYSCALL_SECCOMP, "seccomp")];

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrctlInfo {
    pub syscall: &'static str,
    /// `PR_*` (prctl) or `SECCOMP_*` (seccomp) name, or the number.
    pub option: String,
    pub option_nr: u64,
    /// prctl: arg2..arg5; seccomp: its flags.
    pub args: Vec<u64>,
    pub result: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_exe: Option<String>,
}

impl PrctlInfo {
    fn build(syscall: &'static str, option_nr: u64, args: Vec<u64>, result: i64, kernel_exe: Option<String>) -> Self {
        let table = if syscall == "seccomp" { SECCOMP_OPS } else { PRCTL_OPTIONS };
        Self {
            syscall,
            option: name_of(table, option_nr),
            option_nr,
            args,
            result,
            kernel_exe,
        }
    }
}

impl KindInfo for PrctlInfo {
    const KIND: EventKind = EventKind::Prctl;
    const FIELDS: &'static [Field] = &[Field::PrctlOption, Field::PrctlArg, Field::EvtFailed, Field::EvtErrno];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: PrctlEvent = read_record(bytes, "prctl event")?;
        let syscall = syscall_name(&SYSCALLS, ev.syscall);
        let args = if ev.syscall == PRCTL_SYSCALL_SECCOMP {
            ev.args[..1].to_vec()
        } else {
            ev.args.to_vec()
        };
        Ok(Self::build(
            syscall,
            ev.option,
            args,
            ev.result,
            tail_string(bytes, ev.exe, "prctl exe", notes)?,
        ))
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit(self.syscall).lit(" ").val(&self.option);
        if let Some(a) = self.args.first() {
            line.lit(" arg=").num(a);
        }
        describe_result(line, self.result);
        describe_exe(line, self.kernel_exe.as_deref());
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::PrctlOption => Value::Str(&self.option),
            Field::PrctlArg => Value::Num(*self.args.first()?),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::Prctl;

    fn to_proto(&self) -> schema::Prctl {
        schema::Prctl {
            syscall: syscall_id(&SYSCALLS, self.syscall),
            result: self.result,
            option: self.option_nr,
            args: self.args.clone(),
            kernel_exe: self.kernel_exe.clone(),
        }
    }

    fn from_proto(p: schema::Prctl) -> Result<Self, ConvertError> {
        Ok(Self::build(
            syscall_from_log(&SYSCALLS, p.syscall, "prctl syscall")?,
            p.option,
            p.args,
            p.result,
            p.kernel_exe,
        ))
    }
}
