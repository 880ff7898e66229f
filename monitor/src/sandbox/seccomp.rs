//! The sandbox's seccomp filters, compiled by `seccompiler` from a profile:
//!
//! - the **main filter** allows the profile's syscalls and the [`BASELINE`] and answers every other
//!   syscall with `EPERM`; the [`ALWAYS_REFUSED`] list is refused whatever the profile says, and
//!   `clone`/`unshare` are allowed only without namespace flags, `personality` only for the
//!   personalities programs ask for (as Docker's default profile does);
//! - a second filter answers `clone3` with `ENOSYS`: its flags sit in memory a filter cannot read, and
//!   `ENOSYS` makes the C library fall back to `clone`, whose flags it can. It is installed first
//!   (the main filter refuses `seccomp` itself) and still decides: the kernel takes the most severe
//!   answer of all filters, and the main one allows `clone3`.
//!
//! Seccomp sees numbers and registers, never paths or the memory they point to: what to open is
//! Landlock's business (`super::landlock`).
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use monitor_common::{
    namespace::{CLONE_NEW_MASK, CSIGNAL},
    syscall::{REPORT_FIRST, REPORT_REFUSED, SYSCALL_SLOTS},
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

use super::Mode;
use crate::profile::{Profile, syscalls};

/// Refused with `EPERM` whatever the profile says: (name, what it would give the agent).
pub(crate) const ALWAYS_REFUSED: &[(&str, &str)] = &[
    ("mount", "mounts"),
    ("umount2", "mounts"),
    ("fsopen", "mounts"),
    ("fsconfig", "mounts"),
    ("fsmount", "mounts"),
    ("fspick", "mounts"),
    ("move_mount", "mounts"),
    ("open_tree", "mounts"),
    ("open_tree_attr", "mounts"),
    ("mount_setattr", "mounts"),
    ("pivot_root", "a new root"),
    ("chroot", "a new root"),
    ("setns", "entering namespaces"),
    ("ptrace", "other processes' memory"),
    ("process_vm_readv", "other processes' memory"),
    ("process_vm_writev", "other processes' memory"),
    ("pidfd_getfd", "other processes' descriptors"),
    ("bpf", "kernel programs"),
    ("perf_event_open", "kernel tracing"),
    ("init_module", "kernel modules"),
    ("finit_module", "kernel modules"),
    ("delete_module", "kernel modules"),
    ("kexec_load", "another kernel"),
    ("kexec_file_load", "another kernel"),
    ("io_uring_setup", "io_uring (syscalls seccomp cannot see)"),
    ("io_uring_enter", "io_uring (syscalls seccomp cannot see)"),
    ("io_uring_register", "io_uring (syscalls seccomp cannot see)"),
    ("keyctl", "the kernel keyring"),
    ("add_key", "the kernel keyring"),
    ("request_key", "the kernel keyring"),
    ("userfaultfd", "a kernel exploitation aid"),
    ("open_by_handle_at", "files outside the mount namespace"),
    ("swapon", "host administration"),
    ("swapoff", "host administration"),
    ("reboot", "host administration"),
    ("syslog", "the kernel log"),
    ("acct", "host administration"),
    ("quotactl", "host administration"),
    ("quotactl_fd", "host administration"),
    ("iopl", "raw I/O ports"),
    ("ioperm", "raw I/O ports"),
    ("settimeofday", "the host clock"),
    ("clock_settime", "the host clock"),
    ("clock_adjtime", "the host clock"),
    ("adjtimex", "the host clock"),
    ("uselib", "legacy library loading"),
    ("vhangup", "host administration"),
    ("lookup_dcookie", "kernel internals"),
];

/// Allowed with conditions on their arguments (see the module doc); `clone3` always `ENOSYS`.
const CONDITIONAL: &[&str] = &["clone", "clone3", "unshare", "personality"];

/// Always allowed: syscalls a program may need in one run and not another (signals arriving, lock
/// contention, timing), so a profile learned from one run does not break the next on them.
pub(crate) const BASELINE: &[&str] = &[
    "exit",
    "exit_group",
    "rt_sigreturn",
    "restart_syscall",
    "rt_sigprocmask",
    "rt_sigaction",
    "sigaltstack",
    "futex",
    "sched_yield",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "gettimeofday",
    "wait4",
    "waitid",
    "getpid",
    "gettid",
];

/// Personalities allowed (`PER_LINUX`, `PER_LINUX32`, `UNAME26`, both, and the query), as Docker's.
const PERSONALITIES: &[u64] = &[0, 8, 0x0002_0000, 0x0002_0008, 0xffff_ffff];

/// Why `name` is always refused, if it is.
pub(crate) fn always_refused(name: &str) -> Option<&'static str> {
    ALWAYS_REFUSED.iter().find(|(n, _)| *n == name).map(|(_, why)| *why)
}

fn nr(name: &str) -> Option<i64> {
    syscalls::number(name).map(i64::from)
}

/// The syscalls the main filter allows without conditions: the profile's and the baseline, less
/// the refused and the conditional ones.
pub(crate) fn unconditional(p: &Profile) -> BTreeSet<&'static str> {
    syscalls::TABLE
        .iter()
        .map(|&(_, name)| name)
        .filter(|n| (p.syscalls.contains_key(*n) || BASELINE.contains(n)) && always_refused(n).is_none())
        .filter(|n| !CONDITIONAL.contains(n))
        .collect()
}

/// The two filters, compiled (before fork: applying them allocates nothing).
pub(crate) struct Filters {
    pub main: BpfProgram,
    pub clone3: BpfProgram,
    /// Syscalls allowed without conditions.
    pub allowed: usize,
}

