//! Rule fixtures (`rules test`): YAML files under `<rules dir>/tests/` describing events in a
//! compact form and which rules must (not) fire. Format: `docs/RULES.md`.
use std::path::Path;

use super::{
    Maturity, RuleSet,
    error::{FileRef, RuleError, RulesError},
    yaml::{Node, parse_documents},
};
use crate::{
    enrich::{
        Ancestor, Enriched,
        synthetic::{self, Process},
    },
    event::Family,
};

mod kinds;

/// One fixture: events fed in order to a fresh rule set.
#[derive(Debug)]
pub struct Fixture {
    pub(crate) file: String,
    pub(crate) name: String,
    agent: String,
    protected: Vec<String>,
    events: Vec<(Enriched, Option<Vec<String>>)>,
    expect: Vec<String>,
    expect_not: Vec<String>,
}

/// Outcome of one fixture.
#[derive(Debug)]
pub struct FixtureResult {
    pub file: String,
    pub name: String,
    /// Empty when the fixture passed.
    pub failures: Vec<String>,
}

impl FixtureResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl Fixture {
    /// The rules this fixture expects to fire (its `expect` and its events' `expect`).
    pub fn expected(&self) -> impl Iterator<Item = &str> {
        let per_event = self.events.iter().filter_map(|(_, e)| e.as_ref()).flatten();
        self.expect.iter().chain(per_event).map(String::as_str)
    }
}

/// Loads the rules of `dir` and runs every fixture in `dir/tests/*.yaml`.
pub fn run_dir(dir: &Path) -> Result<Vec<FixtureResult>, RulesError> {
    let sources = super::read_sources(dir)?;
    // Compile once up front so rule errors are reported as such. Fixtures test every rule, whatever
    // its maturity.
    RuleSet::from_sources_with(&sources, Maturity::Sandbox)?;
    let fixtures = load_fixtures(&dir.join("tests"))?;
    let mut results = Vec::new();
    for f in &fixtures {
        let mut set = RuleSet::from_sources_with(&sources, Maturity::Sandbox)?;
        results.push(run(&mut set, f));
    }
    Ok(results)
}

/// Runs one fixture against a fresh rule set.
pub fn run(set: &mut RuleSet, f: &Fixture) -> FixtureResult {
    let mut failures = Vec::new();
    let known: Vec<String> = set.describe().map(|(n, _, _)| n.to_string()).collect();
    let per_event = f.events.iter().filter_map(|(_, e)| e.as_ref()).flatten();
    let mut named: Vec<&String> = f.expect.iter().chain(&f.expect_not).chain(per_event).collect();
    named.sort();
    named.dedup();
    for name in named {
        if !known.contains(name) {
            failures.push(format!("no rule named `{name}`"));
        }
    }
    if !f.protected.is_empty() {
        set.set_protected(&f.agent, f.protected.iter().map(Into::into).collect());
    }
    let mut fired_any: Vec<String> = Vec::new();
    for (i, (ev, expect)) in f.events.iter().enumerate() {
        let mut fired: Vec<String> = set.evaluate(ev).into_iter().map(|a| a.rule).collect();
        fired.sort();
        if let Some(expect) = expect {
            let mut want = expect.clone();
            want.sort();
            if fired != want {
                failures.push(format!("event {}: expected {want:?} to fire, got {fired:?}", i + 1));
            }
        }
        fired_any.extend(fired);
    }
    for name in &f.expect {
        if !fired_any.contains(name) {
            failures.push(format!("expected `{name}` to fire, it did not"));
        }
    }
    for name in &f.expect_not {
        if fired_any.contains(name) {
            failures.push(format!("expected `{name}` not to fire, it did"));
        }
    }
    FixtureResult {
        file: f.file.clone(),
        name: f.name.clone(),
        failures,
    }
}

