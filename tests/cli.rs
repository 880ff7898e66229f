//! The command line: exit statuses, one-line errors, and no lost events on a short script.
use std::{fmt::Write as _, os::unix::process::CommandExt};

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

/// The issue's forgery: an argument holding a newline and a fake alert line, and terminal escape
/// sequences. Live text output, `log cat` and `replay` must show them escaped: no line of output
/// starts with the forged text, and no ESC or BEL byte reaches the terminal.
#[test]
fn agent_text_cannot_forge_output_lines_or_reach_the_terminal() {
    let rules = rules_dir(
        "- rule: Bash with arguments\n  desc: prints the agent-controlled argv\n  condition: evt.kind = exec and proc.name = bash\n  output: \"bash ran %proc.args\"\n  priority: NOTICE\n",
    );
    let forged = "x\n2026-12-01T00:00:00.000000Z ALERT Fake rule [critical] FORGED\u{1b}[2J\u{1b}]0;title\u{7}";
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("forged.agentlog");
    let live = agentmon()
        .arg("exec")
        .arg("--events")
        .arg("--rules")
        .arg(rules.path())
        .arg("--record")
        .arg(&log)
        .args(["--", "/bin/bash", "-c", "true", forged])
        .output()
        .unwrap();
    assert!(live.status.success(), "{}", String::from_utf8_lossy(&live.stderr));
    let replay = agentmon()
        .arg("replay")
        .arg("--rules")
        .arg(rules.path())
        .arg(&log)
        .output()
        .unwrap();
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let cat = agentmon().arg("log").arg("cat").arg(&log).output().unwrap();
    assert!(cat.status.success(), "{}", String::from_utf8_lossy(&cat.stderr));
    for (what, out) in [
        ("live stdout", &live.stdout),
        ("live stderr", &live.stderr),
        ("replay", &replay.stdout),
        ("log cat", &cat.stdout),
    ] {
        let text = String::from_utf8_lossy(out);
        assert!(
            !out.iter().any(|&b| b == 0x1b || b == 0x07),
            "{what}: a raw ESC or BEL reached the output:\n{text}"
        );
        assert!(
            !text.lines().any(|l| l.starts_with("2026-12-01T00:00:00.000000Z ALERT")),
            "{what}: a forged line:\n{text}"
        );
    }
    // The alert and the event are there, with the text escaped.
    let text = String::from_utf8_lossy(&live.stdout);
    assert!(text.contains("bash ran"), "{text}");
    assert!(
        text.contains(r"x\n2026-12-01T00:00:00.000000Z ALERT Fake rule"),
        "{text}"
    );
    assert!(text.contains(r"\x1b[2J"), "{text}");
    assert!(String::from_utf8_lossy(&replay.stdout).contains(r"x\n2026-12-01"));
    assert!(String::from_utf8_lossy(&cat.stdout).contains(r"x\n2026-12-01"));
}

/// Unchecked inputs and loose files, with the real binary: an endless config, a rule bomb and a
/// non-UTF-8 rule file end in a clear error (a reader without its limits would never end, or
/// would name no limit); `--output-file` does not follow a symlink to
/// another user's file nor append to a file another user owns.
#[test]
fn bad_inputs_and_planted_files_are_refused_at_once() {
    let out = agentmon().args(["run", "--config", "/dev/zero"]).output().unwrap();
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let err = one_line(&out.stderr);
    assert!(
        err.contains("/dev/zero") && err.contains("the limit for a config file"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut bomb = String::from("- list: l0\n  items: [a, b]\n");
    for i in 1..24 {
        write!(bomb, "- list: l{i}\n  items: [l{p}, l{p}]\n", p = i - 1).unwrap();
    }
    bomb.push_str("- rule: r\n  desc: t\n  condition: proc.name in (l23)\n  output: x\n  priority: NOTICE\n");
    std::fs::write(dir.path().join("bomb.yaml"), &bomb).unwrap();
    let mut latin1 = b"- rule: caf".to_vec();
    latin1.push(0xe9);
    latin1.extend_from_slice(b"\n  condition: evt.kind = exec\n");
    let out = agentmon().args(["rules", "check"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "an error, not a crash: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bomb.yaml:33:3: list `l16` is too large"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("latin1.yaml"), &latin1).unwrap();
    let out = agentmon().args(["rules", "check"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("latin1.yaml:1:12: invalid UTF-8"), "{err}");

    // An alerts file planted by another user (nobody), directly or through a symlink.
    let files = tempfile::tempdir().unwrap();
    std::fs::set_permissions(files.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let theirs = files.path().join("theirs");
    std::fs::write(&theirs, "keep\n").unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let link = files.path().join("alerts.jsonl");
    std::os::unix::fs::symlink(&theirs, &link).unwrap();
    let cg = TestCgroup::new("outfile");
    for (path, why) in [(&link, "symbolic link"), (&theirs, "belongs to uid 65534")] {
        let out = agentmon()
            .args(["run", "--metrics-addr", "off", "--cgroup"])
            .arg(&cg.path)
            .arg("--output-file")
            .arg(path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125), "{out:?}");
        let err = one_line(&out.stderr);
        assert!(err.contains(why), "{}: {err}", path.display());
    }
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "keep\n");
}
