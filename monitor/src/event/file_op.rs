//! What the file-operation kinds (`rename`, `unlink`, `link`, `symlink`, `chmod`, `chown`,
//! `truncate`, `mknod`; one file each) share: their record (`monitor_common::file_op`), decoded
//! into a [`FileOp`], its log message (`FileOp` in the schema), the syscall names, and how the
//! objects they name are joined from the kernel's paths.
//!
//! The kernel side gives, for each name, the kernel's path of the directory it starts from (or of
//! the descriptor that names the object itself); [`FileOp::target`] and [`FileOp::source_target`]
//! join them with the name as passed, as the kernel did. What lies below that directory (symlinks in
//! the name's own components, the object itself) is only known by name: the enrich stage resolves
//! it against the filesystem as it is when the event is processed ([`FileOp::resolve`]).
use std::path::{Path, PathBuf};

use monitor_common::file_op::{
    AT_REMOVEDIR, FILE_SYSCALL_CHMOD, FILE_SYSCALL_CHOWN, FILE_SYSCALL_FCHMOD, FILE_SYSCALL_FCHMODAT,
    FILE_SYSCALL_FCHMODAT2, FILE_SYSCALL_FCHOWN, FILE_SYSCALL_FCHOWNAT, FILE_SYSCALL_FTRUNCATE, FILE_SYSCALL_LCHOWN,
    FILE_SYSCALL_LINK, FILE_SYSCALL_LINKAT, FILE_SYSCALL_MKNOD, FILE_SYSCALL_MKNODAT, FILE_SYSCALL_RENAME,
    FILE_SYSCALL_RENAMEAT, FILE_SYSCALL_RENAMEAT2, FILE_SYSCALL_RMDIR, FILE_SYSCALL_SYMLINK, FILE_SYSCALL_SYMLINKAT,
    FILE_SYSCALL_TRUNCATE, FILE_SYSCALL_UNLINK, FILE_SYSCALL_UNLINKAT, FileOpEvent, RENAME_EXCHANGE,
};
use serde::Serialize;

use super::{Body, DecodeError, Field, Line, Notes, Value, read_record, tail_string};
use crate::{
    enrich::Resolver,
    schema::{self, ConvertError, FileSyscall},
};

/// `AT_SYMLINK_NOFOLLOW` (chmod, chown: act on a symlink itself).
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
/// `AT_SYMLINK_FOLLOW` (linkat: link the file a symlink names).
const AT_SYMLINK_FOLLOW: u32 = 0x400;
const AT_FDCWD: i32 = -100;

/// A file operation other than an open, as the kernel side saw it at the syscall's exit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileOp {
    /// The syscall (`renameat2`, `fchmod`, …).
    pub syscall: &'static str,
    /// 0, or `-errno`.
    pub result: i64,
    /// The name of the object changed, as passed (rename, link: the new name); empty when a
    /// descriptor names the object (fchmod, fchown, ftruncate) or when it could not be read.
    pub path: String,
    /// The kernel's path of the directory a relative `path` starts from (a name under `/proc/`:
    /// the working directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir_path: Option<String>,
    /// The kernel's path of the object, when a descriptor names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_path: Option<String>,
    /// Directory descriptor of `path` (fchmod, fchown, ftruncate: the object's descriptor).
    pub dfd: i32,
    /// rename: the old name; link: the existing file; symlink: the target text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dir_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_kernel_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dfd: Option<i32>,
    /// `source` as the enrich stage resolved it (`file.source`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_source: Option<String>,
    /// `RENAME_*`, `AT_REMOVEDIR`, `AT_EMPTY_PATH`, `AT_SYMLINK_*`.
    pub flags: u32,
    /// chmod: the new mode; mknod: the mode with the file type bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// chown: the new owner and group (`u32::MAX`: unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// mknod: the device number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<u32>,
    /// truncate: the length asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<i64>,
}

