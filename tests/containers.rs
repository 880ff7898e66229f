//! Real Docker and Podman containers, run as the mission runs agents (`--cap-drop=ALL
//! --cap-add=NET_BIND_SERVICE --read-only --tmpfs /tmp:…`, here with `--network none`), watched by
//! `agentmon run --config`: discovery by runtime and labels or name, agents named by container
//! name, alerts on what `docker exec` runs inside carrying `container.*` (JSON and the Falco
//! webhook), a container started after agentmon picked up, kill (exit 137) and quarantine (frozen)
//! and release. Podman both through its storage state and its API socket; a containerd of the
//! test's own, its container's bundle carrying the CRI plugin's annotations. Needs root; a runtime
//! that cannot start here skips its test (see `support/containers.rs`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::Duration,
};

use agentmon_e2e::{
    Monitor, agentmon,
    containers::{Container, Containerd, Engine, Receiver, TEST_IMAGE, skip},
    is_frozen, rules_dir, wait_for,
};
use serde_json::Value;

const RULES: &str = "\
- rule: Container cat
  desc: test
  condition: evt.kind = exec and proc.name = cat
  output: \"cat in %container.name (image=%container.image id=%container.id)\"
  priority: WARNING
- rule: Container kill
  desc: test
  condition: evt.kind = exec and proc.name = touch
  output: kill %container.name
  priority: CRITICAL
  action: kill
- rule: Container quarantine
  desc: test
  condition: evt.kind = exec and proc.name = head
  output: quarantine %container.name
  priority: CRITICAL
  action: quarantine
";

/// Runtime sources off except those the test names (others' sockets on this machine stay unasked).
fn runtimes(docker: &str, podman_socket: &str, podman_storage: &str) -> String {
    format!(
        "runtimes: {{docker_socket: \"{docker}\", podman_socket: \"{podman_socket}\", podman_storage: \"{podman_storage}\", \
         containerd_state: off, crio_state: off}}\n"
    )
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("config.yaml");
    std::fs::write(
        &p,
        format!("{body}discovery: {{rescan_interval: 200ms}}\nmetrics: {{addr: off}}\n"),
    )
    .unwrap();
    p
}

/// The first alert of `rule` for agent `agent`, waiting up to 15 s.
fn alert_of(m: &Monitor, rule: &str, agent: &str) -> Value {
    m.wait_event(Duration::from_secs(15), |e| {
        e["rule"] == rule && e["event"]["agent"] == agent
    })
    .unwrap_or_else(|| panic!("no {rule:?} alert for {agent}; stderr:\n{}", m.stderr()))
}

fn assert_container_fields(alert: &Value, c: &Container, image: &str) {
    let id = c.id();
    let ev = &alert["event"]["container"];
    assert_eq!(ev["name"], c.name.as_str(), "{alert}");
    assert_eq!(ev["image"], image, "{alert}");
    assert_eq!(ev["id"], &id[..12], "{alert}");
    assert_eq!(ev["full_id"], id.as_str(), "{alert}");
}

fn docker_or_skip(test: &str) -> Option<Engine> {
    match Engine::docker() {
        Ok(e) => Some(e),
        Err(reason) => {
            skip(test, &format!("Docker cannot run here: {reason}"));
            None
        }
    }
}

