//! `mmap` events: a file mapped executable (`mmap` with `PROT_EXEC`, or `mprotect` adding it to a
//! file-backed mapping), with the kernel's path of the file: code loaded without an exec of it.
use monitor_common::{
    EventKind,
    mmap::{MMAP_SYSCALL_MMAP, MMAP_SYSCALL_MPROTECT, MMAP_SYSCALL_PKEY_MPROTECT, MmapEvent},
};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Notes, Value, read_record, tail_string};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MmapInfo {
    /// `mmap`, `mprotect` or `pkey_mprotect`.
    pub syscall: &'static str,
    /// The kernel's path of the mapped file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `PROT_*` (always with `PROT_EXEC`).
    pub prot: u32,
    /// `mmap`'s `MAP_*` flags.
    pub flags: u32,
    /// `mmap`'s fd (-1 for mprotect).
    pub fd: i32,
    pub addr: u64,
    pub len: u64,
    /// `mmap`'s file offset.
    pub offset: u64,
    /// `mmap`: the address, or `-errno`; `mprotect`: 0 or `-errno`.
    pub result: i64,
}

const SYSCALLS: [(u8, &str, schema::MmapSyscall); 3] = [
    (MMAP_SYSCALL_MMAP, "mmap", schema::MmapSyscall::Mmap),
    (MMAP_SYSCALL_MPROTECT, "mprotect", schema::MmapSyscall::Mprotect),
    (MMAP_SYSCALL_PKEY_MPROTECT, "pkey_mprotect", schema::MmapSyscall::PkeyMprotect),
];

impl MmapInfo {
    pub fn failed(&self) -> bool {
        self.result < 0 && self.result > -4096
    }
}

impl KindInfo for MmapInfo {
    const KIND: EventKind = EventKind::Mmap;
    const FIELDS: &'static [Field] = &[
        Field::FilePath,
        Field::MmapProt,
        Field::MmapSyscall,
        Field::EvtSyscall,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: MmapEvent = read_record(bytes, "mmap event")?;
        Ok(MmapInfo {
            syscall: SYSCALLS
                .iter()
                .find(|(id, _, _)| *id == ev.syscall)
                .map_or("mmap", |(_, n, _)| *n),
            path: tail_string(bytes, ev.path, "mapped file path", notes)?,
            prot: ev.prot,
            flags: ev.flags,
            fd: ev.fd,
            addr: ev.addr,
            len: ev.len,
            offset: ev.offset,
            result: ev.result,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit(self.syscall)
            .lit(" exec ")
            .val(self.path.as_deref().unwrap_or("?"))
            .lit(" prot=")
            .num(format_args!("{:#x}", self.prot))
            .lit(" len=")
            .num(self.len);
        if self.failed() {
            line.lit(" failed errno=").num(-self.result);
        }
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::FilePath => Value::Str(self.path.as_deref()?),
            Field::MmapProt => Value::Num(self.prot.into()),
            Field::MmapSyscall | Field::EvtSyscall => Value::Str(self.syscall),
            Field::EvtFailed => Value::Bool(self.failed()),
            Field::EvtErrno => Value::Num(if self.failed() { self.result.unsigned_abs() } else { 0 }),
            _ => return None,
        })
    }

    type Proto = schema::Mmap;

    fn to_proto(&self) -> schema::Mmap {
        schema::Mmap {
            syscall: SYSCALLS
                .iter()
                .find(|(_, n, _)| *n == self.syscall)
                .map_or(schema::MmapSyscall::Unspecified, |(_, _, p)| *p) as i32,
            path: self.path.clone(),
            prot: self.prot,
            flags: self.flags,
            fd: self.fd,
            addr: self.addr,
            len: self.len,
            offset: self.offset,
            result: self.result,
        }
    }

    fn from_proto(p: schema::Mmap) -> Result<Self, ConvertError> {
        let syscall = schema::MmapSyscall::try_from(p.syscall)
            .ok()
            .and_then(|v| SYSCALLS.iter().find(|(_, _, s)| *s == v))
            .map(|(_, n, _)| *n)
            .ok_or(ConvertError::UnknownEnum {
                what: "mmap syscall",
                value: p.syscall,
            })?;
        Ok(Self {
            syscall,
            path: p.path,
            prot: p.prot,
            flags: p.flags,
            fd: p.fd,
            addr: p.addr,
            len: p.len,
            offset: p.offset,
            result: p.result,
        })
    }
}
