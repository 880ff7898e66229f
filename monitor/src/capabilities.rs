//! What this kernel offers agentmon, probed once at start, and the mechanism chosen per hook.
//!
//! Contract: [`Capabilities::probe`] asks the kernel (feature-probe program loads, sysfs/tracefs
//! entries, two harmless syscalls) and never fails: a probe that errors counts as absent, with the
//! error kept as the reason. [`Capabilities::plan`] is pure: for each hook (open, exec, connect,
//! mount) it picks the best mechanism the kernel allows — a BPF LSM hook (synchronous `-EPERM`
//! before the operation, strings read from kernel objects) over a syscall tracepoint (deny by
//! SIGKILL at syscall entry; strings read from user memory, which can be unfaulted) — and
//! [`Capabilities::costs`] says what each missing capability costs. `agentmon doctor` prints both,
//! the live monitor logs them once and exports one gauge per capability.
use std::{fmt::Write as _, path::Path};

/// Set (to anything but empty or `0`) in agentmon's environment, BPF LSM counts as absent whatever
/// the kernel allows: every hook takes its tracepoint fallback (`run`, `exec` and `doctor` alike).
/// For operators who want the fallback's behaviour, and for the tests that compare the two paths on
/// one kernel.
pub const NO_LSM_ENV: &str = "AGENTMON_NO_LSM";

/// A kernel capability agentmon may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cap {
    /// Kernel BTF (`/sys/kernel/btf/vmlinux`): `task_struct` offsets, LSM/fentry attach targets.
    Btf,
    /// BPF LSM programs load and attach, and `bpf` is an active LSM.
    BpfLsm,
    /// fentry/fexit (BPF trampolines).
    Fentry,
    /// kprobes (perf `kprobe` PMU).
    Kprobes,
    /// uprobes (perf `uprobe` PMU).
    Uprobes,
    /// Syscall tracepoints (`syscalls/sys_enter_*`).
    SyscallTracepoints,
    /// cgroup `sock_addr` programs (connect deny, connect events).
    CgroupSockAddr,
    /// Landlock (`landlock_create_ruleset` answers an ABI version).
    Landlock,
    /// `io_uring` is built in and allowed.
    IoUring,
}

impl Cap {
    pub const ALL: [Cap; 9] = [
        Cap::Btf,
        Cap::BpfLsm,
        Cap::Fentry,
        Cap::Kprobes,
        Cap::Uprobes,
        Cap::SyscallTracepoints,
        Cap::CgroupSockAddr,
        Cap::Landlock,
        Cap::IoUring,
    ];

    /// Its name in logs, `doctor` and the `agentmon_kernel_capability{capability=…}` gauge.
    pub fn name(self) -> &'static str {
        match self {
            Cap::Btf => "btf",
            Cap::BpfLsm => "bpf_lsm",
            Cap::Fentry => "fentry",
            Cap::Kprobes => "kprobes",
            Cap::Uprobes => "uprobes",
            Cap::SyscallTracepoints => "syscall_tracepoints",
            Cap::CgroupSockAddr => "cgroup_sock_addr",
            Cap::Landlock => "landlock",
            Cap::IoUring => "io_uring",
        }
    }

    /// What agentmon loses without it.
    pub fn cost(self) -> &'static str {
        match self {
            Cap::Btf => {
                "no task_struct offsets: ppid, argv and exit codes come from /proc only (racy for short-lived processes)"
            }
            Cap::BpfLsm => {
                "open/exec/mount deny is a SIGKILL before the syscall returns instead of EPERM \
                 before it acts: an O_TRUNC open of a denied file still truncates it, a denied \
                 mount(2) in a shared mount namespace stays mounted, the caller is killed rather \
                 than refused; a denied connect on a socket made outside the watched cgroup and \
                 carried in is checked by no cgroup hook: it reaches its destination and the \
                 caller is killed from userspace afterwards; strings read from user memory at \
                 syscall entry may be unreadable (unfaulted page: event without path, counted \
                 arg_read_failed); a denied rename, link, unlink, chmod, chown or truncate is \
                 made, and its caller killed from userspace afterwards"
            }
            Cap::Fentry => "no kernel-function hooks: observation stays on tracepoints",
            Cap::Kprobes => "no kprobes (not used by agentmon today; fentry/tracepoints cover it)",
            Cap::Uprobes => "no uprobes (not used by agentmon today)",
            Cap::SyscallTracepoints => {
                "no syscall tracepoints: without BPF LSM too, open/exec/mount are not observed at all"
            }
            Cap::CgroupSockAddr => "connect deny and connect/sendto events are unavailable",
            Cap::Landlock => "the sandbox cannot confine file access with Landlock",
            Cap::IoUring => "nothing lost: io_uring is absent, so it cannot bypass the syscall hooks",
        }
    }
}

