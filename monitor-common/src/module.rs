//! `module`: kernel module loading and removal — `init_module(2)`, `finit_module(2)` (the kernel's
//! path of the file), `delete_module(2)` (the name) — seen at the syscall's exit with its result. On
//! kernels built without module support these syscalls have no tracepoints (and return `ENOSYS`):
//! the programs are optional (`crate::programs::OPTIONAL`). A variable-length record
//! (`crate::record`).
use crate::{EventHeader, record::Tail};

pub const MODULE_SYSCALL_INIT: u8 = 0;
pub const MODULE_SYSCALL_FINIT: u8 = 1;
pub const MODULE_SYSCALL_DELETE: u8 = 2;

/// Longest module parameter string and name read.
pub const MODULE_ARGS_MAX: usize = 1024;
pub const MODULE_NAME_MAX: usize = 64;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ModuleEvent {
    pub header: EventHeader,
    pub result: i64,
    /// `init_module`: the image's length; else 0.
    pub len: u64,
    /// `finit_module/delete_module` flags.
    pub flags: u32,
    /// `finit_module`: the descriptor; else -1.
    pub fd: i32,
    /// One of `MODULE_SYSCALL_*`.
    pub syscall: u8,
    pub _pad: [u8; 7],
    /// `finit_module`: the kernel's path of the file.
    pub path: Tail,
    /// `delete_module`: the name as passed.
    pub name: Tail,
    /// `init_module/finit_module`: the parameter string.
    pub args: Tail,
    /// The kernel's path of the caller's executable.
    pub exe: Tail,
}
