//! Indexes of the kernel's per-CPU counters (the `COUNTERS` map), summed over CPUs by userspace.
//!
//! Events are never lost silently: every path on which a program gives up on an event it should
//! have emitted increments one of the *lost* counters below (one per reason), exactly as a full ring
//! buffer does. Intentional early returns (task out of scope, a thread rather than a process, a failed
//! syscall at exit, a call that is not the one watched) count nothing.

/// Records that could not be reserved in the ring buffer (lost events).
pub const RINGBUF_DROPS: u32 = 0;
/// User/kernel string reads that failed (the event is emitted, flagged `FLAG_READ_FAILED`).
pub const READ_FAILURES: u32 = 1;
/// Events emitted into the ring buffer.
pub const EVENTS: u32 = 2;
/// Actions denied in the kernel.
pub const DENIED: u32 = 3;
/// Lost: a tracepoint argument could not be read from the record.
pub const ARG_READ_FAILED: u32 = 4;
/// Lost: the `CONFIG` entry was missing (or a connect check skipped).
pub const NO_CONFIG: u32 = 5;
/// Lost: a task field the event needs could not be read (unknown offset or failed read).
pub const TASK_READ_FAILED: u32 = 6;
/// Lost: a map insert failed (map full), so the state the event is built from was not kept.
pub const MAP_INSERT_FAILED: u32 = 7;
/// Lost: the per-CPU path scratch buffer was missing.
pub const NO_SCRATCH: u32 = 8;
/// Opens left out by the interest filter: no loaded rule can match them (`open::QuietOpenKey`).
/// Not lost: nothing downstream needed them.
pub const FILTERED_OPENS: u32 = 9;
/// Number of counters.
pub const COUNT: u32 = 10;

/// The lost-event counters with the reason userspace reports them under (metrics label, log
/// field): a full ring buffer first, then every early return that drops an event.
pub const LOST: &[(u32, &str)] = &[
    (RINGBUF_DROPS, "ringbuf_full"),
    (ARG_READ_FAILED, "arg_read_failed"),
    (NO_CONFIG, "no_config"),
    (TASK_READ_FAILED, "task_read_failed"),
    (MAP_INSERT_FAILED, "map_insert_failed"),
    (NO_SCRATCH, "no_scratch"),
];
