//! Every rule's string tests on one field, answered together by one pass over the field's value.
//!
//! Rules test the same few fields (`file.path`, `proc.exe`, `proc.name`, …) again and again: on an
//! open, each candidate rule used to run its own globs and prefix lists over the path. Here every
//! test of the set on a field is a bit of that field's group, and the group's patterns are merged
//! across tests: one table of exact values, one trie of prefixes, one of suffixes (walked from the
//! end), one Aho-Corasick automaton of substrings, and the rare general globs one by one. The first
//! test of an event on a field computes every bit of its group; the other tests read theirs. A test
//! whose value lists are very large, or whose predicate is not a string match, is left to
//! [`super::eval`], unchanged.
//!
//! The answer is the predicate's own (`negate` and a missing field are applied by the caller), so
//! the bits say exactly what `str_pred` would: the property test below checks that.
use std::{cell::Cell, collections::HashMap};

use aho_corasick::AhoCorasick;

use super::{
    cond::{Cond, Pred, Test},
    fields::{Field, FieldType},
    pattern::GlobPart,
};
use crate::FastHash;

/// Where a test's answer is kept: its field's group and its bit there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slot {
    pub group: u16,
    pub bit: u16,
}

/// Patterns a single test may bring and still be indexed (a 90 000-item list stays a direct test:
/// its trie would cost far more memory than its scan costs time).
const MAX_PATTERNS_PER_TEST: usize = 4096;

/// The groups of a rule set, one per field that string tests read.
#[derive(Debug, Default)]
pub(super) struct FieldIndex {
    groups: Vec<Group>,
    /// Words of answers over all groups (the memo's size).
    words: usize,
}

#[derive(Debug)]
struct Group {
    field: Field,
    /// The group's first word in the memo, and how many it has.
    word: usize,
    /// The predicates of the group's tests, by bit.
    preds: Vec<Pred>,
    /// Bits by a hash of their predicate, to give equal tests one bit without comparing each new
    /// test with every earlier one (a rule directory may hold hundreds of thousands of tests).
    by_hash: HashMap<u64, Vec<u16>, FastHash>,
    exact: HashMap<Box<str>, Vec<u16>, FastHash>,
    prefixes: Trie,
    /// Suffixes, reversed.
    suffixes: Trie,
    /// Substrings: the automaton and, per pattern, the bits it sets.
    contains: Option<(AhoCorasick, Vec<Vec<u16>>)>,
    /// The substrings and their bits while the group is built (the automaton is made from them).
    contains_patterns: HashMap<Box<str>, Vec<u16>, FastHash>,
    /// Globs of no simple shape, each with the longest literal it requires (searched first).
    general: Vec<(Option<memchr::memmem::Finder<'static>>, super::pattern::FlatGlob, u16)>,
}

/// A byte trie; node 0 is the root. A node's hits are the bits whose pattern ends there. Built
/// node by node, then [`Trie::freeze`]s into flat arrays: a walk reads one node record and one
/// run of edge bytes per step, neighbours in memory, instead of chasing two heap pointers.
#[derive(Debug, Default)]
struct Trie {
    building: Vec<Node>,
    nodes: Vec<FlatNode>,
    /// Every node's edges, each node's a contiguous run sorted by byte: the bytes, and the nodes
    /// they lead to.
    edge_bytes: Vec<u8>,
    edge_targets: Vec<u32>,
    hits: Vec<u16>,
}

#[derive(Debug, Default)]
struct Node {
    /// Sorted by byte.
    edges: Vec<(u8, u32)>,
    hits: Vec<u16>,
}

#[derive(Clone, Copy, Debug)]
struct FlatNode {
    edges: u32,
    edge_count: u16,
    hit_count: u16,
    hits: u32,
}

impl Trie {
    fn insert(&mut self, bytes: impl Iterator<Item = u8>, bit: u16) {
        if self.building.is_empty() {
            self.building.push(Node::default());
        }
        let mut at = 0usize;
        for b in bytes {
            at = match self.building[at].edges.binary_search_by_key(&b, |e| e.0) {
                Ok(i) => self.building[at].edges[i].1 as usize,
                Err(i) => {
                    let next = self.building.len();
                    self.building.push(Node::default());
                    self.building[at].edges.insert(i, (b, next as u32));
                    next
                }
            };
        }
        add_bit(&mut self.building[at].hits, bit);
    }

