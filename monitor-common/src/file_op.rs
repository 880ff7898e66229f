//! File operations by name or descriptor that are not opens: the record shared by the `rename`,
//! `unlink`, `link`, `symlink`, `chmod`, `chown`, `truncate` and `mknod` kinds, seen at the
//! syscall's exit (failed attempts included). A variable-length record (`crate::record`).
//!
//! Each names up to two objects: the one it changes (`path`: rename's new name, a link's new name,
//! the file removed, chmod'ed, …) and the one it takes (`source`: rename's old name, a hard link's
//! existing file, a symlink's target text). For each, the name as passed, the kernel's path of the
//! directory a relative name starts from, and, where a descriptor names the object itself (fchmod,
//! fchown, ftruncate, `AT_EMPTY_PATH`), the kernel's path of that descriptor's file. What a name
//! resolves to below its directory is only known by name here: no hook this kernel allows gives
//! the dentry of a rename's or link's destination, nor of a file unlinked (it is gone at exit).
use crate::{EventHeader, record::Tail};

/// The syscall the event came from (one numbering for all the kinds of this record).
pub const FILE_SYSCALL_RENAME: u8 = 0;
pub const FILE_SYSCALL_RENAMEAT: u8 = 1;
pub const FILE_SYSCALL_RENAMEAT2: u8 = 2;
pub const FILE_SYSCALL_UNLINK: u8 = 3;
pub const FILE_SYSCALL_UNLINKAT: u8 = 4;
pub const FILE_SYSCALL_RMDIR: u8 = 5;
pub const FILE_SYSCALL_LINK: u8 = 6;
pub const FILE_SYSCALL_LINKAT: u8 = 7;
pub const FILE_SYSCALL_SYMLINK: u8 = 8;
pub const FILE_SYSCALL_SYMLINKAT: u8 = 9;
pub const FILE_SYSCALL_CHMOD: u8 = 10;
pub const FILE_SYSCALL_FCHMOD: u8 = 11;
pub const FILE_SYSCALL_FCHMODAT: u8 = 12;
pub const FILE_SYSCALL_FCHMODAT2: u8 = 13;
pub const FILE_SYSCALL_CHOWN: u8 = 14;
pub const FILE_SYSCALL_LCHOWN: u8 = 15;
pub const FILE_SYSCALL_FCHOWN: u8 = 16;
pub const FILE_SYSCALL_FCHOWNAT: u8 = 17;
pub const FILE_SYSCALL_TRUNCATE: u8 = 18;
pub const FILE_SYSCALL_FTRUNCATE: u8 = 19;
pub const FILE_SYSCALL_MKNOD: u8 = 20;
pub const FILE_SYSCALL_MKNODAT: u8 = 21;

/// `renameat2` flags.
pub const RENAME_NOREPLACE: u32 = 1 << 0;
pub const RENAME_EXCHANGE: u32 = 1 << 1;
pub const RENAME_WHITEOUT: u32 = 1 << 2;
/// `unlinkat` flag: remove a directory.
pub const AT_REMOVEDIR: u32 = 0x200;
/// `linkat`, `fchownat`, `fchmodat2` flag: an empty name means the descriptor itself.
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// The working directory as a directory descriptor.
pub const AT_FDCWD: i32 = -100;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct FileOpEvent {
    pub header: EventHeader,
    /// The syscall's result: 0, or `-errno`.
    pub result: i64,
    /// truncate, ftruncate: the length asked for.
    pub length: i64,
    /// chmod family: the new mode; mknod: the mode, file type bits included.
    pub mode: u32,
    /// chown family: the new owner and group (`u32::MAX`: unchanged).
    pub uid: u32,
    pub gid: u32,
    /// mknod: the device number as passed.
    pub dev: u32,
    /// The flags argument: `RENAME_*`, `AT_REMOVEDIR`, `AT_EMPTY_PATH`, `AT_SYMLINK_*`.
    pub flags: u32,
    /// Directory descriptor `path` is relative to (`AT_FDCWD` for the calls without one); for
    /// fchmod, fchown and ftruncate the descriptor of the object itself.
    pub dfd: i32,
    /// Directory descriptor `source` is relative to.
    pub source_dfd: i32,
    /// One of `FILE_SYSCALL_*`.
    pub syscall: u8,
    pub _pad: [u8; 3],
    /// The name of the object changed, as passed (read at exit: the kernel faulted its page in).
    pub path: Tail,
    /// The kernel's path of the directory `path` starts from: `dfd` or the working directory for a
    /// relative name; the working directory for a name under `/proc/` (what `/proc/self/cwd` is).
    pub dir_path: Tail,
    /// The kernel's path of the object itself, when a descriptor names it (fchmod, fchown,
    /// ftruncate; an empty name with `AT_EMPTY_PATH`).
    pub kernel_path: Tail,
    /// rename: the old name; link: the existing file; symlink: the target text stored in the link.
    pub source: Tail,
    /// The kernel's path of the directory `source` starts from (as for `dir_path`; not for symlink,
    /// whose target is text).
    pub source_dir_path: Tail,
    /// linkat with `AT_EMPTY_PATH`: the kernel's path of the descriptor's file.
    pub source_kernel_path: Tail,
}
