//! `namespace`: the caller moved into new or other namespaces — `unshare(2)`, `setns(2)`, and
//! `clone(2)`/`clone3(2)` with `CLONE_NEW*` flags — seen at the syscall's exit with its result
//! (clone: the parent's return, the child's pid). A variable-length record (`crate::record`).
use crate::{EventHeader, record::Tail};

pub const NS_SYSCALL_UNSHARE: u8 = 0;
pub const NS_SYSCALL_SETNS: u8 = 1;
pub const NS_SYSCALL_CLONE: u8 = 2;
pub const NS_SYSCALL_CLONE3: u8 = 3;

/// clone(2)'s exit-signal byte.
pub const CSIGNAL: u64 = 0xff;

/// Every `CLONE_NEW*` flag: a clone without any of them is not an event. `CLONE_NEWTIME` lies in
/// clone(2)'s exit-signal byte (`CSIGNAL`), so only clone3 and unshare can pass it.
pub const CLONE_NEW_MASK: u64 = 0x0000_0080 // CLONE_NEWTIME
    | 0x0002_0000 // CLONE_NEWNS
    | 0x0200_0000 // CLONE_NEWCGROUP
    | 0x0400_0000 // CLONE_NEWUTS
    | 0x0800_0000 // CLONE_NEWIPC
    | 0x1000_0000 // CLONE_NEWUSER
    | 0x2000_0000 // CLONE_NEWPID
    | 0x4000_0000; // CLONE_NEWNET

/// `setns`: what the descriptor was.
pub const NS_FD_UNKNOWN: u8 = 0;
/// A namespace file (`/proc/PID/ns/*`, nsfs).
pub const NS_FD_NSFS: u8 = 1;
/// A pidfd: the namespaces of that process.
pub const NS_FD_PIDFD: u8 = 2;

/// nsfs and pidfs superblock magics (`include/uapi/linux/magic.h`).
pub const NSFS_MAGIC: u64 = 0x6e73_6673;
pub const PIDFS_MAGIC: u64 = 0x5049_4446;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct NamespaceEvent {
    pub header: EventHeader,
    /// The syscall's result: 0, the child's pid (clone), or `-errno`.
    pub result: i64,
    /// unshare/clone/clone3: the flags passed (clone3: `clone_args.flags`, read from user memory
    /// at exit); setns: the `nstype` argument (0 = whatever the descriptor is).
    pub flags: u64,
    /// setns: the inode number of the namespace file (what `/proc/PID/ns/*` links show as
    /// `mnt:[N]`); 0 otherwise.
    pub ns_inode: u64,
    /// setns: the descriptor; -1 otherwise.
    pub fd: i32,
    /// One of `NS_SYSCALL_*`.
    pub syscall: u8,
    /// setns: one of `NS_FD_*`.
    pub fd_kind: u8,
    pub _pad: [u8; 2],
    /// setns on a namespace file: the kernel's name of its namespace type (`mnt`, `net`, `user`, …,
    /// from `ns_common.ops->name`).
    pub ns_type: Tail,
    /// The kernel's path of the caller's executable.
    pub exe: Tail,
}
