//! Rule files → raw items (`rule`, `list`, `macro`), with positions, before any condition is parsed.
use std::time::Duration;

use super::{
    error::{FileRef, Loc, RuleError, TextId, Texts},
    yaml::{LineCol, Node, parse_documents},
};
use crate::rules::{Action, Maturity, Priority};

/// A value written in YAML (a list item, an exception value).
#[derive(Clone, Debug)]
pub(super) struct Value {
    pub text: String,
    pub loc: Loc,
}

#[derive(Debug)]
pub(super) struct RawList {
    pub name: String,
    pub file: FileRef,
    pub at: LineCol,
    pub items: Vec<Value>,
}

#[derive(Debug)]
pub(super) struct RawMacro {
    pub name: String,
    pub file: FileRef,
    pub at: LineCol,
    pub condition: TextId,
}

#[derive(Debug)]
pub(super) struct RawStep {
    pub condition: TextId,
    pub alias: Option<String>,
    /// Fields whose value must equal the previous step's.
    pub same: Vec<Value>,
}

#[derive(Debug)]
pub(super) struct RawException {
    pub name: String,
    pub fields: Vec<Value>,
    pub comps: Vec<Value>,
    /// One tuple per exempted case; each element is one value or (for `in`) several.
    pub values: Vec<Vec<Vec<Value>>>,
}

#[derive(Debug)]
pub(super) struct RawRule {
    pub name: String,
    pub file: FileRef,
    pub at: LineCol,
    pub desc: String,
    pub condition: Option<TextId>,
    pub sequence: Vec<RawStep>,
    pub within: Option<Duration>,
    pub output: Option<TextId>,
    pub priority: Priority,
    pub action: Action,
    pub tags: Vec<String>,
    pub maturity: Maturity,
    pub enabled: bool,
    pub exceptions: Vec<RawException>,
}

#[derive(Debug, Default)]
pub(super) struct RawItems {
    pub lists: Vec<RawList>,
    pub macros: Vec<RawMacro>,
    pub rules: Vec<RawRule>,
}

const RULE_KEYS: &[&str] = &[
    "rule",
    "desc",
    "condition",
    "sequence",
    "within",
    "output",
    "priority",
    "action",
    "tags",
    "maturity",
    "enabled",
    "exceptions",
];

struct Reader<'a> {
    file: &'a FileRef,
    texts: &'a mut Texts,
    errors: &'a mut Vec<RuleError>,
}

/// Reads one file's items into `items`; problems go to `errors`.
pub(super) fn read_file(file: &FileRef, texts: &mut Texts, items: &mut RawItems, errors: &mut Vec<RuleError>) {
    let docs = match parse_documents(&file.text) {
        Ok(d) => d,
        Err(e) => {
            errors.push(file.error(e.at, e.message));
            return;
        }
    };
    let mut r = Reader { file, texts, errors };
    for doc in docs {
        match doc {
            Node::Seq { items: entries, .. } => {
                for entry in &entries {
                    r.item(entry, items);
                }
            }
            Node::Map { .. } => r.item(&doc, items),
            Node::Scalar { ref value, .. } if value.is_empty() => {}
            other @ Node::Scalar { .. } => r.err(other.at(), "expected a list of `rule`, `list` or `macro` items"),
        }
    }
}

