//! Sequence matching: unit tests, and the indexed implementation checked against the linear
//! [`Reference`] model on random event streams.
use proptest::prelude::*;

use super::{
    MAX_PARTIALS, Partials, SLACK, Sequence,
    reference::{Reference, Snapshot},
};
use crate::{
    enrich::{Enriched, synthetic},
    event::Family,
    rules::{
        RuleSet,
        eval::EventView,
        rule::Matcher,
        tests::{self, FETCH_WRITE_EXEC, exec},
    },
};

impl Sequence {
    /// The partial matches held, in the form of [`Reference::snapshot`]; also checks the
    /// bookkeeping.
    fn snapshot(&self) -> Snapshot {
        let mut out: Snapshot = self
            .agents
            .iter()
            .map(|(agent, st)| {
                st.check();
                let held = st
                    .order
                    .iter()
                    .filter(|r| Partials::live(&st.waiting, r))
                    .map(|r| (r.next, r.key.to_string(), st.waiting[r.next][&r.key].started_ns))
                    .collect();
                (agent.clone(), held)
            })
            .collect();
        out.sort();
        out
    }
}

impl Partials {
    fn check(&self) {
        let held: usize = self.waiting.iter().map(std::collections::HashMap::len).sum();
        assert_eq!(held, self.len);
        assert!(self.len > 0, "an agent without partial matches is dropped");
        assert!(self.waiting[0].is_empty(), "nothing waits for the first step");
        let live = |r: &&super::Ref| Partials::live(&self.waiting, r);
        assert_eq!(self.order.iter().filter(live).count(), self.len);
        assert_eq!(self.expiry.iter().map(|r| &r.0.1).filter(live).count(), self.len);
        assert!(self.order.len() <= 2 * self.len + SLACK);
        assert!(self.expiry.len() <= 2 * self.len + SLACK);
    }
}

fn compile(text: &str) -> Sequence {
    let mut set = match RuleSet::from_sources(&[("r.yaml".into(), text.into())]) {
        Ok(s) => s,
        Err(e) => panic!("rules failed to load:\n{e}"),
    };
    let Matcher::Sequence(s) = set.rules.remove(0).matcher else {
        panic!("not a sequence rule")
    };
    s
}

fn observe(seq: &mut Sequence, ev: &Enriched) -> bool {
    let kind = crate::rules::fields::kind_of(&ev.event.body).expect("an event kind rules apply to");
    seq.observe(kind, &EventView::new(ev, &[]))
}

fn open(path: &str, write: bool, t: u64) -> Enriched {
    tests::open(path, if write { libc::O_WRONLY } else { libc::O_RDONLY }, t)
}

fn connect(addr: &str, t: u64) -> Enriched {
    tests::connect(Family::Inet, addr, 443, t)
}

const WRITE_EXEC: &str = "
- rule: write then exec
  sequence:
    - condition: evt.kind = open and file.write
    - condition: evt.kind = exec
      same: [file.path]
  within: 10s
";

fn held(seq: &Sequence) -> Vec<(usize, String, u64)> {
    seq.snapshot().into_iter().flat_map(|(_, h)| h).collect()
}

fn entry(next: usize, key: &str, started: u64) -> (usize, String, u64) {
    (next, key.to_string(), started)
}

#[test]
fn expired_partial_matches_never_match_and_are_freed() {
    let mut seq = compile(WRITE_EXEC);
    seq.within_ns = 10;
    observe(&mut seq, &open("/a", true, 100));
    assert!(
        observe(&mut seq, &exec("/a", &[], 110)),
        "exactly the window still matches"
    );
    observe(&mut seq, &open("/a", true, 100));
    observe(&mut seq, &open("/b", true, 105));
    assert_eq!(seq.pending(), 2);
    assert!(!observe(&mut seq, &exec("/a", &[], 111)), "one past the window");
    assert_eq!(held(&seq), [entry(1, "/b", 105)], "the expired one is freed");
    assert!(observe(&mut seq, &exec("/b", &[], 115)));
    assert!(seq.agents.is_empty(), "an agent without partial matches is dropped");
    // An event with an earlier timestamp is within the window.
    observe(&mut seq, &open("/c", true, 200));
    assert!(observe(&mut seq, &exec("/c", &[], 150)));
    // The agent's next event that matches a step frees all its expired partial matches; an event
    // that matches no step does not look at the state at all.
    for i in 0..100 {
        observe(&mut seq, &open(&format!("/f{i}"), true, 300 + i % 5));
    }
    assert_eq!(seq.pending(), 100);
    observe(&mut seq, &connect("1.2.3.4", 315));
    assert_eq!(seq.pending(), 100);
    observe(&mut seq, &exec("/none", &[], 316));
    assert_eq!(seq.pending(), 0);
    assert!(seq.agents.is_empty());
}