/// Which of the record's kind-specific values a kind carries (a set of the constants below).
#[derive(Clone, Copy, Default)]
pub(crate) struct Carries(u8);

impl Carries {
    pub(crate) const NONE: Carries = Carries(0);
    /// A source name (rename, link, symlink).
    pub(crate) const SOURCE: Carries = Carries(1 << 0);
    /// A mode (chmod, mknod).
    pub(crate) const MODE: Carries = Carries(1 << 1);
    /// An owner and group (chown).
    pub(crate) const OWNER: Carries = Carries(1 << 2);
    /// A device number (mknod).
    pub(crate) const DEV: Carries = Carries(1 << 3);
    /// A length (truncate).
    pub(crate) const LENGTH: Carries = Carries(1 << 4);

    pub(crate) const fn and(self, o: Carries) -> Carries {
        Carries(self.0 | o.0)
    }

    const fn has(self, c: Carries) -> bool {
        self.0 & c.0 != 0
    }
}

/// Every syscall of the record: its wire value, name and log value.
const SYSCALLS: [(u8, &str, FileSyscall); 22] = [
    (FILE_SYSCALL_RENAME, "rename", FileSyscall::Rename),
    (FILE_SYSCALL_RENAMEAT, "renameat", FileSyscall::Renameat),
    (FILE_SYSCALL_RENAMEAT2, "renameat2", FileSyscall::Renameat2),
    (FILE_SYSCALL_UNLINK, "unlink", FileSyscall::Unlink),
    (FILE_SYSCALL_UNLINKAT, "unlinkat", FileSyscall::Unlinkat),
    (FILE_SYSCALL_RMDIR, "rmdir", FileSyscall::Rmdir),
    (FILE_SYSCALL_LINK, "link", FileSyscall::Link),
    (FILE_SYSCALL_LINKAT, "linkat", FileSyscall::Linkat),
    (FILE_SYSCALL_SYMLINK, "symlink", FileSyscall::Symlink),
    (FILE_SYSCALL_SYMLINKAT, "symlinkat", FileSyscall::Symlinkat),
    (FILE_SYSCALL_CHMOD, "chmod", FileSyscall::Chmod),
    (FILE_SYSCALL_FCHMOD, "fchmod", FileSyscall::Fchmod),
    (FILE_SYSCALL_FCHMODAT, "fchmodat", FileSyscall::Fchmodat),
    (FILE_SYSCALL_FCHMODAT2, "fchmodat2", FileSyscall::Fchmodat2),
    (FILE_SYSCALL_CHOWN, "chown", FileSyscall::Chown),
    (FILE_SYSCALL_LCHOWN, "lchown", FileSyscall::Lchown),
    (FILE_SYSCALL_FCHOWN, "fchown", FileSyscall::Fchown),
    (FILE_SYSCALL_FCHOWNAT, "fchownat", FileSyscall::Fchownat),
    (FILE_SYSCALL_TRUNCATE, "truncate", FileSyscall::Truncate),
    (FILE_SYSCALL_FTRUNCATE, "ftruncate", FileSyscall::Ftruncate),
    (FILE_SYSCALL_MKNOD, "mknod", FileSyscall::Mknod),
    (FILE_SYSCALL_MKNODAT, "mknodat", FileSyscall::Mknodat),
];

/// The rule fields every file-operation kind carries.
pub(crate) const COMMON_FIELDS: [Field; 6] = [
    Field::FilePath,
    Field::FileRawPath,
    Field::FileWrite,
    Field::EvtFailed,
    Field::EvtErrno,
    Field::EvtSyscall,
];

