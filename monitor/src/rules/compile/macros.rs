//! Macro references: each macro checked once (validity and expanded size memoized), expanded
//! only when it fits, and the size and nesting budget of the condition being compiled.
use super::{Budget, Compiler, MacroState, Mode, limits};
use crate::rules::{cond::Cond, error::Loc};

impl Compiler<'_> {
    /// Checks a macro's text once; remembers whether it is valid and what it expands to.
    pub(super) fn check_macro(&mut self, name: &str) -> MacroState {
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
    pub(super) fn macro_ref(&mut self, name: &str, at: Loc) -> Option<Cond> {
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
    pub(super) fn grow(&mut self, n: usize, at: Loc) -> Option<()> {
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
    pub(super) fn over_limit(&mut self, at: Loc, message: String) {
        if !self.budget.over {
            let at = self.budget.outer.unwrap_or(at);
            self.error(at, message);
        }
        self.budget.over = true;
    }
}
