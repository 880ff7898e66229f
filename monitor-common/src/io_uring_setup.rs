//! `io_uring_setup`: a process created an `io_uring` instance — the way to submit file and network
//! operations without their syscalls — seen at the syscall's exit, failed attempts included.
use crate::EventHeader;

/// `io_uring_setup(entries, params)` at exit.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IoUringSetupEvent {
    pub header: EventHeader,
    /// The syscall's result: the ring's fd, or `-errno`.
    pub result: i64,
    /// The `entries` argument (submission queue size asked for).
    pub entries: u32,
    /// `io_uring_params.flags` (`IORING_SETUP_*`: `SQPOLL`, `ATTACH_WQ`, …).
    pub flags: u32,
    /// `io_uring_params.sq_entries`/`cq_entries` as the kernel set them (0 on failure).
    pub sq_entries: u32,
    pub cq_entries: u32,
    /// `io_uring_params.features` (`IORING_FEAT_*`) the kernel reported.
    pub features: u32,
    /// `io_uring_params.wq_fd` (with `IORING_SETUP_ATTACH_WQ`: the ring whose workers it shares).
    pub wq_fd: u32,
}

/// `IORING_SETUP_SQPOLL`: a kernel thread submits the queue; the process makes no syscall per op.
pub const IORING_SETUP_SQPOLL: u32 = 1 << 1;