#[test]
fn a_three_step_sequence_branches_and_keeps_the_start_time() {
    let mut seq = compile(FETCH_WRITE_EXEC);
    observe(&mut seq, &connect("1.2.3.4", 1));
    observe(&mut seq, &open("/a", true, 2));
    observe(&mut seq, &open("/b", true, 3));
    assert_eq!(
        held(&seq),
        [entry(1, "", 1), entry(2, "/a", 1), entry(2, "/b", 1)],
        "the connect stays, each write branches off it"
    );
    // A second connect replaces the first (same step, same values) and restarts the clock.
    observe(&mut seq, &connect("5.6.7.8", 4));
    observe(&mut seq, &open("/c", true, 5));
    assert_eq!(
        held(&seq),
        [entry(2, "/a", 1), entry(2, "/b", 1), entry(1, "", 4), entry(2, "/c", 4)]
    );
    assert!(observe(&mut seq, &exec("/b", &[], 6)));
    assert!(!observe(&mut seq, &exec("/b", &[], 7)), "consumed");
    assert!(observe(&mut seq, &exec("/a", &[], 8)));
    assert!(!observe(&mut seq, &exec("/d", &[], 9)), "never written");
    assert_eq!(held(&seq), [entry(1, "", 4), entry(2, "/c", 4)]);
    // Writing /c again replaces its partial match and moves it to the back.
    observe(&mut seq, &open("/c", true, 10));
    observe(&mut seq, &open("/e", true, 11));
    assert_eq!(held(&seq), [entry(1, "", 4), entry(2, "/c", 4), entry(2, "/e", 4)]);
}

#[test]
fn the_cap_drops_the_oldest_inserted_first() {
    let mut seq = compile(WRITE_EXEC);
    seq.cap = 3;
    observe(&mut seq, &open("/a", true, 1));
    observe(&mut seq, &open("/b", true, 2));
    observe(&mut seq, &open("/c", true, 3));
    // Rewriting /b replaces its partial match (rather than dropping the oldest, /a) and makes it
    // the newest.
    observe(&mut seq, &open("/b", true, 4));
    assert_eq!(held(&seq), [entry(1, "/a", 1), entry(1, "/c", 3), entry(1, "/b", 4)]);
    observe(&mut seq, &open("/d", true, 5));
    assert_eq!(held(&seq), [entry(1, "/c", 3), entry(1, "/b", 4), entry(1, "/d", 5)]);
    assert!(!observe(&mut seq, &exec("/a", &[], 6)), "dropped");
    assert!(observe(&mut seq, &exec("/c", &[], 7)));
    assert_eq!(held(&seq), [entry(1, "/b", 4), entry(1, "/d", 5)]);
    // Removed and replaced partial matches are not dropped again: the next at the cap goes.
    observe(&mut seq, &open("/e", true, 8));
    observe(&mut seq, &open("/f", true, 9));
    assert_eq!(held(&seq), [entry(1, "/d", 5), entry(1, "/e", 8), entry(1, "/f", 9)]);
    // The default cap.
    let mut seq = compile(WRITE_EXEC);
    for i in 0..(MAX_PARTIALS as u64 + 10) {
        observe(&mut seq, &open(&format!("/f{i}"), true, i));
    }
    assert_eq!(seq.pending(), MAX_PARTIALS);
    assert_eq!(held(&seq)[0], entry(1, "/f10", 10));
}

