//! Cheap necessary conditions, to skip most rules without evaluating them.
//!
//! An event's [`Facts`] are a few yes/no properties read once per event (an open's read, write and
//! create flags). A specialised condition's [`need`] is the set of facts that hold whenever the
//! condition does, so a rule whose need the event's facts do not cover cannot match: on a stream of
//! opens for reading, every rule that starts with `file.write` costs one bit test.
use super::{
    cond::{Cond, Pred, fold},
    eval::{EventView, eval},
    fields::{Field, FieldType, bool_value},
};
use crate::enrich::Enriched;

/// A set of facts about one event (each boolean field true, or false).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Facts(u8);

/// The boolean fields facts are kept for, each with two bits: true, false.
const BOOL_FIELDS: [Field; 3] = [Field::FileRead, Field::FileWrite, Field::FileCreate];

impl Facts {
    pub(super) const NONE: Facts = Facts(0);

    /// The event's facts.
    pub(super) fn of(ev: &Enriched) -> Facts {
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

    pub(super) fn union(self, o: Facts) -> Facts {
        Facts(self.0 | o.0)
    }

    pub(super) fn intersection(self, o: Facts) -> Facts {
        Facts(self.0 & o.0)
    }

    /// Whether every fact of `need` is among these.
    pub(super) fn covers(self, need: Facts) -> bool {
        need.0 & !self.0 == 0
    }
}

/// Facts that hold whenever `c` does (sound, not complete: `not`, and tests of other fields, need
/// nothing).
pub(super) fn need(c: &Cond) -> Facts {
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

/// A condition specialised for one event kind, with the facts it needs. It is evaluated only on
/// events that have them ([`KindCond::matches`]), so the boolean tests of those facts are taken out
/// of it (`file.read and file.path glob ...` becomes the glob test).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct KindCond {
    /// Without the tests of `need`: true alone does not mean a match.
    cond: Cond,
    pub need: Facts,
}

impl KindCond {
    pub(super) fn new(cond: Cond) -> Self {
        let need = need(&cond);
        let known = |leaf: &Cond| {
            let fact = self::need(leaf);
            (fact != Facts::NONE && need.covers(fact)).then_some(true)
        };
        Self {
            cond: fold(&cond, &known),
            need,
        }
    }

    /// The condition left to evaluate (what [`super::candidates`] keys the rule by).
    pub(super) fn cond(&self) -> &Cond {
        &self.cond
    }

    /// The condition left to evaluate (for [`super::field_index`] to give its tests their slots).
    pub(super) fn cond_mut(&mut self) -> &mut Cond {
        &mut self.cond
    }

    /// Whether the event matches: it has the facts needed, and the rest of the condition holds.
    pub(super) fn matches(&self, v: &EventView<'_>) -> bool {
        v.facts.covers(self.need) && eval(&self.cond, v)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::{
        enrich::{Enriched, synthetic},
        event::Body,
        rules::{
            RuleSet,
            eval::EventView,
            fields::Kind,
            rule::Matcher,
            tests::{Ast, condition, enriched, fired},
        },
    };

    /// Opens with every combination of access mode and `O_CREAT`, and an exec; all by `a`.
    fn events() -> Vec<Enriched> {
        let mut out = Vec::new();
        for mode in [libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR] {
            for create in [0, libc::O_CREAT] {
                out.push(enriched(synthetic::open("/x", mode | create), "a", "/bin/a", 1));
            }
        }
        out.push(enriched(synthetic::exec("/bin/a", vec!["a".into()]), "a", "/bin/a", 1));
        out
    }

    /// Tests on the boolean fields, `evt.kind` and another field.
    const LEAVES: [&str; 10] = [
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
    ];

    /// Whether the condition holds on `ev`, the reference: as documented, a test of a field the
    /// event lacks is false, `!=` included.
    fn holds(a: &Ast, ev: &Enriched) -> bool {
        let open = match &ev.event.body {
            Body::Open(o) => Some((o.writes(), o.flags & 3 != libc::O_WRONLY as u32, o.creates())),
            _ => None,
        };
        match a {
            Ast::Leaf(i) => match (*i, open) {
                (0, Some((w, _, _))) => w,
                (1, Some((_, r, _))) => r,
                (2 | 5, Some((_, _, c))) => c,
                (3, Some((w, _, _))) => !w,
                (4, Some((_, r, _))) => !r,
                (6, _) => open.is_some(),
                (7, _) => open.is_none(),
                (8, _) => true,
                _ => false,
            },
            Ast::And(a, b) => holds(a, ev) && holds(b, ev),
            Ast::Or(a, b) => holds(a, ev) || holds(b, ev),
            Ast::Not(a) => !holds(a, ev),
        }
    }

    fn load(text: &str) -> Option<RuleSet> {
        RuleSet::from_sources(&[("r.yaml".into(), text.into())]).ok()
    }

    proptest! {
        /// A rule fires exactly when its condition holds, although conditions are skipped on
        /// events without the facts they need and their tests of those facts are taken out.
        #[test]
        fn rules_fire_as_their_conditions_say(a in condition(LEAVES.len())) {
            let events = events();
            let text = format!("- rule: r\n  condition: {}\n", a.text(&LEAVES));
            match load(&text) {
                // A test no kind of the rule carries is refused too (`rules check` reports it).
                None if RuleSet::from_sources(&[("r.yaml".into(), text)]).is_err_and(|e| e.to_string().contains("can never be true")) => {}
                Some(mut set) => {
                    for ev in &events {
                        prop_assert_eq!(!fired(&mut set, ev).is_empty(), holds(&a, ev), "{} on {:?}", a.text(&LEAVES), ev.event.body);
                    }
                }
                // Only a condition that no event can satisfy is refused.
                None => prop_assert!(events.iter().all(|ev| !holds(&a, ev)), "{} refused", a.text(&LEAVES)),
            }
        }

        /// An event that matches a step of a sequence has the facts the sequence needs.
        #[test]
        fn sequences_need_only_what_every_step_needs(a in condition(LEAVES.len()), b in condition(LEAVES.len())) {
            let text = format!("- rule: s\n  sequence:\n    - condition: {}\n    - condition: {}\n  within: 1s\n", a.text(&LEAVES), b.text(&LEAVES));
            if let Some(set) = load(&text) {
                let Matcher::Sequence(s) = &set.rules[0].matcher else { panic!("a sequence") };
                for ev in &events() {
                    let (Some(k), facts) = (crate::rules::fields::kind_of(&ev.event.body), EventView::new(ev, &[]).facts) else { continue };
                    if holds(&a, ev) || holds(&b, ev) {
                        prop_assert!(facts.covers(s.need(k)), "{}; {}: {:?} lacks {:?}", a.text(&LEAVES), b.text(&LEAVES), facts, s.need(k));
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
        let need = by_kind.get(Kind::Open).map(|c| c.need).expect("applies to opens");
        let covered: Vec<bool> = events
            .iter()
            .map(|e| EventView::new(e, &[]).facts.covers(need))
            .collect();
        // O_WRONLY and O_RDWR, with and without O_CREAT; not O_RDONLY, not an exec.
        assert_eq!(covered, [false, false, true, true, true, true, false]);
    }
}
