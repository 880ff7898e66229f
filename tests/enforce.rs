//! Responses on the real kernel: in-kernel deny (connect EPERM, exec/open/mount killed at entry),
//! kill, quarantine + release, rule reload on SIGHUP, and bad rule files.
use std::{
    fmt::Write as _,
    io::ErrorKind,
    net::TcpListener,
    os::unix::fs::{MetadataExt, PermissionsExt},
    process::Command,
    time::Duration,
};

use agentmon_e2e::*;

#[test]
fn deny_connect_is_refused_with_eperm_and_other_ports_still_work() {
    let denied = TcpListener::bind("127.0.0.1:0").unwrap();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    denied.set_nonblocking(true).unwrap();
    let (dp, ap) = (
        denied.local_addr().unwrap().port(),
        allowed.local_addr().unwrap().port(),
    );
    let rules = rules_dir(&format!(
        "- rule: No loopback port {dp}\n  desc: test\n  condition: evt.kind = connect and net.addr in_cidr (127.0.0.1/32) and net.port = {dp}\n  output: denied %net.addr:%net.port\n  priority: CRITICAL\n  action: deny\n"
    ));
    let script = format!(
        "if (exec 3<>/dev/tcp/127.0.0.1/{dp}) 2>/tmp/agentmon-e2e-eperm-$$; then echo CONNECTED; fi >&2; cat /tmp/agentmon-e2e-eperm-$$ >&2; rm -f /tmp/agentmon-e2e-eperm-$$; exec 3<>/dev/tcp/127.0.0.1/{ap}"
    );
    let r = exec_rules(rules.path(), &[], &["/bin/bash", "-c", &script]);
    assert!(
        r.stderr.contains("Operation not permitted"),
        "connect was not refused with EPERM: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("CONNECTED"));
    assert_eq!(
        denied.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock,
        "no connection reached the denied port"
    );
    assert!(r.status.success(), "the other port still connects: {}", r.stderr);
    let a = r.alerts_of(&format!("No loopback port {dp}"));
    assert_eq!(a.len(), 1, "{:?}", r.fired());
    assert_eq!(a[0]["action_result"], "denied in kernel: connect() refused with EPERM");
    assert!(
        r.events.iter().any(|e| e["kind"] == "deny" && e["what"] == "connect"),
        "kernel deny notice"
    );
}

#[test]
fn denied_exec_never_runs() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("evil");
    std::fs::copy("/bin/touch", &evil).unwrap();
    let marker = dir.path().join("ran");
    let rules = rules_dir(&format!(
        "- rule: No evil\n  desc: test\n  condition: evt.kind = exec and exec.path = {}\n  output: denied %exec.path\n  priority: CRITICAL\n  action: deny\n",
        evil.display()
    ));
    let script = format!("{} {}; echo status=$? >&2", evil.display(), marker.display());
    let r = exec_rules(rules.path(), &[], &["/bin/sh", "-c", &script]);
    assert!(!marker.exists(), "the denied program ran");
    let a = &r.alerts_of("No evil");
    assert_eq!(a.len(), 1, "{:?}", r.fired());
    if mechanism("exec").contains("lsm/") {
        // BPF LSM: execve fails with EPERM and the shell lives on to report it (dash: status 2).
        assert!(refused_with_eperm(&r.stderr, &evil), "refused with EPERM: {}", r.stderr);
        assert!(
            r.stderr.contains("status=") && !r.stderr.contains("status=137"),
            "{}",
            r.stderr
        );
        assert_eq!(
            a[0]["action_result"],
            "denied in kernel: execve() refused with EPERM before the program was loaded (BPF LSM)"
        );
    } else {
        assert!(r.stderr.contains("status=137"), "killed by SIGKILL: {}", r.stderr);
        assert_eq!(
            a[0]["action_result"],
            "denied in kernel: process killed (SIGKILL) before the syscall returned"
        );
    }
    assert_eq!(a[0]["event"]["denied"], true);
}

