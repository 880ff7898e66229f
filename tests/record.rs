//! `--record`: the recording of a live run verifies, holds every event printed live, and replays
//! through the same rules to the same alerts; a recording on a full disk is never silently incomplete.
use std::{collections::BTreeSet, time::Duration};

use agentmon_e2e::*;
use serde_json::Value;

fn event_key(e: &Value) -> (String, u64, u64) {
    (
        e["kind"].as_str().unwrap_or_default().to_string(),
        e["pid"].as_u64().unwrap_or_default(),
        e["ktime_ns"].as_u64().unwrap_or_default(),
    )
}

fn alert_key(a: &Value) -> (String, u64) {
    (
        a["rule"].as_str().unwrap_or_default().to_string(),
        a["event"]["ktime_ns"].as_u64().unwrap_or_default(),
    )
}

#[test]
fn recording_verifies_and_replays_to_the_live_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("live.agentlog");
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aws")).unwrap();
    std::fs::write(home.path().join(".aws/credentials"), "[default]\n").unwrap();
    let script = format!(
        "cat {}/.aws/credentials >/dev/null; cd /tmp && ls >/dev/null; true",
        home.path().display()
    );
    let log_arg = log.to_str().unwrap();
    let live = exec_rules(&shipped_rules(), &["--record", log_arg], &["/bin/bash", "-c", &script]);
    assert!(live.status.success(), "{}", live.stderr);
    assert!(
        live.fired()
            .contains(&"Read of cloud or cluster credentials".to_string()),
        "fired: {:?}",
        live.fired()
    );

    let verify = agentmon().args(["log", "verify", log_arg]).output().unwrap();
    let text = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{text}");
    assert!(text.contains(": OK:"), "{text}");

    // Every event printed live is in the recording (which also has the lifecycle ones).
    let cat = agentmon().args(["log", "cat", "--json", log_arg]).output().unwrap();
    assert!(cat.status.success());
    let recorded = parse_json_lines(&String::from_utf8_lossy(&cat.stdout));
    let recorded_events: BTreeSet<_> = recorded
        .iter()
        .filter(|r| r["record"] == "event")
        .map(event_key)
        .collect();
    let live_events: Vec<_> = live
        .events
        .iter()
        .filter(|e| e.get("rule").is_none() && e.get("ktime_ns").is_some())
        .collect();
    assert!(!live_events.is_empty());
    for e in &live_events {
        assert!(recorded_events.contains(&event_key(e)), "not recorded: {e}");
    }
    let recorded_alerts = recorded.iter().filter(|r| r["record"] == "alert").count();
    assert_eq!(recorded_alerts, live.alerts().len());

    // Replaying through the same rules raises the same alerts on the same events.
    let replay = agentmon()
        .args(["replay", "--json", "--rules"])
        .arg(shipped_rules())
        .arg(log_arg)
        .output()
        .unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let replayed = parse_json_lines(&String::from_utf8_lossy(&replay.stdout));
    let mut a: Vec<_> = live.alerts().into_iter().map(alert_key).collect();
    let mut b: Vec<_> = replayed.iter().map(alert_key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    // And each replayed alert carries exactly the live event (process context, paths, time text)
    // and the same rendered output; only what the responder did is not replayed.
    for l in live.alerts() {
        let r = replayed
            .iter()
            .find(|r| alert_key(r) == alert_key(l))
            .expect("matched above");
        assert_eq!(r["event"], l["event"], "event of {}", l["rule"]);
        for field in ["rule", "priority", "tags", "output"] {
            assert_eq!(r[field], l[field], "{field} of {}", l["rule"]);
        }
    }

    // Retro-hunt: a rule written after the fact finds the earlier event live monitoring missed.
    let hunt = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(shipped_rules()).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "yaml") {
            std::fs::copy(entry.path(), hunt.path().join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(
        hunt.path().join("hunt.yaml"),
        "- rule: Hunt ls\n  desc: retro-hunt\n  condition: evt.kind = exec and proc.name = ls\n  output: ls ran %proc.pid\n  priority: NOTICE\n",
    )
    .unwrap();
    assert!(live.alerts_of("Hunt ls").is_empty());
    let live_ls = live
        .events
        .iter()
        .find(|e| e["kind"] == "exec" && e["comm"] == "ls")
        .expect("the live session ran ls");
    let replay = agentmon()
        .args(["replay", "--json", "--rules"])
        .arg(hunt.path())
        .arg(log_arg)
        .output()
        .unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let replayed = parse_json_lines(&String::from_utf8_lossy(&replay.stdout));
    let hit = replayed
        .iter()
        .find(|a| a["rule"] == "Hunt ls")
        .expect("the added rule fires on replay");
    assert_eq!(
        hit["event"]["ktime_ns"], live_ls["ktime_ns"],
        "on the very event recorded live"
    );
    assert_eq!(hit["event"]["pid"], live_ls["pid"]);
}

/// The attack: the agent fills the disk the recording is on, acts, and frees the space. The
/// loss is alerted live, counted in the final stats line, marked in the log, and the log fails
/// `log verify` (it used to pass: "OK: 104 frames").
#[test]
fn a_full_disk_is_alerted_counted_and_fails_verification() {
    let fs = Tmpfs::new("256k");
    let log = fs.path().join("live.agentlog");
    let filler = fs.path().join("filler");
    let rules = rules_dir(
        "- rule: Agent ran id\n  desc: a rule that fires after the space is back\n  condition: evt.kind = exec and proc.name = id\n  priority: NOTICE\n",
    );
    let script = format!(
        "dd if=/dev/zero of={f} bs=4k 2>/dev/null; for i in $(seq 100); do /bin/true; done; sleep 1; rm {f}; \
         for i in $(seq 5); do /bin/true; done; id >/dev/null; sleep 0.3",
        f = filler.display()
    );
    let log_arg = log.to_str().unwrap();
    let live = exec_rules(rules.path(), &["--record", log_arg], &["/bin/bash", "-c", &script]);
    assert!(live.status.success(), "{}", live.stderr);
    let failed = live.alerts_of("agentmon recording failed");
    assert!(
        !failed.is_empty(),
        "no recording-failure alert; fired: {:?}\n{}",
        live.fired(),
        live.stderr
    );
    assert_eq!(failed[0]["priority"], "critical");
    assert!(
        failed[0]["output"].as_str().unwrap().contains("records lost so far"),
        "{}",
        failed[0]
    );
    assert!(
        !live.alerts_of("Agent ran id").is_empty(),
        "monitoring went on: {:?}",
        live.fired()
    );
    // The final stats line counts the lost records.
    let lost: u64 = live
        .stderr
        .split("record_lost=")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no record_lost= in the stats line:\n{}", live.stderr));
    assert!(lost >= 100, "{lost} records lost; 100 execs were not recorded");

    let verify = agentmon().args(["log", "verify", log_arg]).output().unwrap();
    let text = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(
        verify.status.code(),
        Some(1),
        "a log with lost records must fail verification:\n{text}"
    );
    assert!(text.contains("missing: the recorder could not write them"), "{text}");
    assert!(!text.contains(": OK:"), "{text}");

    let cat = agentmon().args(["log", "cat", log_arg]).output().unwrap();
    let out = String::from_utf8_lossy(&cat.stdout);
    assert!(out.contains("LOST: records #"), "{out}");
    assert_eq!(cat.status.code(), Some(1), "log cat reports the gap as a problem");
    let stats = agentmon().args(["log", "stats", log_arg]).output().unwrap();
    let out = String::from_utf8_lossy(&stats.stdout);
    assert!(
        out.contains(&format!(
            "records the recorder could not write (recorded losses): {lost}"
        )),
        "{out}"
    );
    // The alert of after the space was freed is in the log.
    let cat = agentmon().args(["log", "cat", "--json", log_arg]).output().unwrap();
    let recorded = parse_json_lines(&String::from_utf8_lossy(&cat.stdout));
    assert!(
        recorded
            .iter()
            .any(|r| r["record"] == "alert" && r.to_string().contains("Agent ran id")),
        "the alert after the loss is recorded"
    );
}

/// `--on-record-failure stop`: when the recording cannot be written, the watched agent is
/// quarantined (frozen), so nothing it does goes unrecorded.
#[test]
fn on_record_failure_stop_freezes_the_agent() {
    let fs = Tmpfs::new("256k");
    let log = fs.path().join("stop.agentlog");
    let filler = fs.path().join("filler");
    let cg = TestCgroup::new("recstop");
    let state = tempfile::tempdir().unwrap();
    let rules = rules_dir(
        "- rule: Agent ran id\n  desc: t\n  condition: evt.kind = exec and proc.name = id\n  priority: NOTICE\n",
    );
    let mut m = Monitor::start_env(
        &[
            "--rules",
            rules.path().to_str().unwrap(),
            "--cgroup",
            cg.path.to_str().unwrap(),
            "--record",
            log.to_str().unwrap(),
            "--on-record-failure",
            "stop",
        ],
        &[("AGENTMON_STATE_DIR", state.path().to_str().unwrap())],
    );
    assert!(!is_frozen(&cg.path));
    let script = format!(
        "dd if=/dev/zero of={} bs=4k 2>/dev/null; for i in $(seq 100); do /bin/true; done; sleep 30",
        filler.display()
    );
    let mut agent = command_in(&cg.path, "/bin/bash", &["-c", &script]).spawn().unwrap();
    assert!(
        wait_for(Duration::from_secs(15), || is_frozen(&cg.path)),
        "the agent was not stopped:\n{}",
        m.stderr()
    );
    m.wait_stderr("quarantined", Duration::from_secs(5));
    let (events, _) = m.stop();
    let alert = find(&events, |e| e["rule"] == "agentmon recording failed").expect("alert printed");
    assert_eq!(alert["action"], "quarantine", "{alert}");
    drop(cg);
    let _ = agent.kill();
    let _ = agent.wait();
}
