//! Evaluating specialised conditions against one event. Nothing here allocates except the lazily
//! joined `proc.args`, built at most once per event and only when a rule reads it.
use std::{cell::OnceCell, net::IpAddr};

use super::{
    cond::{Cond, Pred, Test},
    field_index::{FieldIndex, Memo},
    fields::{Field, FieldType, any_value, bool_value, canonical_ip, num_value, str_value},
    parser::Op,
    prefilter::Facts,
};
use crate::{enrich::Enriched, event::Body};

/// One event plus values computed on first use.
pub(super) struct EventView<'a> {
    pub ev: &'a Enriched,
    /// The agent's protected paths.
    pub protected: &'a [String],
    /// The event's facts, to skip conditions that need others.
    pub facts: Facts,
    args: OnceCell<String>,
    ip: OnceCell<Option<IpAddr>>,
    /// The rule set's per-field answers (without: every test on its own, as the tests of parts do).
    index: Option<(&'a FieldIndex, &'a Memo<'a>)>,
}

impl<'a> EventView<'a> {
    pub(super) fn new(ev: &'a Enriched, protected: &'a [String]) -> Self {
        Self {
            ev,
            protected,
            facts: Facts::of(ev),
            args: OnceCell::new(),
            ip: OnceCell::new(),
            index: None,
        }
    }

    /// The same view, answering indexed tests from `index` (computed at most once per field).
    pub(super) fn with_index(mut self, index: &'a FieldIndex, memo: &'a Memo<'a>) -> Self {
        self.index = Some((index, memo));
        self
    }

    fn args(&self) -> &str {
        self.args.get_or_init(|| match &self.ev.event.body {
            Body::Exec(x) => x.argv.join(" "),
            _ => String::new(),
        })
    }

    /// An address field's value as an address (`None` for a unix socket path). `net.addr`, the
    /// usual one, is parsed once per event.
    fn ip(&self, field: Field) -> Option<IpAddr> {
        let parse = || {
            let text = self.ev.event.body.field(field)?.as_str()?;
            text.parse().ok().map(canonical_ip)
        };
        if field == Field::NetAddr {
            *self.ip.get_or_init(parse)
        } else {
            parse()
        }
    }

    pub(super) fn str_field(&self, field: Field) -> Option<&str> {
        if field == Field::ProcArgs {
            return matches!(self.ev.event.body, Body::Exec(_)).then(|| self.args());
        }
        str_value(field, self.ev)
    }
}

pub(super) fn eval(c: &Cond, v: &EventView<'_>) -> bool {
    match c {
        Cond::Const(b) => *b,
        Cond::And(parts) => parts.iter().all(|p| eval(p, v)),
        Cond::Or(parts) => parts.iter().any(|p| eval(p, v)),
        Cond::Not(inner) => !eval(inner, v),
        Cond::Kind(set) => super::fields::kind_of(&v.ev.event.body).is_some_and(|k| set.contains(k)),
        Cond::Test(t) => test(t, v),
    }
}

/// A test on a field the event does not carry is false, negated (`!=`) or not.
pub(super) fn test(t: &Test, v: &EventView<'_>) -> bool {
    match raw_test(t, v) {
        Some(r) => r != t.negate,
        None => false,
    }
}

/// The predicate's result, `None` when the event lacks the field.
fn raw_test(t: &Test, v: &EventView<'_>) -> Option<bool> {
    // Only string matches have slots: the field's group answers them.
    if let (Some(slot), Some((index, memo))) = (t.slot, v.index) {
        return index.answer(memo, slot, || v.str_field(t.field));
    }
    Some(match &t.pred {
        Pred::Bool(want) => bool_value(t.field, v.ev)? == *want,
        Pred::NumIn(nums) => nums.contains(&num_value(t.field, v.ev)?),
        Pred::NumCmp(op, rhs) => {
            let n = num_value(t.field, v.ev)?;
            match op {
                Op::Lt => n < *rhs,
                Op::Le => n <= *rhs,
                Op::Gt => n > *rhs,
                Op::Ge => n >= *rhs,
                _ => false,
            }
        }
        // Unix socket paths are not addresses: address tests are false for them.
        Pred::AddrEq(ips) => ips.contains(&v.ip(t.field)?),
        Pred::Cidr(nets) => {
            let ip = v.ip(t.field)?;
            nets.iter().any(|n| n.contains(ip))
        }
        Pred::Exists => match t.ty {
            FieldType::Num => num_value(t.field, v.ev).is_some(),
            FieldType::Bool => bool_value(t.field, v.ev).is_some(),
            FieldType::StrList => any_value(t.field, v.ev, |s| !s.is_empty()),
            _ => v.str_field(t.field).is_some_and(|s| !s.is_empty()),
        },
        pred => {
            let check = |s: &str| str_pred(pred, s, v.protected);
            if t.ty == FieldType::StrList {
                any_value(t.field, v.ev, check)
            } else {
                check(v.str_field(t.field)?)
            }
        }
    })
}

pub(super) fn str_pred(pred: &Pred, s: &str, protected: &[String]) -> bool {
    match pred {
        Pred::Eq(vals) => vals.iter().any(|x| x == s),
        Pred::Prefix(vals) => vals.iter().any(|x| s.starts_with(x.as_str())),
        Pred::Suffix(vals) => vals.iter().any(|x| s.ends_with(x.as_str())),
        Pred::Contains(vals) => vals.iter().any(|x| s.contains(x.as_str())),
        Pred::Glob(set) => set.matches(s),
        Pred::Protected { prefix: false } => protected.iter().any(|p| p == s),
        Pred::Protected { prefix: true } => protected.iter().any(|p| under(s, p)),
        _ => false,
    }
}

/// `path` is `dir` or inside it (`/opt/agent` covers `/opt/agent/x`, not `/opt/agentx`).
fn under(path: &str, dir: &str) -> bool {
    match path.strip_prefix(dir) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || dir.ends_with('/'),
        None => false,
    }
}
