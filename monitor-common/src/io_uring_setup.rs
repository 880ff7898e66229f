//! `io_uring_setup`: a process created an `io_uring` instance — the way to submit file and network
//! operations without their syscalls — seen at the syscall's exit, failed attempts included.
use crate::EventHeader;

/// `io_uring_setup(entries, params)` at exit.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IoUringSetupEvent {
    pub header: EventHeader,
    pub setup: IoUringSetup,
}

/// What an `io_uring_setup` asked for and got: the record's payload, and userspace's event as it is.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(serde::Serialize))]
pub struct IoUringSetup {
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
    #[cfg_attr(feature = "user", serde(skip_serializing_if = "is_zero"))]
    pub wq_fd: u32,
}

impl IoUringSetup {
    pub fn failed(&self) -> bool {
        self.result < 0
    }

    /// A kernel thread polls the submission queue: operations then need no syscall at all.
    pub fn sqpoll(&self) -> bool {
        self.flags & IORING_SETUP_SQPOLL != 0
    }
}

#[cfg(feature = "user")]
#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// `IORING_SETUP_SQPOLL`: a kernel thread submits the queue; the process makes no syscall per op.
pub const IORING_SETUP_SQPOLL: u32 = 1 << 1;
