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
    rc::Rc,
};

use super::{
    cond::Cond,
    error::{Loc, RuleError, TextId, Texts},
    fields::lookup,
    parser::{Expr, parse},
    source::{RawList, RawMacro, Value},
};

mod exception;
mod expr;
mod lists;
mod macros;
mod predicate;

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
}

fn loc(text: TextId, offset: u32) -> Loc {
    Loc { text, offset }
}
