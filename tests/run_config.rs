//! `agentmon run --config` on the real kernel: an agent cgroup created after start is discovered
//! and watched, its exec shows up in the output and moves `/metrics` by exactly one, and its removal
//! is noticed; a recorded event reaches the file while agentmon runs. Needs root, BPF and a cgroup2
//! mount.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
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

impl Guard {
    /// Starts `agentmon run` with the arguments `args` adds and `--metrics-addr` on a free local
    /// port (stderr inherited, stdout to `stdout`); the guard ends it. Returns the port.
    fn start_agentmon(&mut self, stdout: impl Into<Stdio>, args: impl FnOnce(&mut Command) -> &mut Command) -> u16 {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(agentmon_e2e::agentmon_bin());
        args(cmd.arg("run"));
        cmd.args(["--metrics-addr", &format!("127.0.0.1:{port}")])
            .stdout(stdout)
            .stderr(Stdio::inherit());
        self.agentmon = Some(cmd.spawn().unwrap());
        port
    }
}

/// A uniquely named top cgroup for one test, removed (with anything in it) when the guard drops;
/// also its path relative to the cgroup2 root, as config selectors name it.
fn test_cgroup(tag: &str) -> (Guard, String) {
    let root = cgroup2_root().expect("cgroup2");
    let top = root.join(format!("agentmon-test-{tag}-{}", std::process::id()));
    std::fs::create_dir(&top).expect("needs root");
    let rel = format!("/{}", top.strip_prefix(&root).unwrap().display());
    (
        Guard {
            root,
            top,
            agentmon: None,
        },
        rel,
    )
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

/// Waits for agentmon's `/readyz` on `port` to say nothing matches yet: started (200, so a node
/// without agents does not hold a DaemonSet rollout back), and saying that nothing is watched.
fn wait_unmatched(port: u16) {
    wait_until("/readyz to say no agent matched", Duration::from_secs(60), || {
        http_get(port, "/readyz").is_some_and(|(s, b)| s == 200 && b.contains("no cgroup matches"))
    });
}

/// Waits for agentmon's `/readyz` on `port` to answer 200 watching an agent.
fn wait_ready(port: u16) {
    wait_until("/readyz", Duration::from_secs(60), || {
        http_get(port, "/readyz").is_some_and(|(s, b)| s == 200 && b == "ready\n")
    });
}

#[test]
fn discovers_an_agent_started_later_and_counts_its_events() {
    let (mut g, rel) = test_cgroup("run");
    let (root, top) = (g.root.clone(), g.top.clone());
    let dir = tempfile::tempdir().unwrap();
    let cfg = agentmon_e2e::agents_config(dir.path(), &rel, "");
    let out_path = dir.path().join("out.jsonl");
    let port = g.start_agentmon(std::fs::File::create(&out_path).unwrap(), |c| {
        c.args(["--json", "--no-rules", "--config"]).arg(&cfg)
    });
    wait_unmatched(port);
    assert_eq!(metric(port, "agentmon_watched_agents"), Some(0.0));

    let agent = top.join("agent-1");
    std::fs::create_dir(&agent).unwrap();
    wait_until("the agent to be watched", Duration::from_secs(10), || {
        metric(port, "agentmon_watched_agents") == Some(1.0)
    });
    assert_eq!(
        http_get(port, "/readyz"),
        Some((200, "ready\n".to_string())),
        "ready once an agent is watched"
    );
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
    let (code, body) = http_get(port, "/readyz").expect("/readyz answered");
    assert_eq!(
        (code, body.contains("no cgroup matches")),
        (200, true),
        "nothing watched any more: {body}"
    );

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

/// A webhook receiver on 127.0.0.1 answering 200 and recording the JSON bodies.
async fn receiver() -> (u16, Arc<Mutex<Vec<serde_json::Value>>>) {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::clone(&bodies);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let b = Arc::clone(&b);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let b = Arc::clone(&b);
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        b.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                            bytes::Bytes::new(),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (port, bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_the_webhook_the_file_and_metrics() {
    let (hook_port, bodies) = receiver().await;
    let (mut g, rel) = test_cgroup("outputs");
    let top = g.top.clone();
    let dir = tempfile::tempdir().unwrap();
    let alerts_file = dir.path().join("alerts.jsonl");
    let cfg = agentmon_e2e::agents_config(
        dir.path(),
        &rel,
        &format!(
            "outputs:\n  file: {}\n  webhook: {{url: \"http://127.0.0.1:{hook_port}/\"}}\n",
            alerts_file.display()
        ),
    );
    let rules = agentmon_e2e::shipped_rules();
    let port = g.start_agentmon(Stdio::null(), |c| {
        c.args(["--json", "--rules"]).arg(&rules).arg("--config").arg(&cfg)
    });
    let agent = top.join("agent-1");
    std::fs::create_dir(&agent).unwrap();
    tokio::task::spawn_blocking(move || {
        wait_ready(port);
        wait_until("the agent to be watched", Duration::from_secs(10), || {
            metric(port, "agentmon_watched_agents") == Some(1.0)
        });
        // A shell the agent's root (the process that entered the cgroup) starts: "Shell spawned
        // by agent". Not exec'd in place: the root's own exec is the agent's start.
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {} && sh -c 'exit 0'; exit 0",
                agent.join("cgroup.procs").display()
            ))
            .status()
            .unwrap();
        assert!(st.success());
        let counter = "agentmon_alerts_total{rule=\"Shell spawned by agent\",priority=\"warning\",agent=\"agent-1\"}";
        wait_until("the alert metric", Duration::from_secs(10), || {
            metric(port, counter) == Some(1.0)
        });
        assert!(metric(port, "agentmon_rule_eval_seconds_count").is_some_and(|n| n >= 1.0));
        assert!(metric(port, "agentmon_events_total{kind=\"exec\"}").is_some_and(|n| n >= 1.0));
    })
    .await
    .unwrap();
    for _ in 0..500 {
        if !bodies.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut child = g.agentmon.take().unwrap();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());

    let bodies = bodies.lock().unwrap().clone();
    let p = bodies
        .iter()
        .find(|p| p["rule"] == "Shell spawned by agent")
        .unwrap_or_else(|| panic!("no webhook post for the rule: {bodies:?}"));
    assert_eq!(p["priority"], "Warning");
    assert_eq!(p["output_fields"]["agent.name"], "agent-1");
    assert_eq!(p["output_fields"]["proc.name"], "sh");
    assert!(p["output"].as_str().unwrap().starts_with("shell sh spawned by"), "{p}");
    let lines = std::fs::read_to_string(&alerts_file).unwrap();
    assert!(
        lines.lines().any(|l| l.contains("\"rule\":\"Shell spawned by agent\"")),
        "{lines}"
    );
}

/// A config `action: alert` on one agent turns the kill of a rule into an alert for that agent only.
#[test]
fn a_per_agent_action_override_turns_a_kill_into_an_alert() {
    let (mut g, rel) = test_cgroup("override");
    let top = g.top.clone();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "agents:\n  - name: \"{{cgroup}}\"\n    match: {{cgroup: \"{rel}/dry-*\"}}\n    action: alert\n\
             \x20 - name: \"{{cgroup}}\"\n    match: {{cgroup: \"{rel}/live-*\"}}\n\
             discovery: {{rescan_interval: 100ms}}\n"
        ),
    )
    .unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("kill.yaml"),
        "- rule: Kill sleepers\n  desc: test rule\n  condition: evt.kind = exec and proc.name = sleep\n  \
         output: \"sleep %proc.pid\"\n  priority: WARNING\n  action: kill\n",
    )
    .unwrap();
    let out_path = dir.path().join("out.jsonl");
    let port = g.start_agentmon(std::fs::File::create(&out_path).unwrap(), |c| {
        c.args(["--json", "--config"]).arg(&cfg).arg("--rules").arg(&rules)
    });
    wait_unmatched(port);
    for name in ["dry-1", "live-1"] {
        std::fs::create_dir(top.join(name)).unwrap();
    }
    wait_until("both agents to be watched", Duration::from_secs(10), || {
        metric(port, "agentmon_watched_agents") == Some(2.0)
    });
    let start_sleeper = |name: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo $$ > {} && exec sleep 30",
                top.join(name).join("cgroup.procs").display()
            ))
            .spawn()
            .unwrap()
    };
    let mut dry = start_sleeper("dry-1");
    let mut live = start_sleeper("live-1");
    let alerts = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&out_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["rule"] == "Kill sleepers")
            .collect()
    };
    wait_until("both alerts", Duration::from_secs(10), || alerts().len() == 2);
    let action_of = |agent: &str| {
        alerts()
            .into_iter()
            .find(|a| a["event"]["agent"] == agent)
            .map(|a| a["action"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(action_of("dry-1").as_deref(), Some("alert"));
    assert_eq!(action_of("live-1").as_deref(), Some("kill"));
    // The live agent's sleeper was killed; the dry-run agent's is still running.
    let status = live.wait().unwrap();
    assert!(!status.success(), "the live agent's process was killed");
    assert!(
        dry.try_wait().unwrap().is_none(),
        "the dry-run agent's process still runs"
    );
    let _ = dry.kill();
    let _ = dry.wait();
}

/// `--record`: each ring-buffer drain's batch is in the file while agentmon still runs (a crash
/// then loses at most the drain in progress), not held back until the 64 KiB batch is full.
#[test]
fn a_recorded_event_reaches_the_file_after_its_drain() {
    use agentmon::{
        event::Body,
        record::{ReaderOptions, Record, RecordReader},
    };
    let (mut g, rel) = test_cgroup("rec");
    let agent = g.top.join("agent-1");
    std::fs::create_dir(&agent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        format!("agents:\n  - name: agent-1\n    match: {{cgroup: \"{rel}/agent-1\"}}\n"),
    )
    .unwrap();
    let log = dir.path().join("run.agentlog");
    let port = g.start_agentmon(Stdio::null(), |c| {
        c.args(["--no-rules", "--config"]).arg(&cfg).arg("--record").arg(&log)
    });
    wait_until("the agent to be watched", Duration::from_secs(60), || {
        metric(port, "agentmon_watched_agents") == Some(1.0)
    });
    let st = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {} && exec cat /etc/hostname",
            agent.join("cgroup.procs").display()
        ))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let recorded_exec = || {
        RecordReader::open(&log, ReaderOptions::default())
            .into_iter()
            .flatten()
            .flatten()
            .any(|r| matches!(&r.record, Record::Event(e) if matches!(&e.event.body, Body::Exec(x) if x.argv == ["cat", "/etc/hostname"])))
    };
    wait_until(
        "the exec to be in the recording",
        Duration::from_secs(10),
        recorded_exec,
    );
    let child = g.agentmon.as_mut().unwrap();
    assert!(child.try_wait().unwrap().is_none(), "agentmon still runs");
}

