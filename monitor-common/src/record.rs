//! Variable-length records: a kind's fixed part (header first), then a tail holding its strings,
//! each named by a [`Tail`] in the fixed part. The kernel side builds such a record in a per-CPU
//! scratch buffer and copies exactly its length into the ring buffer, so a 4 KiB path costs 4 KiB
//! only when a path is that long.
//!
//! Kinds with only fixed-size fields (fork, exit, deny, …) are plain structs, reserved in place.

/// The largest record (header, fixed part and tail): the builder's scratch size, a power of two.
/// With [`RECORD_SLACK`] it stays under the kernel's 32 KiB limit for a per-CPU map value.
pub const RECORD_MAX: usize = 16 * 1024;
/// Room kept after the tail's end for one more string of the longest kind, so that writes at a
/// masked offset stay inside the scratch buffer (the verifier proves `offset + size` in bounds). A
/// power of two: sizes are bounded by masking with it.
pub const RECORD_SLACK: usize = 2 * PATH_MAX;

/// Longest path read (`PATH_MAX`, NUL included).
pub const PATH_MAX: usize = 4096;
/// Most bytes of a new image's argv area read (NUL-separated arguments).
pub const ARGS_MAX: usize = 4096;
/// Most bytes of a new image's environment read (NUL-separated `NAME=value` strings).
pub const ENV_MAX: usize = 4096;

/// A string (or byte area) in a record's tail.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tail {
    /// Offset from the start of the record.
    pub off: u16,
    /// Bytes, without the terminating NUL of a string.
    pub len: u16,
    /// `TAIL_*` bits.
    pub flags: u16,
    pub _pad: u16,
}

impl Tail {
    /// Not captured for this event.
    pub const ABSENT: Tail = Tail {
        off: 0,
        len: 0,
        flags: TAIL_ABSENT,
        _pad: 0,
    };
}

/// The source was longer than what was read: the tail holds its start.
pub const TAIL_TRUNCATED: u16 = 1 << 0;
/// The memory could not be read (not faulted in, bad pointer): the tail is empty.
pub const TAIL_READ_FAILED: u16 = 1 << 1;
/// Not captured for this event (e.g. no kernel path for a failed open).
pub const TAIL_ABSENT: u16 = 1 << 2;
/// The record had no room left for it.
pub const TAIL_NO_ROOM: u16 = 1 << 3;
/// A path walked from kernel objects that did not reach the root (a detached or unreachable
/// dentry, or deeper than the walk goes): the text is the part that was walked.
pub const TAIL_PARTIAL: u16 = 1 << 4;