/// One capability's probe result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probed {
    pub cap: Cap,
    pub present: bool,
    /// What was seen (a version, the errno of a refused load).
    pub detail: String,
}

/// Every capability's probe result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub probed: Vec<Probed>,
}

/// A hook agentmon observes and may deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Open,
    Exec,
    Connect,
    Mount,
    /// Changes of a path: rename onto, link, symlink, unlink, chmod, chown, truncate.
    Change,
}

impl Hook {
    pub const ALL: [Hook; 5] = [Hook::Open, Hook::Exec, Hook::Connect, Hook::Mount, Hook::Change];

    pub fn name(self) -> &'static str {
        match self {
            Hook::Open => "open",
            Hook::Exec => "exec",
            Hook::Connect => "connect",
            Hook::Mount => "mount",
            Hook::Change => "change",
        }
    }
}

/// How a hook is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// BPF LSM hook: deny returns -EPERM before the operation.
    Lsm(&'static str),
    /// Syscall tracepoint: deny is SIGKILL at entry.
    Tracepoint,
    /// cgroup `sock_addr` program: deny makes `connect()` fail with EPERM before it is sent.
    CgroupSockAddr,
    /// Seen at the syscall's exit only; a deny rule's caller is killed from userspace, after the
    /// effect (changes of a path without the BPF LSM `path_*` hooks).
    AfterTheFact,
    /// Nothing on this kernel.
    None,
}

impl Mechanism {
    pub fn describe(self) -> String {
        match self {
            Mechanism::Lsm(h) => format!("lsm/{h} (synchronous -EPERM, kernel strings)"),
            Mechanism::Tracepoint => "tracepoint (deny = SIGKILL before the syscall returns, after its effect)".into(),
            Mechanism::CgroupSockAddr => "cgroup sock_addr (synchronous EPERM for sockets made in a watched cgroup; \
                                          one made outside and carried in connects, its caller killed from userspace)"
                .into(),
            Mechanism::AfterTheFact => {
                "tracepoint (no kernel deny: the change is made, then the caller is killed from userspace)".into()
            }
            Mechanism::None => "none (not observed)".into(),
        }
    }
}

impl Capabilities {
    pub fn has(&self, cap: Cap) -> bool {
        self.probed.iter().any(|p| p.cap == cap && p.present)
    }

    /// The mechanism chosen for each hook (pure: a function of the probe results).
    pub fn plan(&self) -> Vec<(Hook, Mechanism)> {
        let lsm = self.has(Cap::BpfLsm) && self.has(Cap::Btf);
        let tp = self.has(Cap::SyscallTracepoints);
        Hook::ALL
            .iter()
            .map(|&h| {
                let m = match h {
                    Hook::Open if lsm => Mechanism::Lsm("file_open"),
                    Hook::Exec if lsm => Mechanism::Lsm("bprm_check_security"),
                    Hook::Mount if lsm => Mechanism::Lsm("sb_mount + lsm/move_mount"),
                    // Where the kernel lacks the path hooks (CONFIG_SECURITY_PATH) the loader
                    // skips them and says so; every distribution kernel seen has them.
                    Hook::Change if lsm => Mechanism::Lsm(
                        "path_{rename,link,symlink,unlink,rmdir,chmod,chown,truncate} + lsm/file_truncate (6.2+)",
                    ),
                    Hook::Change if tp => Mechanism::AfterTheFact,
                    // The cgroup hooks check sockets made in a watched cgroup (and see every
                    // route, TCP Fast Open included); lsm/socket_connect checks the caller, so a
                    // socket made outside and carried in is refused too.
                    Hook::Connect if lsm && self.has(Cap::CgroupSockAddr) => {
                        Mechanism::Lsm("socket_connect + cgroup sock_addr")
                    }
                    Hook::Connect if self.has(Cap::CgroupSockAddr) => Mechanism::CgroupSockAddr,
                    Hook::Connect if lsm => Mechanism::Lsm("socket_connect"),
                    _ if tp => Mechanism::Tracepoint,
                    _ => Mechanism::None,
                };
                (h, m)
            })
            .collect()
    }

    /// Missing capabilities and what each costs.
    pub fn costs(&self) -> Vec<(Cap, &'static str)> {
        self.probed
            .iter()
            .filter(|p| !p.present)
            .map(|p| (p.cap, p.cap.cost()))
            .collect()
    }