/// Reads `dir/*.yaml` fixture files (sorted). A missing directory is an error.
pub fn load_fixtures(dir: &Path) -> Result<Vec<Fixture>, RulesError> {
    let sources = super::read_sources(dir)?;
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (name, text) in &sources {
        let file = FileRef::new(name, text);
        match parse_documents(text) {
            Err(e) => errors.push(file.error(e.at, e.message)),
            Ok(docs) => {
                for doc in docs {
                    let items = match doc {
                        Node::Seq { items, .. } => items,
                        other => vec![other],
                    };
                    for item in &items {
                        match fixture(&file, item) {
                            Ok(f) => out.push(f),
                            Err(e) => errors.push(e),
                        }
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(RulesError { errors })
    }
}

fn strings(file: &FileRef, node: Option<&Node>, key: &str) -> Result<Vec<String>, RuleError> {
    match node {
        None => Ok(Vec::new()),
        Some(Node::Seq { items, .. }) => items
            .iter()
            .map(|n| {
                n.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| file.error(n.at(), format!("`{key}`: expected strings")))
            })
            .collect(),
        Some(Node::Scalar { value, .. }) => Ok(vec![value.clone()]),
        Some(n) => Err(file.error(n.at(), format!("`{key}`: expected a list of strings"))),
    }
}

fn string<'n>(file: &FileRef, node: &'n Node, key: &str) -> Result<Option<&'n str>, RuleError> {
    match node.get(key) {
        None => Ok(None),
        Some(n) => n
            .as_str()
            .map(Some)
            .ok_or_else(|| file.error(n.at(), format!("`{key}`: expected a string"))),
    }
}

fn number(file: &FileRef, node: &Node, key: &str, default: u64) -> Result<u64, RuleError> {
    match string(file, node, key)? {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| {
            let at = node.get(key).map_or_else(|| node.at(), Node::at);
            file.error(at, format!("`{key}`: expected a number, found `{s}`"))
        }),
    }
}

/// The network event key of a fixture event (`connect`, `send`, `listen`) and its address.
fn network_event<'n>(file: &FileRef, n: &'n Node) -> Result<Option<(&'static str, &'n str)>, RuleError> {
    for key in ["connect", "send", "listen"] {
        if let Some(addr) = string(file, n, key)? {
            return Ok(Some((key, addr)));
        }
    }
    Ok(None)
}

const FIXTURE_KEYS: &[&str] = &["fixture", "agent", "exe", "protected", "events", "expect", "expect_not"];
const EVENT_KEYS: &[&str] = &[
    "exec",
    "open",
    "connect",
    "mount",
    // network
    "send",
    "listen",
    "args",
    "raw",
    "exe",
    "comm",
    "parent",
    "ancestors",
    "pid",
    "ppid",
    "uid",
    "flags",
    "family",
    "port",
    "source",
    "fstype",
    "at",
    "expect",
    "rename",
    "unlink",
    "link",
    "symlink",
    "chmod",
    "chown",
    "truncate",
    "mknod",
    "mode",
    "agent_root",
    "dst_agent",
    // mounts, scope, io_uring, code loading
    "cgroup_move",
    "io_uring_setup",
    "io_uring",
    "path",
    "memfd",
    "mmap",
];

/// The file-operation kinds a fixture event may name (`rename: NEW`, `source: OLD`).
const FILE_OPS: &[&str] = &[
    "rename", "unlink", "link", "symlink", "chmod", "chown", "truncate", "mknod",
];

