//! `agentmon run --config` on the real kernel: an agent cgroup created after start is discovered
//! and watched, its exec shows up in the output and moves `/metrics` by exactly one, and its removal
//! is noticed. Needs root, BPF and a cgroup2 mount.
use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use agentmon::cgroup::{Cgroup, cgroup2_root};

struct Guard {
    root: PathBuf,
    top: PathBuf,
    agentmon: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = &mut self.agentmon {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Ok(cg) = Cgroup::open(&self.root, &self.top) {
            let _ = cg.kill_all(Duration::from_secs(1));
            let _ = cg.remove();
        }
    }
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

fn metric(port: u16, name: &str) -> Option<f64> {
    let (_, body) = http_get(port, "/metrics")?;
    body.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn discovers_an_agent_started_later_and_counts_its_events() {
    let root = cgroup2_root().expect("cgroup2");
    let top = root.join(format!("agentmon-test-run-{}", std::process::id()));
    std::fs::create_dir(&top).expect("needs root");
    let mut g = Guard {
        root: root.clone(),
        top: top.clone(),
        agentmon: None,
    };
    let rel = format!("/{}", top.strip_prefix(&root).unwrap().display());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "agents:\n  - name: \"{{cgroup}}\"\n    match: {{cgroup: \"{rel}/agent-*\"}}\n\
             discovery: {{rescan_interval: 100ms}}\n"
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out_path = dir.path().join("out.jsonl");
    g.agentmon = Some(
        Command::new(env!("CARGO_BIN_EXE_agentmon"))
            .args(["run", "--json", "--no-rules", "--config"])
            .arg(&cfg)
            .args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    wait_until("/readyz", Duration::from_secs(60), || {
        http_get(port, "/readyz").is_some_and(|(s, _)| s == 200)
    });
    assert_eq!(metric(port, "agentmon_watched_agents"), Some(0.0));

    let agent = top.join("agent-1");
    std::fs::create_dir(&agent).unwrap();
    wait_until("the agent to be watched", Duration::from_secs(10), || {
        metric(port, "agentmon_watched_agents") == Some(1.0)
    });
    let procs = agent.join("cgroup.procs");
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!("echo $$ > {} && exec cat /etc/hostname", procs.display()))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let exec = "agentmon_events_total{kind=\"exec\"}";
    wait_until("the exec to be counted", Duration::from_secs(10), || {
        metric(port, exec) == Some(1.0)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(metric(port, exec), Some(1.0), "exactly one exec in the agent");

    Cgroup::open(&root, &agent).unwrap().remove().unwrap();
    wait_until("the agent to be dropped", Duration::from_secs(10), || {
        metric(port, "agentmon_watched_agents") == Some(0.0)
    });

    // SIGTERM: clean exit.
    let mut child = g.agentmon.take().unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let out = std::fs::read_to_string(&out_path).unwrap();
    let ev = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["kind"] == "exec")
        .unwrap_or_else(|| panic!("no exec event in:\n{out}"));
    assert_eq!(ev["agent"], "agent-1");
    assert_eq!(ev["argv"], serde_json::json!(["cat", "/etc/hostname"]));
    assert_eq!(ev["cgroup"], format!("{rel}/agent-1"));
}
