//! Evaluating specialised conditions against one event. Nothing here allocates except the lazily
//! joined `proc.args`, built at most once per event and only when a rule reads it.
use std::{cell::OnceCell, net::IpAddr};

use super::{
    compile::{Cond, Pred, Test},
    fields::{Field, FieldType, any_value, bool_value, canonical_ip, info, num_value, str_value},
    parser::Op,
};
use crate::{event::Body, output::Enriched};

/// One event plus values computed on first use.
pub struct EventView<'a> {
    pub ev: &'a Enriched,
    /// The agent's protected paths.
    pub protected: &'a [String],
    args: OnceCell<String>,
    ip: OnceCell<Option<IpAddr>>,
}

impl<'a> EventView<'a> {
    pub fn new(ev: &'a Enriched, protected: &'a [String]) -> Self {
        Self {
            ev,
            protected,
            args: OnceCell::new(),
            ip: OnceCell::new(),
        }
    }

    fn args(&self) -> &str {
        self.args.get_or_init(|| match &self.ev.event.body {
            Body::Exec(x) => x.argv.join(" "),
            _ => String::new(),
        })
    }

    fn ip(&self) -> Option<IpAddr> {
        *self.ip.get_or_init(|| match &self.ev.event.body {
            Body::Connect(c) => c.addr.parse().ok().map(canonical_ip),
            _ => None,
        })
    }

    fn str_field(&self, field: Field) -> Option<&str> {
        if field == Field::ProcArgs {
            return matches!(self.ev.event.body, Body::Exec(_)).then(|| self.args());
        }
        str_value(field, self.ev)
    }
}

pub fn eval(c: &Cond, v: &EventView) -> bool {
    match c {
        Cond::Const(b) => *b,
        Cond::And(parts) => parts.iter().all(|p| eval(p, v)),
        Cond::Or(parts) => parts.iter().any(|p| eval(p, v)),
        Cond::Not(inner) => !eval(inner, v),
        Cond::Kind(set) => super::fields::Kind::of(&v.ev.event.body).is_some_and(|k| set.contains(k)),
        Cond::Test(t) => test(t, v),
    }
}

fn test(t: &Test, v: &EventView) -> bool {
    let ty = info(t.field).ty;
    match &t.pred {
        Pred::Bool(want) => bool_value(t.field, v.ev) == Some(*want),
        Pred::NumIn(nums) => num_value(t.field, v.ev).is_some_and(|n| nums.contains(&n)),
        Pred::NumCmp(op, rhs) => num_value(t.field, v.ev).is_some_and(|n| match op {
            Op::Lt => n < *rhs,
            Op::Le => n <= *rhs,
            Op::Gt => n > *rhs,
            Op::Ge => n >= *rhs,
            _ => false,
        }),
        Pred::AddrEq(ips) => v.ip().is_some_and(|ip| ips.contains(&ip)),
        Pred::Cidr(nets) => v.ip().is_some_and(|ip| nets.iter().any(|n| n.contains(ip))),
        Pred::Exists => match ty {
            FieldType::Num => num_value(t.field, v.ev).is_some(),
            FieldType::Bool => bool_value(t.field, v.ev).is_some(),
            FieldType::StrList => any_value(t.field, v.ev, |s| !s.is_empty()),
            _ => v.str_field(t.field).is_some_and(|s| !s.is_empty()),
        },
        pred => {
            let check = |s: &str| str_pred(pred, s, v.protected);
            if ty == FieldType::StrList {
                any_value(t.field, v.ev, check)
            } else {
                v.str_field(t.field).is_some_and(check)
            }
        }
    }
}

fn str_pred(pred: &Pred, s: &str, protected: &[String]) -> bool {
    match pred {
        Pred::Eq(vals) => vals.iter().any(|x| x == s),
        Pred::Prefix(vals) => vals.iter().any(|x| s.starts_with(x.as_str())),
        Pred::Suffix(vals) => vals.iter().any(|x| s.ends_with(x.as_str())),
        Pred::Contains(vals) => vals.iter().any(|x| s.contains(x.as_str())),
        Pred::Glob(globs) => globs.iter().any(|g| g.matches(s)),
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
