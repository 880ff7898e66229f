//! Conditions → typed, name-resolved [`Cond`] trees: macros expanded, lists inlined, values parsed
//! and operators checked against field types.
//!
//! Expansion is bounded and linear in the input: every list is expanded once (memoized, in
//! dependency order; a list that includes itself is an error), every macro is checked once (its
//! validity and its expanded size are memoized, so a macro used by another costs one lookup there),
//! and a condition is only expanded when its size is known to fit. The limits ([`limits`]) end a
//! rule bomb — lists or macros that double at each level, a chain of thousands of macros — with a
//! `file:line:col` error after a bounded amount of work instead of exhausting memory or time.
use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    rc::Rc,
    sync::Arc,
};

use super::{
    cond::{Cond, Pred, Test, negated},
    error::{Loc, RuleError, TextId, Texts},
    fields::{Field, FieldType, Kind, KindSet, canonical_ip, info, lookup},
    parser::{Expr, Op, Rhs, parse},
    pattern::{Cidr, FlatGlob, GlobSet},
    source::{RawException, RawList, RawMacro, Value},
};

/// What a rule set may expand to (`docs/RULES.md` § Limits).
pub(super) mod limits {
    /// Items of one list, once the lists it names are inlined.
    pub(crate) const LIST_ITEMS: usize = 100_000;
    /// Tests and values of one condition (a rule's, a macro's, a sequence step's, an exception's)
    /// once its macros and lists are expanded.
    pub(crate) const CONDITION_SIZE: usize = 100_000;
    /// Tests and values of every list, macro and condition of the rule set together: what
    /// compiling it may build in all.
    pub(crate) const TOTAL_SIZE: usize = 2_000_000;
    /// Nesting of parentheses, `not` and macro references within macro references, and of lists
    /// within lists.
    pub(crate) const NESTING: usize = 10_000;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MacroState {
    Unchecked,
    /// Being checked: a reference to it now is a reference to itself.
    Checking,
    /// Checked, without error; expands to this many tests and values.
    Valid {
        size: usize,
    },
    /// Checked; its errors are reported (once, in its own text).
    Invalid,
}

struct MacroDef {
    text: TextId,
    expr: Option<Expr>,
    state: MacroState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Checking a macro's own text: macros it names count their memoized size and stand for
    /// `true`; nothing is kept.
    Check,
    /// Compiling a condition that is kept: macros are expanded.
    Build,
}

/// What a condition being compiled has cost so far.
#[derive(Clone, Copy, Debug)]
struct Budget {
    mode: Mode,
    /// Tests and values of the condition so far.
    size: usize,
    /// Current nesting (parentheses, `not`, macro references).
    depth: usize,
    /// The macro reference in the condition's own text that the expansion in progress started
    /// from: where limit errors point.
    outer: Option<Loc>,
    /// A limit error was reported for this condition (one is enough).
    over: bool,
}

impl Budget {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            size: 0,
            depth: 0,
            outer: None,
            over: false,
        }
    }
}

/// Where a list stands while the lists are expanded.
enum ListState {
    /// Being expanded: a list naming it now includes itself.
    Active,
    Done(Rc<[Value]>),
    Failed,
}

