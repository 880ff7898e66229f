//! System calls by number, for profiles and the sandbox (`monitor-ebpf/src/syscall.rs`):
//!
//! - While `agentmon learn` runs, `raw_syscalls/sys_enter` counts every syscall of a watched task in
//!   `SYSCALL_COUNTS`, keyed by the watched cgroup it belongs to ([`SyscallKey`]). The program is
//!   attached only then: monitoring alone does not pay for it.
//! - Under `agentmon exec --sandbox`, `raw_syscalls/sys_exit` reports the syscalls that
//!   `SANDBOX_SYSCALLS` (indexed by number) flags as a [`SyscallEvent`]. A seccomp filter refuses a
//!   syscall before `sys_enter` tracepoints run, but the syscall's exit is still traced, with the
//!   filter's `-EPERM` as its result: that is where refusals are seen.
use crate::EventHeader;

/// Entries of `SANDBOX_SYSCALLS`: syscall numbers below this are looked up (x86-64 has < 512).
pub const SYSCALL_SLOTS: u32 = 512;

/// `SANDBOX_SYSCALLS` flag: report a call of this number that returned `-EPERM` (the sandbox's
/// seccomp filter may refuse it).
pub const REPORT_REFUSED: u32 = 1 << 0;
/// `SANDBOX_SYSCALLS` flag: report the first call of this number by each process, whatever its
/// result (audit mode: the profile does not list it).
pub const REPORT_FIRST: u32 = 1 << 1;

/// `EPERM`: what the sandbox's seccomp filter answers.
pub const EPERM: i64 = 1;

/// Key of `SYSCALL_COUNTS` (value: a per-CPU count).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SyscallKey {
    /// The id of the watched cgroup the caller is in (itself or an ancestor of its own cgroup).
    pub cgroup_id: u64,
    /// The syscall number.
    pub nr: u32,
    pub _pad: u32,
}

/// Key of `SYSCALL_REPORTED`: a process and a syscall number already reported ([`REPORT_FIRST`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReportedKey {
    pub tgid: u32,
    pub nr: u32,
}

/// A syscall the sandbox reports: its number, result and the six argument registers.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SyscallEvent {
    pub header: EventHeader,
    pub nr: u32,
    /// `SANDBOX_SYSCALLS` flags that made it reported.
    pub why: u32,
    /// The result: `-errno` on failure.
    pub ret: i64,
    pub args: [u64; 6],
}

// SAFETY: repr(C), Copy, integer fields only with the padding spelled out: any bit pattern is valid.
#[cfg(feature = "user")]
unsafe impl aya::Pod for SyscallKey {}
// SAFETY: as above.
#[cfg(feature = "user")]
unsafe impl aya::Pod for ReportedKey {}
