//! `cred`: the caller's user or group ids or capabilities changed (or it tried): `setuid`,
//! `setgid`, `setreuid`, `setregid`, `setresuid`, `setresgid`, `setfsuid`, `setfsgid`, `capset`,
//! seen at the syscall's exit with the credentials before (kept by an entry program) and after
//! (read from `task->cred`). Ids are the kernel's (initial user namespace). A variable-length
//! record (`crate::record`).
use crate::{EventHeader, record::Tail};

pub const CRED_SYSCALL_SETUID: u8 = 0;
pub const CRED_SYSCALL_SETGID: u8 = 1;
pub const CRED_SYSCALL_SETREUID: u8 = 2;
pub const CRED_SYSCALL_SETREGID: u8 = 3;
pub const CRED_SYSCALL_SETRESUID: u8 = 4;
pub const CRED_SYSCALL_SETRESGID: u8 = 5;
pub const CRED_SYSCALL_SETFSUID: u8 = 6;
pub const CRED_SYSCALL_SETFSGID: u8 = 7;
pub const CRED_SYSCALL_CAPSET: u8 = 8;

/// A task's user and group ids (`struct cred`, in the initial user namespace): the record's
/// layout, and userspace's JSON form as it is.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "user", derive(serde::Serialize))]
pub struct Ids {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
}

/// A task's credentials (`struct cred`), as far as the event needs them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Creds {
    pub ids: Ids,
    /// Capability sets (`kernel_cap_t`, one bit per `CAP_*`).
    pub cap_effective: u64,
    pub cap_permitted: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct CredEvent {
    pub header: EventHeader,
    /// The syscall's result (`-errno` on failure; setfsuid/setfsgid return the previous id).
    pub result: i64,
    /// The arguments as passed (ids; capset: the effective, permitted and inheritable sets read
    /// from its `data` argument).
    pub args: [u64; 3],
    /// Before the call (from the entry program; zero when `has_old` is 0) and after it.
    pub old: Creds,
    pub new: Creds,
    /// One of `CRED_SYSCALL_*`.
    pub syscall: u8,
    /// 1: `old` holds the credentials seen at entry.
    pub has_old: u8,
    pub _pad: [u8; 6],
    /// The kernel's path of the caller's executable.
    pub exe: Tail,
}
