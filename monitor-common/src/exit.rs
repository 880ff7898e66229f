//! `exit`: the last thread of a process exited (`sched_process_exit`), with its wait status.
use crate::EventHeader;

/// The last thread of a process exited; the header describes the process.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExitEvent {
    pub header: EventHeader,
    /// Raw `task_struct.exit_code` (wait status: `code << 8 | signal`), or -1 if unknown.
    pub exit_code: i32,
    pub _pad: u32,
}
