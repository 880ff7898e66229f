//! The typed field catalogue: every field a condition can name, its type, the event kinds it exists
//! for, and how to read it from an [`Enriched`] event.
use std::{fmt::Write, net::IpAddr};

use crate::{
    enrich::Enriched,
    event::{Body, Family},
};

/// The event kinds rules apply to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Exec = 0,
    Open = 1,
    Connect = 2,
    Mount = 3,
}

pub const KINDS: [Kind; 4] = [Kind::Exec, Kind::Open, Kind::Connect, Kind::Mount];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Exec => "exec",
            Kind::Open => "open",
            Kind::Connect => "connect",
            Kind::Mount => "mount",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        KINDS.into_iter().find(|k| k.name() == name)
    }

    pub fn of(body: &Body) -> Option<Kind> {
        match body {
            Body::Exec(_) => Some(Kind::Exec),
            Body::Open(_) => Some(Kind::Open),
            Body::Connect(_) => Some(Kind::Connect),
            Body::Mount(_) => Some(Kind::Mount),
            Body::Fork(_) | Body::Exit(_) | Body::Deny(_) | Body::Chdir(_) => None,
        }
    }

    pub fn bit(self) -> KindSet {
        KindSet(1 << self as u8)
    }
}

/// A set of event kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KindSet(pub u8);

impl KindSet {
    pub const ALL: KindSet = KindSet(0b1111);
    pub const NONE: KindSet = KindSet(0);

    pub fn contains(self, k: Kind) -> bool {
        self.0 & k.bit().0 != 0
    }
    pub fn union(self, o: KindSet) -> KindSet {
        KindSet(self.0 | o.0)
    }
    pub fn kinds(self) -> impl Iterator<Item = Kind> {
        KINDS.into_iter().filter(move |k| self.contains(*k))
    }
    pub fn names(self) -> String {
        self.kinds().map(Kind::name).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// `evt.kind`: resolved at compile time.
    Kind,
    Str,
    /// A string that may be an IP address (`net.addr`): also supports `in_cidr`.
    Addr,
    /// Several strings; an operator matches if it matches any of them.
    StrList,
    Num,
    Bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    EvtKind,
    ProcExe,
    ProcName,
    ProcArgs,
    ProcArgv,
    ProcPid,
    ProcPpid,
    ProcUid,
    ProcAexe,
    ProcPexe,
    FilePath,
    FileRawPath,
    FileWrite,
    FileRead,
    FileCreate,
    ExecPath,
    NetFamily,
    NetAddr,
    NetPort,
    MountSource,
    MountTarget,
    MountFstype,
    AgentName,
    AgentCgroup,
}

pub struct FieldInfo {
    pub name: &'static str,
    pub field: Field,
    pub ty: FieldType,
    pub kinds: KindSet,
    pub doc: &'static str,
}

const EXEC: KindSet = KindSet(1);
const OPEN: KindSet = KindSet(2);
const CONNECT: KindSet = KindSet(4);
const MOUNT: KindSet = KindSet(8);
const FILE: KindSet = KindSet(3);
const ALL: KindSet = KindSet::ALL;

macro_rules! field {
    ($name:literal, $f:ident, $ty:ident, $kinds:expr, $doc:literal) => {
        FieldInfo {
            name: $name,
            field: Field::$f,
            ty: FieldType::$ty,
            kinds: $kinds,
            doc: $doc,
        }
    };
}

pub const CATALOGUE: &[FieldInfo] = &[
    field!("evt.kind", EvtKind, Kind, ALL, "exec, open, connect or mount"),
    field!("proc.exe", ProcExe, Str, ALL, "executable of the process"),
    field!(
        "proc.name",
        ProcName,
        Str,
        ALL,
        "command name (comm, at most 15 characters)"
    ),
    field!("proc.args", ProcArgs, Str, EXEC, "argv joined with spaces"),
    field!("proc.argv", ProcArgv, StrList, EXEC, "each argv element"),
    field!("proc.pid", ProcPid, Num, ALL, "process id"),
    field!("proc.ppid", ProcPpid, Num, ALL, "parent process id"),
    field!("proc.uid", ProcUid, Num, ALL, "user id"),
    field!("proc.aexe", ProcAexe, StrList, ALL, "executables of all ancestors"),
    field!("proc.pexe", ProcPexe, Str, ALL, "executable of the parent"),
    field!(
        "file.path",
        FilePath,
        Str,
        FILE,
        "resolved path (open, exec), else the raw path"
    ),
    field!("file.raw_path", FileRawPath, Str, FILE, "path as passed to the syscall"),
    field!("file.write", FileWrite, Bool, OPEN, "opened for writing"),
    field!("file.read", FileRead, Bool, OPEN, "opened for reading"),
    field!("file.create", FileCreate, Bool, OPEN, "opened with O_CREAT"),
    field!("exec.path", ExecPath, Str, EXEC, "resolved path of the executed file"),
    field!("net.family", NetFamily, Str, CONNECT, "inet, inet6, unix or other"),
    field!(
        "net.addr",
        NetAddr,
        Addr,
        CONNECT,
        "destination address or unix socket path"
    ),
    field!("net.port", NetPort, Num, CONNECT, "destination port"),
    field!("mount.source", MountSource, Str, MOUNT, "mount source"),
    field!("mount.target", MountTarget, Str, MOUNT, "mount point"),
    field!("mount.fstype", MountFstype, Str, MOUNT, "filesystem type"),
    field!("agent.name", AgentName, Str, ALL, "name of the watched agent"),
    field!("agent.cgroup", AgentCgroup, Str, ALL, "cgroup path of the agent"),
];

pub fn lookup(name: &str) -> Option<&'static FieldInfo> {
    CATALOGUE.iter().find(|f| f.name == name)
}

