//! `cgroup_move`: a process of a watched agent moved to another cgroup (v2), or a watched process
//! moved one — and the lineage that keeps a process that left its agent's cgroup in scope.
//!
//! The scope check is by cgroup (a task below a watched cgroup is watched). A process of a watched
//! agent that writes its pid into another cgroup's `cgroup.procs` (or is born there with
//! `clone3(CLONE_INTO_CGROUP)`) would leave the scope with it; the kernel side instead keeps, per
//! process in scope, the agent it belongs to (the `LINEAGE` map, [`Lineage`]), marks one that left
//! as escaped, and the scope check also admits escaped processes of watched agents. Children
//! inherit the entry at fork; it is dropped at exit.
use crate::EventHeader;

/// Bytes of the destination cgroup's path kept (the kernel's path, relative to the cgroup2 root).
pub const CGROUP_PATH_LEN: usize = 256;

/// The destination is not below any watched cgroup: the process left its agent's cgroup and stays
/// in scope by lineage.
pub const CGROUP_MOVE_LEFT_SCOPE: u32 = 1 << 0;
/// The process doing the move (the event's header) was in scope.
pub const CGROUP_MOVE_BY_WATCHED: u32 = 1 << 1;
/// The moved process was in scope before the move.
pub const CGROUP_MOVE_WAS_WATCHED: u32 = 1 << 2;
/// One thread moved (`cgroup.threads`), not a whole process.
pub const CGROUP_MOVE_THREAD: u32 = 1 << 3;
/// A new process born in another cgroup than its parent's (`clone3(CLONE_INTO_CGROUP)`), seen at
/// fork; `dest_path` holds only the cgroup directory's own name.
pub const CGROUP_MOVE_AT_FORK: u32 = 1 << 4;

/// A move, from `cgroup:cgroup_attach_task` (raw tracepoint) or, for a child born elsewhere, from
/// `sched_process_fork`. Fixed size, reserved in place: the lineage maps are updated between the
/// reserve and the submit, so every event of the escaped process comes after this one in the ring.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CgroupMoveEvent {
    pub header: EventHeader,
    /// The moved process (tgid).
    pub pid: u32,
    /// `CGROUP_MOVE_*` bits.
    pub flags: u32,
    /// Id (inode number) of the destination cgroup.
    pub dest_id: u64,
    /// The watched cgroup of the agent the moved process belongs to (after the move: the
    /// destination's watched cgroup if there is one), 0 if none (an unwatched process moved by a
    /// watched one).
    pub agent_cgroup_id: u64,
    /// Level of the destination in the cgroup2 hierarchy.
    pub dest_level: u32,
    pub _pad: u32,
    /// The destination's path relative to the cgroup2 root (`/a/b`), NUL terminated.
    pub dest_path: [u8; CGROUP_PATH_LEN],
}

/// What the kernel side keeps per process in scope (`LINEAGE` map, keyed by tgid).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lineage {
    /// The watched cgroup of the agent the process belongs to.
    pub agent_cgroup_id: u64,
    /// `LINEAGE_*` bits.
    pub flags: u32,
    pub _pad: u32,
}

/// The process left its agent's cgroup subtree: the scope check admits it by this entry.
pub const LINEAGE_ESCAPED: u32 = 1 << 0;

// SAFETY: repr(C), Copy, integers with the padding spelled out as `_pad`: any bit pattern is valid.
#[cfg(feature = "user")]
unsafe impl aya::Pod for Lineage {}