/// Resolves names and types; collects errors.
pub(super) struct Compiler<'a> {
    texts: &'a Texts,
    /// Every list, expanded (lists failed to expand are absent, their errors reported).
    lists: HashMap<String, Rc<[Value]>>,
    /// List names by length in characters, for the typo check.
    names_by_len: HashMap<usize, Vec<String>>,
    macros: HashMap<String, MacroDef>,
    expanding: Vec<String>,
    budget: Budget,
    /// Lists that could not be expanded (their errors are reported).
    failed_lists: HashSet<String>,
    /// Tests and values built so far in all ([`limits::TOTAL_SIZE`]).
    total: usize,
    /// The total limit was reached: nothing more is compiled.
    exhausted: bool,
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
            names_by_len: HashMap::new(),
            failed_lists: HashSet::new(),
            macros: HashMap::new(),
            expanding: Vec::new(),
            budget: Budget::new(Mode::Build),
            total: 0,
            exhausted: false,
            errors: Vec::new(),
        };
        c.expand_lists(lists);
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
                    state: MacroState::Unchecked,
                },
            );
        }
        // Check every macro once, even unused ones.
        let mut names: Vec<&String> = c.macros.keys().collect();
        names.sort();
        let names: Vec<String> = names.into_iter().cloned().collect();
        for name in names {
            c.check_macro(&name);
        }
        c
    }

    /// Expands every list once, in dependency order: an item naming another list is replaced by that
    /// list's items. Errors: a name defined twice, a list that includes itself, an item one or two
    /// edits away from a list name (a typo), a list past [`limits::LIST_ITEMS`].
    fn expand_lists(&mut self, lists: &[RawList]) {
        let mut by_name: HashMap<&str, &RawList> = HashMap::new();
        let mut order = Vec::new();
        for l in lists {
            if by_name.contains_key(l.name.as_str()) {
                self.errors
                    .push(l.file.error(l.at, format!("list `{}` is defined twice", l.name)));
                continue;
            }
            by_name.insert(l.name.as_str(), l);
            order.push(l);
            self.names_by_len
                .entry(l.name.chars().count())
                .or_default()
                .push(l.name.clone());
        }
        let mut state: HashMap<&str, ListState> = HashMap::new();
        let mut stack = Vec::new();
        for l in order {
            self.expand_list(l, &by_name, &mut state, &mut stack);
        }
    }

    fn expand_list<'l>(
        &mut self,
        list: &'l RawList,
        by_name: &HashMap<&str, &'l RawList>,
        state: &mut HashMap<&'l str, ListState>,
        stack: &mut Vec<&'l str>,
    ) -> Option<Rc<[Value]>> {
        let name = list.name.as_str();
        match state.get(name) {
            Some(ListState::Done(v)) => return Some(Rc::clone(v)),
            Some(ListState::Failed | ListState::Active) => return None,
            None => {}
        }
        if stack.len() >= limits::NESTING {
            self.errors.push(list.file.error(
                list.at,
                format!(
                    "lists nested too deeply: more than {} levels (the limit)",
                    limits::NESTING
                ),
            ));
            state.insert(name, ListState::Failed);
            self.failed_lists.insert(list.name.clone());
            return None;
        }
        state.insert(name, ListState::Active);
        stack.push(name);
        let mut out: Vec<Value> = Vec::new();
        let mut ok = true;
        let mut too_large = false;
        let too_many = |n: usize| n > limits::LIST_ITEMS;
        for item in &list.items {
            if let Some(inner) = by_name.get(item.text.as_str()) {
                if matches!(state.get(inner.name.as_str()), Some(ListState::Active)) {
                    let from = stack.iter().position(|n| *n == inner.name).unwrap_or(0);
                    let mut cycle: Vec<&str> = stack[from..].to_vec();
                    cycle.push(inner.name.as_str());
                    self.error(
                        item.loc,
                        format!(
                            "list `{name}` includes itself ({}): a list cannot contain itself",
                            cycle.join(" → ")
                        ),
                    );
                    ok = false;
                    continue;
                }
                match self.expand_list(inner, by_name, state, stack) {
                    Some(items) if too_many(out.len() + items.len()) => {
                        (ok, too_large) = (false, true);
                        break;
                    }
                    Some(items) => out.extend(items.iter().cloned()),
                    // Its own error is reported.
                    None => ok = false,
                }
            } else if !self.texts.quoted(item.loc.text)
                && let Some(near) = near_name(&self.names_by_len, &item.text)
            {
                self.error(
                    item.loc,
                    format!(
                        "unknown list `{}` in the items of list `{name}` (did you mean `{near}`? quote the item if it is meant literally)",
                        item.text
                    ),
                );
                ok = false;
            } else {
                out.push(item.clone());
                if too_many(out.len()) {
                    (ok, too_large) = (false, true);
                    break;
                }
            }
        }
        if too_large {
            self.errors.push(list.file.error(
                list.at,
                format!(
                    "list `{name}` is too large: with the lists it names inlined it has more than {} items (the limit)",
                    limits::LIST_ITEMS
                ),
            ));
        }
        stack.pop();
        self.total += out.len();
        if ok && self.total > limits::TOTAL_SIZE {
            ok = false;
            if !self.exhausted {
                self.exhausted = true;
                self.errors.push(list.file.error(
                    list.at,
                    format!(
                        "the rule set is too large: its lists expand to more than {} items in all (the limit); compiling stopped here",
                        limits::TOTAL_SIZE
                    ),
                ));
            }
        }
        if ok {
            let items: Rc<[Value]> = out.into();
            state.insert(name, ListState::Done(Rc::clone(&items)));
            self.lists.insert(list.name.clone(), Rc::clone(&items));
            Some(items)
        } else {
            state.insert(name, ListState::Failed);
            self.failed_lists.insert(list.name.clone());
            None
        }
    }

    /// Parses and checks a condition text (a rule's or a sequence step's) and builds it.
    pub(super) fn condition(&mut self, text: TextId) -> Option<Cond> {
        match parse(self.texts.get(text)) {
            Ok(e) => {
                let saved = std::mem::replace(&mut self.budget, Budget::new(Mode::Build));
                let c = self.expr(&e, text);
                let over = self.budget.over;
                self.budget = saved;
                c.filter(|_| !over)
            }
            Err(e) => {
                self.errors.push(self.texts.error(loc(text, e.offset), e.message));
                None
            }
        }
    }

    pub(super) fn error(&mut self, at: Loc, message: impl Into<String>) {
        self.errors.push(self.texts.error(at, message));
    }

    /// Checks a macro's text once; remembers whether it is valid and what it expands to.
    fn check_macro(&mut self, name: &str) -> MacroState {
        let Some(m) = self.macros.get_mut(name) else {
            return MacroState::Invalid;
        };
        if m.state != MacroState::Unchecked {
            return m.state;
        }
        let Some(expr) = m.expr.take() else {
            m.state = MacroState::Invalid;
            return m.state;
        };
        let text = m.text;
        m.state = MacroState::Checking;
        // Nesting goes on from where the reference is (bounds the recursion); the size is the
        // macro's own.
        let depth = self.budget.depth;
        let saved = std::mem::replace(&mut self.budget, Budget::new(Mode::Check));
        self.budget.depth = depth;
        self.expanding.push(name.to_string());
        let c = self.expr(&expr, text);
        self.expanding.pop();
        let checked = std::mem::replace(&mut self.budget, saved);
        let state = match c {
            Some(_) if !checked.over => MacroState::Valid { size: checked.size },
            _ => MacroState::Invalid,
        };
        if let Some(m) = self.macros.get_mut(name) {
            m.expr = Some(expr);
            m.state = state;
        }
        state
    }

    /// A macro reference at `at`: in [`Mode::Check`] its memoized size and `true` in its place, in
    /// [`Mode::Build`] its expansion (known to fit before it is built).
    fn macro_ref(&mut self, name: &str, at: Loc) -> Option<Cond> {
        let state = match self.macros.get(name).map(|m| m.state) {
            Some(MacroState::Checking) => {
                self.error(at, format!("macro `{name}` refers to itself"));
                return None;
            }
            Some(MacroState::Unchecked) => self.check_macro(name),
            Some(s) => s,
            None => return None,
        };
        let MacroState::Valid { size } = state else {
            return None;
        };
        let outer = self.budget.outer.is_none();
        if outer {
            self.budget.outer = Some(at);
        }
        let r = self.expand_macro(name, size, at);
        if outer {
            self.budget.outer = None;
        }
        r
    }

    fn expand_macro(&mut self, name: &str, size: usize, at: Loc) -> Option<Cond> {
        if self.budget.mode == Mode::Check {
            // Its size counts for this condition; nothing is built for it.
            self.budget.size += size;
            if self.budget.size > limits::CONDITION_SIZE {
                self.over_limit(
                    at,
                    format!(
                        "condition too large: macro `{name}` expands to {size} tests and values, which makes this condition larger than {} (the limit)",
                        limits::CONDITION_SIZE
                    ),
                );
                return None;
            }
            return Some(Cond::Const(true));
        }
        if self.budget.size + size > limits::CONDITION_SIZE {
            self.over_limit(
                at,
                format!(
                    "condition too large: expanding macro `{name}` makes it more than {} tests and values (the limit)",
                    limits::CONDITION_SIZE
                ),
            );
            return None;
        }
        let (text, expr) = {
            let m = self.macros.get_mut(name)?;
            (m.text, m.expr.take()?)
        };
        self.expanding.push(name.to_string());
        let c = self.expr(&expr, text);
        self.expanding.pop();
        if let Some(m) = self.macros.get_mut(name) {
            m.expr = Some(expr);
        }
        c
    }

    /// Counts `n` more tests and values for the condition and the rule set; `None` (and an error at
    /// `at`, or where the expansion started) past a limit.
    fn grow(&mut self, n: usize, at: Loc) -> Option<()> {
        self.budget.size += n;
        self.total += n;
        if self.total > limits::TOTAL_SIZE {
            if !self.exhausted {
                self.exhausted = true;
                let at = self.budget.outer.unwrap_or(at);
                self.error(
                    at,
                    format!(
                        "the rule set is too large: its lists, macros and conditions expand to more than {} tests and values in all (the limit); compiling stopped here",
                        limits::TOTAL_SIZE
                    ),
                );
            }
            self.budget.over = true;
            return None;
        }
        if self.budget.size > limits::CONDITION_SIZE {
            self.over_limit(
                at,
                format!(
                    "condition too large: its macros and lists expand to more than {} tests and values (the limit)",
                    limits::CONDITION_SIZE
                ),
            );
            return None;
        }
        Some(())
    }

    /// Reports a limit error for the condition being compiled (once).
    fn over_limit(&mut self, at: Loc, message: String) {
        if !self.budget.over {
            let at = self.budget.outer.unwrap_or(at);
            self.error(at, message);
        }
        self.budget.over = true;
    }

    fn expr(&mut self, e: &Expr, text: TextId) -> Option<Cond> {
        if self.exhausted || self.budget.over {
            return None;
        }
        self.budget.depth += 1;
        let c = if self.budget.depth > limits::NESTING {
            self.over_limit(
                loc(text, first_offset(e)),
                format!(
                    "macros nested too deeply: more than {} levels of macros, parentheses and `not` (the limit)",
                    limits::NESTING
                ),
            );
            None
        } else {
            self.expr_inner(e, text)
        };
        self.budget.depth -= 1;
        c
    }

    fn expr_inner(&mut self, e: &Expr, text: TextId) -> Option<Cond> {
        match e {
            Expr::And(parts) | Expr::Or(parts) => {
                let is_and = matches!(e, Expr::And(_));
                // Check every part so all errors are reported; nested and/or of the same kind
                // (a macro that is itself an `or` inside an `or`) merge, keeping trees shallow.
                let mut conds = Vec::with_capacity(parts.len());
                let mut ok = true;
                for p in parts {
                    match self.expr(p, text) {
                        Some(Cond::And(inner)) if is_and => conds.extend(inner),
                        Some(Cond::Or(inner)) if !is_and => conds.extend(inner),
                        Some(c) => conds.push(c),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Some(if is_and { Cond::And(conds) } else { Cond::Or(conds) })
            }
            Expr::Not(inner) => Some(Cond::Not(Box::new(self.expr(inner, text)?))),
            Expr::Exists { field, offset } => {
                let at = loc(text, *offset);
                let f = self.field(field, at)?;
                self.grow(1, at)?;
                if f.ty == FieldType::Kind {
                    return Some(Cond::Const(true));
                }
                Some(Self::leaf(f.field, Pred::Exists, at))
            }
            Expr::Bare { name, offset } => {
                let at = loc(text, *offset);
                if self.macros.contains_key(name) {
                    return self.macro_ref(name, at);
                }
                match lookup(name) {
                    Some(f) if f.ty == FieldType::Bool => {
                        self.grow(1, at)?;
                        Some(Self::leaf(f.field, Pred::Bool(true), at))
                    }
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

    fn leaf(field: Field, pred: Pred, loc: Loc) -> Cond {
        Cond::Test(Test {
            field,
            ty: info(field).ty,
            pred,
            negate: false,
            loc,
        })
    }

    /// Inlines list names (unquoted items inside parentheses, or the single value of `in`); `None`
    /// past the condition's size limit.
    fn expand_items(&mut self, items: Vec<ValIn>, lists_allowed: bool) -> Option<Vec<Value>> {
        let mut out = Vec::new();
        for v in items {
            match self.lists.get(&v.text) {
                Some(list) if lists_allowed && !v.quoted => {
                    if self.budget.size + out.len() + list.len() > limits::CONDITION_SIZE {
                        let name = v.text.clone();
                        self.over_limit(
                            v.loc,
                            format!(
                                "condition too large: inlining list `{name}` makes it more than {} tests and values (the limit)",
                                limits::CONDITION_SIZE
                            ),
                        );
                        return None;
                    }
                    let list = Rc::clone(list);
                    out.extend(list.iter().cloned());
                }
                // A list that failed to expand (its error is reported): nothing to inline.
                None if lists_allowed && !v.quoted && self.failed_lists.contains(&v.text) => {}
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
        Some(out)
    }

    /// A defined list whose name is a likely typo of `name` (edit distance 1 or 2, names of at
    /// least 5 characters), so that `in (shellz)` is not silently a literal. Only names of about
    /// the same length are compared, each with a bounded edit distance.
    fn near_list(&self, name: &str) -> Option<String> {
        near_name(&self.names_by_len, name)
    }

    /// An exception as a condition: any of its value tuples, each an AND over its fields.
    pub(super) fn exception(&mut self, ex: &RawException) -> Option<Cond> {
        let saved = std::mem::replace(&mut self.budget, Budget::new(Mode::Build));
        let c = self.exception_cases(ex);
        let over = self.budget.over;
        self.budget = saved;
        c.filter(|_| !over)
    }

    fn exception_cases(&mut self, ex: &RawException) -> Option<Cond> {
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

/// Whether `a` and `b` are at most two edits apart (Levenshtein), computed in a band of width 2
/// around the diagonal and abandoned as soon as every entry of a row exceeds 2.
fn within_two_edits(a: &[char], b: &[char]) -> bool {
    const MAX: usize = 2;
    if a.len().abs_diff(b.len()) > MAX {
        return false;
    }
    let far = MAX + 1;
    let mut prev: Vec<usize> = (0..=b.len()).map(|j| j.min(far)).collect();
    let mut cur = vec![far; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur.fill(far);
        cur[0] = (i + 1).min(far);
        let lo = (i + 1).saturating_sub(MAX).max(1);
        let hi = (i + 1 + MAX).min(b.len());
        for j in lo..=hi {
            let cost = usize::from(*ca != b[j - 1]);
            cur[j] = (prev[j - 1] + cost).min(prev[j] + 1).min(cur[j - 1] + 1).min(far);
        }
        if cur.iter().all(|&d| d > MAX) {
            return false;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()] <= MAX
}

/// The first list name (in name order) within two edits of `name`, for names of 5 characters or more.
fn near_name(names_by_len: &HashMap<usize, Vec<String>>, name: &str) -> Option<String> {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() < 5 {
        return None;
    }
    let mut found: Option<&String> = None;
    for len in chars.len().saturating_sub(2).max(5)..=chars.len() + 2 {
        for l in names_by_len.get(&len).into_iter().flatten() {
            let lc: Vec<char> = l.chars().collect();
            if found.is_none_or(|f| l < f) && within_two_edits(&lc, &chars) {
                found = Some(l);
            }
        }
    }
    found.cloned()
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

/// Where an expression starts in its text (for errors about the whole of it).
fn first_offset(e: &Expr) -> u32 {
    match e {
        Expr::And(parts) | Expr::Or(parts) => parts.first().map_or(0, first_offset),
        Expr::Not(inner) => first_offset(inner),
        Expr::Cmp { offset, .. } | Expr::Exists { offset, .. } | Expr::Bare { offset, .. } => *offset,
    }
}

fn val_in(i: &super::parser::Item, text: TextId) -> ValIn {
    ValIn {
        text: i.text.clone(),
        loc: loc(text, i.offset),
        quoted: i.quoted,
    }
}