#[test]
fn completion_consumes_the_partial_match() {
    let mut seq = compile(WRITE_EXEC);
    observe(&mut seq, &open("/a", true, 1));
    observe(&mut seq, &open("/b", true, 2));
    assert!(observe(&mut seq, &exec("/a", &[], 3)));
    assert_eq!(held(&seq), [entry(1, "/b", 2)]);
    assert!(!observe(&mut seq, &exec("/a", &[], 4)));
    assert!(observe(&mut seq, &exec("/b", &[], 5)));
    assert_eq!(seq.pending(), 0);
    assert!(seq.agents.is_empty());
    // Agents are separate.
    observe(&mut seq, &open("/a", true, 6));
    let mut other = exec("/a", &[], 7);
    other.agent = "other".into();
    assert!(!observe(&mut seq, &other));
    seq.forget("bot");
    assert!(!observe(&mut seq, &exec("/a", &[], 8)), "forgotten");
}

#[test]
fn an_event_does_not_advance_what_it_created_or_advanced() {
    let mut seq = compile(
        "
- rule: three opens
  sequence:
    - condition: evt.kind = open
    - condition: evt.kind = open
      same: [file.path]
    - condition: evt.kind = open
      same: [file.path]
  within: 1m
",
    );
    assert!(!observe(&mut seq, &open("/a", false, 1)));
    assert_eq!(held(&seq), [entry(1, "/a", 1)]);
    assert!(!observe(&mut seq, &open("/a", false, 2)), "advanced, not completed");
    assert_eq!(held(&seq), [entry(2, "/a", 1), entry(1, "/a", 2)]);
    assert!(observe(&mut seq, &open("/a", false, 3)));
    assert_eq!(held(&seq), [entry(2, "/a", 2), entry(1, "/a", 3)]);
    assert!(!observe(&mut seq, &open("/b", false, 4)));
    assert!(observe(&mut seq, &open("/a", false, 5)));
}

#[test]
fn several_same_fields_and_non_string_fields_key_partial_matches() {
    let mut seq = compile(
        "
- rule: keyed
  sequence:
    - condition: evt.kind = exec
    - condition: evt.kind = exec
      same: [proc.args, proc.pid, file.path]
    - condition: evt.kind in (exec, connect)
      same: [file.path, proc.argv]
  within: 1m
",
    );
    observe(&mut seq, &exec("/bin/a", &["a", "b c"], 1));
    assert_eq!(held(&seq), [entry(1, "5:a b c3:1006:/bin/a", 1)]);
    assert!(
        !observe(&mut seq, &exec("/bin/a", &["a b", "c"], 2)),
        "same proc.args: advances"
    );
    assert_eq!(
        held(&seq),
        [entry(2, "6:/bin/a5:a b c", 1), entry(1, "5:a b c3:1006:/bin/a", 2)]
    );
    // A connect has neither file.path nor proc.argv: it compares empty values.
    assert!(!observe(&mut seq, &connect("1.2.3.4", 3)));
    // proc.argv compares as rendered (joined with spaces); proc.pid differs, so step 2 does not
    // match, step 3 does.
    let mut e = exec("/bin/a", &["a", "b c"], 4);
    e.event.header.pid = 7;
    assert!(observe(&mut seq, &e));
    assert_eq!(
        held(&seq),
        [entry(1, "5:a b c3:1006:/bin/a", 2), entry(1, "5:a b c1:76:/bin/a", 4)]
    );
}

#[test]
fn same_values_are_the_rendered_values() {
    let mut unresolved = open("/raw", false, 1);
    unresolved.resolved_path = None;
    let events = [
        open("/a", true, 1),
        unresolved,
        exec("/bin/a", &["a", "b c"], 1),
        exec("/bin/a", &[], 1),
        connect("1.2.3.4", 1),
        tests::enriched(synthetic::mount("none", "/mnt", "proc"), "mount", "/usr/bin/mount", 1),
    ];
    for ev in &events {
        let v = EventView::new(ev, &[]);
        for f in crate::rules::fields::CATALOGUE {
            assert_eq!(
                super::same_value(f.field, &v),
                crate::rules::fields::render(f.field, ev),
                "{} of {:?}",
                f.name,
                ev.event.body
            );
        }
    }
}

