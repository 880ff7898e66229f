//! A profile in other forms: an OCI/Docker seccomp profile ([`oci_seccomp`], for `docker run
//! --security-opt seccomp=FILE` and Kubernetes `seccompProfile: Localhost`), and agentmon rules
//! that alert on every deviation from it ([`rules`]: for agents agentmon did not launch, and, tagged
//! for the responder, for `exec --sandbox`).
use std::{collections::BTreeSet, fmt::Write as _};

use monitor_common::namespace::{CLONE_NEW_MASK, CSIGNAL};
use serde_json::{Value, json};

use super::Profile;
use crate::sandbox::{Mode, seccomp};

/// What runc does between applying a container's filter and exec'ing its process (Go runtime
/// threads included): allowed in the exported profile so the container can start. (`fstatfs` and
/// `statfs`: runc checks that `/proc/self/fd` is procfs before closing inherited descriptors;
/// without them no container starts — `tests/sandbox.rs` runs one.)
const CONTAINER_RUNTIME: &[&str] = &[
    "fstatfs",
    "statfs",
    "execve",
    "execveat",
    "fcntl",
    "close",
    "close_range",
    "getpid",
    "getppid",
    "futex",
    "nanosleep",
    "epoll_pwait",
    "epoll_ctl",
    "sched_yield",
    "madvise",
    "mmap",
    "munmap",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sigaltstack",
    "tgkill",
    "write",
    "read",
    "fstat",
    "newfstatat",
    "openat",
    "getdents64",
    "capget",
    "capset",
    "prctl",
    "setgroups",
    "setresuid",
    "setresgid",
    "setuid",
    "setgid",
    "gettid",
    "exit",
    "exit_group",
    "brk",
    "arch_prctl",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "prlimit64",
    "getrandom",
    "mprotect",
    "access",
    "faccessat2",
    "readlinkat",
    "uname",
    "chdir",
    "fchdir",
    "getcwd",
    "dup3",
    "pipe2",
    "waitid",
    "wait4",
];

/// The OCI seccomp profile (Docker's JSON format): the same policy as the sandbox's filter —
/// profile, baseline (and what the container runtime needs) allowed, the fixed list refused with
/// `EPERM`, `clone`/`unshare` without namespace flags only, `clone3` `ENOSYS`, anything else `EPERM`.
pub(crate) fn oci_seccomp(p: &Profile) -> Value {
    let mut allowed: BTreeSet<&str> = seccomp::unconditional(p);
    allowed.extend(
        CONTAINER_RUNTIME
            .iter()
            .copied()
            .filter(|n| seccomp::always_refused(n).is_none()),
    );
    let refused: Vec<&str> = seccomp::ALWAYS_REFUSED.iter().map(|(n, _)| *n).collect();
    // MASKED_EQ: (arg & value) == valueTwo. clone's low byte is its exit signal, not a flag.
    let no_ns = |mask: u64| json!({"index": 0, "value": mask, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"});
    let mut syscalls = vec![
        json!({"names": allowed, "action": "SCMP_ACT_ALLOW", "comment": "the profile's syscalls and agentmon's baseline"}),
        json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [no_ns(CLONE_NEW_MASK & !CSIGNAL)], "comment": "clone without namespace flags"}),
        json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS, "comment": "flags out of reach: ENOSYS makes the C library use clone"}),
        json!({"names": refused, "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM, "comment": "agentmon's fixed deny list"}),
    ];
    if p.syscalls.contains_key("unshare") {
        syscalls.push(json!({"names": ["unshare"], "action": "SCMP_ACT_ALLOW", "args": [no_ns(CLONE_NEW_MASK)]}));
    }
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EPERM,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": syscalls,
    })
}

