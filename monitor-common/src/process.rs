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
