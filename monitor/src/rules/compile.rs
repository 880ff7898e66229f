//! Conditions → typed, name-resolved [`Cond`] trees: macros expanded, lists inlined, values parsed
//! and operators checked against field types.
use std::{collections::HashMap, net::IpAddr};

use super::{
    cond::{Cond, Pred, Test, negated},
    error::{Loc, RuleError, TextId, Texts},
    fields::{Field, FieldType, Kind, KindSet, canonical_ip, info, lookup},
    parser::{Expr, Op, Rhs, parse},
    pattern::{Cidr, FlatGlob, GlobSet},
    source::{RawException, RawList, RawMacro, Value},
};

struct MacroDef {
    text: TextId,
    expr: Option<Expr>,
}

/// Resolves names and types; collects errors.
pub(super) struct Compiler<'a> {
    texts: &'a Texts,
    lists: HashMap<String, Vec<Value>>,
    macros: HashMap<String, MacroDef>,
    expanding: Vec<String>,
    pub errors: Vec<RuleError>,
}

/// The right-hand side of a test, independent of where it was written.
pub(super) enum RhsIn {
    Items { items: Vec<ValIn>, parenthesized: bool },
    Dynamic(String, Loc),
}

pub(super) struct ValIn {
    pub text: String,
    pub loc: Loc,
    pub quoted: bool,
}

impl<'a> Compiler<'a> {
    pub(super) fn new(texts: &'a Texts, lists: &[RawList], macros: &[RawMacro]) -> Self {
        let mut c = Compiler {
            texts,
            lists: HashMap::new(),
            macros: HashMap::new(),
            expanding: Vec::new(),
            errors: Vec::new(),
        };
        let by_name: HashMap<&str, &RawList> = lists.iter().map(|l| (l.name.as_str(), l)).collect();
        for l in lists {
            if c.lists.contains_key(&l.name) {
                c.errors
                    .push(l.file.error(l.at, format!("list `{}` is defined twice", l.name)));
                continue;
            }
            let mut out = Vec::new();
            expand_list(l, &by_name, &mut vec![l.name.as_str()], &mut out);
            c.lists.insert(l.name.clone(), out);
        }
        for m in macros {
            if c.macros.contains_key(&m.name) || lookup(&m.name).is_some() {
                c.errors.push(
                    m.file
                        .error(m.at, format!("macro `{}` is defined twice or names a field", m.name)),
                );
                continue;
            }
            let expr = match parse(texts.get(m.condition)) {
                Ok(e) => Some(e),
                Err(e) => {
                    c.errors.push(texts.error(loc(m.condition, e.offset), e.message));
                    None
                }
            };
            c.macros.insert(
                m.name.clone(),
                MacroDef {
                    text: m.condition,
                    expr,
                },
            );
        }
        // Check every macro once, even unused ones.
        let mut names: Vec<&String> = c.macros.keys().collect();
        names.sort();
        let names: Vec<String> = names.into_iter().cloned().collect();
        for name in names {
            c.macro_cond(&name);
        }
        c
    }

    /// Parses and checks a condition text.
    pub(super) fn condition(&mut self, text: TextId) -> Option<Cond> {
        match parse(self.texts.get(text)) {
            Ok(e) => self.expr(&e, text),
            Err(e) => {
                self.errors.push(self.texts.error(loc(text, e.offset), e.message));
                None
            }
        }
    }

    pub(super) fn error(&mut self, at: Loc, message: impl Into<String>) {
        self.errors.push(self.texts.error(at, message));
    }

    fn macro_cond(&mut self, name: &str) -> Option<Cond> {
        let (text, expr) = {
            let m = self.macros.get(name)?;
            (m.text, m.expr.clone()?)
        };
        if self.expanding.iter().any(|n| n == name) {
            return None;
        }
        self.expanding.push(name.to_string());
        let c = self.expr(&expr, text);
        self.expanding.pop();
        c
    }