    /// Moves the built nodes into the flat arrays walks read (a node has at most 256 edges and a
    /// group at most `u16::MAX` bits, so the counts fit).
    fn freeze(&mut self) {
        for node in std::mem::take(&mut self.building) {
            self.nodes.push(FlatNode {
                edges: self.edge_bytes.len() as u32,
                edge_count: node.edges.len() as u16,
                hit_count: node.hits.len() as u16,
                hits: self.hits.len() as u32,
            });
            for (b, to) in node.edges {
                self.edge_bytes.push(b);
                self.edge_targets.push(to);
            }
            self.hits.extend(node.hits);
        }
    }

    /// Calls `hit` with the bits of every pattern that `bytes` starts with.
    fn walk(&self, bytes: impl Iterator<Item = u8>, mut hit: impl FnMut(u16)) {
        let Some(mut node) = self.nodes.first().copied() else {
            return;
        };
        let mut hits_of = |n: FlatNode| {
            let at = n.hits as usize;
            for &b in &self.hits[at..at + usize::from(n.hit_count)] {
                hit(b);
            }
        };
        hits_of(node);
        for b in bytes {
            let at = node.edges as usize;
            let run = &self.edge_bytes[at..at + usize::from(node.edge_count)];
            let Some(i) = run.iter().position(|&e| e == b) else {
                return;
            };
            node = self.nodes[self.edge_targets[at + i] as usize];
            hits_of(node);
        }
    }
}

/// Adds `bit` to a pattern's bits unless a test already put it there.
fn add_bit(bits: &mut Vec<u16>, bit: u16) {
    if !bits.contains(&bit) {
        bits.push(bit);
    }
}

/// What the answers are kept in between events (owned by the rule set, reused).
#[derive(Debug, Default)]
pub(super) struct MemoStore {
    words: Vec<u64>,
    state: Vec<u8>,
    /// Per group: whether its words were computed for some value yet, and that value (apart: a
    /// `(bool, String)` moved in and out of its `Cell` stalled the load on the stores).
    known: Vec<bool>,
    last: Vec<String>,
}

/// One event's answers: words of bits and, per group, whether they are computed yet.
pub(super) struct Memo<'a> {
    words: &'a [Cell<u64>],
    /// Per group: 0 not computed for this event, 1 the event has no such field, 2 computed.
    state: &'a [Cell<u8>],
    known: &'a [Cell<bool>],
    last: &'a [Cell<String>],
}

impl<'a> Memo<'a> {
    /// This event's memo over the store, every group not yet computed. The words and the value
    /// they were computed for stay: an event whose field has the value of the last event that had
    /// it (the same process's exe, a storm on one path) reuses its answers after one comparison.
    pub(super) fn new(store: &'a mut MemoStore, index: &FieldIndex) -> Self {
        store.words.resize(index.words, 0);
        store.known.resize(index.groups.len(), false);
        store.last.resize_with(index.groups.len(), Default::default);
        store.state.clear();
        store.state.resize(index.groups.len(), 0);
        Memo {
            words: Cell::from_mut(&mut store.words[..]).as_slice_of_cells(),
            state: Cell::from_mut(&mut store.state[..]).as_slice_of_cells(),
            known: Cell::from_mut(&mut store.known[..]).as_slice_of_cells(),
            last: Cell::from_mut(&mut store.last[..]).as_slice_of_cells(),
        }
    }
}

/// Whether `t` can be answered by an index: a string match on a one-string field, with lists of a
/// sensible size.
fn indexable(t: &Test) -> bool {
    if !matches!(t.ty, FieldType::Str | FieldType::Addr) || t.field == Field::ProcArgs {
        return false;
    }
    match &t.pred {
        Pred::Eq(v) | Pred::Prefix(v) | Pred::Suffix(v) | Pred::Contains(v) => v.len() <= MAX_PATTERNS_PER_TEST,
        Pred::Glob(set) => set.parts().count() <= MAX_PATTERNS_PER_TEST,
        _ => false,
    }
}

impl FieldIndex {
    /// Gives every indexable test among `conds` its slot, and builds the groups.
    pub(super) fn build(conds: Vec<&mut Cond>) -> FieldIndex {
        let mut index = FieldIndex::default();
        for c in conds {
            c.for_each_test_mut(&mut |t| {
                if indexable(t) {
                    t.slot = index.add(t.field, &t.pred);
                }
            });
        }
        let mut word = 0;
        for g in &mut index.groups {
            g.word = word;
            word += g.preds.len().div_ceil(64);
            g.finish();
        }
        index.words = word;
        index
    }

