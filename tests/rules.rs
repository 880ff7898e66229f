//! The default rule set on real scenarios: each rule fires on the behaviour it names, under
//! `agentmon exec --rules rules/`, and a benign script fires nothing.
use std::{os::unix::net::UnixListener, path::Path};

use agentmon_e2e::*;

fn run(cmd: &[&str]) -> ExecRun {
    exec_rules(&shipped_rules(), &[], cmd)
}

fn assert_fired(r: &ExecRun, rule: &str) {
    assert!(
        !r.alerts_of(rule).is_empty(),
        "rule '{rule}' did not fire; fired: {:?}; stderr: {}",
        r.fired(),
        r.stderr
    );
}

#[test]
fn benign_script_fires_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // The agent itself is a shell (its own launch is not "a shell spawned by the agent"); it lists,
    // reads ordinary files, writes its workspace and talks to loopback.
    let script = format!(
        "ls / >/dev/null; cat /etc/hostname >/dev/null; echo note > {d}/notes.txt; wc -l {d}/notes.txt >/dev/null; (exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null; true"
    );
    let r = run(&["/bin/bash", "-c", &script]);
    assert!(r.status.success(), "{}", r.stderr);
    assert!(r.alerts().is_empty(), "benign script raised alerts: {:?}", r.fired());
    assert!(
        !r.of_kind("open").is_empty(),
        "the events were seen (the test is not vacuous)"
    );
}

#[test]
fn shell_spawned_by_agent() {
    let r = run(&[
        "/usr/bin/python3",
        "-S",
        "-c",
        "import subprocess; subprocess.run(['/bin/sh', '-c', 'true'])",
    ]);
    assert_fired(&r, "Shell spawned by agent");
}

/// busybox runs the program it is named by: as `ls` it is no shell (an Alpine image runs every
/// command so), as `sh` — by a symlink or as `busybox sh` — it is.
#[test]
fn busybox_is_a_shell_only_when_run_as_one() {
    let dir = scratch_dir("agentmon-e2e-");
    let d = dir.path().display();
    let script = format!(
        "ln -s /bin/busybox {d}/ls && ln -s /bin/busybox {d}/sh && {d}/ls / >/dev/null && {d}/sh -c true && /bin/busybox sh -c true; true"
    );
    let r = run(&["/bin/bash", "-c", &script]);
    assert!(r.status.success(), "{}", r.stderr);
    let shells: Vec<String> = r
        .alerts_of("Shell spawned by agent")
        .iter()
        .map(|a| a["event"]["filename"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        shells,
        [format!("{d}/sh"), "/bin/busybox".to_string()],
        "{:?}",
        r.fired()
    );
}

#[test]
fn interpreter_running_inline_code() {
    let r = run(&["/bin/bash", "-c", "/usr/bin/python3 -S -c 'print(1)' >/dev/null"]);
    assert_fired(&r, "Interpreter running inline code");
}

#[test]
fn exec_from_writable_location_and_exec_of_written_file() {
    let dir = scratch_dir("agentmon-e2e-");
    let payload = dir.path().join("payload");
    let script = format!("cp /bin/true {p} && chmod +x {p} && {p}", p = payload.display());
    let r = run(&["/bin/bash", "-c", &script]);
    assert_fired(&r, "Exec from writable location");
    assert_fired(&r, "Exec of file written by agent");
}

#[test]
fn fileless_execution_kills_the_agent() {
    // memfd_create + fexecve: the payload never touches disk. The rule's action kills every process
    // of the agent's cgroup, including the background sleeper.
    let py = "import os\nfd = os.memfd_create('payload')\nos.write(fd, open('/bin/sleep', 'rb').read())\nos.execve(fd, ['payload', '30'], {})\n";
    let script = format!("sleep 30 & /usr/bin/python3 -S -c \"{py}\"; wait");
    let r = run(&["/bin/bash", "-c", &script]);
    assert_fired(&r, "Fileless execution");
    let a = &r.alerts_of("Fileless execution")[0];
    assert_eq!(a["action"], "kill");
    assert!(a["action_result"].as_str().unwrap().starts_with("killed"), "{a}");
    assert!(a["action_latency_us"].as_u64().is_some());
    assert_eq!(r.status.code(), Some(128 + 9), "the agent itself was killed");
}

#[test]
fn download_and_execute() {
    let dir = tempfile::tempdir().unwrap();
    // A process named curl writes a file which is then executed (no network needed for the chain).
    let curl = dir.path().join("curl");
    std::fs::copy("/bin/cp", &curl).unwrap();
    let fetched = dir.path().join("installer");
    let script = format!(
        "{} /bin/true {f} && chmod +x {f} && {f}",
        curl.display(),
        f = fetched.display()
    );
    let r = run(&["/bin/bash", "-c", &script]);
    assert_fired(&r, "Download and execute");
}

#[test]
fn credential_read() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(home.path().join(".aws/credentials"), "[default]\n").unwrap();
    let script = format!("cat {}/.aws/credentials >/dev/null", home.path().display());
    let r = run(&["/bin/bash", "-c", &script]);
    assert_fired(&r, "Read of cloud or cluster credentials");
}

