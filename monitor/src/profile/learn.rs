//! Learning: a [`Learner`] sees every event of the watched agent (through the pipeline) and the
//! kernel's per-cgroup syscall counts, and makes a [`Profile`] of them.
//!
//! **How paths are generalised** ([`generalise`]; docs/SANDBOX.md says the same):
//! 1. Below a system tree (`/usr`, `/lib`, `/lib32`, `/lib64`, `/libx32`, `/bin`, `/sbin`, `/proc`,
//!    `/sys`) a read or an execute grants that whole tree: code and data the distribution ships, and
//!    the kernel's views that name processes by pid.
//! 2. Below a sensitive root (`/etc`, `/dev`, `/root`, `/home`, `/run`, `/var/run`, `/var/lib`,
//!    `/boot`, `/mnt`, `/media`, `/srv`) a file stays that file: reading `/etc/hosts` grants nothing
//!    else in `/etc`, `~/.bashrc` nothing else in a home. `/dev/pts/N` becomes `/dev/pts/`.
//! 3. Anywhere else a file grants its directory as a tree (a build writes many files it names
//!    afresh each run), and a directory listed grants itself as a tree.
//! 4. Entries covered by a tree of the same list are dropped.
//!
//! A write is never generalised into a system tree (it grants the file's directory). Executables
//! are recorded exactly, with the ELF interpreter each needs (the kernel opens it for execution
//! too) and a script's interpreter.
use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::fs::FileExt,
    path::Path,
};

use monitor_common::net::{IPPROTO_TCP, IPPROTO_UDP};

use super::{Coverage, Dest, Listen, Profile, Proto, syscalls};
use crate::{
    enrich::Enriched,
    event::{Body, Family},
};

/// System trees (rule 1).
const SYSTEM_TREES: &[&str] = &[
    "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/proc", "/sys",
];
/// Sensitive roots (rule 2).
pub(crate) const SENSITIVE_ROOTS: &[&str] = &[
    "/etc", "/dev", "/root", "/home", "/run", "/var/run", "/var/lib", "/boot", "/mnt", "/media", "/srv",
];

/// How a path was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Use {
    Read,
    Write,
    Exec,
}

/// Builds a profile from events.
#[derive(Debug, Default)]
pub(crate) struct Learner {
    executables: BTreeSet<String>,
    /// (path, is a directory) per use.
    read: BTreeSet<(String, bool)>,
    write: BTreeSet<(String, bool)>,
    exec: BTreeSet<(String, bool)>,
    connect: BTreeSet<Dest>,
    listen: BTreeSet<Listen>,
    unix: BTreeSet<String>,
    abstract_unix: bool,
    events: u64,
}

impl Learner {
    pub(crate) fn observe(&mut self, e: &Enriched) {
        self.events += 1;
        match &e.event.body {
            Body::Exec(x) if x.result == 0 => {
                for p in [e.resolved_path.as_deref(), x.exe_path.as_deref()]
                    .into_iter()
                    .flatten()
                {
                    if p.starts_with('/') {
                        self.executables.insert(p.to_string());
                        self.exec.insert((p.to_string(), false));
                    }
                }
            }
            Body::Open(o) if !o.failed() => {
                let Some(path) = e.resolved_path.as_deref().filter(|p| p.starts_with('/')) else {
                    return;
                };
                let dir = o.flags & libc::O_DIRECTORY as u32 != 0 || Path::new(path).is_dir();
                if o.reads() {
                    self.read.insert((path.to_string(), dir));
                }
                if o.writes() || o.creates() {
                    self.write.insert((path.to_string(), dir));
                }
            }
            Body::Connect(c) => match c.dest.family {
                Family::Inet | Family::Inet6 if !c.dest.addr.is_empty() => {
                    self.connect.insert(Dest {
                        addr: c.dest.addr.clone(),
                        port: c.dest.port,
                        proto: proto_of(c.dest.protocol),
                    });
                }
                Family::Unix if !c.dest.addr.is_empty() => {
                    self.abstract_unix |= c.dest.addr.starts_with('@');
                    self.unix.insert(c.dest.addr.clone());
                }
                _ => {}
            },
            // Datagrams sent without connect: destinations too.
            Body::Send(s) if matches!(s.dest.family, Family::Inet | Family::Inet6) && !s.dest.addr.is_empty() => {
                self.connect.insert(Dest {
                    addr: s.dest.addr.clone(),
                    port: s.dest.port,
                    proto: proto_of(s.dest.protocol),
                });
            }
            Body::Listen(l) if matches!(l.family, Family::Inet | Family::Inet6) && l.port != 0 => {
                self.listen.insert(Listen {
                    port: l.port,
                    proto: proto_of(l.protocol),
                });
            }
            _ => {}
        }
    }

    /// The profile: the events seen, the syscalls counted (`counts`: number → calls, summed over
    /// the watched cgroups) and the coverage (its `events` is filled in here).
    pub(crate) fn finish(mut self, agent: &str, counts: &BTreeMap<u32, u64>, mut coverage: Coverage) -> Profile {
        // The interpreters the kernel loads for each binary need execute too.
        let interps: Vec<String> = self.executables.iter().filter_map(|p| elf_interpreter(p)).collect();
        for i in interps {
            self.exec.insert((i.clone(), false));
            self.executables.insert(i);
        }
        coverage.events = self.events;
        let mut p = Profile {
            agent: agent.to_string(),
            coverage,
            executables: self.executables,
            ..Profile::default()
        };
        p.files.read = minimise(self.read.iter().map(|(f, d)| generalise(f, *d, Use::Read)));
        p.files.write = minimise(self.write.iter().map(|(f, d)| generalise(f, *d, Use::Write)));
        p.files.exec = minimise(self.exec.iter().map(|(f, d)| generalise(f, *d, Use::Exec)));
        p.network.connect = self.connect;
        p.network.listen = self.listen;
        p.network.unix = self.unix;
        p.scope.abstract_unix = !self.abstract_unix;
        for (&nr, &n) in counts {
            let name = syscalls::name(nr).map_or_else(|| format!("syscall_{nr}"), str::to_string);
            if syscalls::number(&name).is_some() {
                *p.syscalls.entry(name).or_default() += n;
            }
        }
        p
    }
}