/// Who the rules are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// `profile export --format rules`: plain alerts.
    Export,
    /// `exec --sandbox`: tagged so the responder says whether the sandbox refused each deviation.
    Sandbox(Mode),
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn list(out: &mut String, name: &str, items: impl IntoIterator<Item = impl AsRef<str>>) {
    let items: Vec<String> = items.into_iter().map(|i| q(i.as_ref())).collect();
    let _ = writeln!(out, "- list: {name}\n  items: [{}]\n", items.join(", "));
}

/// The rule file (YAML text).
pub(crate) fn rules(p: &Profile, target: Target) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# agentmon rules made from the profile of `{}` by `agentmon profile export --format rules`:\n\
         # each rule alerts on what the profile does not allow (docs/SANDBOX.md).\n",
        p.agent.replace('\n', " ")
    );
    let files = |set: &BTreeSet<String>, trees: bool| -> Vec<String> {
        set.iter().filter(|e| super::is_tree(e) == trees).cloned().collect()
    };
    let read: BTreeSet<String> = p.files.read.union(&p.files.exec).cloned().collect();
    list(&mut o, "profile_executables", p.executables.iter().map(String::as_str));
    let (rf, rt, wf, wt) = (
        files(&read, false),
        files(&read, true),
        files(&p.files.write, false),
        files(&p.files.write, true),
    );
    list(&mut o, "profile_read_files", rf.iter().map(String::as_str));
    list(&mut o, "profile_read_trees", rt.iter().map(String::as_str));
    // A tree's own directory, opened to list it.
    let dirs = |t: &[String]| -> Vec<String> {
        t.iter()
            .map(|e| {
                let d = e.trim_end_matches('/');
                if d.is_empty() { "/".to_string() } else { d.to_string() }
            })
            .collect()
    };
    list(&mut o, "profile_read_dirs", dirs(&rt).iter().map(String::as_str));
    list(&mut o, "profile_write_files", wf.iter().map(String::as_str));
    list(&mut o, "profile_write_trees", wt.iter().map(String::as_str));
    list(&mut o, "profile_write_dirs", dirs(&wt).iter().map(String::as_str));
    list(
        &mut o,
        "profile_unix_sockets",
        p.network.unix.iter().map(String::as_str),
    );
    // Numbers, unquoted: the list is compared with a numeric field.
    let ports: BTreeSet<String> = p.network.listen.iter().map(|l| l.port.to_string()).collect();
    let _ = writeln!(
        o,
        "- list: profile_listen_ports\n  items: [{}]\n",
        ports.into_iter().collect::<Vec<_>>().join(", ")
    );
    let dests: Vec<String> = p
        .network
        .connect
        .iter()
        .map(|d| format!("(net.addr = {} and net.port = {})", q(&d.addr), d.port))
        .collect();
    let inet_ok = if dests.is_empty() {
        String::new()
    } else {
        format!(" and not ({})", dests.join(" or "))
    };
    let (tags, prio) = match target {
        Target::Export => (vec!["profile"], "warning"),
        Target::Sandbox(Mode::Enforce) => (vec!["profile", "sandbox", "enforced"], "error"),
        Target::Sandbox(Mode::Audit) => (vec!["profile", "sandbox", "audit"], "warning"),
    };
    let rule = |o: &mut String, name: &str, layer: &str, desc: &str, cond: &str, output: &str| {
        let mut t = tags.clone();
        if target != Target::Export {
            t.push(layer);
        }
        let _ = writeln!(
            o,
            "- rule: {}\n  desc: {}\n  condition: {}\n  output: {}\n  priority: {prio}\n  tags: [{}]\n",
            q(name),
            q(desc),
            q(cond),
            q(output),
            t.join(", ")
        );
    };
    rule(
        &mut o,
        "Profile deviation: exec",
        "landlock",
        "an executable the profile does not list was run (or refused)",
        "evt.kind = exec and not exec.path in (profile_executables)",
        "%proc.exe ran %exec.path, not in its profile (agent=%agent.name pid=%proc.pid errno=%evt.errno)",
    );
    rule(
        &mut o,
        "Profile deviation: file read",
        "landlock",
        "a file read outside the profile's read, exec and listed trees (or refused)",
        "evt.kind = open and file.read and not (file.path in (profile_read_files) or file.path startswith (profile_read_trees) or file.path in (profile_read_dirs))",
        "%proc.exe read %file.path outside its profile (agent=%agent.name pid=%proc.pid errno=%evt.errno)",
    );
    rule(
        &mut o,
        "Profile deviation: file write",
        "landlock",
        "a file written, created, renamed, linked, removed or truncated outside the profile's write trees (or refused)",
        "((evt.kind = open and (file.write or file.create)) or evt.kind in (rename, unlink, link, symlink, truncate, mknod)) and not (file.path in (profile_write_files) or file.path startswith (profile_write_trees) or file.path in (profile_write_dirs))",
        "%proc.exe wrote %file.path outside its profile (%evt.kind, agent=%agent.name pid=%proc.pid errno=%evt.errno)",
    );
    rule(
        &mut o,
        "Profile deviation: connect",
        "landlock",
        "a connection or datagram to a destination the profile does not list (the sandbox refuses TCP by port only)",
        &format!("evt.kind in (connect, send) and net.family in (inet, inet6){inet_ok}"),
        "%proc.exe connected to %net.addr port %net.port, not in its profile (%evt.kind, agent=%agent.name pid=%proc.pid errno=%evt.errno)",
    );
    rule(
        &mut o,
        "Profile deviation: listen",
        "landlock",
        "a port listened on (or a UDP port bound) that the profile does not list (the sandbox refuses TCP binds to other ports, before the listen is seen)",
        "evt.kind = listen and net.family in (inet, inet6) and not net.local_port in (profile_listen_ports)",
        "%proc.exe listens on %net.local_addr port %net.local_port, not in its profile (agent=%agent.name pid=%proc.pid)",
    );
    rule(
        &mut o,
        "Profile deviation: unix socket",
        "landlock",
        "a unix socket the profile does not list",
        "evt.kind = connect and net.family = unix and not net.addr in (profile_unix_sockets)",
        "%proc.exe connected to unix socket %net.addr, not in its profile (agent=%agent.name pid=%proc.pid)",
    );
    if target != Target::Export {
        rule(
            &mut o,
            "Profile deviation: syscall",
            "seccomp",
            "a syscall the sandbox's filter refuses or the profile does not list",
            "evt.kind = syscall",
            "%proc.exe called %syscall.name, not allowed by its profile (agent=%agent.name pid=%proc.pid errno=%evt.errno)",
        );
    }
    // New namespaces: the sandbox refuses them whatever the profile says. Under an enforcing
    // sandbox the refused call is a syscall event already; with nothing applied (audit, or an agent
    // agentmon did not launch) the namespace events say what was made. Audit mode reports setns as
    // a syscall the filter would refuse; elsewhere it is this rule's.
    let namespaces = "ns.type in (mnt, net, user, pid, uts, ipc, cgroup, time)";
    let ns_cond = match target {
        Target::Sandbox(Mode::Enforce) => None,
        Target::Sandbox(Mode::Audit) => Some(format!("evt.kind = namespace and ns.syscall != setns and {namespaces}")),
        Target::Export => Some(format!("evt.kind = namespace and (ns.syscall = setns or {namespaces})")),
    };
    if let Some(cond) = ns_cond {
        rule(
            &mut o,
            "Profile deviation: namespaces",
            "seccomp",
            "namespaces created or entered (unshare, clone, clone3 with CLONE_NEW* flags; setns): the sandbox always refuses them",
            &cond,
            "%proc.exe entered namespaces %ns.type with %ns.syscall, which its sandbox refuses (agent=%agent.name pid=%proc.pid errno=%evt.errno)",
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    fn sample() -> Profile {
        let text = "version: 1\nagent: a\nexecutables: [/usr/bin/sh]\nfiles:\n  read: [/usr/, /etc/hosts]\n  write: [/w/]\n  exec: [/usr/]\nnetwork:\n  connect:\n    - {addr: 127.0.0.1, port: 8080}\n  listen:\n    - {port: 7000, proto: tcp}\n  unix: [/run/x.sock]\nsyscalls:\n  read: 3\n  clone: 1\n  unshare: 1\n";
        Profile::from_yaml("p.yaml", text).unwrap()
    }

    #[test]
    fn exported_rules_compile_for_every_target() {
        let p = sample();
        for t in [
            Target::Export,
            Target::Sandbox(Mode::Enforce),
            Target::Sandbox(Mode::Audit),
        ] {
            let text = rules(&p, t);
            if let Err(e) = RuleSet::from_sources(&[("profile.yaml".into(), text.clone())]) {
                panic!("{text}\n{e}");
            }
        }
        let empty = rules(&Profile::default(), Target::Sandbox(Mode::Enforce));
        if let Err(e) = RuleSet::from_sources(&[("p.yaml".into(), empty)]) {
            panic!("{e}");
        }
    }

    #[test]
    fn the_rules_alert_on_what_the_profile_does_not_list_and_only_that() {
        use crate::{
            enrich::synthetic::{self, Process},
            event::Family,
        };
        let mut set = RuleSet::from_sources(&[("p.yaml".into(), rules(&sample(), Target::Export))]).unwrap();
        let proc = Process {
            agent: "a".into(),
            ..Process::default()
        };
        let mut fired =
            |body| -> Vec<String> { set.evaluate(&proc.event(1, body)).into_iter().map(|a| a.rule).collect() };
        let none: Vec<String> = Vec::new();
        let listed = [
            synthetic::open("/etc/hosts", libc::O_RDONLY),
            synthetic::open("/usr/lib/x.so", libc::O_RDONLY),
            synthetic::open("/w/out/a.o", libc::O_WRONLY | libc::O_CREAT),
            synthetic::connect(Family::Inet, "127.0.0.1", 8080),
            synthetic::listen(Family::Inet, "0.0.0.0", 7000),
            synthetic::connect(Family::Unix, "/run/x.sock", 0),
        ];
        for body in listed {
            assert_eq!(fired(body.clone()), none, "{body:?}");
        }
        let deviations = [
            (synthetic::open("/etc/shadow", libc::O_RDONLY), "file read"),
            (synthetic::open("/etc/x", libc::O_WRONLY), "file write"),
            (synthetic::connect(Family::Inet, "10.0.0.1", 8080), "connect"),
            (synthetic::send(Family::Inet, "10.0.0.1", 53), "connect"),
            (synthetic::listen(Family::Inet, "0.0.0.0", 7001), "listen"),
            (synthetic::connect(Family::Unix, "/run/docker.sock", 0), "unix socket"),
        ];
        for (body, what) in deviations {
            assert_eq!(fired(body.clone()), [format!("Profile deviation: {what}")], "{body:?}");
        }
        let unlink = synthetic::file_op("unlink", "/etc/hosts", None, None).unwrap();
        assert_eq!(fired(unlink), ["Profile deviation: file write"]);
    }

    #[test]
    fn the_oci_profile_has_the_schema_docker_reads() {
        let v = oci_seccomp(&sample());
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        let groups = v["syscalls"].as_array().unwrap();
        assert!(groups.iter().all(|g| g["names"].is_array() && g["action"].is_string()));
        let names = |action: &str| -> Vec<String> {
            groups
                .iter()
                .filter(|g| g["action"] == action && g.get("args").is_none())
                .flat_map(|g| {
                    g["names"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|n| n.as_str().unwrap().to_string())
                })
                .collect()
        };
        assert!(names("SCMP_ACT_ALLOW").contains(&"read".to_string()));
        assert!(!names("SCMP_ACT_ALLOW").contains(&"mount".to_string()));
        assert!(names("SCMP_ACT_ERRNO").contains(&"mount".to_string()));
    }
}
