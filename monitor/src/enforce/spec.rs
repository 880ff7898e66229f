//! What the kernel side can deny synchronously. A rule with `action: deny` compiles into a list of
//! these (see the rule compiler); anything else is refused with an error naming the rule.
//!
//! Kernel matching is on the strings and addresses the syscall carries:
//! - exec: the executed file name (`sched_process_exec`), prefix or exact match; the process is
//!   killed with SIGKILL before the new image runs a single instruction.
//! - open: the path passed to openat/openat2, prefix or exact match, optionally only when opened for
//!   writing; SIGKILL at syscall entry, so the file is never read or written.
//! - connect: destination CIDR (IPv4/IPv6) and optional port; `connect()` fails with EPERM.
//! - mount: any mount, or by filesystem type; SIGKILL at the syscall's exit, or where BPF LSM runs
//!   EPERM from `lsm/sb_mount` (`mount(2)`) and `lsm/move_mount` before the mount tree changes.
//! - changes of a path (rename onto it, link or symlink at it, unlink/rmdir, chmod, chown,
//!   truncate), prefix or exact match on the kernel's path of the name: EPERM from the BPF LSM
//!   `path_*` hooks before anything changes, where they load; elsewhere no kernel program checks
//!   them and userspace kills the caller after the change.
//! - `io_uring`: any use; SIGKILL at `io_uring_setup`'s exit (the ring never reaches the process) and
//!   at every submission.
use std::net::IpAddr;

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) enum PathMatch {
    /// The whole path equals this string.
    Exact(String),
    /// The path starts with this string.
    Prefix(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) enum DenySpec {
    Exec(PathMatch),
    Open {
        path: PathMatch,
        write_only: bool,
    },
    Connect {
        addr: IpAddr,
        prefix_len: u8,
        port: Option<u16>,
    },
    /// Changes of a path: `ops` holds the `monitor_common::enforce::CHANGE_*` bits refused.
    Change {
        path: PathMatch,
        ops: u32,
    },
    MountAny,
    MountFstype(String),
    // mounts, scope, io_uring, code loading
    /// `io_uring` refused: the watched process is killed at `io_uring_setup` and at any submission.
    IoUring,
}

/// A deny spec with the rule it came from (`rule_id` indexes the rule set's deny rules and comes back
/// in kernel deny notices).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DenyEntry {
    pub(crate) rule_id: u32,
    pub(crate) rule: String,
    pub(crate) spec: DenySpec,
}