    /// The slot of `pred` on `field`, new or shared with an equal test (`None` once the field's
    /// group has as many bits as a slot can name: the test is then evaluated on its own).
    fn add(&mut self, field: Field, pred: &Pred) -> Option<Slot> {
        let group = match self.groups.iter().position(|g| g.field == field) {
            Some(i) => i,
            None => {
                self.groups.push(Group::new(field));
                self.groups.len() - 1
            }
        };
        let g = &mut self.groups[group];
        let key = pred_hash(pred);
        let same = g.by_hash.get(&key).and_then(|bits| {
            bits.iter()
                .copied()
                .find(|&b| same_pred(&g.preds[usize::from(b)], pred))
        });
        let bit = match same {
            Some(b) => b,
            None => {
                let b = u16::try_from(g.preds.len()).ok().filter(|b| *b < u16::MAX)?;
                g.preds.push(pred.clone());
                g.by_hash.entry(key).or_default().push(b);
                g.add(pred, b);
                b
            }
        };
        Some(Slot {
            group: u16::try_from(group).ok()?,
            bit,
        })
    }

    /// The predicate's result at `slot` for this event (`None`: the event lacks the field), the
    /// field's group computed on first use from `value`.
    pub(super) fn answer<'v>(
        &self,
        memo: &Memo<'_>,
        slot: Slot,
        value: impl FnOnce() -> Option<&'v str>,
    ) -> Option<bool> {
        let g = &self.groups[usize::from(slot.group)];
        self.compute(memo, slot.group, value).then(|| {
            let bit = usize::from(slot.bit);
            memo.words[g.word + bit / 64].get() & (1 << (bit % 64)) != 0
        })
    }

    /// Calls `hit` with every bit of `group` whose predicate holds for this event (none when the
    /// event lacks the field), the group computed on first use from `value` of its field.
    pub(super) fn for_each_true<'v>(
        &self,
        memo: &Memo<'_>,
        group: u16,
        value: impl FnOnce(Field) -> Option<&'v str>,
        mut hit: impl FnMut(u16),
    ) {
        let g = &self.groups[usize::from(group)];
        if !self.compute(memo, group, || value(g.field)) {
            return;
        }
        let words = &memo.words[g.word..g.word + g.preds.len().div_ceil(64)];
        for (w, word) in (0u16..).zip(words) {
            let mut bits = word.get();
            while bits != 0 {
                // At most u16::MAX bits per group (see `add`): the sum fits.
                hit(w * 64 + bits.trailing_zeros() as u16);
                bits &= bits - 1;
            }
        }
    }

    /// Computes group `gi`'s words for this event unless done; whether the event has the field.
    fn compute<'v>(&self, memo: &Memo<'_>, gi: u16, value: impl FnOnce() -> Option<&'v str>) -> bool {
        let gi = usize::from(gi);
        let g = &self.groups[gi];
        let state = &memo.state[gi];
        if state.get() == 0 {
            match value() {
                Some(s) => {
                    let mut last = memo.last[gi].take();
                    if !memo.known[gi].replace(true) || last != s {
                        g.scan(s, &memo.words[g.word..g.word + g.preds.len().div_ceil(64)]);
                        last.clear();
                        last.push_str(s);
                    }
                    memo.last[gi].set(last);
                    state.set(2);
                }
                None => state.set(1),
            }
        }
        state.get() == 2
    }

    /// Distinct tests with a slot, over all groups.
    #[cfg(test)]
    pub(super) fn indexed(&self) -> usize {
        self.groups.iter().map(|g| g.preds.len()).sum()
    }
}

/// A hash of an indexable predicate's kind and values (equal predicates hash alike).
fn pred_hash(pred: &Pred) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    // A fixed seed: every call must hash equal predicates alike.
    let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
    std::mem::discriminant(pred).hash(&mut h);
    match pred {
        Pred::Eq(v) | Pred::Prefix(v) | Pred::Suffix(v) | Pred::Contains(v) => v.hash(&mut h),
        Pred::Glob(set) => set.hash(&mut h),
        _ => {}
    }
    h.finish()
}

/// Predicates equal for the index's purpose (shared value lists compare by pointer first).
fn same_pred(a: &Pred, b: &Pred) -> bool {
    match (a, b) {
        (Pred::Eq(x), Pred::Eq(y))
        | (Pred::Prefix(x), Pred::Prefix(y))
        | (Pred::Suffix(x), Pred::Suffix(y))
        | (Pred::Contains(x), Pred::Contains(y)) => std::sync::Arc::ptr_eq(x, y) || x == y,
        (Pred::Glob(x), Pred::Glob(y)) => std::sync::Arc::ptr_eq(x, y) || x == y,
        _ => false,
    }
}

