//! Scope by lineage: a process of a watched agent that leaves the agent's cgroup — writing its pid
//! into another cgroup's `cgroup.procs`, being moved there by an unwatched helper, or being born
//! there with `clone3(CLONE_INTO_CGROUP)` — is reported (`cgroup_move`) and stays watched, its
//! children too, its events still named for the agent; a process that was never the agent's, in
//! the same destination cgroup, stays unwatched.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{path::Path, time::Duration};

use agentmon_e2e::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(10);

/// Existing marker files (opens of names that do not exist are searches, not events).
struct Markers(tempfile::TempDir);

impl Markers {
    fn new() -> Self {
        Self(scratch_dir("agentmon-vis-scope-"))
    }
    fn get(&self, tag: &str) -> String {
        let p = self.0.path().join(tag);
        std::fs::write(&p, "").unwrap();
        p.display().to_string()
    }
}

/// A cgroup's path as the kernel names it: relative to the cgroup2 root.
fn kernel_name(cg: &Path) -> String {
    format!("/{}", cg.strip_prefix(cgroup_root()).unwrap().display())
}

fn open_of(m: &Monitor, path: &str) -> Value {
    m.wait_event(WAIT, |e| e["kind"] == "open" && e["path"] == path)
        .unwrap_or_else(|| panic!("no open of {path}; stderr: {}", m.stderr()))
}

