//! `prctl`: process attributes that matter to security, set with `prctl(2)` — dumpability,
//! seccomp, `no_new_privs`, capability bounding and ambient sets, securebits, keepcaps, the ptracer
//! allowed in, the memory map's fields — and `seccomp(2)`, seen at the syscall's exit with its
//! result. `PR_SET_NAME` is a `rename_comm` event. A variable-length record (`crate::record`).
use crate::{EventHeader, record::Tail};

pub const PRCTL_SYSCALL_PRCTL: u8 = 0;
pub const PRCTL_SYSCALL_SECCOMP: u8 = 1;

/// The `prctl` options reported.
pub const PRCTL_OPTIONS: &[u64] = &[
    4,           // PR_SET_DUMPABLE
    8,           // PR_SET_KEEPCAPS
    22,          // PR_SET_SECCOMP
    24,          // PR_CAPBSET_DROP
    28,          // PR_SET_SECUREBITS
    35,          // PR_SET_MM
    36,          // PR_SET_CHILD_SUBREAPER
    38,          // PR_SET_NO_NEW_PRIVS
    47,          // PR_CAP_AMBIENT
    0x5961_6d61, // PR_SET_PTRACER
];

/// Whether a `prctl` option is reported.
#[inline(always)]
pub fn prctl_option_is_event(option: u64) -> bool {
    let mut i = 0;
    while i < PRCTL_OPTIONS.len() {
        if PRCTL_OPTIONS[i] == option {
            return true;
        }
        i += 1;
    }
    false
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct PrctlEvent {
    pub header: EventHeader,
    pub result: i64,
    /// prctl: the option (`PR_*`); seccomp: the operation (`SECCOMP_SET_MODE_*`, …).
    pub option: u64,
    /// prctl: arg2..arg5; seccomp: flags, then 0.
    pub args: [u64; 4],
    /// One of `PRCTL_SYSCALL_*`.
    pub syscall: u8,
    pub _pad: [u8; 7],
    /// The kernel's path of the caller's executable.
    pub exe: Tail,
}
