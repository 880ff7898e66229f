//! `syscall` events: a system call the sandbox reported (`monitor_common::syscall`) — refused by its
//! seccomp filter (`-EPERM`), or, in audit mode, the first call by a process of a syscall its profile
//! does not list. Named from the x86-64 table (`crate::profile::syscalls`).
use monitor_common::{
    EventKind,
    syscall::{REPORT_REFUSED, SyscallEvent},
};
use serde::{Serialize, Serializer};

use super::{DecodeError, Field, KindInfo, Line, Notes, Value, read_record, process_names::result_field};
use crate::{
    profile::syscalls,
    schema::{self, ConvertError},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallInfo {
    pub nr: u32,
    /// The result: `-errno` on failure.
    pub result: i64,
    /// The six argument registers.
    pub args: [u64; 6],
    /// Reported because it returned `-EPERM` under a filter that may refuse it (else: first call of
    /// an unlisted syscall).
    pub refused: bool,
}

/// JSON: `name` (from the number), `nr`, `result`, `args` as hex strings (flags and pointers read
/// best that way; a u64 does not fit a JSON number), `refused`.
impl Serialize for SyscallInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let args: Vec<String> = self.args.iter().map(|a| format!("{a:#x}")).collect();
        let mut st = s.serialize_struct("SyscallInfo", 5)?;
        st.serialize_field("name", &self.name())?;
        st.serialize_field("nr", &self.nr)?;
        st.serialize_field("result", &self.result)?;
        st.serialize_field("args", &args)?;
        st.serialize_field("refused", &self.refused)?;
        st.end()
    }
}

impl SyscallInfo {
    /// The syscall's name (`syscall_N` for a number the table does not know).
    pub fn name(&self) -> std::borrow::Cow<'static, str> {
        syscalls::name(self.nr).map_or_else(|| format!("syscall_{}", self.nr).into(), Into::into)
    }

    pub fn failed(&self) -> bool {
        self.result < 0
    }
}

impl KindInfo for SyscallInfo {
    const KIND: EventKind = EventKind::Syscall;
    const FIELDS: &'static [Field] = &[
        Field::SyscallName,
        Field::SyscallNr,
        Field::SyscallRefused,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: SyscallEvent = read_record(bytes, "syscall event")?;
        Ok(SyscallInfo {
            nr: ev.nr,
            result: ev.ret,
            args: ev.args,
            refused: ev.why & REPORT_REFUSED != 0,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("syscall ").val(&self.name());
        line.lit(" args=").num(format_args!(
            "{:#x},{:#x},{:#x}",
            self.args[0], self.args[1], self.args[2]
        ));
        if self.failed() {
            line.lit(" failed errno=").num(-self.result);
        }
        if self.refused {
            line.lit(" refused");
        }
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::SyscallName => Value::Str(syscalls::name(self.nr).unwrap_or("")),
            Field::SyscallNr => Value::Num(u64::from(self.nr)),
            Field::SyscallRefused => Value::Bool(self.refused),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::Syscall;

    fn to_proto(&self) -> schema::Syscall {
        schema::Syscall {
            nr: self.nr,
            result: self.result,
            args: self.args.to_vec(),
            why: if self.refused { REPORT_REFUSED } else { monitor_common::syscall::REPORT_FIRST },
        }
    }

    fn from_proto(p: schema::Syscall) -> Result<Self, ConvertError> {
        let mut args = [0u64; 6];
        for (slot, a) in args.iter_mut().zip(p.args) {
            *slot = a;
        }
        Ok(Self {
            nr: p.nr,
            result: p.result,
            args,
            refused: p.why & REPORT_REFUSED != 0,
        })
    }
}
