//! `mmap`: code mapped from a file without an exec of it — `mmap` with `PROT_EXEC` of a file, and
//! `mprotect`/`pkey_mprotect` adding `PROT_EXEC` to a file-backed mapping — seen at the syscall's
//! exit, failed attempts included (a `noexec` mount refuses with `EPERM`). This is how `dlopen`,
//! `LD_PRELOAD` and the dynamic loader bring a shared object in. Anonymous mappings (JIT code) are
//! not reported. A variable-length record (`crate::record`).
use crate::{EventHeader, record::Tail};

pub const MMAP_SYSCALL_MMAP: u8 = 0;
pub const MMAP_SYSCALL_MPROTECT: u8 = 1;
pub const MMAP_SYSCALL_PKEY_MPROTECT: u8 = 2;

/// `PROT_EXEC`: the only mappings the kernel side reports.
pub const PROT_EXEC: u64 = 4;
/// `MAP_ANONYMOUS`: no file behind the mapping.
pub const MAP_ANONYMOUS: u64 = 0x20;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct MmapEvent {
    pub header: EventHeader,
    /// `mmap`: the mapping's address, or `-errno`; `mprotect`: 0 or `-errno`.
    pub result: i64,
    /// The address argument (`mprotect`: the start of the range changed).
    pub addr: u64,
    pub len: u64,
    /// `mmap`: the file offset in bytes; else 0.
    pub offset: u64,
    /// `PROT_*`.
    pub prot: u32,
    /// `mmap`: `MAP_*`; else 0.
    pub flags: u32,
    /// `mmap`: the fd mapped; else -1.
    pub fd: i32,
    /// One of `MMAP_SYSCALL_*`.
    pub syscall: u8,
    pub _pad: [u8; 3],
    /// The kernel's path of the mapped file (`mmap`: the fd's file; `mprotect`: the file of the
    /// mapping at `addr`, found with `bpf_find_vma`).
    pub path: Tail,
}