#[test]
fn a_process_that_moves_itself_out_stays_watched_with_its_children() {
    let watched = TestCgroup::new("hop-watched");
    let elsewhere = TestCgroup::new("hop-elsewhere");
    let files = Markers::new();
    let (before, own, child, exec, unwatched) = (
        files.get("before"),
        files.get("own-open"),
        files.get("child-open"),
        files.get("exec-open"),
        files.get("unwatched"),
    );
    let m = Monitor::start(&["--cgroup", watched.path.to_str().unwrap()]);
    // The shell opens a file itself after the move (a redirection), forks a child, then execs.
    let script = format!(
        "cat {before} >/dev/null; echo $$ > {procs}; read x < {own}; cat {child} >/dev/null; \
         sleep 3 & exec /bin/cat {exec}",
        procs = elsewhere.path.join("cgroup.procs").display(),
    );
    let mut agent = command_in(&watched.path, "/bin/sh", &["-c", &script]).spawn().unwrap();
    let shell = agent.id();
    let first = open_of(&m, &before);
    let name = first["agent"].as_str().unwrap().to_string();
    assert!(!name.is_empty(), "{first}");

    let mv = m
        .wait_event(WAIT, |e| e["kind"] == "cgroup_move" && e["moved_pid"] == shell)
        .unwrap_or_else(|| panic!("no cgroup_move of {shell}; stderr: {}", m.stderr()));
    assert_eq!(mv["left_scope"], true, "{mv}");
    assert_eq!(mv["was_watched"], true);
    assert_eq!(mv["dest"], kernel_name(&elsewhere.path).as_str());
    assert_eq!(mv["dest_id"], elsewhere.id());
    assert_eq!(mv["agent"], name.as_str(), "the move itself is the agent's");

    let o = open_of(&m, &own);
    assert_eq!(o["pid"], shell, "the shell's own open, after the move");
    assert_eq!(o["cgroup_id"], elsewhere.id(), "it is in the other cgroup");
    assert_eq!(o["agent"], name.as_str(), "still named for the agent");
    assert_eq!(o["cgroup"], kernel_name(&elsewhere.path).as_str());
    let c = open_of(&m, &child);
    assert_ne!(c["pid"], shell, "a child forked after the move");
    assert_eq!(c["agent"], name.as_str());
    let x = m
        .wait_event(WAIT, |e| e["kind"] == "exec" && e["pid"] == shell)
        .unwrap_or_else(|| panic!("no exec of the escaped shell; stderr: {}", m.stderr()));
    assert_eq!(x["agent"], name.as_str());
    assert_eq!(open_of(&m, &exec)["agent"], name.as_str());

    // A process that was never the agent's, in the same cgroup, while the agent's sleeper lives.
    assert!(run_in(&elsewhere.path, "/bin/cat", &[&unwatched]).success());
    assert!(agent.wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    let (events, _) = m.stop();
    assert!(
        find(&events, |e| e["path"] == unwatched.as_str()).is_none(),
        "an unwatched process in the destination produced an event"
    );
}

#[test]
fn a_process_moved_out_by_an_unwatched_helper_stays_watched() {
    let watched = TestCgroup::new("hop-moved");
    let elsewhere = TestCgroup::new("hop-moved-to");
    let files = Markers::new();
    let (before, after) = (files.get("before"), files.get("after"));
    let m = Monitor::start(&["--cgroup", watched.path.to_str().unwrap()]);
    // The agent never writes a cgroup file itself: something outside it does (here, the test).
    let script = format!("cat {before} >/dev/null; sleep 2; cat {after} >/dev/null");
    let mut agent = command_in(&watched.path, "/bin/sh", &["-c", &script]).spawn().unwrap();
    let pid = agent.id();
    let name = open_of(&m, &before)["agent"].as_str().unwrap().to_string();
    std::fs::write(elsewhere.path.join("cgroup.procs"), pid.to_string()).unwrap();
    let mv = m
        .wait_event(WAIT, |e| e["kind"] == "cgroup_move" && e["moved_pid"] == pid)
        .unwrap_or_else(|| panic!("no cgroup_move of {pid}; stderr: {}", m.stderr()));
    assert_eq!(mv["by_watched"], false, "the mover was not watched: {mv}");
    assert_eq!(mv["left_scope"], true);
    assert_eq!(mv["agent"], name.as_str());
    let a = open_of(&m, &after);
    assert_eq!(a["agent"], name.as_str());
    assert_eq!(a["cgroup_id"], elsewhere.id());
    assert!(agent.wait().unwrap().success());
}

#[test]
fn a_child_born_in_another_cgroup_stays_watched() {
    let watched = TestCgroup::new("hop-born");
    let elsewhere = TestCgroup::new("hop-born-in");
    let files = Markers::new();
    let (before, born) = (files.get("before"), files.get("born"));
    let m = Monitor::start(&["--cgroup", watched.path.to_str().unwrap()]);
    // clone3(CLONE_INTO_CGROUP): the child starts in the other cgroup; no cgroup file is written.
    let py = format!(
        r#"import ctypes, os, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
open("{before}").close()
cg = os.open("{dest}", os.O_RDONLY | os.O_DIRECTORY)
CLONE_INTO_CGROUP, SIGCHLD = 0x200000000, 17
args = ctypes.create_string_buffer(struct.pack("11Q", CLONE_INTO_CGROUP, 0, 0, 0, SIGCHLD, 0, 0, 0, 0, 0, cg), 88)
pid = libc.syscall(435, args, 88)
if pid == 0:
    os.execv("/bin/cat", ["cat", "{born}"])
assert pid > 0, ctypes.get_errno()
print(pid, flush=True)
_, status = os.waitpid(pid, 0)
assert status == 0, status
"#,
        dest = elsewhere.path.display()
    );
    let out = command_in(&watched.path, "/usr/bin/python3", &["-c", &py])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let child: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let name = open_of(&m, &before)["agent"].as_str().unwrap().to_string();
    let mv = m
        .wait_event(WAIT, |e| e["kind"] == "cgroup_move" && e["moved_pid"] == child)
        .unwrap_or_else(|| panic!("no cgroup_move of {child}; stderr: {}", m.stderr()));
    assert_eq!(mv["at_fork"], true, "{mv}");
    assert_eq!(mv["left_scope"], true);
    assert_eq!(mv["dest_id"], elsewhere.id());
    let b = open_of(&m, &born);
    assert_eq!(b["pid"], child);
    assert_eq!(b["agent"], name.as_str());
    assert_eq!(b["cgroup_id"], elsewhere.id());
}

#[test]
fn moves_inside_the_agents_cgroup_are_events_but_not_escapes() {
    let watched = TestCgroup::new("hop-inner");
    let inner = watched.child("inner");
    let files = Markers::new();
    let after = files.get("after");
    let m = Monitor::start(&["--cgroup", watched.path.to_str().unwrap()]);
    let script = format!(
        "echo $$ > {}; cat {after} >/dev/null",
        inner.join("cgroup.procs").display()
    );
    let mut agent = command_in(&watched.path, "/bin/sh", &["-c", &script]).spawn().unwrap();
    let pid = agent.id();
    let mv = m
        .wait_event(WAIT, |e| e["kind"] == "cgroup_move" && e["moved_pid"] == pid)
        .unwrap_or_else(|| panic!("no cgroup_move of {pid}; stderr: {}", m.stderr()));
    assert_eq!(mv["left_scope"], false, "{mv}");
    assert_eq!(mv["dest"], kernel_name(&inner).as_str());
    assert_eq!(open_of(&m, &after)["cgroup_id"], cgroup_id(&inner));
    assert!(agent.wait().unwrap().success());
}

#[test]
fn killing_the_agent_also_kills_its_processes_that_left_the_cgroup() {
    let watched = TestCgroup::new("hop-kill");
    let elsewhere = TestCgroup::new("hop-kill-to");
    let files = Markers::new();
    let trigger = files.get("trigger");
    let pidfile = files.0.path().join("sleeper.pid");
    let rules = rules_dir(&format!(
        "- rule: Kill on trigger\n  desc: test\n  condition: evt.kind = open and file.path = {trigger}\n  output: trigger\n  priority: CRITICAL\n  action: kill\n"
    ));
    let m = Monitor::start(&[
        "--rules",
        rules.path().to_str().unwrap(),
        "--cgroup",
        watched.path.to_str().unwrap(),
    ]);
    // The escaped shell leaves a sleeper behind (in the other cgroup), then trips the rule.
    let script = format!(
        "echo $$ > {procs}; sleep 60 & echo $! > {pidfile}; sleep 0.3; cat {trigger} >/dev/null; sleep 60",
        procs = elsewhere.path.join("cgroup.procs").display(),
        pidfile = pidfile.display(),
    );
    let mut agent = command_in(&watched.path, "/bin/sh", &["-c", &script]).spawn().unwrap();
    m.wait_event(WAIT, |e| e["rule"] == "Kill on trigger")
        .unwrap_or_else(|| panic!("no alert; stderr: {}", m.stderr()));
    let sleeper: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    // SAFETY: kill(pid, 0) only probes for the process.
    let gone = wait_for(WAIT, || unsafe { libc::kill(sleeper, 0) } != 0);
    assert!(gone, "the escaped sleeper {sleeper} survived the kill of its agent");
    let status = agent.wait().unwrap();
    assert!(!status.success(), "the escaped shell was killed too: {status:?}");
}
