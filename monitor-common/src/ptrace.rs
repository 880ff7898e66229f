//! `ptrace`: a `ptrace(2)` request aimed at another process (attach, seize, memory and register
//! writes, …), seen at the syscall's exit with its result, failed attempts included. Requests that
//! only resume or read the state of a process the caller already traces are not events (the attach
//! was one): see [`ptrace_request_is_event`]. A variable-length record (`crate::record`).
use crate::{EventHeader, record::Tail};

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PtraceEvent {
    pub header: EventHeader,
    /// The syscall's result (`-errno` on failure).
    pub result: i64,
    /// The request (`PTRACE_*`).
    pub request: i64,
    pub addr: u64,
    pub data: u64,
    /// The target as the caller named it (a pid of the caller's pid namespace).
    pub target_pid: i32,
    /// The level of the caller's pid namespace (0: the initial one, whose pids userspace's `/proc`
    /// shows; `u32::MAX` unknown): where `target_pid` is a number.
    pub caller_pidns_level: u32,
    /// The kernel's path of the caller's executable (`mm->exe_file`).
    pub exe: Tail,
}

/// Requests that resume a tracee or read its registers or status: frequent under a debugger or
/// strace, and only possible after an attach, which is an event.
const QUIET_REQUESTS: &[i64] = &[
    7,      // PTRACE_CONT
    9,      // PTRACE_SINGLESTEP
    12,     // PTRACE_GETREGS
    14,     // PTRACE_GETFPREGS
    18,     // PTRACE_GETFPXREGS
    24,     // PTRACE_SYSCALL
    25,     // PTRACE_GET_THREAD_AREA
    31,     // PTRACE_SYSEMU
    32,     // PTRACE_SYSEMU_SINGLESTEP
    0x4201, // PTRACE_GETEVENTMSG
    0x4202, // PTRACE_GETSIGINFO
    0x4204, // PTRACE_GETREGSET
    0x4208, // PTRACE_LISTEN
    0x4209, // PTRACE_PEEKSIGINFO
    0x420a, // PTRACE_GETSIGMASK
    0x420e, // PTRACE_GET_SYSCALL_INFO
];

/// Whether a request is reported (everything but [`QUIET_REQUESTS`]).
#[inline(always)]
pub fn ptrace_request_is_event(request: i64) -> bool {
    let mut i = 0;
    while i < QUIET_REQUESTS.len() {
        if QUIET_REQUESTS[i] == request {
            return false;
        }
        i += 1;
    }
    true
}
