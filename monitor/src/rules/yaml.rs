//! YAML loading with positions: a small node tree built from `yaml-rust2` parser events, where every
//! node remembers the line and column it starts at, so rule errors can name `file:line:col`.
use yaml_rust2::{
    parser::{Event, MarkedEventReceiver, Parser},
    scanner::{Marker, TScalarStyle},
};

/// A 1-based line and column (columns count characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub(crate) struct LineCol {
    pub line: usize,
    pub col: usize,
}

impl LineCol {
    fn from_marker(m: &Marker) -> Self {
        Self {
            line: m.line(),
            col: m.col() + 1,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScalarStyle {
    Plain,
    Quoted,
    Block,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Scalar {
        value: String,
        style: ScalarStyle,
        at: LineCol,
    },
    Seq {
        items: Vec<Node>,
        at: LineCol,
    },
    Map {
        entries: Vec<(Node, Node)>,
        at: LineCol,
    },
}

impl Node {
    pub(crate) fn at(&self) -> LineCol {
        match self {
            Node::Scalar { at, .. } | Node::Seq { at, .. } | Node::Map { at, .. } => *at,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The value for `key` in a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Node::Scalar { .. } => "a scalar",
            Node::Seq { .. } => "a list",
            Node::Map { .. } => "a mapping",
        }
    }
}

/// A YAML syntax error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub at: LineCol,
    pub message: String,
}

/// Parses every document of `text`.
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut builder = TreeBuilder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| SyntaxError {
        at: LineCol::from_marker(e.marker()),
        message: format!("invalid YAML: {}", e.info()),
    })?;
    if let Some(message) = builder.error {
        return Err(SyntaxError {
            at: builder.error_at,
            message,
        });
    }
    Ok(builder.documents)
}

enum Open {
    Seq(Vec<Node>, LineCol),
    /// Entries, a key waiting for its value, and where the mapping starts.
    Map(Vec<(Node, Node)>, Option<Node>, LineCol),
}

#[derive(Default)]
struct TreeBuilder {
    stack: Vec<Open>,
    documents: Vec<Node>,
    error: Option<String>,
    error_at: LineCol,
}

impl TreeBuilder {
    fn push_node(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Open::Seq(items, _)) => items.push(node),
            Some(Open::Map(entries, key, _)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let at = LineCol::from_marker(&mark);
        match ev {
            Event::Scalar(value, style, _, _) => {
                let style = match style {
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => ScalarStyle::Quoted,
                    _ => ScalarStyle::Block,
                };
                self.push_node(Node::Scalar { value, style, at });
            }
            Event::SequenceStart(..) => self.stack.push(Open::Seq(Vec::new(), at)),
            Event::MappingStart(..) => self.stack.push(Open::Map(Vec::new(), None, at)),
            Event::SequenceEnd | Event::MappingEnd => {
                let node = match self.stack.pop() {
                    Some(Open::Seq(items, at)) => Node::Seq { items, at },
                    Some(Open::Map(entries, _, at)) => Node::Map { entries, at },
                    None => return,
                };
                self.push_node(node);
            }
            Event::Alias(_) => {
                if self.error.is_none() {
                    self.error = Some("YAML aliases are not supported in rule files".into());
                    self.error_at = at;
                }
                // Keep the tree shape consistent.
                self.push_node(Node::Scalar {
                    value: String::new(),
                    style: ScalarStyle::Plain,
                    at,
                });
            }
            _ => {}
        }
    }
}

/// Where each line of a file starts, to turn positions into byte offsets and back in
/// `O(log lines)` instead of walking the file for every error.
#[derive(Debug, Default)]
pub(super) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(super) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    fn byte_offset(&self, text: &str, at: LineCol) -> Option<usize> {
        let line_start = *self.starts.get(at.line.checked_sub(1)?)?;
        let line = text.get(line_start..)?;
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        let col = line
            .char_indices()
            .nth(at.col.saturating_sub(1))
            .map_or(line.len(), |(i, _)| i);
        Some(line_start + col)
    }

    fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let line_start = self.starts[line - 1];
        LineCol {
            line,
            col: text.get(line_start..offset).map_or(0, |s| s.chars().count()) + 1,
        }
    }
}

/// Maps byte offsets inside a scalar's value back to file positions. Works by walking the file text
/// from the scalar's start and pairing each non-blank character of the value with the next equal
/// character in the source, which handles plain, quoted, folded and literal scalars (escape sequences
/// in double-quoted strings only shift columns within the escaped run).
pub(super) fn scalar_position(
    file_text: &str,
    index: &LineIndex,
    start: LineCol,
    style: ScalarStyle,
    value: &str,
    offset: usize,
) -> LineCol {
    let Some(mut src) = index.byte_offset(file_text, start) else {
        return start;
    };
    // Block scalars (`|`, `>`) are marked at their first content character already.
    if style == ScalarStyle::Quoted {
        src += 1;
    }
    let mut found = src;
    for (vi, vc) in value.char_indices() {
        if vc.is_whitespace() && vi < offset {
            continue;
        }
        // Pair this value character with the next equal source character.
        let Some(rest) = file_text.get(src..) else { break };
        let Some((si, sc)) = rest
            .char_indices()
            .find(|&(_, c)| c == vc || (vc.is_whitespace() && c.is_whitespace()))
        else {
            break;
        };
        found = src + si;
        src = found + sc.len_utf8();
        if vi >= offset {
            break;
        }
    }
    if offset >= value.len() {
        found = src;
    }
    index.line_col(file_text, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_condition(text: &str) -> (Node, LineCol) {
        let docs = parse_documents(text).unwrap();
        let Node::Seq { items, .. } = &docs[0] else { panic!() };
        let cond = items[0].get("condition").unwrap().clone();
        let at = cond.at();
        (cond, at)
    }

    fn pos_of(text: &str, needle: &str) -> LineCol {
        let (cond, at) = first_condition(text);
        let Node::Scalar { value, style, .. } = &cond else {
            panic!()
        };
        let off = value.find(needle).unwrap();
        scalar_position(text, &LineIndex::new(text), at, *style, value, off)
    }

    #[test]
    fn maps_plain_quoted_and_block_scalars() {
        let plain = "- rule: a\n  condition: proc.name = bash and x\n";
        assert_eq!(pos_of(plain, "x"), LineCol { line: 2, col: 35 });
        assert_eq!(pos_of(plain, "proc"), LineCol { line: 2, col: 14 });
        let quoted = "- rule: a\n  condition: \"proc.name = bash and x\"\n";
        assert_eq!(pos_of(quoted, "x"), LineCol { line: 2, col: 36 });
        let folded = "- rule: a\n  condition: >\n    proc.name = bash\n    and x\n";
        assert_eq!(pos_of(folded, "x"), LineCol { line: 4, col: 9 });
        let multi = "- rule: a\n  condition: proc.name = bash\n    and x\n";
        assert_eq!(pos_of(multi, "x"), LineCol { line: 3, col: 9 });
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let err = parse_documents("- rule: a\n  condition: [unclosed\n").unwrap_err();
        assert!(err.at.line >= 2, "{err:?}");
    }
}