pub fn info(field: Field) -> &'static FieldInfo {
    // The catalogue lists every variant (checked by a test), so the fallback is unreachable.
    CATALOGUE.iter().find(|f| f.field == field).unwrap_or(&CATALOGUE[0])
}

/// Reads a string field, `None` when the event does not carry it. `proc.args` is read through
/// [`EventView`], which joins argv once.
pub fn str_value(field: Field, ev: &Enriched) -> Option<&str> {
    let body = &ev.event.body;
    Some(match (field, body) {
        (Field::EvtKind, b) => b.kind_name(),
        (Field::ProcExe, _) => &ev.exe,
        (Field::ProcName, _) => &ev.event.header.comm,
        (Field::ProcPexe, _) => ev.ancestors.first().map_or("", |a| a.exe.as_str()),
        (Field::FilePath | Field::ExecPath, Body::Exec(x)) => ev.resolved_path.as_deref().unwrap_or(&x.filename),
        (Field::FilePath, Body::Open(o)) => ev.resolved_path.as_deref().unwrap_or(&o.path),
        (Field::FileRawPath, Body::Exec(x)) => &x.filename,
        (Field::FileRawPath, Body::Open(o)) => &o.path,
        (Field::NetFamily, Body::Connect(c)) => match c.family {
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
            Family::Unix => "unix",
            Family::Other => "other",
        },
        (Field::NetAddr, Body::Connect(c)) => &c.addr,
        (Field::MountSource, Body::Mount(m)) => &m.source,
        (Field::MountTarget, Body::Mount(m)) => &m.target,
        (Field::MountFstype, Body::Mount(m)) => &m.fstype,
        (Field::AgentName, _) => &ev.agent,
        (Field::AgentCgroup, _) => &ev.cgroup,
        _ => return None,
    })
}

pub fn num_value(field: Field, ev: &Enriched) -> Option<u64> {
    let h = &ev.event.header;
    Some(match (field, &ev.event.body) {
        (Field::ProcPid, _) => h.pid.into(),
        (Field::ProcPpid, _) => h.ppid.into(),
        (Field::ProcUid, _) => h.uid.into(),
        (Field::NetPort, Body::Connect(c)) => c.port.into(),
        _ => return None,
    })
}

pub fn bool_value(field: Field, ev: &Enriched) -> Option<bool> {
    let Body::Open(o) = &ev.event.body else { return None };
    Some(match field {
        Field::FileWrite => o.writes(),
        Field::FileRead => o.flags & libc::O_ACCMODE as u32 != libc::O_WRONLY as u32,
        Field::FileCreate => o.creates(),
        _ => return None,
    })
}

/// Calls `f` on each value of a multi-valued field until it returns true.
pub fn any_value(field: Field, ev: &Enriched, mut f: impl FnMut(&str) -> bool) -> bool {
    match (field, &ev.event.body) {
        (Field::ProcAexe, _) => ev.ancestors.iter().any(|a| f(&a.exe)),
        (Field::ProcArgv, Body::Exec(x)) => x.argv.iter().any(|a| f(a)),
        _ => false,
    }
}

