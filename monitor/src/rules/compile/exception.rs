//! Exceptions as conditions: any of their value tuples, each an AND of one test per field.
use super::{Budget, Compiler, Mode, RhsIn, ValIn};
use crate::rules::{cond::Cond, parser::Op, source::RawException};

impl Compiler<'_> {
    /// An exception as a condition: any of its value tuples, each an AND over its fields.
    pub(in crate::rules) fn exception(&mut self, ex: &RawException) -> Option<Cond> {
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