#[test]
fn write_to_protected_agent_config() {
    let agent = tempfile::tempdir().unwrap();
    let cfg = agent.path().join("config.yaml");
    std::fs::write(&cfg, "model: x\n").unwrap();
    let script = format!("echo 'system_prompt: evil' >> {}", cfg.display());
    let protect = agent.path().to_string_lossy().into_owned();
    let r = exec_rules(
        &shipped_rules(),
        &["--protect", &protect],
        &["/bin/bash", "-c", &script],
    );
    assert_fired(&r, "Agent code or config modified");
    // Reading it is fine.
    let read = format!("cat {} >/dev/null", cfg.display());
    let r2 = exec_rules(&shipped_rules(), &["--protect", &protect], &["/bin/bash", "-c", &read]);
    assert!(r2.status.success());
    assert!(r2.alerts_of("Agent code or config modified").is_empty());
}

#[test]
fn mount_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!("mount -t tmpfs agentmon-e2e {}", dir.path().display());
    let r = run(&in_private_mount_ns(&["sh", "-c", &script]));
    assert_fired(&r, "Mount attempt");
}

#[test]
fn metadata_endpoint_connect_ipv4_and_ipv6() {
    // Inside a private network namespace the test gives lo the metadata addresses itself.
    let script = "ip link set lo up && ip addr add 169.254.169.254/32 dev lo && ip addr add fd00:ec2::254/128 dev lo nodad && \
                  (exec 3<>/dev/tcp/169.254.169.254/80) 2>/dev/null; (exec 3<>/dev/tcp/fd00:ec2::254/80) 2>/dev/null; true";
    let r = run(&["unshare", "-n", "/bin/bash", "-c", script]);
    assert!(r.status.success(), "{}", r.stderr);
    let hits = r.alerts_of("Connect to cloud metadata endpoint");
    let addrs: Vec<_> = hits
        .iter()
        .map(|a| a["event"]["addr"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        addrs.contains(&"169.254.169.254".to_string()),
        "{addrs:?} / {:?}",
        r.fired()
    );
    assert!(addrs.contains(&"fd00:ec2::254".to_string()), "{addrs:?}");
}

#[test]
fn connect_to_another_agents_socket() {
    let dir = Path::new("/run/agentmon/agents");
    std::fs::create_dir_all(dir).unwrap();
    let sock = dir.join(format!("e2e-peer-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let _listener = UnixListener::bind(&sock).unwrap();
    let py = format!(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('{}')\n",
        sock.display()
    );
    let r = run(&["/usr/bin/python3", "-S", "-c", &py]);
    let _ = std::fs::remove_file(&sock);
    assert_fired(&r, "Connect to another agent");
}

/// The agent's own start is a pid fact (`proc.is_agent_root`), not a parent binary named
/// agentmon: a copy of bash named `agentmon` starting a shell is still a shell spawned by the agent.
#[test]
fn a_binary_named_agentmon_starting_a_shell_still_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("agentmon");
    std::fs::copy("/bin/bash", &fake).unwrap();
    let f = fake.display();
    // Two commands, so the fake forks before running sh (bash execs a lone `-c` command in place).
    let r = run(&["/bin/bash", "-c", &format!("{f} -c '/bin/sh -c true; true'")]);
    assert!(r.status.success(), "{}", r.stderr);
    let shells = r.alerts_of("Shell spawned by agent");
    assert!(
        shells
            .iter()
            .any(|a| a["event"]["ancestors"][0]["exe"].as_str() == Some(&fake.to_string_lossy())),
        "no shell alert with the fake agentmon as parent; fired: {:?}; alerts: {shells:?}",
        r.fired()
    );
    // The agent's own launch (the outer bash, which agentmon started) is not one.
    assert!(
        shells
            .iter()
            .all(|a| !a["event"]["exe"].as_str().unwrap_or_default().ends_with("/bash")),
        "the agent's launch alerted: {shells:?}"
    );
}
