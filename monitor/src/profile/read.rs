//! Reading a profile back: every problem reported as `file:line:col: message` (as `rules check`
//! does), all of them at once; a profile with any error is not used. Notes (not errors) say what the
//! sandbox will do differently from what the profile says (a syscall on the fixed deny list).
use std::{collections::BTreeSet, fmt, net::IpAddr, path::Path};

use super::{Coverage, Dest, Files, Listen, Network, Profile, Proto, Scope, VERSION, syscalls};
use crate::rules::{
    LineCol,
    yaml::{Node, parse_documents},
};

/// Every error (and note) found in a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ProfileErrors {
    pub errors: Vec<String>,
    pub notes: Vec<String>,
}

impl fmt::Display for ProfileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.errors.join("\n"))
    }
}

impl std::error::Error for ProfileErrors {}

/// Reads and checks the profile at `path`.
pub(crate) fn load(path: &Path) -> anyhow::Result<Profile> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let (p, notes) = parse_with_notes(&path.display().to_string(), &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    for n in notes {
        tracing::warn!("{n}");
    }
    Ok(p)
}

/// `profile check`: the profile's errors and notes (`Ok` when it has no error).
pub(crate) fn check_file(path: &Path) -> Result<(Profile, Vec<String>), ProfileErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| ProfileErrors {
        errors: vec![format!("{}:1:1: {e}", path.display())],
        notes: Vec::new(),
    })?;
    parse_with_notes(&path.display().to_string(), &text)
}

pub(super) fn parse_with_notes(name: &str, text: &str) -> Result<(Profile, Vec<String>), ProfileErrors> {
    let mut r = Reader {
        name,
        errors: Vec::new(),
        notes: Vec::new(),
    };
    let p = r.document(text);
    if r.errors.is_empty() {
        Ok((p, r.notes))
    } else {
        Err(ProfileErrors {
            errors: r.errors,
            notes: r.notes,
        })
    }
}

struct Reader<'a> {
    name: &'a str,
    errors: Vec<String>,
    notes: Vec<String>,
}

const TOP_KEYS: &[&str] = &[
    "version",
    "agent",
    "coverage",
    "executables",
    "files",
    "network",
    "scope",
    "syscalls",
];

