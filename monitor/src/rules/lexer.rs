//! Tokens of the condition language. Offsets are byte offsets into the condition text.

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// A bare word: field, keyword, macro/list name or unquoted value (`/tmp/`, `10.0.0.0/8`).
    Word(String),
    /// A quoted string, unescaped.
    Str(String),
    LParen,
    RParen,
    Comma,
    /// `=`, `!=`, `<`, `<=`, `>`, `>=`.
    Sym(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: TokenKind,
    pub offset: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LexError {
    pub offset: u32,
    pub message: String,
}

fn is_word_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | ',' | '=' | '!' | '<' | '>' | '"' | '\'')
}

pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, LexError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        let offset = i as u32;
        let mut push = |kind| tokens.push(Token { kind, offset });
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' => {
                chars.next();
                push(match c {
                    '(' => TokenKind::LParen,
                    ')' => TokenKind::RParen,
                    _ => TokenKind::Comma,
                });
            }
            '=' | '!' | '<' | '>' => {
                chars.next();
                let followed_by_eq = chars.peek().is_some_and(|&(_, n)| n == '=');
                let sym = match (c, followed_by_eq) {
                    ('=', _) => "=",
                    ('!', true) => "!=",
                    ('<', true) => "<=",
                    ('>', true) => ">=",
                    ('<', false) => "<",
                    ('>', false) => ">",
                    _ => {
                        return Err(LexError {
                            offset,
                            message: "expected `!=` (use `not` for negation)".into(),
                        });
                    }
                };
                if sym.len() == 2 {
                    chars.next();
                }
                push(TokenKind::Sym(sym));
            }
            '"' | '\'' => {
                chars.next();
                let mut value = String::new();
                let mut closed = false;
                while let Some((_, ch)) = chars.next() {
                    if ch == c {
                        closed = true;
                        break;
                    }
                    if ch == '\\' {
                        if let Some((_, esc)) = chars.next() {
                            value.push(esc);
                        }
                        continue;
                    }
                    value.push(ch);
                }
                if !closed {
                    return Err(LexError {
                        offset,
                        message: format!("unterminated string: expected a closing {c}"),
                    });
                }
                push(TokenKind::Str(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&(_, ch)) = chars.peek() {
                    if !is_word_char(ch) {
                        break;
                    }
                    word.push(ch);
                    chars.next();
                }
                push(TokenKind::Word(word));
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::{TokenKind::*, *};

    #[test]
    fn splits_words_symbols_and_strings() {
        let toks = tokenize("net.addr in_cidr (::ffff:10.0.0.0/104, 'a b') and x!=\"q\\\"\"").unwrap();
        let kinds: Vec<_> = toks.iter().map(|t| t.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                Word("net.addr".into()),
                Word("in_cidr".into()),
                LParen,
                Word("::ffff:10.0.0.0/104".into()),
                Comma,
                Str("a b".into()),
                RParen,
                Word("and".into()),
                Word("x".into()),
                Sym("!="),
                Str("q\"".into()),
            ]
        );
        assert_eq!(toks[3].offset, 18);
    }

    #[test]
    fn rejects_unterminated_strings_and_lone_bang() {
        assert_eq!(tokenize("a = 'x").unwrap_err().offset, 4);
        tokenize("! a").unwrap_err();
    }
}
