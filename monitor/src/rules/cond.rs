//! The compiled condition tree: typed tests with parsed values, and its specialisation per event
//! kind (what evaluation runs).
use std::{net::IpAddr, sync::Arc};

use super::{
    error::Loc,
    field_index::Slot,
    fields::{Field, FieldType, Kind, KindSet, kinds_of, rule_kinds},
    parser::Op,
    pattern::{Cidr, GlobSet},
};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Cond {
    Const(bool),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// `evt.kind` tests; gone after [`specialize`].
    Kind(KindSet),
    Test(Test),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Test {
    pub field: Field,
    /// The field's type, kept here so evaluation needs no catalogue lookup.
    pub ty: FieldType,
    pub pred: Pred,
    /// `!=`: true when the field is present and the predicate fails. A test on a field the event
    /// does not carry is false either way.
    pub negate: bool,
    /// Where the test is written (for deny-compile errors).
    pub loc: Loc,
    /// Where [`super::field_index`] keeps this test's answer (`None`: evaluated on its own).
    pub slot: Option<Slot>,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Pred {
    /// Equal to any of these. (The value sets are shared, not copied, by the per-kind copies of a
    /// condition: a 90 000-item list costs its memory once, not once per event kind.)
    Eq(Arc<[String]>),
    Prefix(Arc<[String]>),
    Suffix(Arc<[String]>),
    Contains(Arc<[String]>),
    Glob(Arc<GlobSet>),
    /// `net.addr` equal to any of these addresses (compared as addresses).
    AddrEq(Arc<[IpAddr]>),
    Cidr(Arc<[Cidr]>),
    NumCmp(Op, u64),
    NumIn(Arc<[u64]>),
    Bool(bool),
    Exists,
    /// Equal to (`prefix: false`) or under (`prefix: true`) one of the agent's protected paths.
    Protected {
        prefix: bool,
    },
}

impl Cond {
    /// Calls `f` on every test of the tree.
    pub(super) fn for_each_test_mut(&mut self, f: &mut impl FnMut(&mut Test)) {
        match self {
            Cond::Test(t) => f(t),
            Cond::And(parts) | Cond::Or(parts) => parts.iter_mut().for_each(|p| p.for_each_test_mut(f)),
            Cond::Not(inner) => inner.for_each_test_mut(f),
            Cond::Const(_) | Cond::Kind(_) => {}
        }
    }
}

/// `!=`: every test negated (De Morgan over an OR of tests).
pub(super) fn negated(c: Cond) -> Cond {
    match c {
        Cond::Test(mut t) => {
            t.negate = !t.negate;
            Cond::Test(t)
        }
        Cond::Or(parts) => Cond::And(parts.into_iter().map(negated).collect()),
        other => Cond::Not(Box::new(other)),
    }
}

/// The condition as it stands for one event kind: `evt.kind` tests and fields the kind lacks become
/// constants, and constants are folded away.
pub(super) fn specialize(c: &Cond, k: Kind) -> Cond {
    fold(c, &|leaf| match leaf {
        Cond::Kind(set) => Some(set.contains(k)),
        Cond::Test(t) if !kinds_of(t.field).contains(k) => Some(false),
        _ => None,
    })
}

/// `c` with the tests and `evt.kind` tests `known` decides replaced by their value, and constants
/// folded away.
pub(super) fn fold(c: &Cond, known: &impl Fn(&Cond) -> Option<bool>) -> Cond {
    match c {
        Cond::Const(b) => Cond::Const(*b),
        Cond::Kind(_) | Cond::Test(_) => known(c).map_or_else(|| c.clone(), Cond::Const),
        Cond::Not(inner) => match fold(inner, known) {
            Cond::Const(b) => Cond::Const(!b),
            other => Cond::Not(Box::new(other)),
        },
        Cond::And(parts) | Cond::Or(parts) => {
            let is_and = matches!(c, Cond::And(_));
            let mut kept = Vec::new();
            for p in parts {
                match fold(p, known) {
                    Cond::Const(b) if b == is_and => {}
                    Cond::Const(b) => return Cond::Const(b),
                    other => kept.push(other),
                }
            }
            match kept.len() {
                0 => Cond::Const(is_and),
                1 => kept.remove(0),
                _ if is_and => Cond::And(kept),
                _ => Cond::Or(kept),
            }
        }
    }
}

/// Kinds for which the condition is not always false.
pub(super) fn applicable_kinds(c: &Cond) -> KindSet {
    rule_kinds()
        .filter(|k| specialize(c, *k) != Cond::Const(false))
        .fold(KindSet::NONE, |s, k| s.union(KindSet::of(k)))
}