#[test]
fn docker_agents_are_named_by_container_and_alerts_carry_it() {
    let Some(docker) = docker_or_skip("containers::docker_agents_are_named_by_container_and_alerts_carry_it") else {
        return;
    };
    let label = Engine::unique_name("label");
    let sel = format!("agentmon.e2e={label}");
    let early = docker.run(
        &Engine::unique_name("early"),
        &["--label", &sel, "--label", "team=ai"],
        &[],
    );
    // Not an agent: no label.
    let other = docker.run(&Engine::unique_name("other"), &[], &[]);
    let rules = rules_dir(RULES);
    let hook = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "agents:\n  - name: \"{{container}}\"\n    match: {{runtime: docker, labels: {{agentmon.e2e: \"{label}\"}}}}\n\
             outputs: {{webhook: {{url: \"http://127.0.0.1:{}/\"}}}}\n{}",
            hook.port,
            runtimes("/var/run/docker.sock", "off", "off")
        ),
    );
    let rules_path = rules.path().display().to_string();
    let mut m = Monitor::start(&["--config", &cfg.display().to_string(), "--rules", &rules_path]);
    m.wait_stderr(&early.name, Duration::from_secs(15));

    // A real action inside, by `docker exec`.
    let out = early.exec(&["cat", "/etc/secret"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = alert_of(&m, "Container cat", &early.name);
    assert_container_fields(&a, &early, TEST_IMAGE);
    assert_eq!(
        a["output"],
        format!("cat in {} (image={TEST_IMAGE} id={})", early.name, &early.id()[..12])
    );

    // A container started after agentmon: found and named within a rescan or so.
    let late = docker.run(&Engine::unique_name("late"), &["--label", &sel], &[]);
    m.wait_stderr(&late.name, Duration::from_secs(10));
    assert!(late.exec(&["cat", "/etc/passwd"]).status.success());
    let a = alert_of(&m, "Container cat", &late.name);
    assert_container_fields(&a, &late, TEST_IMAGE);

    // The Falco-format webhook carries the container as Falco does.
    assert!(
        wait_for(Duration::from_secs(10), || hook
            .bodies()
            .iter()
            .any(|b| b.contains(&late.name))),
        "webhook bodies: {:?}",
        hook.bodies()
    );
    let bodies = hook.bodies();
    let body = bodies
        .iter()
        .find(|b| b.contains(&early.name))
        .expect("early's alert posted");
    let p: Value = serde_json::from_str(body).unwrap();
    let f = &p["output_fields"];
    assert_eq!(f["container.name"], early.name.as_str(), "{p}");
    assert_eq!(f["container.id"], &early.id()[..12], "{p}");
    assert_eq!(f["container.image"], TEST_IMAGE, "{p}");
    assert_eq!(f["container.image.repository"], "agentmon-test-busybox", "{p}");
    assert_eq!(f["container.image.tag"], "2", "{p}");
    assert_eq!(f["agent.name"], early.name.as_str(), "{p}");

    assert!(!m.stderr().contains(&other.name), "an unlabelled container is no agent");
    let (_, status) = m.stop();
    assert!(status.success());
}

#[test]
fn docker_kill_and_quarantine_then_release() {
    let Some(docker) = docker_or_skip("containers::docker_kill_and_quarantine_then_release") else {
        return;
    };
    kill_and_quarantine_then_release(&docker, "docker", &runtimes("/var/run/docker.sock", "off", "off"));
}

#[test]
fn podman_kill_and_quarantine_then_release() {
    let test = "containers::podman_kill_and_quarantine_then_release";
    match Engine::podman() {
        Ok(podman) => kill_and_quarantine_then_release(
            &podman,
            "podman",
            &runtimes("off", "off", "/var/lib/containers/storage"),
        ),
        Err(reason) => skip(test, &format!("Podman cannot run here: {reason}")),
    }
}

/// Kill ends the whole container (exit 137, as `docker kill` would); quarantine freezes it in place
/// (the engine still says running) until `agentmon release NAME`.
fn kill_and_quarantine_then_release(engine: &Engine, runtime: &str, runtimes: &str) {
    let prefix = Engine::unique_name(&format!("{runtime}-act"));
    let victim = engine.run(&format!("{prefix}-kill"), &[], &[]);
    let frozen = engine.run(&format!("{prefix}-quarantine"), &[], &[]);
    let rules = rules_dir(RULES);
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "agents:\n  - name: \"{{container}}\"\n    match: {{runtime: {runtime}, container_name: \"{prefix}-*\"}}\n{runtimes}"
        ),
    );
    let rules_path = rules.path().display().to_string();
    let mut m = Monitor::start_env(
        &["--config", &cfg.display().to_string(), "--rules", &rules_path],
        &[("AGENTMON_STATE_DIR", &state_dir)],
    );
    m.wait_stderr(&victim.name, Duration::from_secs(15));
    m.wait_stderr(&frozen.name, Duration::from_secs(15));

    let _ = victim.exec(&["touch", "/tmp/x"]);
    assert!(
        wait_for(Duration::from_secs(10), || victim.state().0 == "exited"),
        "killed container still {:?}",
        victim.state()
    );
    assert_eq!(victim.state().1, 137);
    let a = alert_of(&m, "Container kill", &victim.name);
    assert!(a["action_result"].as_str().unwrap().starts_with("killed"), "{a}");

    let cg = frozen.cgroup_dir();
    let mut trigger = frozen.spawn_exec(&["head", "-n1", "/etc/secret"]);
    m.wait_stderr("quarantined", Duration::from_secs(10));
    assert!(is_frozen(&cg), "{} frozen", cg.display());
    assert_eq!(frozen.state().0, "running");
    let a = alert_of(&m, "Container quarantine", &frozen.name);
    assert!(a["action_result"].as_str().unwrap().starts_with("quarantined"), "{a}");

    // Released by its container name.
    let rel = agentmon()
        .args(["release", &frozen.name])
        .env("AGENTMON_STATE_DIR", &state_dir)
        .output()
        .unwrap();
    assert!(rel.status.success(), "{}", String::from_utf8_lossy(&rel.stderr));
    assert!(!is_frozen(&cg));
    assert!(frozen.exec(&["true"]).status.success(), "thawed container runs");
    let _ = trigger.kill();
    let _ = trigger.wait();
    let (_, status) = m.stop();
    assert!(status.success());
}