impl FileOp {
    /// Decodes a file-operation record, keeping the values the kind carries.
    pub(crate) fn decode(bytes: &[u8], notes: &mut Notes, carries: Carries) -> Result<Self, DecodeError> {
        let ev: FileOpEvent = read_record(bytes, "file operation event")?;
        let s = |t, what, notes: &mut Notes| tail_string(bytes, t, what, notes);
        let source = if carries.has(Carries::SOURCE) {
            s(ev.source, "source name", notes)?
        } else {
            None
        };
        Ok(FileOp {
            syscall: SYSCALLS
                .iter()
                .find(|(id, _, _)| *id == ev.syscall)
                .map_or("unknown", |(_, name, _)| *name),
            result: ev.result,
            path: s(ev.path, "file name", notes)?.unwrap_or_default(),
            dir_path: s(ev.dir_path, "directory path", notes)?,
            kernel_path: s(ev.kernel_path, "kernel path", notes)?,
            dfd: ev.dfd,
            source_dir_path: if carries.has(Carries::SOURCE) {
                s(ev.source_dir_path, "source directory path", notes)?
            } else {
                None
            },
            source_kernel_path: if carries.has(Carries::SOURCE) {
                s(ev.source_kernel_path, "source kernel path", notes)?
            } else {
                None
            },
            source_dfd: carries.has(Carries::SOURCE).then_some(ev.source_dfd),
            source,
            resolved_source: None,
            flags: ev.flags,
            mode: carries.has(Carries::MODE).then_some(ev.mode),
            uid: carries.has(Carries::OWNER).then_some(ev.uid),
            gid: carries.has(Carries::OWNER).then_some(ev.gid),
            dev: carries.has(Carries::DEV).then_some(ev.dev),
            length: carries.has(Carries::LENGTH).then_some(ev.length),
        })
    }

    pub(crate) fn failed(&self) -> bool {
        self.result < 0
    }

    /// A rename that swapped the two names (`RENAME_EXCHANGE`): both were written.
    pub(crate) fn exchanges(&self) -> bool {
        self.syscall.starts_with("rename") && self.flags & RENAME_EXCHANGE != 0
    }

    /// An unlink that removes a directory (rmdir, `AT_REMOVEDIR`).
    pub(crate) fn removes_dir(&self) -> bool {
        (self.syscall.starts_with("unlink") && self.flags & AT_REMOVEDIR != 0) || self.syscall == "rmdir"
    }

    /// The object changed, as the kernel named it where it could: the kernel's path of its
    /// descriptor; else the name joined to the kernel's path of its starting directory (`pid`'s
    /// and `tid`'s `/proc/…/cwd` as the kernel's working directory), not yet resolved below it.
    /// `None` when the kernel side had neither (a relative name whose directory it could not walk).
    pub(crate) fn target(&self, own: &[u32]) -> Option<PathBuf> {
        if let Some(k) = &self.kernel_path {
            return Some(PathBuf::from(k));
        }
        joined(&self.path, self.dir_path.as_deref(), own)
    }

    /// The object taken (rename's old name, link's existing file, a symlink's target resolved
    /// against the link's directory), as [`Self::target`] names it.
    pub(crate) fn source_target(&self, own: &[u32]) -> Option<PathBuf> {
        let source = self.source.as_deref()?;
        if let Some(k) = &self.source_kernel_path {
            return Some(PathBuf::from(k));
        }
        if self.syscall.starts_with("symlink") {
            // Text, resolved when the link is followed: relative to the link's own directory.
            if Path::new(source).is_absolute() {
                return Some(PathBuf::from(source));
            }
            let link = self.target(own)?;
            return Some(link.parent().unwrap_or_else(|| Path::new("/")).join(source));
        }
        joined(source, self.source_dir_path.as_deref(), own)
    }

    /// Whether the syscall follows a symlink that `path` (resp. `source`) ends in.
    fn follows(&self) -> (bool, bool) {
        let f = self.flags;
        match self.syscall {
            "chmod" | "fchmodat" | "chown" | "truncate" => (true, false),
            "fchmodat2" | "fchownat" => (f & AT_SYMLINK_NOFOLLOW == 0, false),
            "linkat" => (false, f & AT_SYMLINK_FOLLOW != 0),
            // The target text is followed when the link is.
            "symlink" | "symlinkat" => (false, true),
            _ => (false, false),
        }
    }

