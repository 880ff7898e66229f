//! The condition language: tokens → AST.
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | predicate
//! predicate := WORD                       (macro name or boolean field)
//!            | FIELD "exists"
//!            | FIELD OP value | FIELD OP "(" value ("," value)* ")" | FIELD OP agent.protected
//! ```
use super::lexer::{LexError, Token, TokenKind, tokenize};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    StartsWith,
    EndsWith,
    Contains,
    Glob,
    InCidr,
}

impl Op {
    fn from_token(kind: &TokenKind) -> Option<Op> {
        Some(match kind {
            TokenKind::Sym("=") => Op::Eq,
            TokenKind::Sym("!=") => Op::Ne,
            TokenKind::Sym("<") => Op::Lt,
            TokenKind::Sym("<=") => Op::Le,
            TokenKind::Sym(">") => Op::Gt,
            TokenKind::Sym(">=") => Op::Ge,
            TokenKind::Word(w) => match w.as_str() {
                "in" => Op::In,
                "startswith" => Op::StartsWith,
                "endswith" => Op::EndsWith,
                "contains" => Op::Contains,
                "glob" => Op::Glob,
                "in_cidr" => Op::InCidr,
                _ => return None,
            },
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "in",
            Op::StartsWith => "startswith",
            Op::EndsWith => "endswith",
            Op::Contains => "contains",
            Op::Glob => "glob",
            Op::InCidr => "in_cidr",
        }
    }
}

/// A literal value (or, inside parentheses, possibly a list name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Item {
    pub text: String,
    pub offset: u32,
    pub quoted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Rhs {
    One(Item),
    /// `( a, b, list_name )`.
    Many(Vec<Item>),
    /// A per-agent dynamic list field such as `agent.protected`.
    Field(String, u32),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Cmp {
        field: String,
        offset: u32,
        op: Op,
        op_offset: u32,
        rhs: Rhs,
    },
    Exists {
        field: String,
        offset: u32,
    },
    /// A macro reference or a boolean field used as a predicate.
    Bare {
        name: String,
        offset: u32,
    },
}

/// Dynamic list fields allowed on the right of an operator.
pub(super) const DYNAMIC_LISTS: &[&str] = &["agent.protected"];

pub(super) type ParseError = LexError;

pub(super) fn parse(text: &str) -> Result<Expr, ParseError> {
    let tokens = tokenize(text)?;
    let mut p = Parser {
        tokens,
        pos: 0,
        end: text.len() as u32,
        depth: 0,
    };
    let expr = p.or()?;
    if let Some(t) = p.peek() {
        return Err(p.err_at(t.offset, "expected `and`, `or` or the end of the condition"));
    }
    Ok(expr)
}

/// Deepest nesting of `not` and parentheses accepted (keeps recursion bounded).
const MAX_DEPTH: u32 = 100;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    end: u32,
    depth: u32,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next_offset(&self) -> u32 {
        self.peek().map_or(self.end, |t| t.offset)
    }