impl Group {
    fn new(field: Field) -> Self {
        Group {
            field,
            word: 0,
            preds: Vec::new(),
            by_hash: HashMap::default(),
            exact: HashMap::default(),
            prefixes: Trie::default(),
            suffixes: Trie::default(),
            contains: None,
            contains_patterns: HashMap::default(),
            general: Vec::new(),
        }
    }

    fn add(&mut self, pred: &Pred, bit: u16) {
        match pred {
            Pred::Eq(vals) => vals.iter().for_each(|v| self.exact_(v, bit)),
            Pred::Prefix(vals) => vals.iter().for_each(|v| self.prefixes.insert(v.bytes(), bit)),
            Pred::Suffix(vals) => vals.iter().for_each(|v| self.suffixes.insert(v.bytes().rev(), bit)),
            Pred::Contains(vals) => vals.iter().for_each(|v| self.contains_(v, bit)),
            Pred::Glob(set) => {
                for part in set.parts() {
                    match part {
                        GlobPart::Exact(v) => self.exact_(v, bit),
                        GlobPart::Prefix(v) => self.prefixes.insert(v.bytes(), bit),
                        GlobPart::Suffix(v) => self.suffixes.insert(v.bytes().rev(), bit),
                        GlobPart::Contains(v) => self.contains_(v, bit),
                        GlobPart::General(g) => self.general.push((g.required_literal(), g.clone(), bit)),
                    }
                }
            }
            _ => {}
        }
    }

    fn exact_(&mut self, v: &str, bit: u16) {
        add_bit(self.exact.entry(v.into()).or_default(), bit);
    }

    fn contains_(&mut self, v: &str, bit: u16) {
        // An empty substring is in every string: the same as an empty prefix.
        if v.is_empty() {
            return self.prefixes.insert(std::iter::empty(), bit);
        }
        add_bit(self.contains_patterns.entry(v.into()).or_default(), bit);
    }

    /// Builds the substring automaton once every test is in. Should building fail (only for
    /// enormous pattern sets), the substrings become general globs `*lit*`.
    fn finish(&mut self) {
        self.prefixes.freeze();
        self.suffixes.freeze();
        if self.contains_patterns.is_empty() {
            return;
        }
        let patterns: Vec<(Box<str>, Vec<u16>)> = std::mem::take(&mut self.contains_patterns).into_iter().collect();
        match AhoCorasick::new(patterns.iter().map(|(p, _)| &**p)) {
            Ok(ac) => self.contains = Some((ac, patterns.into_iter().map(|(_, bits)| bits).collect())),
            Err(_) => {
                for (p, bits) in patterns {
                    let glob = super::pattern::FlatGlob::new(&format!("*{p}*"));
                    let finder = Some(memchr::memmem::Finder::new(p.as_bytes()).into_owned());
                    self.general
                        .extend(bits.into_iter().map(|b| (finder.clone(), glob.clone(), b)));
                }
            }
        }
    }