#[test]
fn an_empty_config_warns_and_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.yaml");
    // `metrics.addr` in the file (here with `off` accepted too, checked below).
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(&cfg, format!("metrics: {{addr: \"127.0.0.1:{port}\"}}\n")).unwrap();
    let mut child = Command::new(agentmon_e2e::agentmon_bin())
        .args(["run", "--no-rules", "--config"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let answer = std::cell::RefCell::new(None);
    let started = Instant::now();
    while answer.borrow().is_none() && started.elapsed() < Duration::from_secs(60) {
        *answer.borrow_mut() = http_get(port, "/readyz").filter(|(_, b)| !b.contains("starting"));
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    let (code, body) = answer.into_inner().expect("/readyz answered");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("names no agents"), "{body}");
    assert!(stderr.contains("THE CONFIG NAMES NO AGENTS"), "{stderr}");
    assert!(status.success(), "{stderr}");

    // `metrics: {addr: off}` in the file: no server, and the run is fine.
    std::fs::write(&cfg, "metrics: {addr: off}\n").unwrap();
    let out = Command::new("timeout")
        .args(["-s", "TERM", "3"])
        .arg(agentmon_e2e::agentmon_bin())
        .args(["run", "--no-rules", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("serving /metrics"), "{err}");
    assert!(err.contains("THE CONFIG NAMES NO AGENTS"), "{err}");
}
