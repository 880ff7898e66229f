//! `chroot` events: the root directory changed (`chroot`, `pivot_root`), or an attempt to.
use monitor_common::{
    EventKind,
    chroot::{CHROOT_SYSCALL_CHROOT, CHROOT_SYSCALL_PIVOT_ROOT, ChrootEvent},
};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    process_names::{describe_exe, describe_result, result_field, syscall_from_log, syscall_id, syscall_name},
    read_record, tail_string,
};
use crate::schema::{self, ConvertError};

const SYSCALLS: [(u8, &str); 2] = [(CHROOT_SYSCALL_CHROOT, "chroot"), (CHROOT_SYSCALL_PIVOT_ROOT, "pivot_root")];

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChrootInfo {
    pub syscall: &'static str,
    /// As passed: chroot's path, `pivot_root`'s `new_root`.
    pub path: String,
    /// `pivot_root`: `put_old` as passed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub put_old: Option<String>,
    /// After success: the kernel's path of the new root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    pub result: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_exe: Option<String>,
}

impl KindInfo for ChrootInfo {
    const KIND: EventKind = EventKind::Chroot;
    const FIELDS: &'static [Field] = &[
        Field::ChrootPath,
        Field::ChrootRawPath,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: ChrootEvent = read_record(bytes, "chroot event")?;
        Ok(Self {
            syscall: syscall_name(&SYSCALLS, ev.syscall),
            path: tail_string(bytes, ev.path, "chroot path", notes)?.unwrap_or_default(),
            put_old: tail_string(bytes, ev.put_old, "pivot_root put_old", notes)?,
            root: tail_string(bytes, ev.root, "chroot root", notes)?,
            result: ev.result,
            kernel_exe: tail_string(bytes, ev.exe, "chroot exe", notes)?,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit(self.syscall).lit(" ").val(&self.path);
        if let Some(p) = &self.put_old {
            line.lit(" ").val(p);
        }
        if let Some(r) = self.root.as_deref().filter(|r| *r != self.path) {
            line.lit(" -> ").val(r);
        }
        describe_result(line, self.result);
        describe_exe(line, self.kernel_exe.as_deref());
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::ChrootPath => Value::Str(self.root.as_deref().unwrap_or(&self.path)),
            Field::ChrootRawPath => Value::Str(&self.path),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::Chroot;

    fn to_proto(&self) -> schema::Chroot {
        schema::Chroot {
            syscall: syscall_id(&SYSCALLS, self.syscall),
            result: self.result,
            path: self.path.clone(),
            put_old: self.put_old.clone(),
            root: self.root.clone(),
            kernel_exe: self.kernel_exe.clone(),
        }
    }

    fn from_proto(p: schema::Chroot) -> Result<Self, ConvertError> {
        Ok(Self {
            syscall: syscall_from_log(&SYSCALLS, p.syscall, "chroot syscall")?,
            path: p.path,
            put_old: p.put_old,
            root: p.root,
            result: p.result,
            kernel_exe: p.kernel_exe,
        })
    }
}
