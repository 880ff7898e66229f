//! `memfd`: `memfd_create(2)` — an anonymous in-memory file, the usual first step of fileless
//! execution (`fexecve` of it, or `mmap` of it with `PROT_EXEC`) — seen at exit, failures included.
use crate::{EventHeader, record::Tail};

/// Longest memfd name read (the kernel allows 249 bytes, `MFD_NAME_MAX_LEN`).
pub const MEMFD_NAME_MAX: usize = 256;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct MemfdEvent {
    pub header: EventHeader,
    /// The syscall's result: the new fd, or `-errno`.
    pub result: i64,
    /// `MFD_*` flags (`MFD_CLOEXEC`, `MFD_ALLOW_SEALING`, `MFD_HUGETLB`, `MFD_NOEXEC_SEAL`,
    /// `MFD_EXEC`).
    pub flags: u32,
    pub _pad: u32,
    /// The name as passed (read at exit, after the kernel copied it).
    pub name: Tail,
}