/// Unknown keys are errors: a typo must not silently change what a fixture tests.
fn check_keys(file: &FileRef, node: &Node, allowed: &[&str]) -> Result<(), RuleError> {
    if let Node::Map { entries, .. } = node {
        for (k, _) in entries {
            let key = k.as_str().unwrap_or("");
            if !allowed.contains(&key) {
                return Err(file.error(
                    k.at(),
                    format!("unknown key `{key}` (expected one of: {})", allowed.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

fn fixture(file: &FileRef, node: &Node) -> Result<Fixture, RuleError> {
    check_keys(file, node, FIXTURE_KEYS)?;
    let name = string(file, node, "fixture")?
        .ok_or_else(|| file.error(node.at(), "expected a mapping with `fixture: <name>` and `events`"))?
        .to_string();
    let agent = string(file, node, "agent")?.unwrap_or("agent").to_string();
    let default_exe = string(file, node, "exe")?.unwrap_or("/usr/bin/python3").to_string();
    let Some(Node::Seq { items, .. }) = node.get("events") else {
        return Err(file.error(node.at(), format!("fixture `{name}`: `events` must be a list")));
    };
    let mut events = Vec::new();
    let mut t = 1_000_000_000u64;
    for ev in items {
        t = match string(file, ev, "at")? {
            Some(s) => humantime::parse_duration(s)
                .map_err(|_| file.error(ev.at(), format!("`at`: expected a duration such as 5s, found `{s}`")))?
                .as_nanos()
                .min(u128::from(u64::MAX)) as u64,
            None => t + 1_000_000,
        };
        let expect = match ev.get("expect") {
            Some(n) => Some(strings(file, Some(n), "expect")?),
            None => None,
        };
        let mut e = event(file, ev, &default_exe, t)?;
        e.agent.clone_from(&agent);
        e.cgroup = format!("agentmon/{agent}");
        events.push((e, expect));
    }
    Ok(Fixture {
        file: file.name.to_string(),
        name,
        agent,
        protected: strings(file, node.get("protected"), "protected")?,
        events,
        expect: strings(file, node.get("expect"), "expect")?,
        expect_not: strings(file, node.get("expect_not"), "expect_not")?,
    })
}

fn event(file: &FileRef, n: &Node, default_exe: &str, ktime_ns: u64) -> Result<Enriched, RuleError> {
    let keys: Vec<&str> = EVENT_KEYS.iter().chain(kinds::KEYS).copied().collect();
    check_keys(file, n, &keys)?;
    let mut exe = string(file, n, "exe")?.unwrap_or(default_exe).to_string();
    let raw = string(file, n, "raw")?;
    let (mut body, resolved) = if let Some(path) = string(file, n, "exec")? {
        exe = string(file, n, "exe")?.unwrap_or(path).to_string();
        let mut argv = strings(file, n.get("args"), "args")?;
        if argv.is_empty() {
            argv.push(basename(path).to_string());
        }
        (synthetic::exec(raw.unwrap_or(path), argv), Some(path.to_string()))
    } else if let Some(path) = string(file, n, "open")? {
        let flags = strings(file, n.get("flags"), "flags")?;
        let mut bits = 0;
        let (mut read, mut write) = (flags.is_empty(), false);
        for f in &flags {
            match f.as_str() {
                "read" => read = true,
                "write" => write = true,
                "create" => bits |= libc::O_CREAT,
                "trunc" => bits |= libc::O_TRUNC,
                other => {
                    return Err(file.error(
                        n.at(),
                        format!("`flags`: expected read, write, create or trunc, found `{other}`"),
                    ));
                }
            }
        }
        bits |= match (read, write) {
            (true, true) => libc::O_RDWR,
            (false, true) => libc::O_WRONLY,
            _ => libc::O_RDONLY,
        };
        (synthetic::open(raw.unwrap_or(path), bits), Some(path.to_string()))
    } else if let Some((key, addr)) = network_event(file, n)? {
        let family = match string(file, n, "family")? {
            Some("inet") => Family::Inet,
            Some("inet6") => Family::Inet6,
            Some("unix") => Family::Unix,
            Some(other) => {
                return Err(file.error(
                    n.at(),
                    format!("`family`: expected inet, inet6 or unix, found `{other}`"),
                ));
            }
            None => synthetic::family_of(addr),
        };
        let port = number(file, n, "port", 0)?;
        let port = u16::try_from(port).map_err(|_| file.error(n.at(), "`port`: at most 65535"))?;
        let body = match key {
            "send" => synthetic::send(family, addr, port),
            "listen" => synthetic::listen(family, addr, port),
            _ => synthetic::connect(family, addr, port),
        };
        (body, None)
    } else if let Some(target) = string(file, n, "mount")? {
        let source = string(file, n, "source")?.unwrap_or("none");
        let fstype = string(file, n, "fstype")?.unwrap_or("");
        (synthetic::mount(source, target, fstype), None)
    } else if let Some((kind, path)) = FILE_OPS
        .iter()
        .find_map(|k| Some((*k, string(file, n, k).transpose()?)))
        .map(|(k, p)| p.map(|p| (k, p)))
        .transpose()?
    {
        let source = string(file, n, "source")?;
        let mode = match string(file, n, "mode")? {
            None => None,
            // Octal, as chmod takes it: `mode: "4755"`.
            Some(m) => Some(u32::from_str_radix(m.trim_start_matches("0o"), 8).map_err(|_| {
                file.error(
                    n.at(),
                    format!("`mode`: expected an octal mode such as 4755, found `{m}`"),
                )
            })?),
        };
        let body = synthetic::file_op(kind, path, source, mode).unwrap_or_else(|| unreachable!("a FILE_OPS kind"));
        (body, Some(path.to_string()))
    } else if let Some(body) = kinds::event(file, n, string(file, n, "comm")?.unwrap_or_else(|| basename(&exe)))? {
        (body, None)
    } else if let Some(body) = visibility_event(file, n)? {
        (body, None)
    } else {
        return Err(file.error(
            n.at(),
            format!(
                "an event needs one of `exec`, `open`, `connect`, `send`, `listen`, `mount`, `rename`, `unlink`, `link`, `symlink`, `chmod`, `chown`, `truncate`, `mknod`, {}, `cgroup_move`, `io_uring_setup`, `io_uring`, `memfd`, `mmap`",
                kinds::KINDS
            ),
        ));
    };
    // A failed exec leaves the process running its executable.
    if kinds::adjust(file, n, &mut body)? && string(file, n, "exe")?.is_none() {
        default_exe.clone_into(&mut exe);
    }
    let comm: String = match string(file, n, "comm")? {
        Some(c) => c.to_string(),
        None => basename(&exe).chars().take(15).collect(),
    };
    let mut ancestors: Vec<Ancestor> = strings(file, n.get("ancestors"), "ancestors")?
        .into_iter()
        .enumerate()
        .map(|(i, exe)| Ancestor {
            pid: 99u32.saturating_sub(i as u32),
            exe,
        })
        .collect();
    if let Some(parent) = string(file, n, "parent")? {
        ancestors.insert(0, synthetic::ancestor(99, parent));
    }
    let who = Process {
        pid: number(file, n, "pid", 100)? as u32,
        ppid: number(file, n, "ppid", 99)? as u32,
        uid: number(file, n, "uid", 1000)? as u32,
        comm,
        exe,
        ancestors,
        ..Process::default()
    };
    let mut e = who.event(ktime_ns, body);
    e.resolved_path = resolved;
    e.facts.agent_root = match string(file, n, "agent_root")? {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(file.error(n.at(), format!("`agent_root`: expected true or false, found `{other}`"))),
    };
    if let Some(a) = string(file, n, "dst_agent")? {
        a.clone_into(&mut e.facts.dst_agent);
    }
    Ok(e)
}

// mounts, scope, io_uring, code loading
/// The event of the mount, scope, `io_uring` and code-loading kinds a fixture event describes, if
/// it is one: `cgroup_move: DEST` (the process left its agent's cgroup for DEST),
/// `io_uring_setup: FLAGS` (a ring of 8 entries), `io_uring: OP` with an optional `path` (`flags`
/// as for `open`), `memfd: NAME`, `mmap: PATH` (mapped `PROT_READ | PROT_EXEC`).
fn visibility_event(file: &FileRef, n: &Node) -> Result<Option<crate::event::Body>, RuleError> {
    use crate::event::Body;
    Ok(Some(if let Some(dest) = string(file, n, "cgroup_move")? {
        synthetic::cgroup_move(number(file, n, "pid", 100)? as u32, dest, true)
    } else if string(file, n, "io_uring_setup")?.is_some() {
        synthetic::io_uring_setup(8, number(file, n, "io_uring_setup", 0)? as u32)
    } else if let Some(op) = string(file, n, "io_uring")? {
        let opcode = crate::event::io_uring_opcode_of(op)
            .ok_or_else(|| file.error(n.at(), format!("`io_uring`: no operation named `{op}`")))?;
        let mut body = synthetic::io_uring_op(opcode, string(file, n, "path")?);
        let flags = strings(file, n.get("flags"), "flags")?;
        if let Body::IoUringOp(u) = &mut body
            && flags.iter().any(|f| f == "write")
        {
            u.flags = libc::O_WRONLY as u64;
        }
        body
    } else if let Some(name) = string(file, n, "memfd")? {
        synthetic::memfd(name)
    } else if let Some(path) = string(file, n, "mmap")? {
        synthetic::mmap(path)
    } else {
        return Ok(None);
    }))
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