#[test]
fn a_replaced_partial_match_does_not_grow_the_queues() {
    let mut seq = compile(WRITE_EXEC);
    for i in 0..10_000 {
        observe(&mut seq, &open("/a", true, i));
        observe(&mut seq, &open(&format!("/b{}", i % 3), true, i));
    }
    assert_eq!(seq.pending(), 4);
    let st = &seq.agents["bot"];
    st.check();
    assert!(st.order.len() <= 2 * 4 + SLACK);
}

// Random event streams for the model check: a few agents, paths, names and argv so that values
// repeat, times that mostly advance and sometimes go back.
#[derive(Clone, Debug)]
struct Op {
    agent: u8,
    /// 0 open for write, 1 open for read, 2 exec, 3 connect, 4 the agent is forgotten.
    what: u8,
    path: u8,
    resolved: bool,
    pid: u32,
    argv: u8,
    dt: i64,
}

fn op() -> impl Strategy<Value = Op> {
    (0..3u8, 0..5u8, 0..3u8, any::<bool>(), 1..3u32, 0..3u8, -2..6i64).prop_map(
        |(agent, what, path, resolved, pid, argv, dt)| Op {
            agent,
            what,
            path,
            resolved,
            pid,
            argv,
            dt,
        },
    )
}

fn event(op: &Op, t: u64) -> Enriched {
    let path = ["/x", "/y", "/z"][op.path as usize];
    let argv: &[&str] = [&["a"][..], &["a", "b"], &["a b"]][op.argv as usize];
    let mut e = match op.what {
        0 | 1 => open(path, op.what == 0, t),
        2 => exec(path, argv, t),
        _ => connect(["1.1.1.1", "2.2.2.2", "::1"][op.path as usize], t),
    };
    if !op.resolved {
        e.resolved_path = None;
    } else if op.what < 2 && op.argv == 0 {
        e.resolved_path = Some("/resolved".into());
    }
    e.agent = ["a", "b", "c"][op.agent as usize].into();
    e.event.header.pid = op.pid;
    e
}

const MODEL_RULES: &[&str] = &[
    WRITE_EXEC,
    r#"
- rule: worm
  sequence:
    - condition: evt.kind = connect and net.addr != "::1"
    - condition: evt.kind = open and file.write
    - condition: evt.kind = exec
      same: [file.path]
    - condition: evt.kind = connect
  within: 1m
"#,
    "
- rule: opens
  sequence:
    - condition: evt.kind = open
    - condition: evt.kind = open
      same: [file.path]
    - condition: evt.kind in (open, exec)
      same: [file.raw_path, proc.name]
  within: 1m
",
    "
- rule: mixed
  sequence:
    - condition: evt.kind in (open, exec, connect)
    - condition: evt.kind in (exec, connect)
      same: [proc.args, proc.pid]
    - condition: evt.kind != open
      same: [proc.argv, file.path, net.addr]
    - condition: evt.kind in (open, exec)
      same: [file.write, proc.aexe]
  within: 1m
",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn matches_the_reference_model(
        ops in prop::collection::vec(op(), 0..200),
        within_ns in prop::sample::select(vec![0u64, 3, 10, 1_000]),
        cap in prop_oneof![1..6usize, Just(MAX_PARTIALS)],
    ) {
        for text in MODEL_RULES {
            let mut seq = compile(text);
            seq.within_ns = within_ns;
            seq.cap = cap;
            let mut model = Reference::new(within_ns, cap);
            let mut t: u64 = 100;
            for (i, op) in ops.iter().enumerate() {
                t = t.saturating_add_signed(op.dt);
                let ev = event(op, t);
                if op.what == 4 {
                    seq.forget(&ev.agent);
                    model.forget(&ev.agent);
                    continue;
                }
                let kind = crate::rules::fields::kind_of(&ev.event.body).expect("a rule event kind");
                let view = EventView::new(&ev, &[]);
                let fired = seq.observe(kind, &view);
                let want = model.observe(&seq.steps, kind, &view);
                prop_assert_eq!(fired, want, "event {} ({:?}) of rule {}", i, op, text);
                prop_assert_eq!(seq.pending(), model.pending());
                prop_assert_eq!(seq.snapshot(), model.snapshot(), "after event {} ({:?})", i, op);
            }
        }
    }
}
