//! The rule engine: Falco-style YAML rules (`rule`/`list`/`macro`, exceptions, sequences) compiled
//! once into per-event-kind matchers, evaluated on enriched events, and `action: deny` rules
//! compiled into kernel deny entries. Format reference: `docs/RULES.md`.
pub(crate) mod alert;
mod candidates;
mod compile;
mod cond;
mod deny;
mod error;
mod eval;
mod field_index;
mod fields;
pub mod fixtures;
mod format;
mod lexer;
mod parser;
mod pattern;
mod prefilter;
mod quiet;
mod rule;
mod sequence;
mod source;
pub(crate) mod yaml;

#[cfg(test)]
mod bombs;
#[cfg(test)]
mod tests;

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

/// What [`RuleSet::deny_entries`] hands to the kernel deny tables.
pub use crate::enforce::spec::DenyEntry;
pub use alert::{Action, Alert, Maturity, Priority};
pub(crate) use error::RuleError;
pub use error::RulesError;
pub(crate) use fields::{Kind, catalogue as field_catalogue, rule_kinds};
pub(crate) use yaml::LineCol;

use self::{
    candidates::{Candidates, Entry, required_slot},
    compile::Compiler,
    error::{FileRef, Texts},
    eval::EventView,
    field_index::{FieldIndex, Memo, MemoStore},
    prefilter::Facts,
    rule::{DenyTable, Matcher, Rule},
    source::{RawItems, read_file},
};
use crate::enrich::Enriched;

/// Counts for `rules check`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub files: usize,
    pub rules: usize,
    pub enabled: usize,
    pub lists: usize,
    pub macros: usize,
    pub sequences: usize,
    pub deny_rules: usize,
    /// Rules left off because their maturity is above the set's level (see [`RuleSet::maturity`]).
    pub above_maturity: usize,
    /// Enabled rules that can match each kind, by kind.
    pub per_kind: std::collections::BTreeMap<Kind, usize>,
}

/// A compiled rule set.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Enabled rules to evaluate for each event kind, with the facts an event of that kind needs
    /// for the rule to match (or, for a sequence, to match any step), keyed by a string test where
    /// the rule has one it needs ([`candidates`]).
    by_kind: Vec<Candidates>,
    /// The rules one event is evaluated against (reused).
    todo: Vec<Entry>,
    deny: Vec<DenyEntry>,
    protected: HashMap<String, Vec<String>, foldhash::fast::RandomState>,
    summary: Summary,
    maturity: Maturity,
    /// The string tests of every rule, answered per field ([`field_index`]).
    field_index: FieldIndex,
    /// Storage reused by each event's answers.
    memo: MemoStore,
}

impl RuleSet {
    /// Loads every `*.yaml`/`*.yml` file directly in `dir` (sorted by name; subdirectories such as
    /// `tests/` are not read). Any error anywhere loads nothing.
    pub fn load_dir(dir: &Path) -> Result<RuleSet, RulesError> {
        Self::from_sources(&read_sources(dir)?)
    }

    /// [`RuleSet::load_dir`] with the rules up to `maturity` on (`load_dir` is `Maturity::Stable`).
    pub fn load_dir_with(dir: &Path, maturity: Maturity) -> Result<RuleSet, RulesError> {
        Self::from_sources_with(&read_sources(dir)?, maturity)
    }

    /// [`RuleSet::load_dir_with`] plus rule files made by agentmon itself (a sandbox's profile rules),
    /// compiled as one set (`dir`: `None` for those alone).
    pub(crate) fn load_with(
        dir: Option<&Path>,
        extra: &[(String, String)],
        maturity: Maturity,
    ) -> Result<RuleSet, RulesError> {
        let mut files = match dir {
            Some(d) => read_sources(d)?,
            None => Vec::new(),
        };
        files.extend_from_slice(extra);
        Self::from_sources_with(&files, maturity)
    }
}

/// Largest rule file read.
pub(crate) const MAX_RULE_FILE_BYTES: u64 = 8 << 20;
/// Largest rule directory read (all its rule files together).
pub(crate) const MAX_RULE_DIR_BYTES: u64 = 32 << 20;

