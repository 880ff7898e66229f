//! `open` events: a file opened (or an attempt to), by path or handle, with the path as passed and
//! the path of what the kernel opened.
use std::path::Path;

use monitor_common::{
    EventKind,
    open::{
        OPEN_SYSCALL_CREAT, OPEN_SYSCALL_OPEN, OPEN_SYSCALL_OPEN_BY_HANDLE_AT, OPEN_SYSCALL_OPENAT,
        OPEN_SYSCALL_OPENAT2, OpenEvent, QuietOpenKey,
    },
};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Notes, Value, read_record, tail_string_into};
use crate::{
    enrich::resolve::normalize_lexically,
    schema::{self, ConvertError},
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenInfo {
    /// Path as passed (relative paths are relative to `dfd`); empty for `open_by_handle_at`, or when
    /// it could not be read.
    pub path: String,
    /// The kernel's path of the file it opened (successful opens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_path: Option<String>,
    /// The kernel's path of the directory a relative path started from (failed opens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir_path: Option<String>,
    /// The syscall's result: the new descriptor, or `-errno`.
    pub result: i64,
    /// Raw `O_*` flags.
    pub flags: u32,
    pub mode: u32,
    pub dfd: i32,
    /// `openat`, `openat2`, `open`, `creat` or `open_by_handle_at`.
    pub syscall: &'static str,
}

impl OpenInfo {
    /// Opened for reading (`O_RDONLY` or `O_RDWR`).
    pub(crate) fn reads(&self) -> bool {
        self.flags & libc::O_ACCMODE as u32 != libc::O_WRONLY as u32
    }
    /// Opened for writing (`O_WRONLY` or `O_RDWR`).
    pub fn writes(&self) -> bool {
        self.flags & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32
    }
    pub(crate) fn creates(&self) -> bool {
        self.flags & libc::O_CREAT as u32 != 0
    }
    pub fn truncates(&self) -> bool {
        self.flags & libc::O_TRUNC as u32 != 0
    }
    pub fn failed(&self) -> bool {
        self.result < 0
    }

    /// The kernel open filter's key of this open (`None`: not a successful open with a kernel path
    /// short enough to be kept).
    pub(crate) fn quiet_key(&self) -> Option<QuietOpenKey> {
        let path = self.kernel_path.as_deref().filter(|_| self.result >= 0)?;
        let syscall = SYSCALLS.iter().find(|(_, n, _)| *n == self.syscall)?.0;
        QuietOpenKey::new(self.flags, syscall, path.as_bytes())
    }

    /// What the open aimed at, as the kernel saw it: the opened file's path; for a failed attempt,
    /// the path joined to the kernel's path of its starting directory, `.` and `..` folded. `None`
    /// when the kernel side had neither (the enrich stage then resolves the path from `/proc`).
    pub fn target(&self) -> Option<String> {
        if let Some(k) = &self.kernel_path {
            return Some(k.clone());
        }
        let p = Path::new(&self.path);
        let joined = match (&self.dir_path, p.is_absolute()) {
            (_, true) => p.to_path_buf(),
            (Some(dir), false) => Path::new(dir).join(p),
            (None, false) => return None,
        };
        Some(normalize_lexically(&joined).to_string_lossy().into_owned())
    }
}

const SYSCALLS: [(u8, &str, schema::OpenSyscall); 5] = [
    (OPEN_SYSCALL_OPENAT, "openat", schema::OpenSyscall::Openat),
    (OPEN_SYSCALL_OPENAT2, "openat2", schema::OpenSyscall::Openat2),
    (OPEN_SYSCALL_OPEN, "open", schema::OpenSyscall::Open),
    (OPEN_SYSCALL_CREAT, "creat", schema::OpenSyscall::Creat),
    (OPEN_SYSCALL_OPEN_BY_HANDLE_AT, "open_by_handle_at", schema::OpenSyscall::OpenByHandleAt),
];

/// The syscall an `OpenSyscall` value of the log names.
pub(crate) fn syscall_name(v: i32) -> Option<&'static str> {
    let v = schema::OpenSyscall::try_from(v).ok()?;
    SYSCALLS.iter().find(|(_, _, p)| *p == v).map(|(_, name, _)| *name)
}

