//! `io_uring_op`: an operation submitted to an `io_uring` instance (from the raw tracepoint
//! `io_uring_submit_req`, after the kernel prepared it), whether the process submitted it with
//! `io_uring_enter` or a kernel SQPOLL thread picked it up. Operations that name files by path
//! (`OPENAT`, `OPENAT2`, `STATX`, `RENAMEAT`, `UNLINKAT`, `MKDIRAT`, `SYMLINKAT`, `LINKAT`) carry
//! the path the kernel copied for them (`struct filename`); the others their opcode and fd.
//! A variable-length record (`crate::record`).
use crate::{EventHeader, record::Tail};

/// `IORING_OP_*` opcodes whose requests the kernel side reads a path from.
pub const IORING_OP_OPENAT: u8 = 18;
pub const IORING_OP_STATX: u8 = 21;
pub const IORING_OP_OPENAT2: u8 = 28;
pub const IORING_OP_RENAMEAT: u8 = 35;
pub const IORING_OP_UNLINKAT: u8 = 36;
pub const IORING_OP_MKDIRAT: u8 = 37;
pub const IORING_OP_SYMLINKAT: u8 = 38;
pub const IORING_OP_LINKAT: u8 = 39;
/// `IORING_OP_CONNECT`: seen as an opcode here; its destination is the network kinds' business.
pub const IORING_OP_CONNECT: u8 = 16;

/// `IoUringOpEvent::op_flags`: submitted by the ring's SQPOLL kernel thread.
pub const IOURING_OP_SQ_THREAD: u8 = 1 << 0;
/// The fd is an index into the ring's registered files (`IOSQE_FIXED_FILE`), not a descriptor.
pub const IOURING_OP_FIXED_FILE: u8 = 1 << 1;
/// An open into a registered-file slot (direct descriptor), not into the descriptor table.
pub const IOURING_OP_DIRECT: u8 = 1 << 2;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct IoUringOpEvent {
    pub header: EventHeader,
    /// The submission's `user_data` (pairs it with its completion).
    pub user_data: u64,
    /// `OPENAT`/`OPENAT2`: the open flags (`open_how.flags`); `RENAMEAT`/`UNLINKAT`/`LINKAT`: their
    /// flags; else 0.
    pub flags: u64,
    /// `OPENAT`/`OPENAT2`: the mode; `MKDIRAT`: the mode; else 0.
    pub mode: u32,
    /// Path operations: the directory fd the path is relative to (`AT_FDCWD` = -100); others: the
    /// submission's fd (a registered-file index with `IOURING_OP_FIXED_FILE`).
    pub fd: i32,
    /// `IORING_OP_*`.
    pub opcode: u8,
    /// `IOURING_OP_*` bits.
    pub op_flags: u8,
    pub _pad: [u8; 6],
    /// The path the operation names (`RENAMEAT`, `LINKAT`, `SYMLINKAT`: the old one; `SYMLINKAT`:
    /// the link's target text), as the kernel copied it.
    pub path: Tail,
    /// The second path (`RENAMEAT`, `LINKAT`, `SYMLINKAT`: the new one).
    pub path2: Tail,
    /// The kernel's path of the directory a relative `path` starts from (the dirfd, or the working
    /// directory).
    pub dir_path: Tail,
}