#[test]
fn denied_open_content_is_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "TOP-SECRET-CONTENT").unwrap();
    let out = dir.path().join("out");
    let rules = rules_dir(&format!(
        "- rule: No secret\n  desc: test\n  condition: evt.kind = open and file.path = {}\n  output: denied %file.path\n  priority: CRITICAL\n  action: deny\n",
        secret.display()
    ));
    let script = format!("cat {} > {}; echo status=$? >&2", secret.display(), out.display());
    let r = exec_rules(rules.path(), &[], &["/bin/sh", "-c", &script]);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "", "the content was read");
    if mechanism("open").contains("lsm/") {
        // BPF LSM: the open fails with EPERM and cat exits 1; nobody is killed.
        // The whole line: "status=1" is also the start of "status=137".
        assert!(r.stderr.lines().any(|l| l == "status=1"), "{}", r.stderr);
    } else {
        assert!(r.stderr.contains("status=137"), "{}", r.stderr);
    }
    assert_eq!(r.alerts_of("No secret").len(), 1, "{:?}", r.fired());
    // Write-only deny: reading is allowed, writing is not.
    let rules = rules_dir(&format!(
        "- rule: No writes\n  desc: test\n  condition: evt.kind = open and file.write and file.path startswith {}/\n  output: denied %file.path\n  priority: CRITICAL\n  action: deny\n",
        dir.path().display()
    ));
    let script = format!(
        "cat {} >/dev/null && echo read-ok >&2; echo x >> {}; echo status=$? >&2",
        secret.display(),
        secret.display()
    );
    let r = exec_rules(rules.path(), &[], &["/bin/sh", "-c", &script]);
    assert!(r.stderr.contains("read-ok"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "TOP-SECRET-CONTENT",
        "the write happened"
    );
}

#[test]
fn denied_mount_kills_the_caller_at_entry_for_both_mount_apis() {
    let dir = tempfile::tempdir().unwrap();
    let rules = rules_dir(
        "- rule: No tmpfs\n  desc: test\n  condition: evt.kind = mount and mount.fstype = tmpfs\n  output: denied %mount.target\n  priority: CRITICAL\n  action: deny\n",
    );
    // mount(2): without BPF LSM the caller dies before the syscall returns. (The kernel completes
    // the mount itself first — it cannot be made to fail without BPF LSM — which is why this runs
    // in a private mount namespace that dies with the process.)
    let script = format!(
        "mount -t tmpfs agentmon-e2e {d}; echo status=$? >&2",
        d = dir.path().display()
    );
    let r = exec_rules(rules.path(), &[], &in_private_mount_ns(&["sh", "-c", &script]));
    let a = r.alerts_of("No tmpfs");
    assert!(!a.is_empty(), "{:?}", r.fired());
    if mechanism("mount").contains("lsm/sb_mount") {
        // Where BPF LSM runs, mount(2) is refused instead (vm_deny checks what that leaves).
        assert!(
            !r.stderr.contains("status=137") && !r.stderr.contains("status=0"),
            "{}",
            r.stderr
        );
        assert_eq!(
            a[0]["action_result"],
            "denied in kernel: mount refused with EPERM before anything was mounted (BPF LSM)"
        );
    } else {
        assert!(r.stderr.contains("status=137"), "{}", r.stderr);
        assert_eq!(
            a[0]["action_result"],
            "denied in kernel: process killed (SIGKILL) before the syscall returned"
        );
    }
    // New mount API: killed at fsopen("tmpfs") on every kernel (no LSM hook sees fsopen).
    let py = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nfs = libc.syscall(430, b'tmpfs', 0)\nprint('fsopen returned', fs)\n";
    let script = format!("/usr/bin/python3 -S -c \"{py}\" >&2; echo status=$? >&2");
    let r = exec_rules(rules.path(), &[], &["unshare", "-m", "sh", "-c", &script]);
    assert!(r.stderr.contains("status=137"), "{}", r.stderr);
    assert!(!r.stderr.contains("fsopen returned"), "{}", r.stderr);
}