impl Reader<'_> {
    fn err(&mut self, at: LineCol, message: impl Into<String>) {
        self.errors.push(self.file.error(at, message));
    }

    fn string(&mut self, node: &Node, key: &str) -> Option<String> {
        match node.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                self.err(
                    node.at(),
                    format!("`{key}`: expected a string, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    fn value(&mut self, node: &Node, key: &str) -> Option<Value> {
        let text = self.string(node, key)?;
        let loc = Loc {
            text: self.texts.add(self.file, node),
            offset: 0,
        };
        Some(Value { text, loc })
    }

    /// A list of strings; a single scalar counts as a one-item list.
    fn values(&mut self, node: &Node, key: &str) -> Vec<Value> {
        match node {
            Node::Seq { items, .. } => items.iter().filter_map(|n| self.value(n, key)).collect(),
            Node::Scalar { .. } => self.value(node, key).into_iter().collect(),
            Node::Map { at, .. } => {
                self.err(*at, format!("`{key}`: expected a list of strings, found a mapping"));
                Vec::new()
            }
        }
    }

    fn text(&mut self, node: &Node, key: &str) -> Option<TextId> {
        self.string(node, key)?;
        Some(self.texts.add(self.file, node))
    }

    fn item(&mut self, node: &Node, items: &mut RawItems) {
        let Node::Map { entries, at } = node else {
            self.err(
                node.at(),
                format!(
                    "expected a `rule`, `list` or `macro` mapping, found {}",
                    node.kind_name()
                ),
            );
            return;
        };
        // Point at the item's `rule:`/`list:`/`macro:` key (a mapping's own mark is less precise).
        let key_at = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k.at())
        };
        let at = key_at("rule")
            .or_else(|| key_at("list"))
            .or_else(|| key_at("macro"))
            .unwrap_or(*at);
        if let Some(name) = node.get("list") {
            self.check_keys(entries, &["list", "items"], "list");
            let Some(name) = self.string(name, "list") else { return };
            let items_node = node.get("items");
            let values = match items_node {
                Some(n @ Node::Seq { .. }) => self.values(n, "items"),
                Some(n) => {
                    self.err(n.at(), "`items`: expected a list, e.g. `items: [sh, bash]`");
                    Vec::new()
                }
                None => {
                    self.err(at, format!("list `{name}`: missing `items`"));
                    Vec::new()
                }
            };
            items.lists.push(RawList {
                name,
                file: self.file.clone(),
                at,
                items: values,
            });
        } else if let Some(name) = node.get("macro") {
            self.check_keys(entries, &["macro", "condition"], "macro");
            let Some(name) = self.string(name, "macro") else { return };
            let Some(cond) = node.get("condition") else {
                self.err(at, format!("macro `{name}`: missing `condition`"));
                return;
            };
            if let Some(condition) = self.text(cond, "condition") {
                items.macros.push(RawMacro {
                    name,
                    file: self.file.clone(),
                    at,
                    condition,
                });
            }
        } else if let Some(name) = node.get("rule") {
            self.check_keys(entries, RULE_KEYS, "rule");
            if let Some(name) = self.string(name, "rule")
                && let Some(rule) = self.rule(node, name, at)
            {
                items.rules.push(rule);
            }
        } else {
            self.err(at, "expected a mapping with `rule`, `list` or `macro`");
        }
    }

    fn check_keys(&mut self, entries: &[(Node, Node)], allowed: &[&str], what: &str) {
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !allowed.contains(&key) {
                self.err(
                    k.at(),
                    format!(
                        "unknown key `{key}` in a {what} (expected one of: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    fn rule(&mut self, node: &Node, name: String, at: LineCol) -> Option<RawRule> {
        let errors_before = self.errors.len();
        let desc = node
            .get("desc")
            .and_then(|n| self.string(n, "desc"))
            .unwrap_or_default();
        let condition = node.get("condition").and_then(|n| self.text(n, "condition"));
        let sequence = match node.get("sequence") {
            Some(Node::Seq { items, .. }) => items.iter().filter_map(|s| self.step(s)).collect(),
            Some(n) => {
                self.err(n.at(), "`sequence`: expected a list of steps (`- condition: ...`)");
                Vec::new()
            }
            None => Vec::new(),
        };
        let within = match node.get("within") {
            Some(n) => {
                let s = self.string(n, "within")?;
                match humantime::parse_duration(&s) {
                    Ok(d) if !d.is_zero() => Some(d),
                    _ => {
                        self.err(
                            n.at(),
                            format!("`within`: expected a duration such as `60s` or `5m`, found `{s}`"),
                        );
                        // Reported above; keeps the rule from also being told it lacks `within`.
                        Some(Duration::from_secs(1))
                    }
                }
            }
            None => None,
        };
        match (&condition, sequence.is_empty(), &within) {
            (Some(_), false, _) => self.err(at, format!("rule `{name}`: has both `condition` and `sequence`")),
            (None, true, _) => self.err(at, format!("rule `{name}`: missing `condition` (or `sequence`)")),
            (None, false, None) => self.err(at, format!("rule `{name}`: a sequence needs `within` (e.g. `60s`)")),
            (None, false, Some(_)) if sequence.len() < 2 => {
                self.err(at, format!("rule `{name}`: a sequence needs at least two steps"));
            }
            (Some(_), true, Some(_)) => self.err(at, format!("rule `{name}`: `within` only applies to sequences")),
            _ => {}
        }
        let output = node.get("output").and_then(|n| self.text(n, "output"));
        let priority = match node.get("priority") {
            None => Priority::Warning,
            Some(n) => {
                let s = self.string(n, "priority")?;
                match parse_priority(&s) {
                    Some(p) => p,
                    None => {
                        self.err(
                            n.at(),
                            format!("`priority`: expected emergency, alert, critical, error, warning, notice, informational or debug, found `{s}`"),
                        );
                        Priority::Warning
                    }
                }
            }
        };
        let action = match node.get("action") {
            None => Action::Alert,
            Some(n) => {
                let s = self.string(n, "action")?;
                match s.as_str() {
                    "alert" => Action::Alert,
                    "kill" => Action::Kill,
                    "quarantine" => Action::Quarantine,
                    "deny" => Action::Deny,
                    _ => {
                        self.err(
                            n.at(),
                            format!("`action`: expected alert, kill, quarantine or deny, found `{s}`"),
                        );
                        Action::Alert
                    }
                }
            }
        };
        let tags = node.get("tags").map(|n| self.values(n, "tags")).unwrap_or_default();
        for t in &tags {
            if let Some(problem) = attack_id_problem(&t.text) {
                let e = self.texts.error(t.loc, format!("tag `{}`: {problem}", t.text));
                self.errors.push(e);
            }
        }
        let tags = tags.into_iter().map(|v| v.text).collect();
        let maturity = match node.get("maturity") {
            None => Maturity::Stable,
            Some(n) => {
                let s = self.string(n, "maturity")?;
                s.parse().unwrap_or_else(|e: String| {
                    self.err(n.at(), format!("`maturity`: {e}"));
                    Maturity::Stable
                })
            }
        };
        let enabled = match node.get("enabled") {
            None => true,
            Some(n) => match n.as_str() {
                Some("true") => true,
                Some("false") => false,
                _ => {
                    self.err(n.at(), "`enabled`: expected true or false");
                    true
                }
            },
        };
        let exceptions = match node.get("exceptions") {
            None => Vec::new(),
            Some(Node::Seq { items, .. }) => items.iter().filter_map(|e| self.exception(e)).collect(),
            Some(n) => {
                self.err(n.at(), "`exceptions`: expected a list of {name, fields, comps, values}");
                Vec::new()
            }
        };
        if self.errors.len() > errors_before {
            return None;
        }
        Some(RawRule {
            name,
            file: self.file.clone(),
            at,
            desc,
            condition,
            sequence,
            within,
            output,
            priority,
            action,
            tags,
            maturity,
            enabled,
            exceptions,
        })
    }

    fn step(&mut self, node: &Node) -> Option<RawStep> {
        let Node::Map { entries, at } = node else {
            self.err(node.at(), "a sequence step must be a mapping with `condition`");
            return None;
        };
        self.check_keys(entries, &["condition", "as", "same"], "sequence step");
        let Some(cond) = node.get("condition") else {
            self.err(*at, "sequence step: missing `condition`");
            return None;
        };
        let condition = self.text(cond, "condition")?;
        let alias = node.get("as").and_then(|n| self.string(n, "as"));
        let same = node.get("same").map(|n| self.values(n, "same")).unwrap_or_default();
        Some(RawStep { condition, alias, same })
    }

    fn exception(&mut self, node: &Node) -> Option<RawException> {
        let Node::Map { entries, at } = node else {
            self.err(
                node.at(),
                "an exception must be a mapping with name, fields, comps, values",
            );
            return None;
        };
        self.check_keys(entries, &["name", "fields", "comps", "values"], "exception");
        let name = node
            .get("name")
            .and_then(|n| self.string(n, "name"))
            .unwrap_or_default();
        let fields = node.get("fields").map(|n| self.values(n, "fields")).unwrap_or_default();
        if fields.is_empty() {
            self.err(
                *at,
                format!("exception `{name}`: `fields` must list at least one field"),
            );
            return None;
        }
        let comps = node.get("comps").map(|n| self.values(n, "comps")).unwrap_or_default();
        let mut values = Vec::new();
        match node.get("values") {
            Some(Node::Seq { items, .. }) => {
                for tuple in items {
                    let parts: Vec<Vec<Value>> = match tuple {
                        Node::Seq { items: parts, .. } => parts.iter().map(|p| self.values(p, "values")).collect(),
                        // With a single field, `values: [a, b]` lists one value per case.
                        scalar @ Node::Scalar { .. } if fields.len() == 1 => vec![self.values(scalar, "values")],
                        other => {
                            self.err(
                                other.at(),
                                "exception `values`: expected a list of value tuples, e.g. [[a, b]]",
                            );
                            continue;
                        }
                    };
                    if parts.len() != fields.len() {
                        self.err(
                            tuple.at(),
                            format!(
                                "exception `{name}`: expected {} values (one per field), found {}",
                                fields.len(),
                                parts.len()
                            ),
                        );
                        continue;
                    }
                    values.push(parts);
                }
            }
            _ => self.err(*at, format!("exception `{name}`: `values` must be a list of tuples")),
        }
        Some(RawException {
            name,
            fields,
            comps,
            values,
        })
    }
}

/// A tag that looks like a MITRE ATT&CK id (`T` or `TA` and a digit) but is not one: techniques are
/// `T` and four digits with an optional `.` and three-digit sub-technique (`T1098.004`), tactics
/// `TA` and four digits (`TA0003`). SIEMs group on these, so a typo must not pass silently.
fn attack_id_problem(tag: &str) -> Option<&'static str> {
    let b = tag.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let body = match b {
        [b'T' | b't', b'A' | b'a', rest @ ..] if rest.first().is_some_and(u8::is_ascii_digit) => {
            return (!(b[0] == b'T' && b[1] == b'A' && rest.len() == 4 && digits(rest)))
                .then_some("an ATT&CK tactic id is `TA` and four digits, e.g. TA0003");
        }
        [b'T' | b't', rest @ ..] if rest.first().is_some_and(u8::is_ascii_digit) => rest,
        _ => return None,
    };
    let ok = b[0] == b'T'
        && match body.iter().position(|c| *c == b'.') {
            None => body.len() == 4 && digits(body),
            Some(4) => digits(&body[..4]) && body.len() == 8 && digits(&body[5..]),
            Some(_) => false,
        };
    (!ok).then_some("an ATT&CK technique id is `T` and four digits, with an optional `.` and three-digit sub-technique, e.g. T1098.004")
}

pub(super) fn parse_priority(s: &str) -> Option<Priority> {
    Some(match s.to_ascii_lowercase().as_str() {
        "emergency" => Priority::Emergency,
        "alert" => Priority::Alert,
        "critical" => Priority::Critical,
        "error" => Priority::Error,
        "warning" => Priority::Warning,
        "notice" => Priority::Notice,
        "informational" | "info" => Priority::Informational,
        "debug" => Priority::Debug,
        _ => return None,
    })
}
