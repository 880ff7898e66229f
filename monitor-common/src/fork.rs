//! `fork`: a new process (not a thread), from the raw `sched_process_fork` tracepoint; userspace's
//! process table learns parent → child from it.
use crate::EventHeader;

/// A new process (not a thread) was created; the header describes the parent.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ForkEvent {
    pub header: EventHeader,
    pub child_tgid: u32,
    pub _pad: u32,
}
