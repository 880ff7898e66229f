//! `exec`: a process replaced its image (from `sched/sched_process_exec`).
use crate::EventHeader;

pub const EXEC_FILENAME_LEN: usize = 256;
/// Raw bytes of the new image's argv area (NUL-separated), read from `mm->arg_start..arg_end`.
pub const EXEC_ARGS_LEN: usize = 512;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExecEvent {
    pub header: EventHeader,
    /// The path the kernel executed (`bprm->filename`), NUL terminated.
    pub filename: [u8; EXEC_FILENAME_LEN],
    /// Number of valid bytes in `args`.
    pub args_len: u32,
    /// Total size of the argv area in the kernel (> `args_len` means cut).
    pub args_total: u32,
    pub args: [u8; EXEC_ARGS_LEN],
}
