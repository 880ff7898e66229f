//! `process_vm`: `process_vm_readv(2)` / `process_vm_writev(2)`, another process's memory read or
//! written without ptrace, seen at the syscall's exit (the result is the number of bytes moved, or
//! `-errno`). A variable-length record (`crate::record`).
use crate::{EventHeader, record::Tail};

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ProcessVmEvent {
    pub header: EventHeader,
    /// Bytes transferred, or `-errno`.
    pub result: i64,
    pub local_iovcnt: u64,
    pub remote_iovcnt: u64,
    /// The target as the caller named it (a pid of the caller's pid namespace).
    pub target_pid: i32,
    /// 1: `process_vm_writev`; 0: `process_vm_readv`.
    pub write: u8,
    pub _pad: [u8; 3],
    /// The level of the caller's pid namespace (0: the initial one; `u32::MAX` unknown).
    pub caller_pidns_level: u32,
    pub _pad2: u32,
    /// The kernel's path of the caller's executable.
    pub exe: Tail,
}
