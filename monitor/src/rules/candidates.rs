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
