//! The command line: exit statuses, one-line errors, and no lost events on a short script.
use std::os::unix::process::CommandExt;

use agentmon_e2e::*;

fn one_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).into_owned();
    let lines: Vec<_> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected a one-line error, got: {text}");
    lines[0].to_string()
}

#[test]
fn bad_flag_is_a_one_line_error() {
    let out = agentmon().args(["run", "--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let line = one_line(&out.stderr);
    assert!(line.contains("--no-such-flag"), "{line}");
}

#[test]
fn missing_cgroup_is_a_one_line_error() {
    let out = agentmon()
        .args(["run", "--cgroup", "/agentmon-no-such-cgroup-xyz"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let line = one_line(&out.stderr);
    assert!(line.contains("does not exist"), "{line}");
}

#[test]
fn unprivileged_user_gets_a_one_line_error() {
    let cg = TestCgroup::new("cli-unpriv");
    // The user must be able to reach the binary: a checkout may sit below a directory only root can
    // enter (e.g. one made by `mktemp -d`), so run a copy from a directory anyone can read.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bin = dir.path().join("agentmon");
    std::fs::copy(agentmon_bin(), &bin).unwrap();
    let out = std::process::Command::new(&bin)
        .args(["run", "--cgroup", cg.path.to_str().unwrap()])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let line = one_line(&out.stderr);
    assert!(line.contains("root"), "{line}");
}

#[test]
fn exec_exits_with_the_commands_status() {
    let run = exec_json(&[], &["/bin/sh", "-c", "exit 7"]);
    assert_eq!(run.status.code(), Some(7));
    let killed = exec_json(&[], &["/bin/sh", "-c", "kill -9 $$"]);
    assert_eq!(killed.status.code(), Some(128 + 9));
    let missing = exec_json(&[], &["/nonexistent/agentmon-cmd"]);
    assert_eq!(missing.status.code(), Some(127));
}

#[test]
fn exec_loses_no_event_of_a_short_script() {
    let tag = format!("nolose-{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    // 400 opens of distinct files and 30 execs with distinct arguments.
    let script = format!(
        "i=0; while [ $i -lt 400 ]; do : > {d}/{tag}-$i; i=$((i+1)); done; \
         j=0; while [ $j -lt 30 ]; do /bin/true {tag}-exec-$j; j=$((j+1)); done"
    );
    let run = exec_json(&[], &["/bin/sh", "-c", &script]);
    assert!(run.status.success(), "{}", run.stderr);
    for i in 0..400 {
        let p = format!("{d}/{tag}-{i}");
        assert!(
            find(&run.events, |e| e["kind"] == "open" && e["path"] == p.as_str()).is_some(),
            "open {i} missing"
        );
    }
    for j in 0..30 {
        let a = format!("{tag}-exec-{j}");
        assert!(
            find(&run.events, |e| e["kind"] == "exec" && e["argv"][1] == a.as_str()).is_some(),
            "exec {j} missing"
        );
    }
    assert!(
        find(&run.events, |e| e["kind"] == "drops").is_none(),
        "no drops on a short script"
    );
}

#[test]
fn lifecycle_events_track_fork_and_exit() {
    let run = exec_json(&["--lifecycle"], &["/bin/sh", "-c", "/bin/true; exit 3"]);
    assert_eq!(run.status.code(), Some(3));
    let sh = run
        .of_kind("exec")
        .into_iter()
        .find(|e| e["filename"] == "/bin/sh")
        .expect("sh")
        .clone();
    let t = run
        .of_kind("exec")
        .into_iter()
        .find(|e| e["filename"] == "/bin/true")
        .expect("true")
        .clone();
    assert!(
        find(&run.events, |e| e["kind"] == "fork"
            && e["pid"] == sh["pid"]
            && e["child_pid"] == t["pid"])
        .is_some()
    );
    assert!(
        find(&run.events, |e| e["kind"] == "exit"
            && e["pid"] == t["pid"]
            && e["exit_code"] == 0)
        .is_some()
    );
    assert!(
        find(&run.events, |e| e["kind"] == "exit"
            && e["pid"] == sh["pid"]
            && e["exit_code"] == 3)
        .is_some()
    );
}
