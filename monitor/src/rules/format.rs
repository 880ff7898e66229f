//! Rule `output` templates: text with Falco-style `%field` substitutions, parsed once.
use super::{
    error::{Loc, RuleError, TextId, Texts},
    fields::{Field, lookup, render_into},
};
use crate::enrich::Enriched;

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Text(String),
    Field(Field),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Template(Vec<Segment>);

impl Template {
    /// Parses `text`; `%name` must name a field (write `%%` for a literal `%`).
    pub(super) fn parse(texts: &Texts, id: TextId) -> Result<Template, RuleError> {
        let text = texts.get(id);
        let mut segs = Vec::new();
        let mut lit = String::new();
        let mut rest = text.char_indices().peekable();
        while let Some((i, c)) = rest.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            if rest.peek().is_some_and(|&(_, n)| n == '%') {
                rest.next();
                lit.push('%');
                continue;
            }
            let start = i + 1;
            let mut end = start;
            while let Some(&(j, n)) = rest.peek() {
                if !(n.is_ascii_alphanumeric() || n == '_' || n == '.') {
                    break;
                }
                end = j + n.len_utf8();
                rest.next();
            }
            // A trailing dot ends a sentence, not the field name.
            let mut name = &text[start..end];
            let mut trailing = "";
            if let Some(stripped) = name.strip_suffix('.') {
                name = stripped;
                trailing = ".";
            }
            match lookup(name) {
                Some(f) => {
                    if !lit.is_empty() {
                        segs.push(Segment::Text(std::mem::take(&mut lit)));
                    }
                    segs.push(Segment::Field(f.field));
                    lit.push_str(trailing);
                }
                None => {
                    return Err(texts.error(
                        Loc {
                            text: id,
                            offset: i as u32,
                        },
                        format!("output: unknown field `%{name}` (write %% for a literal %)"),
                    ));
                }
            }
        }
        if !lit.is_empty() {
            segs.push(Segment::Text(lit));
        }
        Ok(Template(segs))
    }

    /// The default output when a rule has none.
    pub(super) fn default_for(rule: &str) -> Template {
        Template(vec![
            Segment::Text(format!("{rule} (agent=")),
            Segment::Field(Field::AgentName),
            Segment::Text(" exe=".into()),
            Segment::Field(Field::ProcExe),
            Segment::Text(" pid=".into()),
            Segment::Field(Field::ProcPid),
            Segment::Text(")".into()),
        ])
    }

    pub(super) fn render(&self, ev: &Enriched) -> String {
        // The text plus a typical field value each: usually no reallocation.
        let guess: usize = self
            .0
            .iter()
            .map(|s| match s {
                Segment::Text(t) => t.len(),
                Segment::Field(_) => 32,
            })
            .sum();
        let mut out = String::with_capacity(guess);
        for s in &self.0 {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Field(f) => render_into(*f, ev, &mut out),
            }
        }
        out
    }
}