impl Reader<'_> {
    fn err(&mut self, at: LineCol, msg: impl fmt::Display) {
        self.errors.push(format!("{}:{}:{}: {msg}", self.name, at.line, at.col));
    }

    fn note(&mut self, at: LineCol, msg: impl fmt::Display) {
        self.notes
            .push(format!("{}:{}:{}: note: {msg}", self.name, at.line, at.col));
    }

    fn document(&mut self, text: &str) -> Profile {
        let mut p = Profile::default();
        let docs = match parse_documents(text) {
            Ok(d) => d,
            Err(e) => {
                self.err(e.at, e.message);
                return p;
            }
        };
        let Some(root) = docs.first() else {
            self.err(LineCol { line: 1, col: 1 }, "empty profile");
            return p;
        };
        if docs.len() > 1 {
            self.err(docs[1].at(), "a profile is one YAML document");
        }
        let Some(entries) = self.map(root, "the profile") else {
            return p;
        };
        let mut version = None;
        for (k, v) in entries {
            let Some(key) = self.key(k, TOP_KEYS) else { continue };
            match key {
                "version" => version = self.number(v),
                "agent" => p.agent = self.string(v).unwrap_or_default(),
                "coverage" => p.coverage = self.coverage(v),
                "executables" => p.executables = self.paths(v, false),
                "files" => p.files = self.files(v),
                "network" => p.network = self.network(v),
                "scope" => p.scope = self.scope(v),
                _ => self.syscalls(v, &mut p),
            }
        }
        match version {
            Some(VERSION) => {}
            Some(other) => self.err(
                root.get("version").map_or_else(|| root.at(), Node::at),
                format_args!("unknown profile version {other} (this agentmon reads version {VERSION})"),
            ),
            None => self.err(root.at(), format_args!("missing `version: {VERSION}`")),
        }
        p
    }

    fn map<'n>(&mut self, n: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match n {
            Node::Map { entries, .. } => Some(entries),
            other => {
                self.err(
                    other.at(),
                    format_args!("{what} must be a mapping, not {}", other.kind_name()),
                );
                None
            }
        }
    }

    fn seq<'n>(&mut self, n: &'n Node, what: &str) -> Option<&'n [Node]> {
        match n {
            Node::Seq { items, .. } => Some(items),
            other => {
                self.err(
                    other.at(),
                    format_args!("{what} must be a list, not {}", other.kind_name()),
                );
                None
            }
        }
    }

    /// A known key of a mapping (unknown keys are errors: usually typos).
    fn key<'k>(&mut self, k: &Node, known: &[&'k str]) -> Option<&'k str> {
        let name = k.as_str().unwrap_or_default();
        if let Some(found) = known.iter().find(|&&x| x == name) {
            return Some(found);
        }
        self.err(
            k.at(),
            format_args!("unknown key `{name}` (expected one of: {})", known.join(", ")),
        );
        None
    }

    fn string(&mut self, n: &Node) -> Option<String> {
        match n {
            Node::Scalar { value, .. } => Some(value.clone()),
            other => {
                self.err(other.at(), format_args!("expected a string, not {}", other.kind_name()));
                None
            }
        }
    }

    fn number(&mut self, n: &Node) -> Option<u64> {
        let s = self.string(n)?;
        match s.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.err(n.at(), format_args!("expected a number, not `{s}`"));
                None
            }
        }
    }

    fn boolean(&mut self, n: &Node) -> Option<bool> {
        let s = self.string(n)?;
        match s.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.err(n.at(), format_args!("expected true or false, not `{s}`"));
                None
            }
        }
    }

    fn coverage(&mut self, n: &Node) -> Coverage {
        const KEYS: &[&str] = &[
            "command",
            "cgroups",
            "started",
            "duration_ms",
            "events",
            "drops",
            "complete",
            "exit_status",
            "agentmon",
        ];
        let mut c = Coverage::default();
        let Some(entries) = self.map(n, "coverage") else {
            return c;
        };
        for (k, v) in entries {
            let Some(key) = self.key(k, KEYS) else { continue };
            match key {
                "command" | "cgroups" => {
                    let items = self
                        .seq(v, key)
                        .map(|items| items.iter().filter_map(|i| self.string(i)).collect())
                        .unwrap_or_default();
                    if key == "command" {
                        c.command = items;
                    } else {
                        c.cgroups = items;
                    }
                }
                "started" => c.started = self.string(v).unwrap_or_default(),
                "agentmon" => c.agentmon = self.string(v).unwrap_or_default(),
                "duration_ms" => c.duration_ms = self.number(v).unwrap_or_default(),
                "events" => c.events = self.number(v).unwrap_or_default(),
                "drops" => c.drops = self.number(v).unwrap_or_default(),
                "complete" => c.complete = self.boolean(v).unwrap_or_default(),
                _ => {
                    let s = self.string(v).unwrap_or_default();
                    c.exit_status = s.parse().ok();
                    if c.exit_status.is_none() {
                        self.err(v.at(), format_args!("expected an exit status, not `{s}`"));
                    }
                }
            }
        }
        c
    }

    /// A list of absolute, normalised paths (`trees`: a trailing `/` is allowed).
    fn paths(&mut self, n: &Node, trees: bool) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let Some(items) = self.seq(n, "a path list") else {
            return out;
        };
        for item in items {
            let Some(p) = self.string(item) else { continue };
            if let Some(problem) = path_problem(&p, trees) {
                self.err(item.at(), format_args!("`{p}`: {problem}"));
                continue;
            }
            out.insert(p);
        }
        out
    }

    fn files(&mut self, n: &Node) -> Files {
        let mut f = Files::default();
        let Some(entries) = self.map(n, "files") else { return f };
        for (k, v) in entries {
            match self.key(k, &["read", "write", "exec"]) {
                Some("read") => f.read = self.paths(v, true),
                Some("write") => f.write = self.paths(v, true),
                Some(_) => f.exec = self.paths(v, true),
                None => {}
            }
        }
        f
    }

    fn network(&mut self, n: &Node) -> Network {
        let mut net = Network::default();
        let Some(entries) = self.map(n, "network") else {
            return net;
        };
        for (k, v) in entries {
            match self.key(k, &["connect", "listen", "unix"]) {
                Some("connect") => {
                    for item in self.seq(v, "network.connect").unwrap_or_default() {
                        if let Some(d) = self.dest(item) {
                            net.connect.insert(d);
                        }
                    }
                }
                Some("listen") => {
                    for item in self.seq(v, "network.listen").unwrap_or_default() {
                        if let Some(l) = self.listen(item) {
                            net.listen.insert(l);
                        }
                    }
                }
                Some(_) => {
                    for item in self.seq(v, "network.unix").unwrap_or_default() {
                        let Some(s) = self.string(item) else { continue };
                        if s.starts_with('@') || s.starts_with('/') {
                            net.unix.insert(s);
                        } else {
                            self.err(
                                item.at(),
                                format_args!("`{s}`: a unix socket is an absolute path or @name (abstract)"),
                            );
                        }
                    }
                }
                None => {}
            }
        }
        net
    }

    fn port(&mut self, n: &Node) -> Option<u16> {
        let v = self.number(n)?;
        match u16::try_from(v) {
            Ok(p) if p > 0 => Some(p),
            _ => {
                self.err(n.at(), format_args!("port {v} is not in 1..=65535"));
                None
            }
        }
    }

    fn proto(&mut self, n: &Node) -> Option<Proto> {
        let s = self.string(n)?;
        let p = Proto::parse(&s);
        if p.is_none() {
            self.err(n.at(), format_args!("unknown protocol `{s}` (tcp, udp or any)"));
        }
        p
    }

    fn dest(&mut self, n: &Node) -> Option<Dest> {
        let entries = self.map(n, "a destination ({addr, port, proto})")?;
        let (mut addr, mut port, mut proto) = (None, None, Some(Proto::Any));
        for (k, v) in entries {
            match self.key(k, &["addr", "port", "proto"]) {
                Some("addr") => {
                    let s = self.string(v)?;
                    if s.parse::<IpAddr>().is_err() {
                        self.err(v.at(), format_args!("`{s}` is not an IP address"));
                        return None;
                    }
                    addr = Some(s);
                }
                Some("port") => port = self.port(v),
                Some(_) => proto = self.proto(v),
                None => return None,
            }
        }
        match (addr, port, proto) {
            (Some(addr), Some(port), Some(proto)) => Some(Dest { addr, port, proto }),
            (None, ..) | (_, None, _) => {
                self.err(n.at(), "a destination needs addr and port");
                None
            }
            _ => None,
        }
    }

    fn listen(&mut self, n: &Node) -> Option<Listen> {
        let entries = self.map(n, "a listener ({port, proto})")?;
        let (mut port, mut proto) = (None, Some(Proto::Any));
        for (k, v) in entries {
            match self.key(k, &["port", "proto"]) {
                Some("port") => port = self.port(v),
                Some(_) => proto = self.proto(v),
                None => return None,
            }
        }
        if port.is_none() {
            self.err(n.at(), "a listener needs a port");
        }
        Some(Listen {
            port: port?,
            proto: proto?,
        })
    }

    fn scope(&mut self, n: &Node) -> Scope {
        let mut s = Scope::default();
        let Some(entries) = self.map(n, "scope") else { return s };
        for (k, v) in entries {
            match self.key(k, &["signals", "abstract_unix"]) {
                Some("signals") => s.signals = self.boolean(v).unwrap_or(true),
                Some(_) => s.abstract_unix = self.boolean(v).unwrap_or(true),
                None => {}
            }
        }
        s
    }

    fn syscalls(&mut self, n: &Node, p: &mut Profile) {
        let Some(entries) = self.map(n, "syscalls (name: count)") else {
            return;
        };
        for (k, v) in entries {
            let name = k.as_str().unwrap_or_default();
            if syscalls::number(name).is_none() {
                self.err(k.at(), format_args!("unknown syscall `{name}` (x86-64)"));
                continue;
            }
            if let Some(why) = crate::sandbox::seccomp::always_refused(name) {
                self.note(
                    k.at(),
                    format_args!("`{name}` is always refused by the sandbox ({why}); listing it changes nothing"),
                );
            }
            let count = self.number(v).unwrap_or_default();
            p.syscalls.insert(name.to_string(), count);
        }
    }
}