    fn expr(&mut self, e: &Expr, text: TextId) -> Option<Cond> {
        match e {
            Expr::And(parts) | Expr::Or(parts) => {
                // Check every part so all errors are reported.
                let conds: Vec<Option<Cond>> = parts.iter().map(|p| self.expr(p, text)).collect();
                let conds: Option<Vec<Cond>> = conds.into_iter().collect();
                let conds = conds?;
                Some(if matches!(e, Expr::And(_)) {
                    Cond::And(conds)
                } else {
                    Cond::Or(conds)
                })
            }
            Expr::Not(inner) => Some(Cond::Not(Box::new(self.expr(inner, text)?))),
            Expr::Exists { field, offset } => {
                let at = loc(text, *offset);
                let f = self.field(field, at)?;
                if f.ty == FieldType::Kind {
                    return Some(Cond::Const(true));
                }
                Some(Self::leaf(f.field, Pred::Exists, at))
            }
            Expr::Bare { name, offset } => {
                let at = loc(text, *offset);
                if self.macros.contains_key(name) {
                    if self.expanding.iter().any(|n| n == name) {
                        self.error(at, format!("macro `{name}` refers to itself"));
                        return None;
                    }
                    return self.macro_cond(name);
                }
                match lookup(name) {
                    Some(f) if f.ty == FieldType::Bool => Some(Self::leaf(f.field, Pred::Bool(true), at)),
                    Some(f) => {
                        self.error(
                            at,
                            format!("field `{}` is not boolean: expected an operator after it", f.name),
                        );
                        None
                    }
                    None => {
                        self.error(at, format!("unknown macro or boolean field `{name}`"));
                        None
                    }
                }
            }
            Expr::Cmp {
                field,
                offset,
                op,
                op_offset,
                rhs,
            } => {
                let rhs = match rhs {
                    Rhs::One(i) => RhsIn::Items {
                        items: vec![val_in(i, text)],
                        parenthesized: false,
                    },
                    Rhs::Many(items) => RhsIn::Items {
                        items: items.iter().map(|i| val_in(i, text)).collect(),
                        parenthesized: true,
                    },
                    Rhs::Field(name, off) => RhsIn::Dynamic(name.clone(), loc(text, *off)),
                };
                self.test(field, loc(text, *offset), *op, loc(text, *op_offset), rhs)
            }
        }
    }

