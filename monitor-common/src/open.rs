//! `open`: a file opened by path or by handle — `openat`, `openat2`, `open`, `creat`,
//! `open_by_handle_at` — seen at the syscall's exit, failed attempts included. A variable-length
//! record (`crate::record`).
use crate::{EventHeader, record::Tail};

/// The syscall the event came from.
pub const OPEN_SYSCALL_OPENAT: u8 = 0;
pub const OPEN_SYSCALL_OPENAT2: u8 = 1;
pub const OPEN_SYSCALL_OPEN: u8 = 2;
pub const OPEN_SYSCALL_CREAT: u8 = 3;
pub const OPEN_SYSCALL_OPEN_BY_HANDLE_AT: u8 = 4;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct OpenEvent {
    pub header: EventHeader,
    /// The syscall's result: the new descriptor, or `-errno`.
    pub result: i64,
    /// `O_*` flags (openat2: lower 32 bits of `open_how.flags`; creat: `O_CREAT|O_WRONLY|O_TRUNC`).
    pub flags: u32,
    pub mode: u32,
    /// Directory fd a relative path is relative to (`AT_FDCWD` = -100; `open_by_handle_at`: the mount fd).
    pub dfd: i32,
    /// One of `OPEN_SYSCALL_*`.
    pub syscall: u8,
    pub _pad: [u8; 3],
    /// The path as passed (read at exit, when the kernel has faulted its page in); absent for
    /// `open_by_handle_at`.
    pub path: Tail,
    /// The kernel's path of the file it opened (successful opens).
    pub kernel_path: Tail,
    /// The kernel's path of the directory a relative path starts from (dirfd or working directory),
    /// for failed opens of relative paths: where the attempt was aimed.
    pub dir_path: Tail,
}
