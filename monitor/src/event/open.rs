//! `open` events: what path the process asked to open, and how.
use monitor_common::{EventKind, open::{OPEN_SYSCALL_OPENAT2, OpenEvent}};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Value, c_string, read_record};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenInfo {
    /// Path as passed (relative paths are relative to `dfd`).
    pub path: String,
    /// Raw `O_*` flags.
    pub flags: u32,
    pub mode: u32,
    pub dfd: i32,
    /// `openat` or `openat2`.
    pub syscall: &'static str,
}

impl OpenInfo {
    /// Opened for reading (`O_RDONLY` or `O_RDWR`).
    pub(crate) fn reads(&self) -> bool {
        self.flags & libc::O_ACCMODE as u32 != libc::O_WRONLY as u32
    }
    /// Opened for writing (`O_WRONLY` or `O_RDWR`).
    pub(crate) fn writes(&self) -> bool {
        self.flags & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32
    }
    pub(crate) fn creates(&self) -> bool {
        self.flags & libc::O_CREAT as u32 != 0
    }
}

/// The syscall an `OpenSyscall` value of the log names.
pub(crate) fn syscall_name(v: i32) -> Option<&'static str> {
    match schema::OpenSyscall::try_from(v) {
        Ok(schema::OpenSyscall::Openat) => Some("openat"),
        Ok(schema::OpenSyscall::Openat2) => Some("openat2"),
        _ => None,
    }
}

impl KindInfo for OpenInfo {
    const KIND: EventKind = EventKind::Open;
    const FIELDS: &'static [Field] = &[Field::FilePath, Field::FileRawPath, Field::FileWrite, Field::FileRead, Field::FileCreate];

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let ev: OpenEvent = read_record(bytes, "open event")?;
        Ok(OpenInfo {
            path: c_string(&ev.path),
            flags: ev.flags,
            mode: ev.mode,
            dfd: ev.dfd,
            syscall: if ev.syscall == OPEN_SYSCALL_OPENAT2 {
                "openat2"
            } else {
                "openat"
            },
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("open ").val(&self.path).lit(" flags=").num(format_args!("{:#o}", self.flags));
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::FilePath | Field::FileRawPath => Value::Str(&self.path),
            Field::FileWrite => Value::Bool(self.writes()),
            Field::FileRead => Value::Bool(self.reads()),
            Field::FileCreate => Value::Bool(self.creates()),
            _ => return None,
        })
    }

    type Proto = schema::Open;

    fn to_proto(&self) -> schema::Open {
        schema::Open {
            path: self.path.clone(),
            flags: self.flags,
            mode: self.mode,
            dir_fd: self.dfd,
            syscall: match self.syscall {
                "openat2" => schema::OpenSyscall::Openat2,
                "openat" => schema::OpenSyscall::Openat,
                _ => schema::OpenSyscall::Unspecified,
            } as i32,
        }
    }

    fn from_proto(p: schema::Open) -> Result<Self, ConvertError> {
        Ok(Self {
            path: p.path,
            flags: p.flags,
            mode: p.mode,
            dfd: p.dir_fd,
            syscall: syscall_name(p.syscall).ok_or(ConvertError::UnknownEnum {
                what: "open syscall",
                value: p.syscall,
            })?,
        })
    }
}

#[cfg(test)]
mod tests {
    use monitor_common::{EventKind, open::*};

    use crate::event::{Body, decode, tests::*};

    #[test]
    fn decodes_path_and_flags() {
        let mut path = [0u8; OPEN_PATH_LEN];
        path[..9].copy_from_slice(b"/etc/shad");
        let ev = OpenEvent {
            header: header(EventKind::Open, size_of::<OpenEvent>()),
            dfd: -100,
            flags: (libc::O_WRONLY | libc::O_CREAT) as u32,
            mode: 0o644,
            syscall: OPEN_SYSCALL_OPENAT,
            _pad: [0; 3],
            path,
        };
        let e = decode(&bytes_of(&ev)).unwrap();
        let Body::Open(o) = e.body else { panic!("not open") };
        assert_eq!(o.path, "/etc/shad");
        assert!(o.writes() && o.creates() && o.flags & libc::O_TRUNC as u32 == 0);
        assert_eq!(e.header.pid, 10);
        assert_eq!(e.header.comm, "test");
    }
}
