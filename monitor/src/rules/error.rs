//! Rule errors, each naming `file:line:col`, and the table of texts (conditions, values) that
//! positions inside conditions are resolved against.
use std::{fmt, sync::Arc};

use thiserror::Error;

use super::yaml::{LineCol, LineIndex, Node, ScalarStyle, scalar_position};

/// One problem in a rule file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RuleError {
    pub file: Arc<str>,
    pub at: LineCol,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.at.line, self.at.col, self.message)
    }
}

/// Every problem found while loading a rule set, one `file:line:col: message` per line.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("{}", render(.errors))]
pub struct RulesError {
    pub(crate) errors: Vec<RuleError>,
}

/// Errors shown; the count of the others follows them.
const SHOWN: usize = 200;

fn render(errors: &[RuleError]) -> String {
    let mut lines: Vec<String> = errors.iter().take(SHOWN).map(ToString::to_string).collect();
    if errors.len() > SHOWN {
        lines.push(format!("… and {} more errors", errors.len() - SHOWN));
    }
    lines.join("\n")
}

/// A YAML scalar whose text is parsed further (a condition, an output, a list item).
#[derive(Debug)]
struct Text {
    file: Arc<str>,
    /// The whole file, to place positions inside the scalar.
    whole_file: Arc<str>,
    lines: Arc<LineIndex>,
    at: LineCol,
    style: ScalarStyle,
    value: String,
}

/// Index of a registered text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TextId(pub u32);

/// A byte offset inside a registered text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Loc {
    pub text: TextId,
    pub offset: u32,
}

/// One rule file's name and contents.
#[derive(Clone, Debug)]
pub(super) struct FileRef {
    pub name: Arc<str>,
    pub text: Arc<str>,
    pub lines: Arc<LineIndex>,
}

impl FileRef {
    pub(super) fn new(name: &str, text: &str) -> Self {
        Self {
            name: Arc::from(name),
            text: Arc::from(text),
            lines: Arc::new(LineIndex::new(text)),
        }
    }

    pub(super) fn error(&self, at: LineCol, message: impl Into<String>) -> RuleError {
        RuleError {
            file: Arc::clone(&self.name),
            at,
            message: message.into(),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Texts {
    texts: Vec<Text>,
}

impl Texts {
    /// Registers a scalar node; non-scalars register as empty text at their position.
    pub(super) fn add(&mut self, file: &FileRef, node: &Node) -> TextId {
        let (value, style) = match node {
            Node::Scalar { value, style, .. } => (value.clone(), *style),
            _ => (String::new(), ScalarStyle::Plain),
        };
        self.texts.push(Text {
            file: Arc::clone(&file.name),
            whole_file: Arc::clone(&file.text),
            lines: Arc::clone(&file.lines),
            at: node.at(),
            style,
            value,
        });
        TextId((self.texts.len() - 1) as u32)
    }

    /// Whether the text was a quoted YAML scalar (`"…"`, `'…'`).
    pub(super) fn quoted(&self, id: TextId) -> bool {
        self.texts
            .get(id.0 as usize)
            .is_some_and(|t| t.style == ScalarStyle::Quoted)
    }

    pub(super) fn get(&self, id: TextId) -> &str {
        self.texts.get(id.0 as usize).map_or("", |t| t.value.as_str())
    }

    pub(super) fn error(&self, loc: Loc, message: impl Into<String>) -> RuleError {
        let message = message.into();
        match self.texts.get(loc.text.0 as usize) {
            Some(t) => RuleError {
                file: Arc::clone(&t.file),
                at: scalar_position(&t.whole_file, &t.lines, t.at, t.style, &t.value, loc.offset as usize),
                message,
            },
            None => RuleError {
                file: "<unknown>".into(),
                at: LineCol::default(),
                message,
            },
        }
    }
}