/// Why `p` is not a usable profile path (`None`: it is).
fn path_problem(p: &str, trees: bool) -> Option<&'static str> {
    if !p.starts_with('/') {
        return Some("paths must be absolute");
    }
    if !trees && super::is_tree(p) && p != "/" {
        return Some("executables are files, not trees (no trailing /)");
    }
    let body = p.trim_end_matches('/');
    if body.split('/').skip(1).any(|c| c.is_empty() || c == "." || c == "..") && !body.is_empty() {
        return Some("paths must be normalised (no empty, `.` or `..` components)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_names_its_line_and_column() {
        let text = "version: 1\nfiles:\n  read: [relative/x, /ok/]\n  wirte: []\nsyscalls:\n  opn: 3\n  mount: 1\nnetwork:\n  connect:\n    - {addr: nope, port: 80}\n";
        let e = parse_with_notes("p.yaml", text).unwrap_err();
        assert_eq!(e.errors.len(), 4, "{e:?}");
        assert!(
            e.errors[0].starts_with("p.yaml:3:10: `relative/x`: paths must be absolute"),
            "{e:?}"
        );
        assert!(e.errors[1].starts_with("p.yaml:4:3: unknown key `wirte`"), "{e:?}");
        assert!(e.errors[2].starts_with("p.yaml:6:3: unknown syscall `opn`"), "{e:?}");
        assert!(
            e.errors[3].starts_with("p.yaml:10:14: `nope` is not an IP address"),
            "{e:?}"
        );
        assert_eq!(e.notes.len(), 1);
        assert!(e.notes[0].contains("`mount` is always refused"), "{e:?}");
    }

    #[test]
    fn a_missing_version_is_an_error() {
        let e = parse_with_notes("p.yaml", "agent: x\n").unwrap_err();
        assert!(e.errors[0].contains("missing `version: 1`"), "{e:?}");
    }
}