/// Normalises an address: IPv4-mapped IPv6 becomes IPv4.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A field's value as text, for `%field` substitution in outputs and for sequence keys.
pub fn render(field: Field, ev: &Enriched) -> String {
    let mut out = String::new();
    render_into(field, ev, &mut out);
    out
}

/// [`render`], appended to `out` (an output template renders every field without allocating).
pub fn render_into(field: Field, ev: &Enriched, out: &mut String) {
    match info(field).ty {
        FieldType::Num => {
            if let Some(n) = num_value(field, ev) {
                let _ = write!(out, "{n}");
            }
        }
        FieldType::Bool => {
            if let Some(b) = bool_value(field, ev) {
                out.push_str(if b { "true" } else { "false" });
            }
        }
        FieldType::StrList => {
            let sep = if field == Field::ProcAexe { "," } else { " " };
            let mut first = true;
            any_value(field, ev, |s| {
                if !first {
                    out.push_str(sep);
                }
                first = false;
                out.push_str(s);
                false
            });
        }
        FieldType::Kind | FieldType::Str | FieldType::Addr => match (field, &ev.event.body) {
            (Field::ProcArgs, Body::Exec(x)) => {
                for (i, a) in x.argv.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(a);
                }
            }
            (Field::ProcArgs, _) => {}
            _ => out.push_str(str_value(field, ev).unwrap_or_default()),
        },
    }
}

/// `(name, type, kinds, description)` of every field, for `agentmon rules fields`.
pub fn catalogue() -> impl Iterator<Item = (&'static str, &'static str, String, &'static str)> {
    CATALOGUE.iter().map(|f| {
        let ty = match f.ty {
            FieldType::Kind => "kind",
            FieldType::Str => "string",
            FieldType::Addr => "address",
            FieldType::StrList => "strings",
            FieldType::Num => "number",
            FieldType::Bool => "boolean",
        };
        (f.name, ty, f.kinds.names(), f.doc)
    })
}

#[cfg(test)]
mod tests {
    use super::{CATALOGUE, Field, info, lookup};

    const ALL: [Field; 24] = [
        Field::EvtKind,
        Field::ProcExe,
        Field::ProcName,
        Field::ProcArgs,
        Field::ProcArgv,
        Field::ProcPid,
        Field::ProcPpid,
        Field::ProcUid,
        Field::ProcAexe,
        Field::ProcPexe,
        Field::FilePath,
        Field::FileRawPath,
        Field::FileWrite,
        Field::FileRead,
        Field::FileCreate,
        Field::ExecPath,
        Field::NetFamily,
        Field::NetAddr,
        Field::NetPort,
        Field::MountSource,
        Field::MountTarget,
        Field::MountFstype,
        Field::AgentName,
        Field::AgentCgroup,
    ];

    /// Fails to compile when a variant is added without updating [`ALL`].
    fn _exhaustive(f: Field) {
        match f {
            Field::EvtKind
            | Field::ProcExe
            | Field::ProcName
            | Field::ProcArgs
            | Field::ProcArgv
            | Field::ProcPid
            | Field::ProcPpid
            | Field::ProcUid
            | Field::ProcAexe
            | Field::ProcPexe
            | Field::FilePath
            | Field::FileRawPath
            | Field::FileWrite
            | Field::FileRead
            | Field::FileCreate
            | Field::ExecPath
            | Field::NetFamily
            | Field::NetAddr
            | Field::NetPort
            | Field::MountSource
            | Field::MountTarget
            | Field::MountFstype
            | Field::AgentName
            | Field::AgentCgroup => {}
        }
    }

    #[test]
    fn catalogue_lists_every_field_once() {
        assert_eq!(CATALOGUE.len(), ALL.len());
        for f in ALL {
            let entry = info(f);
            assert_eq!(entry.field, f);
            assert_eq!(lookup(entry.name).map(|e| e.field), Some(f));
        }
    }

    #[test]
    fn docs_list_every_field() {
        let docs = include_str!("../../../docs/RULES.md");
        for f in CATALOGUE {
            assert!(
                docs.contains(&format!("`{}`", f.name)),
                "docs/RULES.md does not mention `{}`",
                f.name
            );
        }
    }
}