    /// Sets the bit of every test of the group that `s` satisfies (and clears the others).
    fn scan(&self, s: &str, words: &[Cell<u64>]) {
        for w in words {
            w.set(0);
        }
        let set = |bit: u16| {
            let w = &words[usize::from(bit) / 64];
            w.set(w.get() | 1 << (bit % 64));
        };
        let is_set = |bit: u16| words[usize::from(bit) / 64].get() & (1 << (bit % 64)) != 0;
        for &b in self.exact.get(s).into_iter().flatten() {
            set(b);
        }
        self.prefixes.walk(s.bytes(), &set);
        self.suffixes.walk(s.bytes().rev(), &set);
        if let Some((ac, bits)) = &self.contains {
            for m in ac.find_overlapping_iter(s) {
                bits[m.pattern().as_usize()].iter().for_each(|&b| set(b));
            }
        }
        let b = s.as_bytes();
        for (required, glob, bit) in &self.general {
            if !is_set(*bit) && required.as_ref().is_none_or(|f| f.find(b).is_some()) && glob.matches(s) {
                set(*bit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::rules::{
        error::{Loc, TextId},
        eval::str_pred,
        pattern::{FlatGlob, GlobSet},
    };

    fn test(pred: Pred) -> Cond {
        Cond::Test(Test {
            field: Field::FilePath,
            ty: FieldType::Str,
            pred,
            negate: false,
            loc: Loc {
                text: TextId(0),
                offset: 0,
            },
            slot: None,
        })
    }

    fn strings(v: &[String]) -> Arc<[String]> {
        v.iter().cloned().collect()
    }

    /// Pieces that paths and patterns are made of, so that matches are frequent.
    fn piece() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "/", "etc", ".ssh", "/home/", "a", "*", "?", "x.py", "é", "id_rsa", "",
        ])
        .prop_map(str::to_string)
    }

    fn word() -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..5).prop_map(|v| v.concat())
    }

    fn preds() -> impl Strategy<Value = Vec<Pred>> {
        let list = || prop::collection::vec(word().prop_map(|w| w.replace(['*', '?'], "")), 0..4);
        let pred = prop_oneof![
            list().prop_map(|v| Pred::Eq(strings(&v))),
            list().prop_map(|v| Pred::Prefix(strings(&v))),
            list().prop_map(|v| Pred::Suffix(strings(&v))),
            list().prop_map(|v| Pred::Contains(strings(&v))),
            prop::collection::vec(word(), 0..4)
                .prop_map(|v| Pred::Glob(Arc::new(GlobSet::new(v.iter().map(|g| FlatGlob::new(g)).collect())))),
        ];
        prop::collection::vec(pred, 1..8)
    }

    proptest! {
        /// Each test's bit is what evaluating the test alone says, for every string.
        #[test]
        fn the_index_answers_as_each_test_does(preds in preds(), texts in prop::collection::vec(word(), 1..6)) {
            let mut conds: Vec<Cond> = preds.iter().cloned().map(test).collect();
            let index = FieldIndex::build(conds.iter_mut().collect());
            prop_assert_eq!(index.indexed() <= preds.len(), true);
            let mut store = MemoStore::default();
            for text in &texts {
                let memo = Memo::new(&mut store, &index);
                for c in &conds {
                    let Cond::Test(t) = c else { unreachable!() };
                    let slot = t.slot.expect("every string test is indexed");
                    let got = index.answer(&memo, slot, || Some(text.as_str()));
                    prop_assert_eq!(got, Some(str_pred(&t.pred, text, &[])), "{:?} on {:?}", t.pred, text);
                }
            }
        }
    }

    #[test]
    fn equal_tests_share_a_bit_and_others_do_not() {
        let list = |v: &[&str]| Pred::Prefix(v.iter().map(ToString::to_string).collect());
        let glob = |v: &[&str]| Pred::Glob(Arc::new(GlobSet::new(v.iter().map(|g| FlatGlob::new(g)).collect())));
        // Equal values in separate allocations, as two rules naming the same list get them.
        let mut conds = [
            test(list(&["/etc/", "/root/"])),
            test(glob(&["*.pem", "/etc/*"])),
            test(list(&["/etc/", "/root/"])),
            test(list(&["/etc/"])),
            test(glob(&["*.pem", "/etc/*"])),
            test(Pred::Suffix(["/etc/".to_string()].into_iter().collect())),
        ];
        let index = FieldIndex::build(conds.iter_mut().collect());
        let slot = |i: usize| match &conds[i] {
            Cond::Test(t) => t.slot.expect("indexed"),
            _ => unreachable!(),
        };
        assert_eq!(slot(0), slot(2));
        assert_eq!(slot(1), slot(4));
        assert_ne!(slot(0), slot(3));
        assert_ne!(
            slot(3),
            slot(5),
            "a prefix and a suffix of the same text are different tests"
        );
        assert_eq!(index.indexed(), 4);
    }

    #[test]
    fn a_missing_field_answers_none_and_large_lists_stay_direct() {
        let big: Vec<String> = (0..=MAX_PATTERNS_PER_TEST).map(|i| format!("/p{i}")).collect();
        let mut conds = [
            test(Pred::Prefix(strings(&big))),
            test(Pred::Eq(strings(&["/x".into()]))),
        ];
        let index = FieldIndex::build(conds.iter_mut().collect());
        let slots: Vec<Option<Slot>> = conds
            .iter()
            .map(|c| match c {
                Cond::Test(t) => t.slot,
                _ => None,
            })
            .collect();
        assert_eq!(slots[0], None, "a list over the limit is not indexed");
        let mut store = MemoStore::default();
        let memo = Memo::new(&mut store, &index);
        let slot = slots[1].expect("indexed");
        assert_eq!(index.answer(&memo, slot, || None), None);
        // Computed once per event: a later value is not looked at.
        assert_eq!(index.answer(&memo, slot, || Some("/x")), None);
        // The next events: a value, the same again (reused), another, and the first again.
        for (text, want) in [("/x", true), ("/x", true), ("/y", false), ("/x", true)] {
            let memo = Memo::new(&mut store, &index);
            assert_eq!(index.answer(&memo, slot, || Some(text)), Some(want), "{text}");
        }
    }
}
