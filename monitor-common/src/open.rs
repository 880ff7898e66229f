//! `open`: `openat(2)` / `openat2(2)` at syscall entry.
use crate::EventHeader;

pub const OPEN_PATH_LEN: usize = 256;

/// The syscall the event came from.
pub const OPEN_SYSCALL_OPENAT: u8 = 0;
pub const OPEN_SYSCALL_OPENAT2: u8 = 1;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct OpenEvent {
    pub header: EventHeader,
    /// Directory fd the path is relative to (`AT_FDCWD` = -100).
    pub dfd: i32,
    /// `O_*` flags (openat2: lower 32 bits of `open_how.flags`).
    pub flags: u32,
    pub mode: u32,
    /// One of `OPEN_SYSCALL_*`.
    pub syscall: u8,
    pub _pad: [u8; 3],
    /// Path as passed by the process, NUL terminated.
    pub path: [u8; OPEN_PATH_LEN],
}
