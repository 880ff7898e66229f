//! Process lifecycle (`fork`, `exit`) for userspace's process table, and in-kernel deny notices.
use crate::EventHeader;

/// A new process (not a thread) was created; the header describes the parent.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ForkEvent {
    pub header: EventHeader,
    pub child_tgid: u32,
    pub _pad: u32,
}

/// The last thread of a process exited; the header describes the process.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExitEvent {
    pub header: EventHeader,
    /// Raw `task_struct.exit_code` (wait status: `code << 8 | signal`), or -1 if unknown.
    pub exit_code: i32,
    pub _pad: u32,
}

pub const CHDIR_PATH_LEN: usize = 256;

/// A successful `chdir(2)` (path set) or `fchdir(2)` (`fd` ≥ 0, path empty): userspace tracks each
/// process's working directory with these, so relative paths resolve even after the process is gone.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ChdirEvent {
    pub header: EventHeader,
    pub fd: i32,
    pub _pad: u32,
    pub path: [u8; CHDIR_PATH_LEN],
}

/// What the kernel side denied.
pub const DENY_EXEC: u8 = 1;
pub const DENY_OPEN: u8 = 2;
pub const DENY_MOUNT: u8 = 3;
pub const DENY_CONNECT: u8 = 4;

/// The kernel side stopped an action synchronously; `rule_id` names the deny entry that matched.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DenyEvent {
    pub header: EventHeader,
    pub what: u8,
    pub _pad: [u8; 3],
    pub rule_id: u32,
}