impl KindInfo for OpenInfo {
    const KIND: EventKind = EventKind::Open;
    const FIELDS: &'static [Field] = &[
        Field::FilePath,
        Field::FileRawPath,
        Field::FileWrite,
        Field::FileRead,
        Field::FileCreate,
        Field::EvtFailed,
        Field::EvtErrno,
        Field::EvtSyscall,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let mut o = OpenInfo {
            path: String::new(),
            kernel_path: None,
            dir_path: None,
            result: 0,
            flags: 0,
            mode: 0,
            dfd: 0,
            syscall: "openat",
        };
        o.decode_into(bytes, notes)?;
        Ok(o)
    }

    // The storm kind: its strings are refilled in place.
    fn decode_into(&mut self, bytes: &[u8], notes: &mut Notes) -> Result<(), DecodeError> {
        let ev: OpenEvent = read_record(bytes, "open event")?;
        let OpenInfo {
            path,
            kernel_path,
            dir_path,
            result,
            flags,
            mode,
            dfd,
            syscall,
        } = self;
        let mut passed = Some(std::mem::take(path));
        tail_string_into(bytes, ev.path, "open path", notes, &mut passed)?;
        *path = passed.unwrap_or_default();
        tail_string_into(bytes, ev.kernel_path, "open kernel path", notes, kernel_path)?;
        tail_string_into(bytes, ev.dir_path, "open directory path", notes, dir_path)?;
        *result = ev.result;
        *flags = ev.flags;
        *mode = ev.mode;
        *dfd = ev.dfd;
        *syscall = SYSCALLS
            .iter()
            .find(|(id, _, _)| *id == ev.syscall)
            .map_or("openat", |(_, name, _)| *name);
        Ok(())
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("open ").val(&self.path);
        if let Some(k) = self.kernel_path.as_deref().filter(|k| *k != self.path) {
            line.lit(" -> ").val(k);
        }
        line.lit(" flags=").num(format_args!("{:#o}", self.flags));
        if self.failed() {
            line.lit(" failed errno=").num(-self.result);
        }
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            // The enrich stage puts `target()` in `resolved_path`, which the rules read first.
            Field::FilePath => Value::Str(self.kernel_path.as_deref().unwrap_or(&self.path)),
            Field::FileRawPath => Value::Str(&self.path),
            Field::FileWrite => Value::Bool(self.writes()),
            Field::FileRead => Value::Bool(self.reads()),
            Field::FileCreate => Value::Bool(self.creates()),
            Field::EvtFailed => Value::Bool(self.failed()),
            Field::EvtErrno => Value::Num(if self.failed() { self.result.unsigned_abs() } else { 0 }),
            Field::EvtSyscall => Value::Str(self.syscall),
            _ => return None,
        })
    }

    type Proto = schema::Open;

    fn to_proto(&self) -> schema::Open {
        let mut p = schema::Open::default();
        self.to_proto_into(&mut p);
        p
    }

    fn to_proto_into(&self, out: &mut schema::Open) {
        out.path.clone_from(&self.path);
        out.kernel_path.clone_from(&self.kernel_path);
        out.dir_path.clone_from(&self.dir_path);
        let schema::Open { path: _, kernel_path: _, dir_path: _, flags, mode, dir_fd, syscall, result } = out;
        *flags = self.flags;
        *mode = self.mode;
        *dir_fd = self.dfd;
        *syscall = SYSCALLS
            .iter()
            .find(|(_, name, _)| *name == self.syscall)
            .map_or(schema::OpenSyscall::Unspecified, |(_, _, p)| *p) as i32;
        *result = self.result;
    }

    fn from_proto(p: schema::Open) -> Result<Self, ConvertError> {
        Ok(Self {
            path: p.path,
            kernel_path: p.kernel_path,
            dir_path: p.dir_path,
            result: p.result,
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
    use monitor_common::{
        EventKind,
        open::*,
        record::{TAIL_READ_FAILED, Tail},
    };

    use crate::event::{Body, DecodeError, decode, decode_into, tests::*};

    /// An open record with `strings` appended to its tail, in order path, kernel path, dir path.
    fn record(result: i64, strings: [Option<&[u8]>; 3]) -> Vec<u8> {
        let ([path, kernel_path, dir_path], tail) = tails(size_of::<OpenEvent>(), strings);
        let ev = OpenEvent {
            header: header(EventKind::Open, size_of::<OpenEvent>() + tail.len()),
            result,
            flags: (libc::O_WRONLY | libc::O_CREAT) as u32,
            mode: 0o644,
            dfd: -100,
            syscall: OPEN_SYSCALL_OPENAT,
            _pad: [0; 3],
            path,
            kernel_path,
            dir_path,
        };
        let mut bytes = bytes_of(&ev);
        bytes.extend_from_slice(&tail);
        bytes
    }

    fn open_of(bytes: &[u8]) -> crate::event::OpenInfo {
        match decode(bytes).unwrap().body {
            Body::Open(o) => o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decodes_the_path_as_passed_and_the_kernels() {
        let o = open_of(&record(3, [Some(b"../x/secret"), Some(b"/home/a/x/secret"), None]));
        assert_eq!(o.path, "../x/secret");
        assert_eq!(o.kernel_path.as_deref(), Some("/home/a/x/secret"));
        assert_eq!(o.target().as_deref(), Some("/home/a/x/secret"));
        assert!(o.writes() && o.creates() && !o.truncates() && !o.failed());
    }

    #[test]
    fn a_failed_relative_open_aims_at_its_directory_joined_path() {
        let o = open_of(&record(-13, [Some(b"../.ssh/id_rsa"), None, Some(b"/home/a/work")]));
        assert!(o.failed());
        assert_eq!(o.target().as_deref(), Some("/home/a/.ssh/id_rsa"));
    }

    #[test]
    fn strings_outside_the_record_are_refused_and_unreadable_ones_noted() {
        let mut bytes = record(3, [Some(b"/etc/passwd"), None, None]);
        // Point the path past the end.
        let at = std::mem::offset_of!(OpenEvent, path);
        bytes[at..at + 2].copy_from_slice(&1000u16.to_ne_bytes());
        assert!(matches!(decode(&bytes), Err(DecodeError::BadTail { .. })));

        let mut bytes = record(3, [Some(b"/etc/passwd"), None, None]);
        let flags_at = at + std::mem::offset_of!(Tail, flags);
        bytes[flags_at..flags_at + 2].copy_from_slice(&TAIL_READ_FAILED.to_ne_bytes());
        let e = decode(&bytes).unwrap();
        assert!(e.header.read_failed);
    }

    /// Decoding over an earlier event (the live consumer's one slot) gives what a fresh decode
    /// gives, whatever the slot held: another open with longer or absent strings, a failed read,
    /// another kind.
    #[test]
    fn decoding_in_place_equals_a_fresh_decode() {
        let records = [
            record(3, [Some(b"/a/much/longer/path/than/the/next"), Some(b"/k/long/one"), Some(b"/d")]),
            record(-2, [Some(b"x"), None, None]),
            record(3, [None, Some(b"/only/kernel"), None]),
            {
                let mut bytes = record(3, [Some(b"/etc/passwd"), None, None]);
                let at = std::mem::offset_of!(OpenEvent, path) + std::mem::offset_of!(Tail, flags);
                bytes[at..at + 2].copy_from_slice(&TAIL_READ_FAILED.to_ne_bytes());
                bytes
            },
            bytes_of(&monitor_common::fork::ForkEvent {
                header: header(EventKind::Fork, size_of::<monitor_common::fork::ForkEvent>()),
                child_tgid: 9,
                _pad: 0,
            }),
        ];
        for before in &records {
            for after in &records {
                let mut slot = decode(before).unwrap();
                decode_into(after, &mut slot).unwrap();
                assert_eq!(slot, decode(after).unwrap());
            }
        }
    }
}