/// (name, contents) of every `*.yaml`/`*.yml` file directly in `dir`, sorted by name; each file at
/// most [`MAX_RULE_FILE_BYTES`], all of them at most [`MAX_RULE_DIR_BYTES`], UTF-8 (an invalid byte
/// is an error at its line and column).
fn read_sources(dir: &Path) -> Result<Vec<(String, String)>, RulesError> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_error(dir, &e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(RulesError {
            errors: vec![RuleError {
                file: dir.display().to_string().into(),
                at: LineCol { line: 1, col: 1 },
                message: "no *.yaml or *.yml files in this directory".into(),
            }],
        });
    }
    let mut files = Vec::new();
    let mut total = 0u64;
    for p in paths {
        let bytes = crate::files::read_limited(&p, MAX_RULE_FILE_BYTES, "rule file").map_err(|e| io_error(&p, &e))?;
        total += bytes.len() as u64;
        if total > MAX_RULE_DIR_BYTES {
            return Err(file_error(
                &p,
                LineCol { line: 1, col: 1 },
                format!(
                    "the rule files of {} exceed {MAX_RULE_DIR_BYTES} bytes in all (the limit)",
                    dir.display()
                ),
            ));
        }
        let text = crate::files::utf8_at(bytes).map_err(|(line, col)| {
            file_error(
                &p,
                LineCol { line, col },
                "invalid UTF-8: rule files must be UTF-8 text".into(),
            )
        })?;
        files.push((p.display().to_string(), text));
    }
    Ok(files)
}

fn file_error(path: &Path, at: LineCol, message: String) -> RulesError {
    RulesError {
        errors: vec![RuleError {
            file: path.display().to_string().into(),
            at,
            message,
        }],
    }
}

/// Stack of the thread that compiles a rule set: expansion recurses once per nesting level
/// (bounded by the compiler's limits), which may be deeper than a caller's thread allows.
const COMPILE_STACK: usize = 256 << 20;

impl RuleSet {
    /// Compiles rule files given as (name, contents), with the stable rules on.
    pub fn from_sources(files: &[(String, String)]) -> Result<RuleSet, RulesError> {
        Self::from_sources_with(files, Maturity::Stable)
    }

    /// Compiles rule files; rules whose `maturity` is above `maturity` are checked but off (as
    /// `enabled: false`), so `incubating` turns on stable and incubating rules. Runs on a thread of
    /// its own with a large stack; whatever goes wrong there (a limit, a bug) is an error, never the
    /// caller's crash.
    pub fn from_sources_with(files: &[(String, String)], maturity: Maturity) -> Result<RuleSet, RulesError> {
        let internal = |what: String| RulesError {
            errors: vec![RuleError {
                file: files.first().map_or("<rules>", |f| f.0.as_str()).into(),
                at: LineCol { line: 1, col: 1 },
                message: format!("internal error while compiling the rules: {what}"),
            }],
        };
        std::thread::scope(|s| {
            let compile = std::thread::Builder::new()
                .name("agentmon-rules".into())
                .stack_size(COMPILE_STACK)
                .spawn_scoped(s, || Self::compile(files, maturity));
            match compile {
                Ok(handle) => handle.join().unwrap_or_else(|panic| {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(ToString::to_string)
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panic".into());
                    Err(internal(what))
                }),
                // No thread: compile here (the limits still bound the recursion).
                Err(_) => Self::compile(files, maturity),
            }
        })
    }

    fn compile(files: &[(String, String)], maturity: Maturity) -> Result<RuleSet, RulesError> {
        let mut texts = Texts::default();
        let mut items = RawItems::default();
        let mut errors = Vec::new();
        for (name, text) in files {
            let file = FileRef::new(name, text);
            read_file(&file, &mut texts, &mut items, &mut errors);
        }
        let mut compiler = Compiler::new(&texts, &items.lists, &items.macros);
        let mut set = RuleSet::default();
        let mut names: HashSet<&str> = HashSet::new();
        for raw in &items.rules {
            if !names.insert(raw.name.as_str()) {
                errors.push(raw.file.error(raw.at, format!("rule `{}` is defined twice", raw.name)));
                continue;
            }
            let mut deny = DenyTable {
                entries: &mut set.deny,
                rules: &mut set.summary.deny_rules,
                level: maturity,
            };
            if let Some(mut rule) = rule::compile(raw, &mut compiler, &texts, &mut errors, &mut deny) {
                if raw.enabled && raw.maturity > maturity {
                    set.summary.above_maturity += 1;
                    rule.enabled = false;
                }
                set.rules.push(rule);
            }
        }
        errors.append(&mut compiler.errors);
        if !errors.is_empty() {
            dedup(&mut errors);
            errors.sort_by(|a, b| (&a.file, a.at.line, a.at.col).cmp(&(&b.file, b.at.line, b.at.col)));
            return Err(RulesError { errors });
        }
        set.maturity = maturity;
        set.summary.files = files.len();
        set.summary.lists = items.lists.len();
        set.summary.macros = items.macros.len();
        // The slots first: rules are keyed by them.
        set.field_index = FieldIndex::build(set.rules.iter_mut().flat_map(|r| r.matcher.conds_mut()).collect());
        set.index();
        tracing::debug!(rules = set.rules.len(), deny = set.deny.len(), "rule set compiled");
        Ok(set)
    }

