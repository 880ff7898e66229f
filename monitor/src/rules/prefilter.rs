//! Cheap necessary conditions, to skip most rules without evaluating them.
//!
//! An event's [`Facts`] are a few yes/no properties read once per event (an open's read, write and
//! create flags). A specialised condition's [`need`] is the set of facts that hold whenever the
//! condition does, so a rule whose need the event's facts do not cover cannot match: on a stream of
//! opens for reading, every rule that starts with `file.write` costs one bit test.
use super::{
    cond::{Cond, Pred},
    fields::{Field, FieldType, bool_value},
};
use crate::output::Enriched;

/// A set of facts about one event (each boolean field true, or false).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts(u8);

/// The boolean fields facts are kept for, each with two bits: true, false.
const BOOL_FIELDS: [Field; 3] = [Field::FileRead, Field::FileWrite, Field::FileCreate];

impl Facts {
    pub const NONE: Facts = Facts(0);

    /// The event's facts.
    pub fn of(ev: &Enriched) -> Facts {
        BOOL_FIELDS
            .iter()
            .enumerate()
            .fold(Facts::NONE, |f, (i, field)| match bool_value(*field, ev) {
                Some(b) => f.union(Facts(1 << (2 * i + usize::from(!b)))),
                None => f,
            })
    }

    /// The fact that `field` has the value `value` (none for a field facts are not kept for).
    fn bool_field(field: Field, value: bool) -> Facts {
        match BOOL_FIELDS.iter().position(|f| *f == field) {
            Some(i) => Facts(1 << (2 * i + usize::from(!value))),
            None => Facts::NONE,
        }
    }

    pub fn union(self, o: Facts) -> Facts {
        Facts(self.0 | o.0)
    }

    pub fn intersection(self, o: Facts) -> Facts {
        Facts(self.0 & o.0)
    }

    /// Whether every fact of `need` is among these.
    pub fn covers(self, need: Facts) -> bool {
        need.0 & !self.0 == 0
    }
}

/// Facts that hold whenever `c` does (sound, not complete: `not`, and tests of other fields, need
/// nothing).
pub fn need(c: &Cond) -> Facts {
    match c {
        // A boolean test is true when the field is present and equals `want` (`!=`: the other value).
        Cond::Test(t) => match t.pred {
            Pred::Bool(want) if t.ty == FieldType::Bool => Facts::bool_field(t.field, want != t.negate),
            _ => Facts::NONE,
        },
        Cond::And(parts) => parts.iter().fold(Facts::NONE, |f, p| f.union(need(p))),
        Cond::Or(parts) => parts
            .iter()
            .map(need)
            .reduce(Facts::intersection)
            .unwrap_or(Facts::NONE),
        Cond::Const(_) | Cond::Not(_) | Cond::Kind(_) => Facts::NONE,
    }
}

/// A condition specialised for one event kind, with the facts it needs.
#[derive(Clone, Debug, PartialEq)]
pub struct KindCond {
    pub cond: Cond,
    pub need: Facts,
}

impl KindCond {
    pub fn new(cond: Cond) -> Self {
        let need = need(&cond);
        Self { cond, need }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::{
        event::{Body, ExecInfo, OpenInfo},
        output::Enriched,
        rules::{RuleSet, eval::EventView, eval::eval, fields::KINDS, rule::Matcher, tests::enriched},
    };

    /// Opens with every combination of access mode and `O_CREAT`, and an exec.
    fn events() -> Vec<Enriched> {
        let mut out = Vec::new();
        for mode in [libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR] {
            for create in [0, libc::O_CREAT] {
                let body = Body::Open(OpenInfo {
                    path: "/x".into(),
                    flags: (mode | create) as u32,
                    mode: 0,
                    dfd: -100,
                    syscall: "openat",
                });
                out.push(enriched(body, "a", "/bin/a", 1));
            }
        }
        let body = Body::Exec(ExecInfo {
            filename: "/bin/a".into(),
            argv: vec!["a".into()],
            argv_truncated: false,
        });
        out.push(enriched(body, "a", "/bin/a", 1));
        out
    }

    /// Conditions over the boolean fields, `evt.kind` and another field.
    fn condition() -> impl Strategy<Value = String> {
        let leaf = prop::sample::select(vec![
            "file.write",
            "file.read",
            "file.create",
            "file.write = false",
            "file.read != true",
            "file.create != false",
            "evt.kind = open",
            "evt.kind = exec",
            "proc.name = a",
            "proc.name = b",
        ])
        .prop_map(String::from);
        leaf.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        })
    }

    fn load(text: &str) -> Option<RuleSet> {
        RuleSet::from_sources(&[("r.yaml".into(), text.into())]).ok()
    }

    proptest! {
        /// Whenever a condition holds, the event has the facts it needs; whenever a step of a
        /// sequence matches, the event has the facts the sequence needs.
        #[test]
        fn conditions_hold_only_with_the_facts_they_need(a in condition(), b in condition()) {
            let events = events();
            if let Some(set) = load(&format!("- rule: r\n  condition: {a}\n")) {
                let Matcher::Condition(by_kind) = &set.rules[0].matcher else { panic!("a condition") };
                for ev in &events {
                    let v = EventView::new(ev, &[]);
                    for k in KINDS {
                        if let Some(c) = &by_kind[k as usize] && eval(&c.cond, &v) {
                            prop_assert!(v.facts.covers(c.need), "{a}: {:?} lacks {:?}", v.facts, c.need);
                        }
                    }
                }
            }
            let seq = format!("- rule: s\n  sequence:\n    - condition: {a}\n    - condition: {b}\n  within: 1s\n");
            if let Some(set) = load(&seq) {
                let Matcher::Sequence(s) = &set.rules[0].matcher else { panic!("a sequence") };
                for ev in &events {
                    let v = EventView::new(ev, &[]);
                    for k in KINDS {
                        let any_step = s.steps.iter().any(|st| st.by_kind[k as usize].as_ref().is_some_and(|c| eval(&c.cond, &v)));
                        if any_step {
                            prop_assert!(v.facts.covers(s.need(k)), "{a}; {b}: {:?} lacks {:?}", v.facts, s.need(k));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn reads_and_writes_have_their_facts() {
        let events = events();
        let set = load("- rule: w\n  condition: file.write and not file.read\n").expect("loads");
        let Matcher::Condition(by_kind) = &set.rules[0].matcher else {
            panic!("a condition")
        };
        let need = by_kind[1].as_ref().map(|c| c.need).expect("applies to opens");
        let covered: Vec<bool> = events
            .iter()
            .map(|e| EventView::new(e, &[]).facts.covers(need))
            .collect();
        // O_WRONLY and O_RDWR, with and without O_CREAT; not O_RDONLY, not an exec.
        assert_eq!(covered, [false, false, true, true, true, true, false]);
    }
}
