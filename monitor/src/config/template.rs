//! Name templates: an agent's `name:` with `{var}` and `{label:KEY}` placeholders, checked at load
//! and rendered per workload.
use serde::Deserialize;
use thiserror::Error;

/// Variables a name template may use (besides `{label:KEY}`).
pub(crate) const TEMPLATE_VARS: &[&str] = &[
    "pod",
    "namespace",
    "container",
    "container_id",
    "image",
    "pod_uid",
    "unit",
    "cgroup",
    "runtime",
];

/// `{label:KEY}`: the value of a container label (else a pod label).
pub const LABEL_VAR_PREFIX: &str = "label:";

/// An agent-name template such as `{namespace}/{pod}`; `{{`/`}}` are literal braces.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Template(String);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("template variable {{{0}}} has no value for this cgroup")]
pub(crate) struct MissingVar(pub String);

enum Piece<'a> {
    Lit(&'a str),
    Var(&'a str),
}

fn pieces(t: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("{{") {
            out.push(Piece::Lit("{"));
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}") {
            out.push(Piece::Lit("}"));
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| format!("unclosed '{{' in name template {t:?}"))?;
            let var = &r[..end];
            let label_ok = var.strip_prefix(LABEL_VAR_PREFIX).is_some_and(|k| !k.is_empty());
            if !TEMPLATE_VARS.contains(&var) && !label_ok {
                return Err(format!(
                    "unknown variable {{{var}}} in name template {t:?} (known: {}, label:KEY)",
                    TEMPLATE_VARS.join(", ")
                ));
            }
            out.push(Piece::Var(var));
            rest = &r[end + 1..];
        } else if rest.starts_with('}') {
            return Err(format!("unmatched '}}' in name template {t:?}"));
        } else {
            let end = rest.find(['{', '}']).unwrap_or(rest.len());
            out.push(Piece::Lit(&rest[..end]));
            rest = &rest[end..];
        }
    }
    Ok(out)
}

impl Template {
    pub(crate) fn new(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("agent name must not be empty".into());
        }
        pieces(s)?;
        Ok(Self(s.to_string()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Substitutes variables; `lookup` returns `None` for a variable without a value (or an empty one).
    pub(crate) fn render<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> Result<String, MissingVar> {
        let mut out = String::new();
        // Validated in `new`, so this cannot fail.
        for p in pieces(&self.0).unwrap_or_default() {
            match p {
                Piece::Lit(l) => out.push_str(l),
                Piece::Var(v) => match lookup(v).filter(|s| !s.is_empty()) {
                    Some(val) => out.push_str(val),
                    None => return Err(MissingVar(v.to_string())),
                },
            }
        }
        Ok(out)
    }
}

impl TryFrom<String> for Template {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::new(&s)
    }
}