fn cond(arg: u8, len: SeccompCmpArgLen, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition> {
    SeccompCondition::new(arg, len, op, value).context("seccomp condition")
}

/// Whether the profile makes processes (then the filter allows `clone` without namespace flags).
fn forks(p: &Profile) -> bool {
    ["clone", "clone3", "fork", "vfork"]
        .iter()
        .any(|n| p.syscalls.contains_key(*n))
}

pub(crate) fn build(p: &Profile) -> Result<Filters> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let allowed = unconditional(p);
    for name in &allowed {
        if let Some(n) = nr(name) {
            rules.insert(n, Vec::new());
        }
    }
    let uses = |n: &str| p.syscalls.contains_key(n);
    // clone without namespace flags: a fork; needed too when clone3 answers ENOSYS. (Its low byte
    // is the exit signal, not a flag.)
    if forks(p) {
        let no_ns = SeccompRule::new(vec![cond(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(CLONE_NEW_MASK & !CSIGNAL),
            0,
        )?])
        .context("seccomp rule")?;
        rules.insert(libc::SYS_clone, vec![no_ns]);
    }
    if uses("unshare") {
        let no_ns = SeccompRule::new(vec![cond(
            0,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(CLONE_NEW_MASK),
            0,
        )?])
        .context("seccomp rule")?;
        rules.insert(libc::SYS_unshare, vec![no_ns]);
    }
    if uses("personality") {
        let mut alts = Vec::new();
        for &v in PERSONALITIES {
            alts.push(
                SeccompRule::new(vec![cond(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, v)?])
                    .context("seccomp rule")?,
            );
        }
        rules.insert(libc::SYS_personality, alts);
    }
    // The clone3 filter decides clone3; the main one lets it through to it.
    rules.insert(libc::SYS_clone3, Vec::new());
    let main = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .context("building the seccomp filter")?;
    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        TargetArch::x86_64,
    )
    .context("building the clone3 filter")?;
    Ok(Filters {
        main: main.try_into().context("compiling the seccomp filter")?,
        clone3: clone3.try_into().context("compiling the clone3 filter")?,
        allowed: allowed.len(),
    })
}

/// Whether the filter lets some calls of a [`CONDITIONAL`] syscall through (those without namespace
/// flags, or with a usual personality; `clone3` answers `ENOSYS`, and the C library then uses
/// `clone`).
fn conditionally_allowed(p: &Profile, name: &str) -> bool {
    match name {
        "clone" | "clone3" => forks(p),
        other => p.syscalls.contains_key(other),
    }
}

/// What `SANDBOX_SYSCALLS` holds for this profile and mode, indexed by number: in enforce mode every
/// syscall the filter may refuse is reported when it returns `EPERM`; in audit mode (nothing
/// applied) the first call per process of each one the filter would refuse outright. Calls refused
/// for their arguments in enforce mode — namespace flags to `clone`/`clone3`/`unshare` — are, in
/// audit mode, the namespace events' (`profile::export::rules` alerts on them).
pub(crate) fn report_flags(p: &Profile, mode: Mode) -> Vec<u32> {
    let allowed = unconditional(p);
    let mut flags = vec![0u32; SYSCALL_SLOTS as usize];
    for &(n, name) in syscalls::TABLE {
        let Some(slot) = flags.get_mut(n as usize) else {
            continue;
        };
        let free = allowed.contains(name);
        let conditional = CONDITIONAL.contains(&name);
        *slot = match mode {
            Mode::Enforce if !free => REPORT_REFUSED,
            Mode::Audit if !free && !conditional => REPORT_FIRST,
            Mode::Audit if conditional && !conditionally_allowed(p, name) => REPORT_FIRST,
            _ => 0,
        };
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(names: &[&str]) -> Profile {
        let mut p = Profile::default();
        for n in names {
            p.syscalls.insert((*n).to_string(), 1);
        }
        p
    }

    #[test]
    fn the_deny_list_wins_over_the_profile_and_names_real_syscalls() {
        for name in ALWAYS_REFUSED.iter().map(|(n, _)| n).chain(CONDITIONAL) {
            assert!(syscalls::number(name).is_some(), "{name}");
        }
        let p = profile(&["read", "mount", "bpf", "clone"]);
        let allowed = unconditional(&p);
        assert!(allowed.contains("read") && allowed.contains("exit_group"));
        assert!(!allowed.contains("mount") && !allowed.contains("bpf") && !allowed.contains("clone"));
        let f = build(&p).unwrap();
        assert!(!f.main.is_empty() && !f.clone3.is_empty());
    }

    #[test]
    fn enforce_reports_refusals_and_audit_first_calls() {
        let p = profile(&["read", "clone3"]);
        let enforce = report_flags(&p, Mode::Enforce);
        let audit = report_flags(&p, Mode::Audit);
        let at = |f: &[u32], n: &str| f[syscalls::number(n).unwrap() as usize];
        assert_eq!((at(&enforce, "read"), at(&enforce, "mount")), (0, REPORT_REFUSED));
        assert_eq!(at(&enforce, "clone"), REPORT_REFUSED);
        assert_eq!((at(&audit, "read"), at(&audit, "mount")), (0, REPORT_FIRST));
        // A profile that forks: clone and clone3 are allowed without namespace flags (those are
        // the namespace events'); unshare, never used, would be refused outright.
        assert_eq!((at(&audit, "clone"), at(&audit, "clone3")), (0, 0));
        assert_eq!(at(&audit, "unshare"), REPORT_FIRST);
        let single = report_flags(&profile(&["read"]), Mode::Audit);
        assert_eq!(
            (at(&single, "clone"), at(&single, "clone3")),
            (REPORT_FIRST, REPORT_FIRST)
        );
    }
}
