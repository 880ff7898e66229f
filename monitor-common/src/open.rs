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

/// Longest kernel path (bytes, without its NUL) the open filter keeps: an open of a longer path is
/// always sent.
pub const QUIET_PATH_LEN: usize = 128;
/// Entries of the open filter (`maps::OPEN_QUIET`, least recently used evicted).
pub const QUIET_OPENS_MAX: u32 = 8192;

/// A successful open that no loaded rule can match, whoever makes it: the key of the in-kernel
/// interest filter (`maps::OPEN_QUIET`). Userspace adds one after its rules judged an open of this
/// kernel path with these flags by this syscall (`monitor/src/rules/quiet.rs`); the open programs
/// then count such an open (`counter::FILTERED_OPENS`) instead of sending it. Only while nothing
/// needs every event (no `--record`, `--events` or `learn`: `KernelConfig::filters`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietOpenKey {
    /// `OpenEvent::flags`.
    pub flags: u32,
    /// One of `OPEN_SYSCALL_*`.
    pub syscall: u8,
    pub _pad: [u8; 3],
    /// The kernel's path of the opened file, NUL-padded (shorter than `QUIET_PATH_LEN`).
    pub path: [u8; QUIET_PATH_LEN],
}

impl QuietOpenKey {
    /// The key of an open of `path` (`None` when the path is too long to be kept).
    pub fn new(flags: u32, syscall: u8, path: &[u8]) -> Option<Self> {
        if path.len() >= QUIET_PATH_LEN {
            return None;
        }
        let mut key = QuietOpenKey {
            flags,
            syscall,
            _pad: [0; 3],
            path: [0; QUIET_PATH_LEN],
        };
        key.path[..path.len()].copy_from_slice(path);
        Some(key)
    }
}

// SAFETY: repr(C), Copy, integers and bytes with the padding spelled out: any bit pattern is valid.
#[cfg(feature = "user")]
unsafe impl aya::Pod for QuietOpenKey {}
