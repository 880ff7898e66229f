//! `io_uring_op` events: an operation submitted to an `io_uring`, with the path the kernel copied
//! for the operations that name files by path.
use std::path::Path;

use monitor_common::{
    EventKind,
    io_uring_op::{IORING_OP_OPENAT, IORING_OP_OPENAT2, IOURING_OP_DIRECT, IOURING_OP_FIXED_FILE, IOURING_OP_SQ_THREAD, IoUringOpEvent},
};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Notes, Value, read_record, tail_string};
use crate::{
    enrich::resolve::normalize_lexically,
    schema::{self, ConvertError},
};

/// `IORING_OP_*` names, by opcode (the kernel's `io_uring_get_opcode`, lower-cased).
const OPCODES: &[&str] = &[
    "nop", "readv", "writev", "fsync", "read_fixed", "write_fixed", "poll_add", "poll_remove",
    "sync_file_range", "sendmsg", "recvmsg", "timeout", "timeout_remove", "accept", "async_cancel",
    "link_timeout", "connect", "fallocate", "openat", "close", "files_update", "statx", "read", "write",
    "fadvise", "madvise", "send", "recv", "openat2", "epoll_ctl", "splice", "provide_buffers",
    "remove_buffers", "tee", "shutdown", "renameat", "unlinkat", "mkdirat", "symlinkat", "linkat",
    "msg_ring", "fsetxattr", "setxattr", "fgetxattr", "getxattr", "socket", "uring_cmd", "send_zc",
    "sendmsg_zc", "read_multishot", "waitid", "futex_wait", "futex_wake", "futex_waitv",
    "fixed_fd_install", "ftruncate", "bind", "listen", "recv_zc", "epoll_wait", "readv_fixed",
    "writev_fixed", "pipe",
];

/// The name of an opcode (`op42` for one this build does not know).
pub(crate) fn opcode_name(opcode: u8) -> String {
    OPCODES
        .get(usize::from(opcode))
        .map_or_else(|| format!("op{opcode}"), |n| (*n).to_string())
}

/// The opcode of an operation name (`openat` → 18).
pub(crate) fn opcode_of(name: &str) -> Option<u8> {
    OPCODES.iter().position(|n| *n == name).and_then(|i| u8::try_from(i).ok())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IoUringOpInfo {
    /// The operation's name (`openat`, `connect`, …) and number.
    pub op: String,
    pub opcode: u8,
    /// The path the operation names (the kernel's copy), for path operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The second path (`renameat`, `linkat`: the new name; `symlinkat`: the link's text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path2: Option<String>,
    /// The kernel's path of the directory a relative `path` starts from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir_path: Option<String>,
    /// `path` joined to `dir_path` when relative, folded: what rules see as `file.path`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_path: Option<String>,
    /// Path operations: the dirfd; others: the submission's fd (a registered-file index when
    /// `fixed_file`).
    pub fd: i32,
    /// Open flags (`openat`, `openat2`), or the operation's flags.
    pub flags: u64,
    pub mode: u32,
    pub user_data: u64,
    /// Submitted by the ring's SQPOLL kernel thread.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sq_thread: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fixed_file: bool,
    /// An open into a registered-file slot (a direct descriptor).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub direct: bool,
}

impl IoUringOpInfo {
    fn is_open(&self) -> bool {
        self.opcode == IORING_OP_OPENAT || self.opcode == IORING_OP_OPENAT2
    }

    fn resolve(mut self) -> Self {
        self.full_path = self.path.as_ref().map(|p| match &self.dir_path {
            Some(dir) if !p.starts_with('/') => normalize_lexically(&Path::new(dir).join(p)).to_string_lossy().into_owned(),
            _ => p.clone(),
        });
        self
    }
}

impl KindInfo for IoUringOpInfo {
    const KIND: EventKind = EventKind::IoUringOp;
    const FIELDS: &'static [Field] = &[
        Field::IouringOp,
        Field::FilePath,
        Field::FileRawPath,
        Field::FileRead,
        Field::FileWrite,
        Field::FileCreate,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: IoUringOpEvent = read_record(bytes, "io_uring op event")?;
        Ok(IoUringOpInfo {
            op: opcode_name(ev.opcode),
            opcode: ev.opcode,
            path: tail_string(bytes, ev.path, "io_uring path", notes)?,
            path2: tail_string(bytes, ev.path2, "io_uring second path", notes)?,
            dir_path: tail_string(bytes, ev.dir_path, "io_uring directory path", notes)?,
            full_path: None,
            fd: ev.fd,
            flags: ev.flags,
            mode: ev.mode,
            user_data: ev.user_data,
            sq_thread: ev.op_flags & IOURING_OP_SQ_THREAD != 0,
            fixed_file: ev.op_flags & IOURING_OP_FIXED_FILE != 0,
            direct: ev.op_flags & IOURING_OP_DIRECT != 0,
        }
        .resolve())
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("io_uring ").val(&self.op);
        if let Some(p) = &self.full_path {
            line.lit(" ").val(p);
        }
        if let Some(p) = &self.path2 {
            line.lit(" -> ").val(p);
        }
        if self.is_open() {
            line.lit(" flags=").num(format_args!("{:#o}", self.flags));
        } else if self.path.is_none() {
            line.lit(" fd=").num(self.fd);
        }
        if self.sq_thread {
            line.lit(" (sqpoll)");
        }
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        let access = self.flags as i32 & libc::O_ACCMODE;
        Some(match field {
            Field::IouringOp => Value::Str(&self.op),
            Field::FilePath => Value::Str(self.full_path.as_deref()?),
            Field::FileRawPath => Value::Str(self.path.as_deref()?),
            Field::FileRead if self.is_open() => Value::Bool(access != libc::O_WRONLY),
            Field::FileWrite if self.is_open() => Value::Bool(access != libc::O_RDONLY),
            Field::FileCreate if self.is_open() => Value::Bool(self.flags & libc::O_CREAT as u64 != 0),
            _ => return None,
        })
    }

    type Proto = schema::IoUringOp;

    fn to_proto(&self) -> schema::IoUringOp {
        schema::IoUringOp {
            opcode: self.opcode.into(),
            path: self.path.clone(),
            path2: self.path2.clone(),
            dir_path: self.dir_path.clone(),
            fd: self.fd,
            flags: self.flags,
            mode: self.mode,
            user_data: self.user_data,
            sq_thread: self.sq_thread,
            fixed_file: self.fixed_file,
            direct: self.direct,
        }
    }

    fn from_proto(p: schema::IoUringOp) -> Result<Self, ConvertError> {
        let opcode = u8::try_from(p.opcode).map_err(|_| ConvertError::OutOfRange {
            what: "io_uring opcode",
            value: p.opcode.into(),
        })?;
        Ok(Self {
            op: opcode_name(opcode),
            opcode,
            path: p.path,
            path2: p.path2,
            dir_path: p.dir_path,
            full_path: None,
            fd: p.fd,
            flags: p.flags,
            mode: p.mode,
            user_data: p.user_data,
            sq_thread: p.sq_thread,
            fixed_file: p.fixed_file,
            direct: p.direct,
        }
        .resolve())
    }
}

#[cfg(test)]
mod tests {
    use super::opcode_name;

    #[test]
    fn opcodes_are_named_as_the_kernel_names_them() {
        assert_eq!(opcode_name(18), "openat");
        assert_eq!(opcode_name(28), "openat2");
        assert_eq!(opcode_name(16), "connect");
        assert_eq!(opcode_name(39), "linkat");
        assert_eq!(opcode_name(250), "op250");
        assert_eq!(super::opcode_of("openat2"), Some(28));
    }
}
