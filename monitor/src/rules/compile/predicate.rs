//! One `field op value` test: the operator checked against the field's type and the values
//! parsed into a predicate.
use std::{net::IpAddr, sync::Arc};

use super::{Compiler, RhsIn};
use crate::rules::{
    cond::{Cond, Pred, Test, negated},
    error::Loc,
    fields::{Field, FieldType, Kind, KindSet, canonical_ip, info},
    parser::Op,
    pattern::{Cidr, FlatGlob, GlobSet},
};

impl Compiler<'_> {
    /// Checks one `field op value` test.
    pub(in crate::rules) fn test(&mut self, field: &str, at: Loc, op: Op, op_at: Loc, rhs: RhsIn) -> Option<Cond> {
        let f = self.field(field, at)?;
        let items = match rhs {
            RhsIn::Dynamic(name, dyn_at) => {
                let prefix = match op {
                    Op::Eq | Op::In => false,
                    Op::StartsWith => true,
                    _ => {
                        self.error(
                            op_at,
                            format!("`{name}` works with `in` or `startswith`, not `{}`", op.name()),
                        );
                        return None;
                    }
                };
                if !matches!(f.ty, FieldType::Str) {
                    self.error(
                        dyn_at,
                        format!("`{name}` lists paths: compare it with a path field such as file.path"),
                    );
                    return None;
                }
                self.grow(1, at)?;
                return Some(Self::leaf(f.field, Pred::Protected { prefix }, at));
            }
            RhsIn::Items { items, parenthesized } => {
                if parenthesized && matches!(op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge) {
                    self.error(
                        op_at,
                        format!("`{}` takes one value: use `in (...)` for a list", op.name()),
                    );
                    return None;
                }
                if items.is_empty() {
                    self.error(op_at, format!("`{}` needs at least one value", op.name()));
                    return None;
                }
                // A list may be empty (e.g. `agent_ports` before it is filled in): matches nothing.
                let items = self.expand_items(items, parenthesized || op == Op::In)?;
                self.grow(1 + items.len(), at)?;
                items
            }
        };
        let texts = || items.iter().map(|v| v.text.clone()).collect::<Vec<_>>();
        let type_error = |c: &mut Self, expected: &str| {
            c.error(
                op_at,
                format!(
                    "operator `{}` does not apply to {} field `{}` (expected {expected})",
                    op.name(),
                    type_name(f.ty),
                    f.name
                ),
            );
            None
        };
        match f.ty {
            FieldType::Kind => {
                let mut set = KindSet::NONE;
                for v in &items {
                    match Kind::from_name(&v.text) {
                        Some(k) => set = set.union(KindSet::of(k)),
                        None => {
                            self.error(
                                v.loc,
                                format!("expected exec, open, connect or mount, found `{}`", v.text),
                            );
                            return None;
                        }
                    }
                }
                match op {
                    Op::Eq | Op::In => Some(Cond::Kind(set)),
                    Op::Ne => Some(Cond::Not(Box::new(Cond::Kind(set)))),
                    _ => type_error(self, "=, != or in"),
                }
            }
            FieldType::Str | FieldType::StrList | FieldType::Addr => {
                let pred = match op {
                    Op::Eq | Op::In | Op::Ne if f.ty == FieldType::Addr => {
                        let (ips, names): (Vec<_>, Vec<_>) =
                            items.iter().partition(|v| v.text.parse::<IpAddr>().is_ok());
                        let ips: Vec<IpAddr> = ips
                            .iter()
                            .filter_map(|v| v.text.parse().ok())
                            .map(canonical_ip)
                            .collect();
                        let names: Vec<String> = names.iter().map(|v| v.text.clone()).collect();
                        let mut alts = Vec::new();
                        if !ips.is_empty() {
                            alts.push(Self::leaf(f.field, Pred::AddrEq(ips.into()), at));
                        }
                        if !names.is_empty() {
                            alts.push(Self::leaf(f.field, Pred::Eq(names.into()), at));
                        }
                        let any = if alts.len() == 1 {
                            alts.remove(0)
                        } else {
                            Cond::Or(alts)
                        };
                        return Some(if op == Op::Ne { negated(any) } else { any });
                    }
                    Op::Eq | Op::In => Pred::Eq(texts().into()),
                    Op::Ne => return Some(negated(Self::leaf(f.field, Pred::Eq(texts().into()), at))),
                    Op::StartsWith => Pred::Prefix(texts().into()),
                    Op::EndsWith => Pred::Suffix(texts().into()),
                    Op::Contains => Pred::Contains(texts().into()),
                    Op::Glob => {
                        for v in &items {
                            if let Some(c) = v.text.chars().find(|c| matches!(c, '{' | '}' | '[' | ']')) {
                                self.error(
                                    v.loc,
                                    format!(
                                        "glob `{}`: `{c}` is not glob syntax here (only `*` and `?` are): write alternatives as `glob (a, b)`, and test text with `{c}` in it with `contains`, `startswith` or `=`",
                                        v.text
                                    ),
                                );
                                return None;
                            }
                        }
                        Pred::Glob(Arc::new(GlobSet::new(
                            items.iter().map(|v| FlatGlob::new(&v.text)).collect(),
                        )))
                    }
                    Op::InCidr if f.ty == FieldType::Addr => {
                        let mut nets = Vec::new();
                        for v in &items {
                            match Cidr::parse(&v.text) {
                                Some(c) => nets.push(c),
                                None => {
                                    self.error(
                                        v.loc,
                                        format!("expected a CIDR such as 10.0.0.0/8 or fd00::/8, found `{}`", v.text),
                                    );
                                    return None;
                                }
                            }
                        }
                        Pred::Cidr(nets.into())
                    }
                    _ => {
                        let expected = if f.ty == FieldType::Addr {
                            "=, !=, in, startswith, endswith, contains, glob or in_cidr"
                        } else {
                            "=, !=, in, startswith, endswith, contains or glob"
                        };
                        return type_error(self, expected);
                    }
                };
                Some(Self::leaf(f.field, pred, at))
            }
            FieldType::Num => {
                if !matches!(op, Op::Eq | Op::Ne | Op::In | Op::Lt | Op::Le | Op::Gt | Op::Ge) {
                    return type_error(self, "=, !=, <, <=, >, >= or in");
                }
                let mut nums = Vec::new();
                for v in &items {
                    match v.text.parse::<u64>() {
                        Ok(n) => nums.push(n),
                        Err(_) => {
                            self.error(
                                v.loc,
                                format!("field `{}` is numeric: expected a number, found `{}`", f.name, v.text),
                            );
                            return None;
                        }
                    }
                }
                let pred = match op {
                    Op::Eq | Op::In => Pred::NumIn(nums.into()),
                    Op::Ne => return Some(negated(Self::leaf(f.field, Pred::NumIn(nums.into()), at))),
                    Op::Lt | Op::Le | Op::Gt | Op::Ge if nums.len() == 1 => Pred::NumCmp(op, nums[0]),
                    _ => return type_error(self, "=, !=, <, <=, >, >= or in"),
                };
                Some(Self::leaf(f.field, pred, at))
            }
            FieldType::Bool => {
                let value = match (items.as_slice(), op) {
                    ([v], Op::Eq | Op::Ne) if v.text == "true" || v.text == "false" => {
                        (v.text == "true") == (op == Op::Eq)
                    }
                    ([v], Op::Eq | Op::Ne) => {
                        self.error(
                            v.loc,
                            format!(
                                "field `{}` is boolean: expected true or false, found `{}`",
                                f.name, v.text
                            ),
                        );
                        return None;
                    }
                    _ => return type_error(self, "= true, = false, or the field alone"),
                };
                Some(Self::leaf(f.field, Pred::Bool(value), at))
            }
        }
    }

    pub(super) fn leaf(field: Field, pred: Pred, loc: Loc) -> Cond {
        Cond::Test(Test {
            field,
            ty: info(field).ty,
            pred,
            negate: false,
            loc,
            slot: None,
        })
    }
}

fn type_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Kind => "the event-kind",
        FieldType::Str | FieldType::StrList => "string",
        FieldType::Addr => "address",
        FieldType::Num => "numeric",
        FieldType::Bool => "boolean",
    }
}
