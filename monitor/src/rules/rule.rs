//! One raw rule → a compiled [`Rule`]: its condition specialised per event kind (exceptions
//! folded in), or its sequence steps, plus kernel deny entries for `action: deny`.
use super::{
    compile::Compiler,
    cond::{Cond, applicable_kinds, specialize},
    deny,
    error::{Loc, RuleError, TextId, Texts},
    fields::{self, FieldType, KindSet, PerKind},
    format::Template,
    prefilter::KindCond,
    sequence::{Sequence, Step},
    source::RawRule,
};
use crate::{
    enforce::spec::DenyEntry,
    rules::{Action, Maturity, Priority},
};

/// What a rule reports.
#[derive(Debug)]
pub(super) struct RuleMeta {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub action: Action,
    pub tags: Vec<String>,
    pub output: Template,
}

#[derive(Debug)]
pub(super) enum Matcher {
    /// Condition per event kind (`None`: the rule never matches that kind).
    Condition(PerKind<KindCond>),
    Sequence(Sequence),
}

impl Matcher {
    /// Every condition evaluation runs: per kind, and per step of a sequence.
    pub(super) fn conds_mut(&mut self) -> Vec<&mut Cond> {
        match self {
            Matcher::Condition(by_kind) => by_kind.values_mut().map(KindCond::cond_mut).collect(),
            Matcher::Sequence(s) => s
                .steps
                .iter_mut()
                .flat_map(|step| step.by_kind.values_mut().map(KindCond::cond_mut))
                .collect(),
        }
    }
}

#[derive(Debug)]
pub(super) struct Rule {
    pub meta: RuleMeta,
    pub enabled: bool,
    pub matcher: Matcher,
}

/// Where deny rules put their kernel entries.
pub(super) struct DenyTable<'a> {
    pub entries: &'a mut Vec<DenyEntry>,
    /// Enabled deny rules so far (the next rule's `rule_id`).
    pub rules: &'a mut usize,
    /// The set's maturity level: a deny rule above it is off and sends nothing to the kernel.
    pub level: Maturity,
}

/// Compiles one rule; problems go to `errors` (or the compiler's), deny entries to `deny`.
pub(super) fn compile(
    raw: &RawRule,
    compiler: &mut Compiler<'_>,
    texts: &Texts,
    errors: &mut Vec<RuleError>,
    deny: &mut DenyTable<'_>,
) -> Option<Rule> {
    let before = errors.len() + compiler.errors.len();
    let output = match raw.output {
        Some(id) => Template::parse(texts, id).unwrap_or_else(|e| {
            errors.push(e);
            Template::default_for(&raw.name)
        }),
        None => Template::default_for(&raw.name),
    };
    let exceptions: Vec<Cond> = raw.exceptions.iter().filter_map(|ex| compiler.exception(ex)).collect();
    let matcher = match raw.condition {
        Some(text) => condition_matcher(raw, text, &exceptions, compiler, texts, errors, deny)?,
        None => sequence_matcher(raw, &exceptions, compiler, errors)?,
    };
    if errors.len() + compiler.errors.len() > before {
        return None;
    }
    Some(Rule {
        meta: RuleMeta {
            name: raw.name.clone(),
            desc: raw.desc.clone(),
            priority: raw.priority,
            action: raw.action,
            tags: raw.tags.clone(),
            output,
        },
        enabled: raw.enabled,
        matcher,
    })
}

/// Reports each test written in the rule itself (its condition or exception fields, not a macro it
/// uses: macros serve many rules) on a field that none of the kinds the rule applies to carries:
/// such a test is constant, so the part of the rule it guards can never fire
/// (`evt.kind = exec and (proc.name = nc or net.port = 4444)`).
fn dead_tests(rule: &str, cond: &Cond, kinds: KindSet, own: &[TextId], compiler: &mut Compiler<'_>) {
    fn walk(c: &Cond, out: &mut Vec<(fields::Field, Loc)>) {
        match c {
            Cond::And(parts) | Cond::Or(parts) => parts.iter().for_each(|p| walk(p, out)),
            Cond::Not(inner) => walk(inner, out),
            Cond::Test(t) => out.push((t.field, t.loc)),
            Cond::Const(_) | Cond::Kind(_) => {}
        }
    }
    let mut tests = Vec::new();
    walk(cond, &mut tests);
    for (field, at) in tests {
        if own.contains(&at.text) && !fields::kinds_of(field).kinds().any(|k| kinds.contains(k)) {
            compiler.error(
                at,
                format!(
                    "rule `{rule}`: `{}` is on no event kind this rule applies to ({}): the test can never be true",
                    fields::info(field).name,
                    kinds.names()
                ),
            );
        }
    }
}