    /// Resolves what the enrich stage can below the kernel's paths (symlinks in the directories of
    /// the names, `..` after them, `/proc/self/…`), against the filesystem now: sets
    /// `resolved_source` and returns the object changed (`resolved_path`, what `file.path` is).
    /// A name whose directory the kernel side could not walk is resolved from `/proc` (`cwd` is the
    /// tracked working directory).
    pub(crate) fn resolve(&mut self, resolver: &mut Resolver, pid: u32, tid: u32, cwd: Option<&str>) -> String {
        let own = [pid, tid];
        let (follow_path, follow_source) = self.follows();
        let path = match (&self.kernel_path, self.target(&own)) {
            (Some(k), _) => k.clone(),
            (None, Some(t)) => {
                let kernel_parent = one_name_in(&self.path, self.dir_path.as_deref());
                resolver.resolve_name(pid, &t, follow_path, kernel_parent)
            }
            (None, None) => resolver.resolve(pid, self.dfd, &self.path, cwd),
        };
        self.resolved_source = match (&self.source_kernel_path, self.source_target(&own)) {
            (Some(k), _) => Some(k.clone()),
            (None, Some(t)) => {
                // A symlink's target is text, not a name in the kernel's directory.
                let kernel_parent = !self.syscall.starts_with("symlink")
                    && self
                        .source
                        .as_deref()
                        .is_some_and(|s| one_name_in(s, self.source_dir_path.as_deref()));
                Some(resolver.resolve_name(pid, &t, follow_source, kernel_parent))
            }
            (None, None) => self
                .source
                .as_ref()
                .map(|s| resolver.resolve(pid, self.source_dfd.unwrap_or(AT_FDCWD), s, cwd)),
        };
        path
    }