/// `podman system service` on a socket of the test's own; stopped by its pid.
struct PodmanService {
    child: Child,
    socket: PathBuf,
}

impl PodmanService {
    fn start(podman: &Engine, dir: &Path) -> Self {
        let socket = dir.join("podman.sock");
        let child = podman
            .cmd(&["system", "service", "--time=0", &format!("unix://{}", socket.display())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting podman system service");
        let s = Self { child, socket };
        assert!(
            wait_for(Duration::from_secs(20), || s.socket.exists()),
            "podman's API socket did not appear"
        );
        s
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        if !wait_for(Duration::from_secs(10), || matches!(self.child.try_wait(), Ok(Some(_)))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[test]
fn podman_agents_are_named_from_its_storage_and_its_api() {
    let test = "containers::podman_agents_are_named_from_its_storage_and_its_api";
    let podman = match Engine::podman() {
        Ok(p) => p,
        Err(reason) => return skip(test, &format!("Podman cannot run here: {reason}")),
    };
    let prefix = Engine::unique_name("podman");
    let label = Engine::unique_name("label");
    let first = podman.run(
        &format!("{prefix}-a"),
        &["--label", &format!("agentmon.e2e={label}"), "--label", "team=ai"],
        &[],
    );
    let image = format!("localhost/{TEST_IMAGE}");
    let rules = rules_dir(RULES);
    let rules_path = rules.path().display().to_string();

    // 1. Without its API service: name and image from Podman's storage, cgroup at
    //    /libpod_parent/libpod-<id> (cgroupfs driver), selected by container name.
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "agents:\n  - name: \"{{container}}\"\n    match: {{runtime: podman, container_name: \"{prefix}-*\"}}\n{}",
            runtimes("off", "off", "/var/lib/containers/storage")
        ),
    );
    let mut m = Monitor::start(&["--config", &cfg.display().to_string(), "--rules", &rules_path]);
    m.wait_stderr(&first.name, Duration::from_secs(15));
    assert!(first.cgroup_dir().display().to_string().contains("libpod-"));
    assert!(first.exec(&["cat", "/etc/secret"]).status.success());
    let a = alert_of(&m, "Container cat", &first.name);
    assert_container_fields(&a, &first, &image);
    let late = podman.run(&format!("{prefix}-b"), &[], &[]);
    m.wait_stderr(&late.name, Duration::from_secs(10));
    assert!(late.exec(&["cat", "/etc/passwd"]).status.success());
    alert_of(&m, "Container cat", &late.name);
    let (_, status) = m.stop();
    assert!(status.success());

    // 2. Through its API socket: labels too (`{label:KEY}` in the name, `labels:` to select).
    let svc = PodmanService::start(&podman, dir.path());
    let cfg = write_config(
        dir.path(),
        &format!(
            "agents:\n  - name: \"{{label:team}}/{{container}}\"\n    match: {{runtime: podman, labels: {{agentmon.e2e: \"{label}\"}}}}\n{}",
            runtimes("off", &svc.socket.display().to_string(), "off")
        ),
    );
    let mut m = Monitor::start(&["--config", &cfg.display().to_string(), "--rules", &rules_path]);
    let agent = format!("ai/{}", first.name);
    m.wait_stderr(&agent, Duration::from_secs(15));
    assert!(first.exec(&["cat", "/etc/secret"]).status.success());
    let a = alert_of(&m, "Container cat", &agent);
    assert_container_fields(&a, &first, &image);
    assert!(
        !m.stderr().contains(&late.name),
        "the unlabelled container is no agent: {}",
        m.stderr()
    );
    let (_, status) = m.stop();
    assert!(status.success());
}

#[test]
fn containerd_containers_are_named_from_their_bundles() {
    let test = "containers::containerd_containers_are_named_from_their_bundles";
    let mut cd = match Containerd::start() {
        Ok(c) => c,
        Err(reason) => return skip(test, &format!("containerd cannot run here: {reason}")),
    };
    // A Kubernetes container as containerd's CRI plugin would run it with the cgroupfs driver: the
    // path names the pod and the container but not the runtime, so every source is asked; the
    // bundle's annotations name it. (Set by hand here: no kubelet runs on this machine.)
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!("{:064x}", (u128::from(std::process::id()) << 96) | nanos);
    let uid = "8f3a2c1e-5b7d-4e9f-a0b1-c2d3e4f5a6b7";
    let top = Engine::unique_name("containerd");
    let cgroup = format!("/{top}/kubepods/besteffort/pod{uid}/{id}");
    let name = Engine::unique_name("coder");
    cd.run(
        &id,
        &cgroup,
        &[
            ("io.kubernetes.cri.container-type", "container"),
            ("io.kubernetes.cri.container-name", &name),
            ("io.kubernetes.cri.image-name", "registry.example/ai/coder:1"),
            ("io.kubernetes.cri.sandbox-name", "coder-pod"),
            ("io.kubernetes.cri.sandbox-namespace", "ai-test"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "agents:\n  - name: \"{{label:io.kubernetes.pod.namespace}}/{{container}}\"\n    match: {{cgroup: \"/{top}/**\", container_name: \"{name}\"}}\n\
             kubernetes: {{enabled: false}}\n\
             runtimes: {{docker_socket: off, podman_socket: off, podman_storage: off, crio_state: off, containerd_state: \"{}\"}}\n",
            cd.task_state().display()
        ),
    );
    let rules = rules_dir(RULES);
    let rules_path = rules.path().display().to_string();
    let mut m = Monitor::start(&["--config", &cfg.display().to_string(), "--rules", &rules_path]);
    let agent = format!("ai-test/{name}");
    m.wait_stderr(&agent, Duration::from_secs(15));
    let out = cd.exec(&id, "e1", &["/bin/cat", "/etc/secret"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a = alert_of(&m, "Container cat", &agent);
    let c = &a["event"]["container"];
    assert_eq!(c["name"], name.as_str(), "{a}");
    assert_eq!(c["image"], "registry.example/ai/coder:1", "{a}");
    assert_eq!(c["full_id"], id.as_str(), "{a}");
    let (_, status) = m.stop();
    assert!(status.success());
}