    /// The table `doctor` prints and the monitor logs.
    pub fn render(&self) -> String {
        let mut out = String::from("kernel capabilities:\n");
        for p in &self.probed {
            let _ = writeln!(
                out,
                "  {:<20} {:<4} {}",
                p.cap.name(),
                if p.present { "yes" } else { "no" },
                p.detail
            );
        }
        out.push_str("mechanism per hook:\n");
        for (h, m) in self.plan() {
            let _ = writeln!(out, "  {:<8} {}", h.name(), m.describe());
        }
        let costs = self.costs();
        if !costs.is_empty() {
            out.push_str("what the missing capabilities cost:\n");
            for (c, cost) in costs {
                let _ = writeln!(out, "  {}: {cost}", c.name());
            }
        }
        out
    }

    /// This kernel's capabilities, probed on first use and logged then (once per process).
    pub fn current() -> &'static Capabilities {
        static CURRENT: std::sync::OnceLock<Capabilities> = std::sync::OnceLock::new();
        CURRENT.get_or_init(|| {
            let c = Self::probe();
            tracing::info!("{}", c.render().trim_end());
            c
        })
    }

    /// Probes this kernel (needs root for the program loads; without it those count as absent).
    pub fn probe() -> Self {
        let probed = Cap::ALL
            .iter()
            .map(|&cap| {
                let (present, detail) = probe_one(cap);
                Probed { cap, present, detail }
            })
            .collect();
        Self { probed }
    }
}

fn program_supported(t: aya::programs::ProgramType) -> (bool, String) {
    match aya::sys::is_program_supported(t) {
        Ok(true) => (true, "loads and attaches".into()),
        Ok(false) => (false, "not supported by this kernel".into()),
        Err(e) => (false, format!("refused: {}", error_chain(&e))),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let _ = write!(s, ": {c}");
        src = c.source();
    }
    s
}

fn probe_one(cap: Cap) -> (bool, String) {
    use aya::programs::{LsmAttachType, ProgramType};
    match cap {
        Cap::Btf => {
            let p = Path::new("/sys/kernel/btf/vmlinux");
            if p.exists() {
                (true, p.display().to_string())
            } else {
                (false, "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)".into())
            }
        }
        Cap::BpfLsm if std::env::var_os(NO_LSM_ENV).is_some_and(|v| !v.is_empty() && v != "0") => (
            false,
            format!("not used: {NO_LSM_ENV} is set (the tracepoint fallback is forced)"),
        ),
        Cap::BpfLsm => {
            let lsms = active_lsms();
            let (loads, detail) = program_supported(ProgramType::Lsm(LsmAttachType::Mac));
            lsm_verdict(lsms.as_deref(), loads, &detail)
        }
        Cap::Fentry => program_supported(ProgramType::Tracing),
        Cap::Kprobes => pmu("kprobe"),
        Cap::Uprobes => pmu("uprobe"),
        Cap::SyscallTracepoints => {
            let found = [
                "/sys/kernel/tracing/events/syscalls",
                "/sys/kernel/debug/tracing/events/syscalls",
            ]
            .iter()
            .find(|p| Path::new(p).is_dir());
            match found {
                Some(p) => (true, (*p).to_string()),
                None => (false, "no events/syscalls in tracefs (CONFIG_FTRACE_SYSCALLS)".into()),
            }
        }
        Cap::CgroupSockAddr => program_supported(ProgramType::CgroupSockAddr),
        Cap::Landlock => landlock_abi(),
        Cap::IoUring => io_uring(),
    }
}

/// The active LSMs (`/sys/kernel/security/lsm`, securityfs mounted on demand).
fn active_lsms() -> Option<String> {
    let path = "/sys/kernel/security/lsm";
    if let Ok(s) = std::fs::read_to_string(path) {
        return Some(s.trim().to_string());
    }
    // securityfs may not be mounted (containers, minimal hosts): try once.
    let _ = std::process::Command::new("mount")
        .args(["-t", "securityfs", "securityfs", "/sys/kernel/security"])
        .stderr(std::process::Stdio::null())
        .status();
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// BPF LSM is usable when its programs load and attach *and* `bpf` is an active LSM (otherwise the
/// hooks attach but are never called).
fn lsm_verdict(lsms: Option<&str>, loads: bool, load_detail: &str) -> (bool, String) {
    let active = lsms.is_some_and(|l| l.split(',').any(|x| x == "bpf"));
    let lsm_text = lsms.unwrap_or("unknown (securityfs unreadable)");
    match (loads, active) {
        (true, true) => (true, format!("{load_detail}; active LSMs {lsm_text}")),
        (true, false) => (
            false,
            format!(
                "programs load but `bpf` is not an active LSM ({lsm_text}): add it to lsm= on the kernel command line"
            ),
        ),
        (false, _) => (false, format!("{load_detail}; active LSMs {lsm_text}")),
    }
}

fn pmu(name: &str) -> (bool, String) {
    let p = format!("/sys/bus/event_source/devices/{name}");
    if Path::new(&p).exists() {
        (true, p)
    } else {
        (false, format!("no {p}"))
    }
}

fn landlock_abi() -> (bool, String) {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_long = 1;
    // SAFETY: with a NULL attr, size 0 and the VERSION flag the syscall only returns the ABI
    // version (or an error); it creates nothing and reads no memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if r > 0 {
        (true, format!("ABI {r}"))
    } else {
        (
            false,
            format!("landlock_create_ruleset: {}", std::io::Error::last_os_error()),
        )
    }
}