    /// The common fields' values ([`COMMON_FIELDS`], `file.source`, `file.raw_source`, …).
    pub(crate) fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            // The enrich stage's `resolve()` is in `resolved_path`, which the rules read first.
            Field::FilePath => Value::Str(self.kernel_path.as_deref().unwrap_or(&self.path)),
            Field::FileRawPath => Value::Str(&self.path),
            // Every file operation changes the object at `file.path` (drift rules match on it).
            Field::FileWrite => Value::Bool(true),
            Field::EvtFailed => Value::Bool(self.failed()),
            Field::EvtErrno => Value::Num(if self.failed() { self.result.unsigned_abs() } else { 0 }),
            Field::EvtSyscall => Value::Str(self.syscall),
            Field::FileSource => Value::Str(
                self.resolved_source
                    .as_deref()
                    .or(self.source_kernel_path.as_deref())
                    .or(self.source.as_deref())?,
            ),
            Field::FileRawSource => Value::Str(self.source.as_deref()?),
            Field::FileExchange => Value::Bool(self.exchanges()),
            Field::FileMode => Value::Num(self.mode?.into()),
            Field::FileSetuid => Value::Bool(self.mode? & libc::S_ISUID != 0),
            Field::FileSetgid => Value::Bool(self.mode? & libc::S_ISGID != 0),
            Field::FileUid => Value::Num(self.uid?.into()),
            Field::FileGid => Value::Num(self.gid?.into()),
            Field::FileLength => Value::Num(u64::try_from(self.length?).ok()?),
            Field::FileDev => Value::Num(self.dev?.into()),
            Field::FileType => Value::Str(file_type(self.mode?)),
            _ => return None,
        })
    }

    /// The name shown for the object changed: the kernel's path of its descriptor, else the name
    /// as passed.
    pub(crate) fn shown_path(&self) -> &str {
        self.kernel_path.as_deref().unwrap_or(&self.path)
    }

    /// ` failed errno=N` for a failed attempt, ` (syscall)` when it is not the kind's own name.
    pub(crate) fn describe_tail(&self, kind: &str, line: &mut Line<'_>) {
        if self.syscall != kind {
            line.lit(" (").lit(self.syscall).lit(")");
        }
        if self.failed() {
            line.lit(" failed errno=").num(-self.result);
        }
    }

    pub(crate) fn to_proto(&self) -> schema::FileOp {
        schema::FileOp {
            syscall: SYSCALLS
                .iter()
                .find(|(_, name, _)| *name == self.syscall)
                .map_or(FileSyscall::Unspecified, |(_, _, p)| *p) as i32,
            result: self.result,
            path: self.path.clone(),
            dir_path: self.dir_path.clone(),
            kernel_path: self.kernel_path.clone(),
            dir_fd: self.dfd,
            source: self.source.clone(),
            source_dir_path: self.source_dir_path.clone(),
            source_kernel_path: self.source_kernel_path.clone(),
            source_dir_fd: self.source_dfd,
            resolved_source: self.resolved_source.clone(),
            flags: self.flags,
            mode: self.mode,
            uid: self.uid,
            gid: self.gid,
            dev: self.dev,
            length: self.length,
        }
    }

    pub(crate) fn from_proto(p: schema::FileOp) -> Result<Self, ConvertError> {
        let syscall = FileSyscall::try_from(p.syscall)
            .ok()
            .and_then(|v| SYSCALLS.iter().find(|(_, _, s)| *s == v))
            .map(|(_, name, _)| *name)
            .ok_or(ConvertError::UnknownEnum {
                what: "file syscall",
                value: p.syscall,
            })?;
        Ok(Self {
            syscall,
            result: p.result,
            path: p.path,
            dir_path: p.dir_path,
            kernel_path: p.kernel_path,
            dfd: p.dir_fd,
            source: p.source,
            source_dir_path: p.source_dir_path,
            source_kernel_path: p.source_kernel_path,
            source_dfd: p.source_dir_fd,
            resolved_source: p.resolved_source,
            flags: p.flags,
            mode: p.mode,
            uid: p.uid,
            gid: p.gid,
            dev: p.dev,
            length: p.length,
        })
    }
}

/// `name` joined to the kernel's path of the directory it starts from: a relative name to `dir`;
/// `/proc/self/cwd/…` (also `thread-self` and the process's own pid or tid in `own`) to `dir`, the
/// kernel's working directory; other absolute names as they are. `None`: a relative name without
/// its directory.
fn joined(name: &str, dir: Option<&str>, own: &[u32]) -> Option<PathBuf> {
    let p = Path::new(name);
    if name.is_empty() {
        return None;
    }
    if !p.is_absolute() {
        return dir.map(|d| Path::new(d).join(p));
    }
    if let (Some(dir), Some(rest)) = (dir, proc_cwd_rest(name, own)) {
        return Some(Path::new(dir).join(rest.trim_start_matches('/')));
    }
    Some(p.to_path_buf())
}

/// Whether `name` is a single name (no `/`, not `.` or `..`) relative to `dir`, a directory the
/// kernel walked: then `dir/name` needs no resolving but of its last component.
fn one_name_in(name: &str, dir: Option<&str>) -> bool {
    dir.is_some() && !name.is_empty() && !name.contains('/') && name != "." && name != ".."
}

/// What follows `/proc/{self,thread-self,PID}/cwd` in `name` (empty for the directory itself),
/// when PID is one of `own`.
fn proc_cwd_rest<'a>(name: &'a str, own: &[u32]) -> Option<&'a str> {
    let rest = name.strip_prefix("/proc/")?;
    let (who, rest) = rest.split_once('/')?;
    let mine = who == "self" || who == "thread-self" || who.parse::<u32>().is_ok_and(|n| own.contains(&n));
    let rest = rest.strip_prefix("cwd")?;
    (mine && (rest.is_empty() || rest.starts_with('/'))).then_some(rest)
}