/// `cond and not (exception or ...)`.
fn with_exceptions(cond: Cond, exceptions: &[Cond]) -> Cond {
    if exceptions.is_empty() {
        cond
    } else {
        Cond::And(vec![cond, Cond::Not(Box::new(Cond::Or(exceptions.to_vec())))])
    }
}

fn per_kind(cond: &Cond, kinds: KindSet) -> PerKind<KindCond> {
    PerKind::from_fn(kinds, |k| KindCond::new(specialize(cond, k)))
}

fn condition_matcher(
    raw: &RawRule,
    text: TextId,
    exceptions: &[Cond],
    compiler: &mut Compiler<'_>,
    texts: &Texts,
    errors: &mut Vec<RuleError>,
    deny: &mut DenyTable<'_>,
) -> Option<Matcher> {
    let cond = with_exceptions(compiler.condition(text)?, exceptions);
    let kinds = applicable_kinds(&cond);
    let rule_error = |message: String| raw.file.error(raw.at, format!("rule `{}`: {message}", raw.name));
    if kinds == KindSet::NONE {
        errors.push(rule_error(
            "the condition cannot match any event kind (its fields and evt.kind tests contradict each other)".into(),
        ));
        return None;
    }
    let own: Vec<TextId> = std::iter::once(text)
        .chain(raw.exceptions.iter().flat_map(|e| e.fields.iter().map(|f| f.loc.text)))
        .collect();
    dead_tests(&raw.name, &cond, kinds, &own, compiler);
    if raw.action == Action::Deny {
        if !raw.exceptions.is_empty() {
            errors.push(rule_error(
                "deny rules cannot have exceptions (the kernel cannot express them)".into(),
            ));
            return None;
        }
        match deny::compile(&cond) {
            Ok(specs) if raw.enabled && raw.maturity <= deny.level => {
                let rule_id = *deny.rules as u32;
                deny.entries.extend(specs.into_iter().map(|spec| DenyEntry {
                    rule_id,
                    rule: raw.name.clone(),
                    spec,
                }));
                *deny.rules += 1;
            }
            // Disabled deny rules are checked but not sent to the kernel.
            Ok(_) => {}
            Err(e) => {
                errors.push(match e.at {
                    Some(at) => texts.error(at, format!("rule `{}`: {}", raw.name, e.message)),
                    None => rule_error(e.message),
                });
                return None;
            }
        }
    }
    Some(Matcher::Condition(per_kind(&cond, kinds)))
}

fn sequence_matcher(
    raw: &RawRule,
    exceptions: &[Cond],
    compiler: &mut Compiler<'_>,
    errors: &mut Vec<RuleError>,
) -> Option<Matcher> {
    if raw.action == Action::Deny {
        errors.push(raw.file.error(
            raw.at,
            format!(
                "rule `{}`: a sequence cannot be denied in the kernel (use kill or quarantine)",
                raw.name
            ),
        ));
        return None;
    }
    let mut steps = Vec::new();
    for (i, s) in raw.sequence.iter().enumerate() {
        let Some(mut cond) = compiler.condition(s.condition) else {
            continue;
        };
        if i + 1 == raw.sequence.len() {
            cond = with_exceptions(cond, exceptions);
        }
        let kinds = applicable_kinds(&cond);
        if kinds != KindSet::NONE {
            let mut own = vec![s.condition];
            if i + 1 == raw.sequence.len() {
                own.extend(raw.exceptions.iter().flat_map(|e| e.fields.iter().map(|f| f.loc.text)));
            }
            dead_tests(&raw.name, &cond, kinds, &own, compiler);
        }
        if kinds == KindSet::NONE {
            let step = s.alias.clone().unwrap_or_else(|| (i + 1).to_string());
            let at = Loc {
                text: s.condition,
                offset: 0,
            };
            compiler.error(
                at,
                format!("rule `{}`: step `{step}` cannot match any event kind", raw.name),
            );
        }
        let mut same = Vec::new();
        for v in &s.same {
            match fields::lookup(&v.text) {
                _ if i == 0 => compiler.error(v.loc, "`same` on the first step has no previous step to compare with"),
                Some(f) if f.ty == FieldType::Kind => compiler.error(v.loc, "`same: [evt.kind]` is not supported"),
                Some(f) => same.push(f.field),
                None => compiler.error(v.loc, format!("`same`: unknown field `{}`", v.text)),
            }
        }
        steps.push(Step {
            by_kind: per_kind(&cond, kinds),
            same,
        });
    }
    let within_ns = raw.within.map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64);
    Some(Matcher::Sequence(Sequence::new(steps, within_ns)))
}