fn io_uring() -> (bool, String) {
    // SAFETY: entries = 0 is always rejected (EINVAL) before the params pointer is read, so this
    // creates no ring; ENOSYS means io_uring is not built in, EPERM that it is disabled by sysctl.
    let r = unsafe { libc::syscall(libc::SYS_io_uring_setup, 0u32, std::ptr::null_mut::<u8>()) };
    let err = std::io::Error::last_os_error();
    if r >= 0 {
        // Not expected; close what was made.
        // SAFETY: r is a descriptor this call just returned.
        unsafe { libc::close(r as libc::c_int) };
        return (true, "available".into());
    }
    match err.raw_os_error() {
        Some(libc::EINVAL | libc::EFAULT) => (true, "available".into()),
        _ => (false, format!("io_uring_setup: {err}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(present: &[Cap]) -> Capabilities {
        Capabilities {
            probed: Cap::ALL
                .iter()
                .map(|&cap| Probed {
                    cap,
                    present: present.contains(&cap),
                    detail: String::new(),
                })
                .collect(),
        }
    }

    fn mech(c: &Capabilities, h: Hook) -> Mechanism {
        c.plan()
            .into_iter()
            .find(|(x, _)| *x == h)
            .map_or(Mechanism::None, |(_, m)| m)
    }

    #[test]
    fn lsm_kernel_uses_lsm_hooks_and_sock_addr_too_for_connect() {
        let c = caps(&[Cap::Btf, Cap::BpfLsm, Cap::SyscallTracepoints, Cap::CgroupSockAddr]);
        assert_eq!(mech(&c, Hook::Open), Mechanism::Lsm("file_open"));
        assert_eq!(mech(&c, Hook::Exec), Mechanism::Lsm("bprm_check_security"));
        assert_eq!(mech(&c, Hook::Mount), Mechanism::Lsm("sb_mount + lsm/move_mount"));
        assert_eq!(
            mech(&c, Hook::Connect),
            Mechanism::Lsm("socket_connect + cgroup sock_addr")
        );
        assert!(matches!(mech(&c, Hook::Change), Mechanism::Lsm(h) if h.starts_with("path_")));
    }

    #[test]
    fn without_bpf_lsm_everything_falls_back_to_tracepoints() {
        // This development host: LSM and fentry refused, kprobes absent.
        let c = caps(&[Cap::Btf, Cap::SyscallTracepoints, Cap::CgroupSockAddr, Cap::Uprobes]);
        for h in [Hook::Open, Hook::Exec, Hook::Mount] {
            assert_eq!(mech(&c, h), Mechanism::Tracepoint, "{h:?}");
        }
        assert_eq!(mech(&c, Hook::Connect), Mechanism::CgroupSockAddr);
        assert_eq!(mech(&c, Hook::Change), Mechanism::AfterTheFact);
        let costs: Vec<Cap> = c.costs().into_iter().map(|(c, _)| c).collect();
        assert!(costs.contains(&Cap::BpfLsm) && costs.contains(&Cap::Fentry));
        assert!(c.render().contains("O_TRUNC"), "{}", c.render());
    }

    #[test]
    fn lsm_without_btf_is_not_used() {
        let c = caps(&[Cap::BpfLsm, Cap::SyscallTracepoints]);
        assert_eq!(mech(&c, Hook::Open), Mechanism::Tracepoint);
        assert_eq!(mech(&c, Hook::Connect), Mechanism::Tracepoint);
    }

    #[test]
    fn nothing_at_all_is_reported_as_none() {
        let c = caps(&[]);
        assert!(c.plan().iter().all(|(_, m)| *m == Mechanism::None));
    }

    #[test]
    fn bpf_lsm_needs_bpf_in_the_active_list() {
        assert!(lsm_verdict(Some("lockdown,capability,landlock,bpf"), true, "ok").0);
        let (ok, why) = lsm_verdict(Some("lockdown,capability,landlock"), true, "ok");
        assert!(!ok && why.contains("lsm="), "{why}");
        assert!(!lsm_verdict(Some("capability,bpf"), false, "refused: EPERM").0);
        assert!(!lsm_verdict(None, true, "ok").0);
    }
}