#[test]
fn quarantine_freezes_cuts_network_and_release_restores() {
    let cg = TestCgroup::new("quarantine");
    let state = tempfile::tempdir().unwrap();
    // An existing file: opens of names that do not exist are searches, not events.
    let files = tempfile::tempdir().unwrap();
    let trigger = files.path().join("quarantine-trigger").display().to_string();
    std::fs::write(&trigger, "").unwrap();
    let rules = rules_dir(&format!(
        "- rule: Quarantine on trigger\n  desc: test\n  condition: evt.kind = open and file.path = {trigger}\n  output: trigger\n  priority: CRITICAL\n  action: quarantine\n"
    ));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state_dir = state.path().to_string_lossy().into_owned();
    // A state directory any user can read: agentmon tightens it before writing agent names there.
    std::fs::set_permissions(state.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cg_path = cg.path.to_string_lossy().into_owned();
    let rules_path = rules.path().to_string_lossy().into_owned();
    let mut m = Monitor::start_env(
        &["--rules", &rules_path, "--cgroup", &cg_path],
        &[("AGENTMON_STATE_DIR", &state_dir)],
    );
    let mut sleeper = command_in(&cg.path, "/bin/sleep", &["60"]).spawn().unwrap();
    // Not waited for here: the trigger itself may be frozen before it exits.
    let mut trigger_proc = command_in(&cg.path, "/bin/cat", &[&trigger]).spawn().unwrap();
    m.wait_stderr("quarantined", Duration::from_secs(10));
    assert!(is_frozen(&cg.path), "cgroup frozen");
    let listed = agentmon()
        .args(["release", "--list"])
        .env("AGENTMON_STATE_DIR", &state_dir)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(&cg_path),
        "quarantine recorded"
    );
    // The state (agent names, cgroups, pids) is agentmon's alone: 0700 directory, 0600 file, and no
    // temporary file left behind.
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().mode() & 0o777;
    assert_eq!(mode(state.path()), 0o700, "state directory mode");
    assert_eq!(mode(&state.path().join("quarantine.json")), 0o600, "state file mode");
    let names: Vec<String> = std::fs::read_dir(state.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");

    // An operator thaws it for inspection: the network stays cut (connect refused in the kernel).
    std::fs::write(cg.path.join("cgroup.freeze"), "0").unwrap();
    assert!(wait_for(Duration::from_secs(5), || !is_frozen(&cg.path)));
    let probe = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
    let out = command_in(&cg.path, "/bin/bash", &["-c", &probe]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Operation not permitted"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Release: thawed and connected again.
    release(&cg_path, &state_dir);
    assert!(!is_frozen(&cg.path));
    let out = command_in(&cg.path, "/bin/bash", &["-c", &probe]).output().unwrap();
    assert!(
        out.status.success(),
        "network restored: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (events, _) = m.stop();
    let alert = find(&events, |e| e["rule"] == "Quarantine on trigger").expect("alert printed");
    assert!(
        alert["action_result"].as_str().unwrap().starts_with("quarantined"),
        "{alert}"
    );
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = trigger_proc.kill();
    let _ = trigger_proc.wait();
}

#[test]
fn sighup_reloads_rules_and_keeps_old_ones_on_error() {
    let cg = TestCgroup::new("reload");
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let (m1, m2) = (
        files.path().join("reload-1").display().to_string(),
        files.path().join("reload-2").display().to_string(),
    );
    std::fs::write(&m1, "").unwrap();
    std::fs::write(&m2, "").unwrap();
    let rule = |name: &str, path: &str| {
        format!(
            "- rule: {name}\n  desc: t\n  condition: evt.kind = open and file.path = {path}\n  output: hit\n  priority: NOTICE\n"
        )
    };
    std::fs::write(dir.path().join("r.yaml"), rule("First", &m1)).unwrap();
    let m = Monitor::start(&[
        "--rules",
        dir.path().to_str().unwrap(),
        "--cgroup",
        cg.path.to_str().unwrap(),
    ]);
    // A broken file: reload fails, the old rule keeps working.
    std::fs::write(
        dir.path().join("r.yaml"),
        "- rule: Broken\n  condition: evt.kind = = open\n",
    )
    .unwrap();
    let pid = m_pid(&m);
    // SAFETY: kill(2) takes plain integers; `pid` is the agentmon this test started.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    let mut m = m;
    m.wait_stderr("rule reload failed", Duration::from_secs(10));
    assert!(m.stderr().contains("r.yaml:"), "error names the file: {}", m.stderr());
    run_in(&cg.path, "/bin/cat", &[&m1]);
    assert!(
        m.wait_event(Duration::from_secs(10), |e| e["rule"] == "First")
            .is_some(),
        "old rules still active"
    );
    // A good file: the new rule replaces the old.
    std::fs::write(dir.path().join("r.yaml"), rule("Second", &m2)).unwrap();
    // SAFETY: kill(2) takes plain integers; `pid` is the agentmon this test started.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    m.wait_stderr("rules reloaded", Duration::from_secs(10));
    run_in(&cg.path, "/bin/cat", &[&m2]);
    assert!(
        m.wait_event(Duration::from_secs(10), |e| e["rule"] == "Second")
            .is_some()
    );
    let (events, _) = m.stop();
    assert_eq!(events.iter().filter(|e| e["rule"] == "First").count(), 1);
}

/// The rule bomb: lists and macros that double at each level (24 levels took 1.2 GB and
/// aborted `rules check`, and killed a live monitor on SIGHUP). The reload fails with a
/// `file:line:col` error at once, and the monitor lives on with its old rules.
#[test]
fn sighup_with_a_rule_bomb_keeps_the_monitor_and_its_rules() {
    let cg = TestCgroup::new("bomb");
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let target = files.path().join("bomb-target").display().to_string();
    std::fs::write(&target, "").unwrap();
    std::fs::write(
        dir.path().join("r.yaml"),
        format!("- rule: Old\n  desc: t\n  condition: evt.kind = open and file.path = {target}\n  output: hit\n  priority: NOTICE\n"),
    )
    .unwrap();
    let m = Monitor::start(&[
        "--rules",
        dir.path().to_str().unwrap(),
        "--cgroup",
        cg.path.to_str().unwrap(),
    ]);
    let mut bomb = String::from("- list: l0\n  items: [a, b]\n- macro: m0\n  condition: proc.name = a\n");
    for i in 1..24 {
        let p = i - 1;
        write!(
            bomb,
            "- list: l{i}\n  items: [l{p}, l{p}]\n- macro: m{i}\n  condition: m{p} or m{p}\n"
        )
        .unwrap();
    }
    bomb.push_str(
        "- rule: Bomb\n  desc: t\n  condition: m23 and proc.name in (l23)\n  output: x\n  priority: NOTICE\n",
    );
    std::fs::write(dir.path().join("r.yaml"), &bomb).unwrap();
    let pid = m_pid(&m);
    // SAFETY: kill(2) takes plain integers; `pid` is the agentmon this test started.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    let mut m = m;
    m.wait_stderr("rule reload failed", Duration::from_secs(20));
    let err = m.stderr();
    assert!(err.contains("r.yaml:") && err.contains("is too large"), "{err}");
    run_in(&cg.path, "/bin/cat", &[&target]);
    assert!(
        m.wait_event(Duration::from_secs(10), |e| e["rule"] == "Old").is_some(),
        "the monitor lives on with its old rules:\n{}",
        m.stderr()
    );
    let (_, status) = m.stop();
    assert!(status.success(), "agentmon ends cleanly on SIGTERM: {status:?}");
}

fn m_pid(m: &Monitor) -> i32 {
    m.pid() as i32
}

#[test]
fn bad_rules_file_is_rejected_with_file_line_col() {
    let rules = rules_dir(
        "- rule: Bad\n  desc: x\n  condition: evt.kind = open and file.nosuchfield = 1\n  output: x\n  priority: NOTICE\n",
    );
    let out = agentmon()
        .args(["exec", "--rules", rules.path().to_str().unwrap(), "--", "/bin/true"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("test.yaml:3:"), "{err}");
    let check = Command::new(agentmon_bin())
        .args(["rules", "check", rules.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_ne!(check.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("test.yaml:3:")
            || String::from_utf8_lossy(&check.stderr).contains("test.yaml:3:")
    );
}

#[test]
fn deny_connect_ipv6_and_ipv4_mapped_forms() {
    let v6 = TcpListener::bind("[::1]:0").expect("IPv6 loopback");
    let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let (p6, p4) = (v6.local_addr().unwrap().port(), v4.local_addr().unwrap().port());
    let rules = rules_dir(&format!(
        "- rule: No v6\n  desc: t\n  condition: evt.kind = connect and net.addr in_cidr (::1/128) and net.port = {p6}\n  output: x\n  priority: CRITICAL\n  action: deny\n\
         - rule: No v4\n  desc: t\n  condition: evt.kind = connect and net.addr in_cidr (127.0.0.1/32) and net.port = {p4}\n  output: x\n  priority: CRITICAL\n  action: deny\n"
    ));
    // ::1 over IPv6, and 127.0.0.1 reached through an IPv6 socket as ::ffff:127.0.0.1. Each verdict
    // is one string (one write): agentmon logs to the same stderr, and with PYTHONUNBUFFERED set
    // print() writes each argument separately, so a log line could land in between.
    let py = format!(
        "import socket\nfor addr in [('::1', {p6}), ('::ffff:127.0.0.1', {p4})]:\n    s = socket.socket(socket.AF_INET6)\n    try:\n        s.connect(addr)\n        print('CONNECTED ' + str(addr), flush=True)\n    except PermissionError:\n        print('EPERM ' + addr[0], flush=True)\n"
    );
    let r = exec_rules(
        rules.path(),
        &[],
        &["/bin/sh", "-c", &format!("/usr/bin/python3 -S -c \"{py}\" >&2")],
    );
    assert!(r.stderr.contains("EPERM ::1"), "{}", r.stderr);
    assert!(r.stderr.contains("EPERM ::ffff:127.0.0.1"), "{}", r.stderr);
    assert!(!r.stderr.contains("CONNECTED"), "{}", r.stderr);
}