    fn field(&mut self, name: &str, at: Loc) -> Option<&'static super::fields::FieldInfo> {
        let f = lookup(name);
        if f.is_none() && super::parser::DYNAMIC_LISTS.contains(&name) {
            self.error(
                at,
                format!("`{name}` is a list of paths: use it on the right, e.g. `file.path startswith {name}`"),
            );
        } else if f.is_none() {
            let known: Vec<&str> = super::fields::CATALOGUE.iter().map(|f| f.name).collect();
            self.error(
                at,
                format!("unknown field `{name}` (expected one of: {})", known.join(", ")),
            );
        }
        f
    }

    /// Checks one `field op value` test.
    pub(super) fn test(&mut self, field: &str, at: Loc, op: Op, op_at: Loc, rhs: RhsIn) -> Option<Cond> {
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
                self.expand_items(items, parenthesized || op == Op::In)
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
                            alts.push(Self::leaf(f.field, Pred::AddrEq(ips), at));
                        }
                        if !names.is_empty() {
                            alts.push(Self::leaf(f.field, Pred::Eq(names), at));
                        }
                        let any = if alts.len() == 1 {
                            alts.remove(0)
                        } else {
                            Cond::Or(alts)
                        };
                        return Some(if op == Op::Ne { negated(any) } else { any });
                    }
                    Op::Eq | Op::In => Pred::Eq(texts()),
                    Op::Ne => return Some(negated(Self::leaf(f.field, Pred::Eq(texts()), at))),
                    Op::StartsWith => Pred::Prefix(texts()),
                    Op::EndsWith => Pred::Suffix(texts()),
                    Op::Contains => Pred::Contains(texts()),
                    Op::Glob => Pred::Glob(Box::new(GlobSet::new(
                        items.iter().map(|v| FlatGlob::new(&v.text)).collect(),
                    ))),
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
                        Pred::Cidr(nets)
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
                    Op::Eq | Op::In => Pred::NumIn(nums),
                    Op::Ne => return Some(negated(Self::leaf(f.field, Pred::NumIn(nums), at))),
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

    fn leaf(field: Field, pred: Pred, loc: Loc) -> Cond {
        Cond::Test(Test {
            field,
            ty: info(field).ty,
            pred,
            negate: false,
            loc,
        })
    }

    /// Inlines list names (unquoted items inside parentheses, or the single value of `in`).
    fn expand_items(&mut self, items: Vec<ValIn>, lists_allowed: bool) -> Vec<Value> {
        let mut out = Vec::new();
        for v in items {
            match self.lists.get(&v.text) {
                Some(list) if lists_allowed && !v.quoted => out.extend(list.iter().cloned()),
                None if lists_allowed
                    && !v.quoted
                    && let Some(near) = self.near_list(&v.text) =>
                {
                    self.error(
                        v.loc,
                        format!(
                            "unknown list `{}` (did you mean `{near}`? quote the value if it is meant literally)",
                            v.text
                        ),
                    );
                }
                _ => out.push(Value {
                    text: v.text,
                    loc: v.loc,
                }),
            }
        }
        out
    }

    /// A defined list whose name is a likely typo of `name` (edit distance 1 or 2, names of at
    /// least 5 characters), so that `in (shellz)` is not silently a literal.
    fn near_list(&self, name: &str) -> Option<String> {
        if name.chars().count() < 5 {
            return None;
        }
        let mut names: Vec<&String> = self.lists.keys().collect();
        names.sort();
        names
            .into_iter()
            .find(|l| l.chars().count() >= 5 && edit_distance(l, name) <= 2)
            .cloned()
    }

    /// An exception as a condition: any of its value tuples, each an AND over its fields.
    pub(super) fn exception(&mut self, ex: &RawException) -> Option<Cond> {
        let mut cases = Vec::new();
        for tuple in &ex.values {
            let mut parts = Vec::new();
            for (i, (field, vals)) in ex.fields.iter().zip(tuple).enumerate() {
                let comp = ex.comps.get(i);
                let op = match comp.map(|c| c.text.as_str()) {
                    None | Some("=") => Op::Eq,
                    Some("!=") => Op::Ne,
                    Some("in") => Op::In,
                    Some("startswith") => Op::StartsWith,
                    Some("endswith") => Op::EndsWith,
                    Some("contains") => Op::Contains,
                    Some("glob") => Op::Glob,
                    Some("in_cidr") => Op::InCidr,
                    Some(other) => {
                        let at = comp.map_or(field.loc, |c| c.loc);
                        self.error(at, format!("exception `{}`: unknown comparison `{other}`", ex.name));
                        return None;
                    }
                };
                let op_at = comp.map_or(field.loc, |c| c.loc);
                let items = vals
                    .iter()
                    .map(|v| ValIn {
                        text: v.text.clone(),
                        loc: v.loc,
                        quoted: false,
                    })
                    .collect();
                parts.push(self.test(
                    &field.text,
                    field.loc,
                    op,
                    op_at,
                    RhsIn::Items {
                        items,
                        parenthesized: op == Op::In,
                    },
                )?);
            }
            cases.push(Cond::And(parts));
        }
        Some(Cond::Or(cases))
    }
}

/// Levenshtein distance (small inputs: rule-set compile time only).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
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

fn loc(text: TextId, offset: u32) -> Loc {
    Loc { text, offset }
}

fn val_in(i: &super::parser::Item, text: TextId) -> ValIn {
    ValIn {
        text: i.text.clone(),
        loc: loc(text, i.offset),
        quoted: i.quoted,
    }
}

fn expand_list<'l>(
    list: &'l RawList,
    by_name: &HashMap<&str, &'l RawList>,
    seen: &mut Vec<&'l str>,
    out: &mut Vec<Value>,
) {
    for item in &list.items {
        match by_name.get(item.text.as_str()) {
            Some(inner) if !seen.contains(&inner.name.as_str()) => {
                seen.push(inner.name.as_str());
                expand_list(inner, by_name, seen, out);
                seen.pop();
            }
            _ => out.push(item.clone()),
        }
    }
}
