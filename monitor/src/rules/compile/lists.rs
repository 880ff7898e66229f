//! List expansion: every list inlined once in dependency order, list names inlined into a test's
//! values, and the typo check for items one or two edits away from a list name.
use std::{collections::HashMap, rc::Rc};

use super::{Compiler, ListState, ValIn, limits};
use crate::rules::source::{RawList, Value};

impl Compiler<'_> {
    /// Expands every list once, in dependency order: an item naming another list is replaced by that
    /// list's items. Errors: a name defined twice, a list that includes itself, an item one or two
    /// edits away from a list name (a typo), a list past [`limits::LIST_ITEMS`].
    pub(super) fn expand_lists(&mut self, lists: &[RawList]) {
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

    /// Inlines list names (unquoted items inside parentheses, or the single value of `in`); `None`
    /// past the condition's size limit.
    pub(super) fn expand_items(&mut self, items: Vec<ValIn>, lists_allowed: bool) -> Option<Vec<Value>> {
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