    fn index(&mut self) {
        self.by_kind = (0..monitor_common::KIND_SLOTS).map(|_| Candidates::default()).collect();
        self.summary.rules = self.rules.len();
        for (i, r) in self.rules.iter().enumerate() {
            if !r.enabled {
                continue;
            }
            self.summary.enabled += 1;
            let kinds: Vec<Kind> = match &r.matcher {
                Matcher::Condition(by_kind) => by_kind.kinds().collect(),
                Matcher::Sequence(s) => {
                    self.summary.sequences += 1;
                    s.kinds_used().collect()
                }
            };
            for k in kinds {
                let (need, key) = match &r.matcher {
                    Matcher::Condition(by_kind) => by_kind
                        .get(k)
                        .map_or((Facts::NONE, None), |c| (c.need, required_slot(c.cond()))),
                    // A sequence is fed every event of its kinds (its steps' state).
                    Matcher::Sequence(s) => (s.need(k), None),
                };
                self.by_kind[k as usize].add(Entry { rule: i, need }, key);
                *self.summary.per_kind.entry(k).or_default() += 1;
            }
        }
    }

    /// Evaluates one event; returns an alert per matching rule (in file order). Fork, exit and deny
    /// events match nothing.
    pub fn evaluate(&mut self, ev: &Enriched) -> Vec<Alert> {
        let Some(kind) = fields::kind_of(&ev.event.body) else {
            return Vec::new();
        };
        let protected = if self.protected.is_empty() {
            &[][..]
        } else {
            self.protected.get(&ev.agent).map_or(&[][..], Vec::as_slice)
        };
        let memo = Memo::new(&mut self.memo, &self.field_index);
        let view = EventView::new(ev, protected).with_index(&self.field_index, &memo);
        let mut alerts = Vec::new();
        let Some(candidates) = self.by_kind.get(kind as usize) else {
            return Vec::new();
        };
        candidates.gather(&self.field_index, &memo, &view, &mut self.todo);
        for &Entry { rule: i, .. } in &self.todo {
            let rule = &mut self.rules[i];
            let matched = match &mut rule.matcher {
                Matcher::Condition(by_kind) => by_kind.get(kind).is_some_and(|c| c.matches(&view)),
                Matcher::Sequence(seq) => seq.observe(kind, &view),
            };
            if matched {
                let m = &rule.meta;
                alerts.push(Alert {
                    rule: m.name.clone(),
                    priority: m.priority,
                    tags: m.tags.clone(),
                    action: m.action,
                    action_result: String::new(),
                    action_latency_us: None,
                    output: m.output.render(ev),
                    event: ev.clone(),
                });
            }
        }
        alerts
    }

    /// Kernel deny entries of the enabled `action: deny` rules.
    pub fn deny_entries(&self) -> &[DenyEntry] {
        &self.deny
    }

    /// Declares an agent's protected code/config paths (read by `agent.protected`). Replaces any
    /// earlier list for that agent.
    pub(crate) fn set_protected(&mut self, agent: &str, paths: Vec<PathBuf>) {
        let paths = paths.into_iter().map(|p| p.to_string_lossy().into_owned()).collect();
        self.protected.insert(agent.to_string(), paths);
    }

    /// Drops everything held for an agent that is no longer watched: its protected paths and its
    /// pending sequence matches.
    pub(crate) fn forget_agent(&mut self, agent: &str) {
        self.protected.remove(agent);
        for r in &mut self.rules {
            if let Matcher::Sequence(s) = &mut r.matcher {
                s.forget(agent);
            }
        }
    }

    /// The maturity level the set was loaded with (rules above it are off).
    pub fn maturity(&self) -> Maturity {
        self.maturity
    }

    /// Number of enabled rules.
    pub fn rule_count(&self) -> usize {
        self.summary.enabled
    }

    pub(crate) fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Names and descriptions of all rules, enabled or not.
    pub fn describe(&self) -> impl Iterator<Item = (&str, &str, bool)> {
        self.rules
            .iter()
            .map(|r| (r.meta.name.as_str(), r.meta.desc.as_str(), r.enabled))
    }

    /// Sequence partial matches currently held, across rules and agents.
    #[cfg(test)]
    pub(crate) fn pending_sequences(&self) -> usize {
        self.rules
            .iter()
            .map(|r| match &r.matcher {
                Matcher::Sequence(s) => s.pending(),
                Matcher::Condition(_) => 0,
            })
            .sum()
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> RulesError {
    file_error(path, LineCol { line: 1, col: 1 }, format!("cannot read: {e}"))
}

fn dedup(errors: &mut Vec<RuleError>) {
    let mut seen = HashSet::new();
    errors.retain(|e| seen.insert(e.clone()));
}
