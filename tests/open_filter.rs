//! The in-kernel open filter on the real kernel: opens no rule can match stop reaching userspace,
//! and no verdict changes — not for the dodges that reach a judged file under another name (a hard
//! link, a rename, a write open, another syscall, a renamed program), not after a rule reload, and a
//! recording still gets every open.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{path::Path, time::Duration};

use agentmon_e2e::*;
use serde_json::Value;

/// The value of `key=N` on agentmon's final stats line.
fn stat(stderr: &str, key: &str) -> u64 {
    let line = stderr
        .lines()
        .rfind(|l| l.contains("final stats"))
        .unwrap_or_else(|| panic!("no final stats line: {stderr}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

/// Rules on the files under `d`: reads of `secret*` names, writes anywhere there, reads of
/// `tools/` by a program called `curlx`, and `openat2` reads of `via2`.
fn rules(d: &str) -> String {
    format!(
        r#"
- rule: Secret read
  desc: t
  condition: evt.kind = open and file.read and file.path glob "{d}/secret*"
  output: "read %file.path"
  priority: WARNING
- rule: Write there
  desc: t
  condition: evt.kind = open and file.write and file.path startswith {d}/
  output: "write %file.path"
  priority: WARNING
- rule: Tool read by curlx
  desc: t
  condition: evt.kind = open and proc.name = curlx and file.path startswith {d}/tools/
  output: "curlx read %file.path"
  priority: WARNING
- rule: openat2 read
  desc: t
  condition: evt.kind = open and evt.syscall = openat2 and file.path = {d}/via2
  output: "openat2 %file.path"
  priority: WARNING
"#
    )
}

/// Each plain read is repeated until the filter has surely judged it; then the dodge: the same
/// file (or the same name) reached another way.
fn workload(d: &str) -> String {
    let many = |f: &str| format!("for i in $(seq 40); do cat {d}/{f} >/dev/null; done");
    format!(
        "{plain}; ln {d}/plain {d}/secret-link && cat {d}/secret-link >/dev/null; \
         {other}; mv {d}/other {d}/secret-moved && cat {d}/secret-moved >/dev/null; \
         {keep}; echo x >> {d}/keep; \
         {tool}; cp /bin/cat {d}/curlx && {d}/curlx {d}/tools/t >/dev/null; \
         {via2}; python3 - <<'EOF'
import ctypes, os, struct
how = struct.pack('QQQ', os.O_RDONLY, 0, 0)
fd = ctypes.CDLL(None, use_errno=True).syscall(437, -100, b'{d}/via2', how, len(how))
assert fd >= 0, ctypes.get_errno()
os.close(fd)
EOF
",
        plain = many("plain"),
        other = many("other"),
        keep = many("keep"),
        tool = many("tools/t"),
        via2 = many("via2"),
    )
}

/// The alerts as (rule, file), sorted.
fn verdicts(events: &[Value]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.get("rule").is_some())
        .map(|a| {
            (
                a["rule"].as_str().unwrap_or_default().to_string(),
                a["event"]["resolved_path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn files(dir: &Path) {
    std::fs::create_dir(dir.join("tools")).unwrap();
    for f in ["plain", "other", "keep", "tools/t", "via2"] {
        std::fs::write(dir.join(f), "data").unwrap();
    }
}

#[test]
fn the_filter_leaves_out_quiet_opens_and_changes_no_verdict() {
    let rules_dir = tempfile::tempdir().unwrap();
    // Three runs, each on fresh files (the dodges change them).
    let run = |extra: &[&str]| {
        let work = scratch_dir("agentmon-open-filter-");
        let d = canonical(work.path());
        files(Path::new(&d));
        std::fs::write(rules_dir.path().join("r.yaml"), rules(&d)).unwrap();
        let r = exec_raw(
            &[&["--rules", rules_dir.path().to_str().unwrap()], extra].concat(),
            &["/bin/sh", "-c", &workload(&d)],
        );
        assert!(r.status.success(), "{}", r.stderr);
        // Paths differ per run: compare them relative to the work directory.
        let v: Vec<(String, String)> = verdicts(&r.events)
            .into_iter()
            .map(|(rule, p)| (rule, p.replacen(&d, "D", 1)))
            .collect();
        (v, r.stderr, work, d)
    };
    let (filtered, err_filtered, _w1, _) = run(&[]);
    let (all, err_all, _w2, _) = run(&["--no-open-filter"]);
    let log_dir = tempfile::tempdir().unwrap();
    let log = log_dir.path().join("s.agentlog");
    let (recorded, err_recorded, _w3, d3) = run(&["--record", log.to_str().unwrap()]);

    let expected: Vec<(String, String)> = [
        ("Secret read", "D/secret-link"),
        ("Secret read", "D/secret-moved"),
        ("Tool read by curlx", "D/tools/t"),
        ("Write there", "D/curlx"),
        ("Write there", "D/keep"),
        ("openat2 read", "D/via2"),
    ]
    .iter()
    .map(|(r, p)| (r.to_string(), p.to_string()))
    .collect();
    assert_eq!(all, expected, "every open sent: {err_all}");
    assert_eq!(filtered, expected, "with the filter: {err_filtered}");
    assert_eq!(recorded, expected, "recording: {err_recorded}");

    // The filter did leave opens out (most of the 200 plain reads), and only when it may.
    let left_out = stat(&err_filtered, "filtered_opens");
    assert!(left_out >= 150, "filtered_opens={left_out}: {err_filtered}");
    assert!(
        stat(&err_filtered, "records") < stat(&err_all, "records"),
        "fewer records with the filter"
    );
    assert_eq!(stat(&err_all, "filtered_opens"), 0);
    assert_eq!(stat(&err_recorded, "filtered_opens"), 0, "a recording gets every open");

    // Replay of the recording gives the live verdicts.
    let replayed: Vec<(String, String)> = verdicts(&replay_json(rules_dir.path(), log.to_str().unwrap()))
        .into_iter()
        .map(|(rule, p)| (rule, p.replacen(&d3, "D", 1)))
        .collect();
    assert_eq!(replayed, expected);
}

#[test]
fn a_rule_reload_forgets_what_the_old_rules_left_out() {
    let cg = TestCgroup::new("open-filter-reload");
    let rules_dir = tempfile::tempdir().unwrap();
    let work = scratch_dir("agentmon-open-filter-reload-");
    let file = work.path().join("notes");
    std::fs::write(&file, "n").unwrap();
    let file = canonical(&file);
    let rule = |path: &str| {
        format!(
            "- rule: Notes read\n  desc: t\n  condition: evt.kind = open and file.path = {path}\n  output: hit\n  priority: NOTICE\n"
        )
    };
    std::fs::write(rules_dir.path().join("r.yaml"), rule("/nowhere")).unwrap();
    let mut m = Monitor::start(&[
        "--rules",
        rules_dir.path().to_str().unwrap(),
        "--cgroup",
        cg.path.to_str().unwrap(),
    ]);
    let reads = format!("for i in $(seq 40); do cat {file} >/dev/null; done");
    assert!(run_in(&cg.path, "/bin/sh", &["-c", &reads]).success());
    std::fs::write(rules_dir.path().join("r.yaml"), rule(&file)).unwrap();
    // SAFETY: kill(2) takes plain integers; the pid is the agentmon this test started.
    unsafe { libc::kill(m.pid() as i32, libc::SIGHUP) };
    m.wait_stderr("rules reloaded", Duration::from_secs(10));
    assert!(run_in(&cg.path, "/bin/sh", &["-c", &format!("cat {file} >/dev/null")]).success());
    let hit = m.wait_event(Duration::from_secs(10), |e| e["rule"] == "Notes read");
    let (_, _, stderr) = m.stop_with_stderr();
    assert!(hit.is_some(), "the read after the reload was left out: {stderr}");
    // Not vacuous: under the old rules the filter had left most of the reads out.
    assert!(stat(&stderr, "filtered_opens") >= 20, "{stderr}");
}
