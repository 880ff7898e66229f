//! Parsed expressions → conditions: `and`/`or`/`not`, comparisons, `exists` and bare macro names,
//! and field names resolved.
use super::{Compiler, RhsIn, ValIn, limits, loc};
use crate::rules::{
    cond::{Cond, Pred},
    error::{Loc, TextId},
    fields::{FieldType, lookup},
    parser::{Expr, Rhs},
};

impl Compiler<'_> {
    pub(super) fn expr(&mut self, e: &Expr, text: TextId) -> Option<Cond> {
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

    pub(super) fn field(&mut self, name: &str, at: Loc) -> Option<&'static crate::rules::fields::FieldInfo> {
        let f = lookup(name);
        if f.is_none() && crate::rules::parser::DYNAMIC_LISTS.contains(&name) {
            self.error(
                at,
                format!("`{name}` is a list of paths: use it on the right, e.g. `file.path startswith {name}`"),
            );
        } else if f.is_none() {
            let known: Vec<&str> = crate::rules::fields::CATALOGUE.iter().map(|f| f.name).collect();
            self.error(
                at,
                format!("unknown field `{name}` (expected one of: {})", known.join(", ")),
            );
        }
        f
    }
}

/// Where an expression starts in its text (for errors about the whole of it).
fn first_offset(e: &Expr) -> u32 {
    match e {
        Expr::And(parts) | Expr::Or(parts) => parts.first().map_or(0, first_offset),
        Expr::Not(inner) => first_offset(inner),
        Expr::Cmp { offset, .. } | Expr::Exists { offset, .. } | Expr::Bare { offset, .. } => *offset,
    }
}

fn val_in(i: &crate::rules::parser::Item, text: TextId) -> ValIn {
    ValIn {
        text: i.text.clone(),
        loc: loc(text, i.offset),
        quoted: i.quoted,
    }
}