    fn err_at(&self, offset: u32, message: &str) -> ParseError {
        let found = match self.tokens.iter().find(|t| t.offset == offset).map(|t| &t.kind) {
            None => "end of condition".to_string(),
            Some(TokenKind::Word(w)) => format!("`{w}`"),
            Some(TokenKind::Str(s)) => format!("\"{s}\""),
            Some(TokenKind::LParen) => "`(`".into(),
            Some(TokenKind::RParen) => "`)`".into(),
            Some(TokenKind::Comma) => "`,`".into(),
            Some(TokenKind::Sym(s)) => format!("`{s}`"),
        };
        LexError {
            offset,
            message: format!("{message}, found {found}"),
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token { kind: TokenKind::Word(w), .. }) if w == word) {
            self.pos += 1;
            return true;
        }
        false
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.and()?];
        while self.eat_word("or") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.unary()?];
        while self.eat_word("and") {
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.depth += 1;
        let result = if self.depth > MAX_DEPTH {
            Err(self.err_at(self.next_offset(), "condition nested too deeply"))
        } else {
            self.unary_inner()
        };
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<Expr, ParseError> {
        if self.eat_word("not") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        let offset = self.next_offset();
        match self.peek().map(|t| t.kind.clone()) {
            Some(TokenKind::LParen) => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek().map(|t| &t.kind) != Some(&TokenKind::RParen) {
                    return Err(self.err_at(self.next_offset(), "expected `)`"));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(TokenKind::Word(w)) if !matches!(w.as_str(), "and" | "or") => {
                self.pos += 1;
                self.predicate(w, offset)
            }
            _ => Err(self.err_at(offset, "expected a field, a macro, `not` or `(`")),
        }
    }

    fn predicate(&mut self, field: String, offset: u32) -> Result<Expr, ParseError> {
        if self.eat_word("exists") {
            return Ok(Expr::Exists { field, offset });
        }
        let op_offset = self.next_offset();
        let Some(op) = self.peek().and_then(|t| Op::from_token(&t.kind)) else {
            return Ok(Expr::Bare { name: field, offset });
        };
        self.pos += 1;
        let rhs = self.rhs()?;
        Ok(Expr::Cmp {
            field,
            offset,
            op,
            op_offset,
            rhs,
        })
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        let offset = self.next_offset();
        let item = match self.peek().map(|t| &t.kind) {
            Some(TokenKind::Word(w)) => Item {
                text: w.clone(),
                offset,
                quoted: false,
            },
            Some(TokenKind::Str(s)) => Item {
                text: s.clone(),
                offset,
                quoted: true,
            },
            _ => return Err(self.err_at(offset, "expected a value")),
        };
        self.pos += 1;
        Ok(item)
    }

    fn rhs(&mut self) -> Result<Rhs, ParseError> {
        if self.peek().map(|t| &t.kind) != Some(&TokenKind::LParen) {
            let item = self.item()?;
            if !item.quoted && DYNAMIC_LISTS.contains(&item.text.as_str()) {
                return Ok(Rhs::Field(item.text, item.offset));
            }
            return Ok(Rhs::One(item));
        }
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            if self.peek().map(|t| &t.kind) == Some(&TokenKind::RParen) {
                self.pos += 1;
                return Ok(Rhs::Many(items));
            }
            items.push(self.item()?);
            match self.peek().map(|t| &t.kind) {
                Some(TokenKind::Comma) => self.pos += 1,
                Some(TokenKind::RParen) => {}
                _ => return Err(self.err_at(self.next_offset(), "expected `,` or `)`")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_precedence_not_and_or() {
        let e = parse("not a and (b or c.d = x)").unwrap();
        let Expr::And(parts) = e else { panic!("{e:?}") };
        assert!(matches!(&parts[0], Expr::Not(inner) if matches!(**inner, Expr::Bare { .. })));
        assert!(matches!(&parts[1], Expr::Or(v) if v.len() == 2));
    }

    #[test]
    fn parses_lists_and_dynamic_lists() {
        let e = parse("proc.name in (sh, 'ba sh', shells)").unwrap();
        let Expr::Cmp {
            op,
            rhs: Rhs::Many(items),
            ..
        } = e
        else {
            panic!()
        };
        assert_eq!(op, Op::In);
        assert_eq!(items.len(), 3);
        assert!(items[1].quoted);
        let e = parse("file.path startswith agent.protected").unwrap();
        assert!(matches!(
            e,
            Expr::Cmp {
                rhs: Rhs::Field(..),
                ..
            }
        ));
    }

    #[test]
    fn reports_what_was_expected_and_where() {
        let err = parse("proc.name = bash and").unwrap_err();
        assert_eq!(err.offset, 20);
        assert!(err.message.contains("expected a field"), "{}", err.message);
        let err = parse("proc.name in (a b)").unwrap_err();
        assert_eq!(err.offset, 16);
        assert!(err.message.contains("expected `,` or `)`"));
        let err = parse("(a or b").unwrap_err();
        assert!(err.message.contains("expected `)`"));
        parse("a b").unwrap_err();
        let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
        assert!(
            parse(&deep)
                .unwrap_err()
                .message
                .starts_with("condition nested too deeply")
        );
        parse(&format!("{}a", "not ".repeat(5000))).unwrap_err();
    }
}
