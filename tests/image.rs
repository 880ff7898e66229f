//! agentmon's own image (`cargo xtask image`; `cargo xtask test` builds it as `agentmon:test`) run
//! the way the DaemonSet runs it on a node: privileged, host pid and cgroup namespaces, the host's
//! cgroupfs, tracefs, bpffs and BTF mounted where `deploy/kubernetes/daemonset.yaml` mounts them,
//! `/proc` at `/host/proc`, a read-only root, the config and rules mounted in, and (for container
//! names, as a node's runtime would be) the Docker socket read-only. It watches another container
//! and must alert on what runs inside. Kubernetes itself does not run here; this is its pod's shape
//! on one node. Needs root and Docker; skipped when either the image or Docker is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::time::Duration;

use agentmon_e2e::{
    containers::{Engine, skip},
    rules_dir, wait_for,
};
use serde_json::Value;

const TEST: &str = "image::daemonset_shaped_container_alerts_on_another_container";

/// Capability names by bit (`linux/capability.h`).
const CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// `--privileged` (the DaemonSet's `privileged: true`), unless this machine's own capability
/// bounding set lacks some capability (runc then cannot grant it, and `--privileged` fails): then
/// every capability the machine has, no seccomp or apparmor confinement, no masked `/proc` paths: privileged in
/// all but the missing capabilities. (This test machine is itself a sandbox without
/// `CAP_SYS_RESOURCE`.)
#[expect(clippy::print_stderr, reason = "says why the test is not quite --privileged")]
fn privileged_flags() -> Vec<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bnd = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(u64::MAX);
    let missing: Vec<&str> = CAPS
        .iter()
        .enumerate()
        .filter(|(bit, _)| bnd & (1 << bit) == 0)
        .map(|(_, name)| *name)
        .collect();
    if missing.is_empty() {
        return vec!["--privileged".into()];
    }
    eprintln!(
        "{TEST}: this machine's bounding set lacks {}: all other capabilities instead of --privileged",
        missing.join(", ")
    );
    let mut flags: Vec<String> = [
        "--cap-add=ALL",
        "--security-opt=seccomp=unconfined",
        "--security-opt=apparmor=unconfined",
        "--security-opt=systempaths=unconfined",
    ]
    .map(String::from)
    .to_vec();
    flags.extend(missing.iter().map(|c| format!("--cap-drop={c}")));
    flags
}

#[test]
fn daemonset_shaped_container_alerts_on_another_container() {
    let docker = match Engine::docker() {
        Ok(d) => d,
        Err(reason) => return skip(TEST, &format!("Docker cannot run here: {reason}")),
    };
    let image = std::env::var("AGENTMON_TEST_IMAGE").unwrap_or_else(|_| "agentmon:test".into());
    if !docker
        .cmd(&["image", "inspect", &image])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return skip(
            TEST,
            &format!("image {image} is not built (cargo xtask image --dev --tag {image}; cargo xtask test does it)"),
        );
    }
    let label = Engine::unique_name("label");
    let target = docker.run(
        &Engine::unique_name("target"),
        &["--label", &format!("agentmon.e2e={label}")],
        &[],
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "agents:\n  - name: \"{{container}}\"\n    match: {{runtime: docker, labels: {{agentmon.e2e: \"{label}\"}}}}\n\
             discovery: {{rescan_interval: 200ms}}\nkubernetes: {{enabled: false}}\n\
             runtimes: {{podman_socket: off, podman_storage: off, containerd_state: off, crio_state: off}}\n\
             metrics: {{addr: 0.0.0.0:9464}}\n"
        ),
    )
    .unwrap();
    let rules = rules_dir(
        "- rule: Container cat\n  desc: test\n  condition: evt.kind = exec and proc.name = cat\n  \
         output: \"cat in %container.name\"\n  priority: WARNING\n",
    );
    let state = tempfile::tempdir().unwrap();
    let vol = |host: &str, inside: &str, ro: bool| format!("{host}:{inside}{}", if ro { ":ro" } else { "" });
    let cgroup_root = "/sys/fs/cgroup";
    let mounts = [
        vol("/sys/fs/bpf", "/sys/fs/bpf", false),
        vol("/sys/kernel/tracing", "/sys/kernel/tracing", false),
        vol("/sys/kernel/btf", "/sys/kernel/btf", true),
        vol(cgroup_root, cgroup_root, false),
        vol("/proc", "/host/proc", true),
        vol(&state.path().display().to_string(), "/var/lib/agentmon", false),
        vol(&cfg.display().to_string(), "/etc/agentmon/config.yaml", true),
        vol(&rules.path().display().to_string(), "/etc/agentmon/rules", true),
        vol("/var/run/docker.sock", "/var/run/docker.sock", true),
    ];
    let privilege = privileged_flags();
    let mut args: Vec<&str> = privilege.iter().map(String::as_str).collect();
    args.extend_from_slice(&["--pid=host", "--cgroupns=host", "--network", "none", "--read-only"]);
    for m in &mounts {
        args.push("-v");
        args.push(m);
    }
    args.extend_from_slice(&["-e", "RUST_LOG=info"]);
    let agentmon = docker.run_image(
        &Engine::unique_name("agentmon"),
        &args,
        &image,
        &[
            "run",
            "--config=/etc/agentmon/config.yaml",
            "--rules=/etc/agentmon/rules",
            "--json",
            "--log-format=json",
        ],
    );
    let logs = || {
        let out = docker.cmd(&["logs", &agentmon.name]).output().expect("docker logs");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert!(
        wait_for(Duration::from_secs(60), || logs().1.contains(&target.name)),
        "agentmon in its container did not watch {}: {:?} {:?}",
        target.name,
        logs(),
        agentmon.state()
    );
    assert!(target.exec(&["cat", "/etc/secret"]).status.success());
    let alert = |stdout: &str| -> Option<Value> {
        stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["rule"] == "Container cat" && v["event"]["container"]["name"] == target.name.as_str())
    };
    assert!(
        wait_for(Duration::from_secs(15), || alert(&logs().0).is_some()),
        "no alert from the containerised agentmon: {:?}",
        logs()
    );
    let a = alert(&logs().0).expect("alert");
    assert_eq!(a["event"]["agent"], target.name.as_str());
    assert_eq!(a["event"]["container"]["id"], &target.id()[..12]);
    // The pod's readiness: watching an agent.
    let pid = agentmon.pid().to_string();
    let ready = std::process::Command::new("nsenter")
        .args(["-t", &pid, "-n", "/bin/bash", "-c"])
        .arg("exec 3<>/dev/tcp/127.0.0.1/9464 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3")
        .output()
        .expect("nsenter");
    let text = String::from_utf8_lossy(&ready.stdout);
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    // SIGTERM as the kubelet sends it: a clean exit.
    docker.ok(&["stop", "-t", "10", &agentmon.name]);
    assert_eq!(agentmon.state(), ("exited".to_string(), 0), "{:?}", logs());
}
