//! The pipeline's event handling with an in-memory printer: what is printed, what reaches the rules,
//! and the order alerts leave in while a kill is under way. No kernel: events are made by hand
//! (`enrich::synthetic`), agents are cgroup ids registered in the index.
use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{Filter, Pipeline};
use crate::{
    enrich::{CgroupIndex, synthetic},
    event::{Body, Event},
    outputs::Printer,
    rules::RuleSet,
};

/// What the printer wrote, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    fn rules_fired(&self) -> Vec<String> {
        self.lines()
            .iter()
            .filter_map(|l| l["rule"].as_str().map(String::from))
            .collect()
    }
}

const RULES: &str = "
- rule: Kill on trigger
  desc: t
  condition: evt.kind = exec and proc.exe = /x/trigger
  output: trigger
  priority: CRITICAL
  action: kill
- rule: Secret read
  desc: t
  condition: evt.kind = open and file.path = /x/secret
  output: secret %proc.pid
  priority: WARNING
";

/// A pipeline printing JSON to memory, with [`RULES`] and two agents: `a` (cgroup id 11) and `b`
/// (12), whose cgroups do not exist, so a kill of either is over at once.
fn pipeline(filter: Filter) -> (Pipeline, Captured) {
    let out = Captured::default();
    let index = CgroupIndex::of_test_agents(&[(11, "a"), (12, "b")]);
    let mut p = Pipeline::new(index, Printer::new(true, Box::new(out.clone())), filter);
    p.set_rules(Some(RuleSet::from_sources(&[("t.yaml".into(), RULES.into())]).unwrap()));
    (p, out)
}

fn event_of(cgroup_id: u64, pid: u32, t: u64, body: Body) -> Event {
    let who = synthetic::Process {
        pid,
        cgroup_id,
        ..Default::default()
    };
    who.event(t, body).event
}

fn exec(cgroup_id: u64, pid: u32, t: u64, path: &str) -> Event {
    event_of(cgroup_id, pid, t, synthetic::exec(path, vec![path.into()]))
}

fn open(cgroup_id: u64, pid: u32, t: u64, path: &str) -> Event {
    event_of(cgroup_id, pid, t, synthetic::open(path, libc::O_RDONLY))
}

/// Runs finished actions into the pipeline until none is pending (or 5 s pass).
fn settle(p: &mut Pipeline) {
    let mut done = p.take_completions().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while p.pending_actions() > 0 {
        assert!(Instant::now() < deadline, "actions still pending");
        match done.try_next() {
            Some(d) => p.action_done(d),
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

#[test]
fn a_matching_event_prints_its_alert_with_the_result_and_the_process_table_names_the_exe() {
    let (mut p, out) = pipeline(Filter::default());
    p.handle_event(exec(11, 500, 1, "/usr/bin/cat"));
    p.handle_event(open(11, 500, 2, "/x/secret"));
    p.handle_event(open(11, 500, 3, "/x/other"));
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "only the alert is printed: {lines:?}");
    let a = &lines[0];
    assert_eq!(a["rule"], "Secret read");
    assert_eq!(a["action_result"], "alerted");
    assert_eq!(a["output"], "secret 500");
    assert_eq!(a["event"]["agent"], "a");
    assert_eq!(a["event"]["exe"], "/usr/bin/cat", "the exec taught the process table");
    assert_eq!(p.stats.alerts, 1);
    assert_eq!(p.stats.records, 0, "events handed over directly are not records");
}

#[test]
fn lifecycle_events_print_only_when_asked() {
    let fork = || event_of(11, 500, 1, synthetic::fork(501));
    let (mut quiet, out) = pipeline(Filter {
        events: true,
        lifecycle: false,
    });
    quiet.handle_event(fork());
    quiet.handle_event(open(11, 501, 2, "/x/other"));
    let kinds: Vec<_> = out.lines().iter().map(|l| l["kind"].clone()).collect();
    assert_eq!(kinds, ["open"]);

    let (mut all, out) = pipeline(Filter {
        events: true,
        lifecycle: true,
    });
    all.handle_event(fork());
    let kinds: Vec<_> = out.lines().iter().map(|l| l["kind"].clone()).collect();
    assert_eq!(kinds, ["fork"]);
}

#[test]
fn an_undecodable_record_is_counted_and_prints_nothing() {
    let (mut p, out) = pipeline(Filter {
        events: true,
        lifecycle: true,
    });
    p.handle_record(&[1, 2, 3]);
    assert_eq!((p.stats.records, p.stats.decode_errors), (1, 1));
    assert!(out.lines().is_empty());
}

#[test]
fn a_kill_holds_back_only_its_own_agents_later_alerts_and_they_leave_in_order() {
    let (mut p, out) = pipeline(Filter {
        events: true,
        lifecycle: false,
    });
    p.handle_event(exec(11, 500, 1, "/x/trigger"));
    p.handle_event(open(11, 500, 2, "/x/secret"));
    p.handle_event(open(12, 600, 3, "/x/secret"));
    // Agent a's kill is running (or done but not yet handed back): its alerts wait, its events and
    // agent b's alert do not.
    let before = out.lines();
    let fired: Vec<_> = before.iter().filter_map(|l| l["rule"].as_str()).collect();
    assert_eq!(fired, ["Secret read"]);
    assert_eq!(
        before.iter().find(|l| l["rule"].is_string()).unwrap()["event"]["agent"],
        "b"
    );
    assert_eq!(
        before.iter().filter(|l| l["kind"].is_string()).count(),
        3,
        "every event printed at once"
    );
    assert_eq!(p.pending_actions(), 2);

    settle(&mut p);
    assert_eq!(
        out.rules_fired(),
        ["Secret read", "Kill on trigger", "Secret read"],
        "b's alert, then a's in their order"
    );
    let kill = out
        .lines()
        .into_iter()
        .find(|l| l["rule"] == "Kill on trigger")
        .unwrap();
    assert_eq!(
        kill["action_result"], "killed 0 process(es) in /a",
        "the cgroup does not exist: {kill}"
    );
    assert!(kill["action_latency_us"].is_u64());
}
