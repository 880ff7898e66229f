//! In-kernel scoping: watched cgroups and their descendants produce events, other cgroups nothing.
use std::time::Duration;

use agentmon_e2e::*;

#[test]
fn nested_child_cgroup_is_watched_and_sibling_is_not() {
    let watched = TestCgroup::new("scope-watched");
    let sibling = TestCgroup::new("scope-sibling");
    let child = watched.child("inner");
    let grandchild = watched.child("inner/deeper");
    let m = Monitor::start(&["--cgroup", watched.path.to_str().unwrap()]);

    // Existing marker files (opens of names that do not exist are searches, not events).
    let files = tempfile::tempdir().unwrap();
    let marker = |tag: &str| {
        let p = files.path().join(format!("scope-{tag}"));
        std::fs::write(&p, "").unwrap();
        p.display().to_string()
    };
    let (in_child, in_grandchild, in_sibling, in_root) =
        (marker("child"), marker("grandchild"), marker("sibling"), marker("root"));
    // A cgroup created after the monitor started is covered too (grandchild was created before; make one now).
    let late = watched.child("late");
    let in_late = marker("late");

    assert!(run_in(&sibling.path, "/bin/cat", &[&in_sibling]).success());
    assert!(run_in(&child, "/bin/cat", &[&in_child]).success());
    assert!(run_in(&grandchild, "/bin/cat", &[&in_grandchild]).success());
    assert!(run_in(&late, "/bin/cat", &[&in_late]).success());
    assert!(run_in(&watched.path, "/bin/cat", &[&in_root]).success());

    for (path, cg) in [
        (&in_child, &child),
        (&in_grandchild, &grandchild),
        (&in_late, &late),
        (&in_root, &watched.path),
    ] {
        let ev = m
            .wait_event(Duration::from_secs(10), |e| {
                e["kind"] == "open" && e["path"] == path.as_str()
            })
            .unwrap_or_else(|| panic!("no open of {path} seen; stderr: {}", m.stderr()));
        assert_eq!(
            ev["cgroup_id"].as_u64().unwrap(),
            cgroup_id(cg),
            "event carries the leaf cgroup id"
        );
    }
    let (events, status) = m.stop();
    assert!(status.success(), "agentmon run exits 0 on SIGTERM");
    assert!(
        find(&events, |e| e["path"] == in_sibling.as_str()).is_none(),
        "the unwatched sibling cgroup produced an event"
    );
    let sibling_id = sibling.id();
    assert!(
        find(&events, |e| e["cgroup_id"] == sibling_id).is_none(),
        "no event at all from the sibling cgroup"
    );
}

#[test]
fn two_cgroups_are_watched_at_once_and_sigterm_exits_cleanly() {
    let a = TestCgroup::new("scope-a");
    let b = TestCgroup::new("scope-b");
    let m = Monitor::start(&[
        "--cgroup",
        a.path.to_str().unwrap(),
        "--cgroup",
        b.path.to_str().unwrap(),
    ]);
    let files = tempfile::tempdir().unwrap();
    let (pa, pb) = (
        files.path().join("two-a").display().to_string(),
        files.path().join("two-b").display().to_string(),
    );
    std::fs::write(&pa, "").unwrap();
    std::fs::write(&pb, "").unwrap();
    run_in(&a.path, "/bin/cat", &[&pa]);
    run_in(&b.path, "/bin/cat", &[&pb]);
    assert!(
        m.wait_event(Duration::from_secs(10), |e| e["path"] == pa.as_str())
            .is_some()
    );
    assert!(
        m.wait_event(Duration::from_secs(10), |e| e["path"] == pb.as_str())
            .is_some()
    );
    let (_, status) = m.stop();
    assert!(status.success());
}

#[test]
fn lost_events_are_counted_and_reported_never_silent() {
    let cg = TestCgroup::new("drops");
    // A one-page ring buffer holds about a dozen events: a burst of 20 000 opens must overflow it.
    let mut m = Monitor::start(&["--ringbuf-size", "4096", "--cgroup", cg.path.to_str().unwrap()]);
    let script = "i=0; while [ $i -lt 20000 ]; do true < /dev/null; i=$((i+1)); done";
    assert!(run_in(&cg.path, "/bin/sh", &["-c", script]).success());
    m.wait_stderr("events were lost", Duration::from_secs(10));
    let (events, status) = m.stop();
    assert!(status.success());
    let lost: u64 = events
        .iter()
        .filter(|e| e["kind"] == "drops")
        .map(|e| e["lost"].as_u64().unwrap())
        .sum();
    let last_total = events
        .iter()
        .filter(|e| e["kind"] == "drops")
        .filter_map(|e| e["total"].as_u64())
        .max()
        .unwrap_or(0);
    assert!(lost > 0, "no drops record in the JSON stream");
    assert_eq!(lost, last_total, "the per-notice counts add up to the running total");
    let opens = events
        .iter()
        .filter(|e| e["kind"] == "open" && e["path"] == "/dev/null")
        .count() as u64;
    assert!(
        opens + lost >= 20_000,
        "every open was either delivered or counted as lost: {opens} + {lost}"
    );
}