/// The file type a mode's `S_IFMT` bits name (`mknod` with 0 makes a regular file).
pub(crate) fn file_type(mode: u32) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFIFO => "fifo",
        libc::S_IFCHR => "chr",
        libc::S_IFBLK => "blk",
        libc::S_IFSOCK => "sock",
        libc::S_IFDIR => "dir",
        libc::S_IFLNK => "lnk",
        _ => "reg",
    }
}

impl Body {
    /// The file operation of the file-operation kinds.
    pub(crate) fn file_op(&self) -> Option<&FileOp> {
        Some(match self {
            Body::Rename(x) => &x.0,
            Body::Unlink(x) => &x.0,
            Body::Link(x) => &x.0,
            Body::Symlink(x) => &x.0,
            Body::Chmod(x) => &x.0,
            Body::Chown(x) => &x.0,
            Body::Truncate(x) => &x.0,
            Body::Mknod(x) => &x.0,
            _ => return None,
        })
    }

    pub(crate) fn file_op_mut(&mut self) -> Option<&mut FileOp> {
        Some(match self {
            Body::Rename(x) => &mut x.0,
            Body::Unlink(x) => &mut x.0,
            Body::Link(x) => &mut x.0,
            Body::Symlink(x) => &mut x.0,
            Body::Chmod(x) => &mut x.0,
            Body::Chown(x) => &mut x.0,
            Body::Truncate(x) => &mut x.0,
            Body::Mknod(x) => &mut x.0,
            _ => return None,
        })
    }
}

