//! `chroot`: the caller's root directory changed — `chroot(2)`, `pivot_root(2)` — seen at the
//! syscall's exit with its result, the path(s) as passed and, after success, the kernel's path of
//! the new root (`task->fs->root`, walked to the top of the mount tree, so a relative path or a
//! symlink cannot disguise it). A variable-length record (`crate::record`).
use crate::{EventHeader, record::Tail};

pub const CHROOT_SYSCALL_CHROOT: u8 = 0;
pub const CHROOT_SYSCALL_PIVOT_ROOT: u8 = 1;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ChrootEvent {
    pub header: EventHeader,
    pub result: i64,
    /// One of `CHROOT_SYSCALL_*`.
    pub syscall: u8,
    pub _pad: [u8; 7],
    /// chroot: the path; `pivot_root`: `new_root`, as passed.
    pub path: Tail,
    /// `pivot_root`: `put_old` as passed.
    pub put_old: Tail,
    /// After success: the kernel's path of the caller's new root.
    pub root: Tail,
    /// The kernel's path of the caller's executable.
    pub exe: Tail,
}
