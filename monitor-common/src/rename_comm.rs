//! `rename_comm`: a task's command name (`comm`) changed other than by exec — `prctl(PR_SET_NAME)`,
//! a write to `/proc/PID/comm`, `pthread_setname_np` — from the `task/task_rename` tracepoint
//! (old and new names as the kernel holds them), with the kernel's path of the executable, so a
//! process calling itself `sshd` is still known by what it runs. A variable-length record
//! (`crate::record`).
use crate::{EventHeader, record::Tail};

/// x86-64 syscall numbers of `execve` and `execveat`: the renames exec does itself (to the new
/// program's name) are exec events, not renames.
pub const SYSCALL_EXECVE: i64 = 59;
pub const SYSCALL_EXECVEAT: i64 = 322;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct RenameCommEvent {
    pub header: EventHeader,
    /// The renamed task (a thread of the caller's process; the tracepoint's `pid`).
    pub task_pid: i32,
    /// The syscall the caller was in (x86-64 number, `pt_regs.orig_ax`; -1 unknown): `prctl`,
    /// `write`, …
    pub syscall_nr: i32,
    pub old_comm: [u8; 16],
    pub new_comm: [u8; 16],
    /// The kernel's path of the executable.
    pub exe: Tail,
}