/// Declares a file-operation kind: `Info` wraps a [`FileOp`] and carries `carries`' values and the
/// common fields plus `extra`.
macro_rules! file_op_kind {
    ($(#[$doc:meta])* $info:ident, $kind:ident, carries: $carries:expr, extra: [$($extra:ident),*]) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
        #[serde(transparent)]
        pub struct $info(pub $crate::event::file_op::FileOp);

        impl $info {
            const FIELDS: &'static [$crate::event::Field] = &{
                const COMMON: [$crate::event::Field; 6] = $crate::event::file_op::COMMON_FIELDS;
                const EXTRA: &[$crate::event::Field] = &[$($crate::event::Field::$extra),*];
                let mut all = [$crate::event::Field::FilePath; 6 + EXTRA.len()];
                let mut i = 0;
                while i < all.len() {
                    all[i] = if i < 6 { COMMON[i] } else { EXTRA[i - 6] };
                    i += 1;
                }
                all
            };
            const CARRIES: $crate::event::file_op::Carries = $carries;
        }

        impl $crate::event::KindInfo for $info {
            const KIND: monitor_common::EventKind = monitor_common::EventKind::$kind;
            const FIELDS: &'static [$crate::event::Field] = $info::FIELDS;

            fn decode(
                bytes: &[u8],
                notes: &mut $crate::event::Notes,
            ) -> Result<Self, $crate::event::DecodeError> {
                $crate::event::file_op::FileOp::decode(bytes, notes, Self::CARRIES).map($info)
            }

            fn describe(&self, line: &mut $crate::event::Line<'_>) {
                self.describe_body(line);
                self.0.describe_tail(monitor_common::EventKind::$kind.name(), line);
            }

            fn field(&self, field: $crate::event::Field) -> Option<$crate::event::Value<'_>> {
                self.0.field(field)
            }

            type Proto = $crate::schema::FileOp;

            fn to_proto(&self) -> $crate::schema::FileOp {
                self.0.to_proto()
            }

            fn from_proto(p: $crate::schema::FileOp) -> Result<Self, $crate::schema::ConvertError> {
                $crate::event::file_op::FileOp::from_proto(p).map($info)
            }
        }
    };
}
pub(crate) use file_op_kind;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::enrich::resolve::normalize_lexically;

    /// A file operation of `syscall` on an absolute path.
    pub(crate) fn sample(syscall: &'static str) -> FileOp {
        op(syscall, "/tmp/x", None)
    }

    fn op(syscall: &'static str, path: &str, dir: Option<&str>) -> FileOp {
        FileOp {
            syscall,
            result: 0,
            path: path.into(),
            dir_path: dir.map(Into::into),
            kernel_path: None,
            dfd: AT_FDCWD,
            source: None,
            source_dir_path: None,
            source_kernel_path: None,
            source_dfd: None,
            resolved_source: None,
            flags: 0,
            mode: None,
            uid: None,
            gid: None,
            dev: None,
            length: None,
        }
    }

    #[test]
    fn names_join_the_kernels_directory_and_own_proc_cwd() {
        let o = op("unlinkat", "../x/victim", Some("/home/a/work"));
        assert_eq!(o.target(&[]), Some(PathBuf::from("/home/a/work/../x/victim")));
        let o = op("unlink", "/proc/self/cwd/victim", Some("/home/a/work"));
        assert_eq!(o.target(&[]), Some(PathBuf::from("/home/a/work/victim")));
        let o = op("unlink", "/proc/42/cwd/sub/victim", Some("/w"));
        assert_eq!(o.target(&[42]), Some(PathBuf::from("/w/sub/victim")));
        // Another process's cwd is not ours to substitute; /proc/self/cwdx is not the cwd.
        assert_eq!(o.target(&[7]), Some(PathBuf::from("/proc/42/cwd/sub/victim")));
        let o = op("unlink", "/proc/self/cwdx", Some("/w"));
        assert_eq!(o.target(&[]), Some(PathBuf::from("/proc/self/cwdx")));
        let o = op("unlink", "relative", None);
        assert_eq!(o.target(&[]), None);
    }

    #[test]
    fn a_symlinks_target_is_relative_to_the_links_directory() {
        let mut o = op("symlinkat", "link", Some("/tmp/d"));
        o.source = Some("../.ssh/id_rsa".into());
        assert_eq!(o.source_target(&[]), Some(PathBuf::from("/tmp/d/../.ssh/id_rsa")));
        let t = o.source_target(&[]).unwrap();
        assert_eq!(normalize_lexically(&t), PathBuf::from("/tmp/.ssh/id_rsa"));
        o.source = Some("/root/.ssh/id_rsa".into());
        assert_eq!(o.source_target(&[]), Some(PathBuf::from("/root/.ssh/id_rsa")));
    }

    #[test]
    fn descriptors_name_the_object_itself() {
        let mut o = op("fchmod", "", None);
        o.kernel_path = Some("/tmp/dropped".into());
        o.mode = Some(0o4755);
        assert_eq!(o.target(&[]), Some(PathBuf::from("/tmp/dropped")));
        assert_eq!(o.field(Field::FilePath), Some(Value::Str("/tmp/dropped")));
        assert_eq!(o.field(Field::FileSetuid), Some(Value::Bool(true)));
        assert_eq!(o.field(Field::FileSetgid), Some(Value::Bool(false)));
        assert_eq!(o.field(Field::FileMode), Some(Value::Num(0o4755)));
        assert_eq!(o.field(Field::FileUid), None);
    }

    #[test]
    fn proto_round_trip_and_unknown_syscalls() {
        let mut o = op("renameat2", "new", Some("/d"));
        o.source = Some("old".into());
        o.source_dfd = Some(3);
        o.flags = RENAME_EXCHANGE;
        o.result = -13;
        assert!(o.exchanges() && o.failed());
        assert_eq!(FileOp::from_proto(o.to_proto()).unwrap(), o);
        let mut p = o.to_proto();
        p.syscall = 999;
        FileOp::from_proto(p).unwrap_err();
        assert_eq!(file_type(libc::S_IFIFO | 0o644), "fifo");
        assert_eq!(file_type(0o644), "reg");
    }
}
