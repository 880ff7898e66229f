//! A readable text line being built: literal parts as written, values escaped. Everything a value
//! holds comes from the watched agent (paths, argv, comm), so control characters and other
//! non-printables are written as escapes (`\n`, `\t`, `\x1b`, `\u{202e}`): an agent cannot start a
//! line of its own in the operator's terminal or log, nor send terminal escape sequences.
use std::fmt::Write;

pub(crate) struct Line<'a>(&'a mut String);

impl<'a> Line<'a> {
    pub(crate) fn new(out: &'a mut String) -> Self {
        Self(out)
    }

    /// Literal text, written as is (the caller's own words, never event data).
    pub(crate) fn lit(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }

    /// A value from the event, escaped.
    pub(crate) fn val(&mut self, s: &str) -> &mut Self {
        escape_into(s, self.0);
        self
    }

    /// A number or other value whose text form holds nothing to escape.
    pub(crate) fn num(&mut self, n: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.0, "{n}");
        self
    }

    /// A list of values as `["a", "b"]`, each escaped.
    pub(crate) fn list(&mut self, items: &[String]) -> &mut Self {
        self.0.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.0.push_str(", ");
            }
            self.0.push('"');
            for c in item.chars() {
                match c {
                    '"' => self.0.push_str("\\\""),
                    '\\' => self.0.push_str("\\\\"),
                    c => escape_char(c, self.0),
                }
            }
            self.0.push('"');
        }
        self.0.push(']');
        self
    }
}

/// Appends `s` with control characters and other non-printables escaped.
pub(super) fn escape_into(s: &str, out: &mut String) {
    if !s.chars().any(needs_escape) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        escape_char(c, out);
    }
}

/// `x`'s text form escaped as [`escape_into`] does: for `tracing` log lines and error messages that
/// show agent-controlled text (agent and cgroup names, rule names, paths inside errors), written
/// `agent = %Esc(&name)` or `"…: {}", Esc(&e)`.
pub(crate) struct Esc<T>(pub T);

impl<T: std::fmt::Display> std::fmt::Display for Esc<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = if f.alternate() {
            format!("{:#}", self.0)
        } else {
            self.0.to_string()
        };
        f.write_str(&escaped(&text))
    }
}

/// `s` escaped as [`escape_into`] does.
pub(crate) fn escaped(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(needs_escape) {
        let mut out = String::with_capacity(s.len() + 8);
        escape_into(s, &mut out);
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// Characters that change how a line looks without being seen: bidirectional overrides and
/// isolates, zero-width characters, the BOM.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

fn escape_char(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x100 && needs_escape(c) => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if needs_escape(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::{Esc, Line, escaped};

    #[test]
    fn values_cannot_start_a_line_or_reach_the_terminal() {
        assert_eq!(
            escaped("x\n2026-12-01T00:00:00Z ALERT Fake"),
            "x\\n2026-12-01T00:00:00Z ALERT Fake"
        );
        assert_eq!(escaped("\x1b[2J\x1b]0;t\x07"), "\\x1b[2J\\x1b]0;t\\x07");
        assert_eq!(escaped("a\u{202e}b\u{85}"), "a\\u{202e}b\\x85");
        assert_eq!(escaped("/tmp/ok päth"), "/tmp/ok päth");
        let mut s = String::new();
        Line::new(&mut s)
            .lit("exec ")
            .val("/bin/sh")
            .lit(" argv=")
            .list(&["sh".into(), "-c".into(), "a\"b\nc".into()]);
        assert_eq!(s, "exec /bin/sh argv=[\"sh\", \"-c\", \"a\\\"b\\nc\"]");
        let e = anyhow::anyhow!("freezing /sys/fs/cgroup/a\nFAKE").context("quarantine");
        assert_eq!(format!("{:#}", Esc(&e)), "quarantine: freezing /sys/fs/cgroup/a\\nFAKE");
    }
}