/// A socket's transport, as the profile names it.
fn proto_of(protocol: u16) -> Proto {
    match protocol {
        IPPROTO_TCP => Proto::Tcp,
        IPPROTO_UDP => Proto::Udp,
        _ => Proto::Any,
    }
}

/// The profile entry a use of `path` grants (see the module doc).
pub(crate) fn generalise(path: &str, is_dir: bool, how: Use) -> String {
    let under = |root: &str| path == root || path.starts_with(&format!("{root}/"));
    if how != Use::Write
        && let Some(root) = SYSTEM_TREES.iter().find(|r| under(r))
    {
        return format!("{root}/");
    }
    if under("/dev/pts") {
        return "/dev/pts/".into();
    }
    if path == "/" {
        return "/".into();
    }
    if SENSITIVE_ROOTS.iter().any(|r| under(r)) {
        return if is_dir { format!("{path}/") } else { path.to_string() };
    }
    if is_dir {
        return format!("{}/", path.trim_end_matches('/'));
    }
    match Path::new(path).parent().and_then(Path::to_str) {
        Some("/") | None => path.to_string(),
        Some(parent) => format!("{parent}/"),
    }
}

/// Drops every entry a tree of the same set covers.
pub(crate) fn minimise(entries: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    let all: BTreeSet<String> = entries.into_iter().collect();
    all.iter()
        .filter(|e| {
            !all.iter()
                .any(|t| t != *e && super::is_tree(t) && super::covers(t, e.trim_end_matches('/')))
        })
        .cloned()
        .collect()
}

/// The ELF interpreter (`PT_INTERP`) of a binary, by its kernel path (symlinks resolved), if any.
pub(crate) fn elf_interpreter(path: &str) -> Option<String> {
    const PT_INTERP: u32 = 3;
    let f = std::fs::File::open(path).ok()?;
    let mut h = [0u8; 64];
    f.read_exact_at(&mut h, 0).ok()?;
    // 64-bit little-endian ELF only (this build's architecture).
    if &h[..4] != b"\x7fELF" || h[4] != 2 || h[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or_default());
    let (phoff, phentsize, phnum) = (u64_at(&h, 32), u64::from(u16_at(&h, 54)), u16_at(&h, 56));
    if phentsize < 56 {
        return None;
    }
    for i in 0..u64::from(phnum.min(64)) {
        let mut ph = [0u8; 56];
        f.read_exact_at(&mut ph, phoff + i * phentsize).ok()?;
        if u32::from_le_bytes([ph[0], ph[1], ph[2], ph[3]]) == PT_INTERP {
            let (off, size) = (u64_at(&ph, 8), u64_at(&ph, 32).min(4096));
            let mut name = vec![0u8; size as usize];
            f.read_exact_at(&mut name, off).ok()?;
            let name = String::from_utf8_lossy(&name).trim_end_matches('\0').to_string();
            return std::fs::canonicalize(&name)
                .ok()
                .and_then(|p| p.to_str().map(str::to_string))
                .or(Some(name));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_generalise_by_the_documented_rule() {
        assert_eq!(
            generalise("/usr/lib/x86_64-linux-gnu/libc.so.6", false, Use::Read),
            "/usr/"
        );
        assert_eq!(generalise("/proc/1234/stat", false, Use::Read), "/proc/");
        assert_eq!(generalise("/usr/local/bin/tool", false, Use::Write), "/usr/local/bin/");
        assert_eq!(generalise("/etc/hosts", false, Use::Read), "/etc/hosts");
        assert_eq!(generalise("/root/.bashrc", false, Use::Read), "/root/.bashrc");
        assert_eq!(generalise("/dev/pts/3", false, Use::Write), "/dev/pts/");
        assert_eq!(generalise("/work/p/src/main.c", false, Use::Read), "/work/p/src/");
        assert_eq!(generalise("/work/p", true, Use::Read), "/work/p/");
        assert_eq!(generalise("/tmp", true, Use::Read), "/tmp/");
        assert_eq!(generalise("/vmlinuz", false, Use::Read), "/vmlinuz");
    }

    #[test]
    fn trees_absorb_what_they_cover() {
        let m = minimise([
            "/w/".into(),
            "/w/a/".into(),
            "/w/x".into(),
            "/wx/".into(),
            "/etc/hosts".into(),
        ]);
        assert_eq!(m.into_iter().collect::<Vec<_>>(), ["/etc/hosts", "/w/", "/wx/"]);
    }

    #[test]
    fn a_dynamic_binary_names_its_interpreter() {
        let i = elf_interpreter("/bin/sh").expect("/bin/sh is a dynamic ELF here");
        assert!(i.contains("ld-linux"), "{i}");
        assert_eq!(elf_interpreter("/etc/hostname"), None);
    }
}
