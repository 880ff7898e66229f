//! Least-privilege profiles: what an agent did while `agentmon learn` watched it ([`learn`]), as YAML
//! an operator reviews and edits ([`write`], read back and checked by [`read`]); enforced by
//! `agentmon exec --sandbox` (`crate::sandbox`: Landlock and seccomp) and exported for containers
//! and as rules ([`export`]). Reference: `docs/SANDBOX.md`.
//!
//! Paths are the kernel's (symlinks resolved). A path ending in `/` is a *tree*: the directory and
//! everything below it; any other path is one file.
use std::collections::{BTreeMap, BTreeSet};

pub(crate) mod export;
pub(crate) mod learn;
pub(crate) mod read;
pub(crate) mod syscalls;
mod write;

pub(crate) use read::{check_file, load};

/// The format version `agentmon learn` writes.
pub(crate) const VERSION: u64 = 1;

/// A profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Profile {
    /// The agent's name (informative).
    pub agent: String,
    pub coverage: Coverage,
    /// Every executable run (and the ELF interpreter each one needs), exact paths.
    pub executables: BTreeSet<String>,
    pub files: Files,
    pub network: Network,
    /// Syscalls used, by name, with how often (counted in the kernel while learning).
    pub syscalls: BTreeMap<String, u64>,
    pub scope: Scope,
}

/// What the learning run saw, so a reviewer knows how much to trust the profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Coverage {
    /// The command learned (`learn -- CMD`), empty for `--cgroup`.
    pub command: Vec<String>,
    /// The watched cgroups (`--cgroup`, or the one `learn` made).
    pub cgroups: Vec<String>,
    /// RFC 3339 start time and the window's length.
    pub started: String,
    pub duration_ms: u64,
    /// Events the profile was built from.
    pub events: u64,
    /// Events the kernel lost (full ring buffer, failed reads and inserts): any marks it incomplete.
    pub drops: u64,
    pub complete: bool,
    /// The learned command's exit status (`learn -- CMD`).
    pub exit_status: Option<i32>,
    pub agentmon: String,
}

/// File access, generalised (see `learn::generalise`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Files {
    pub read: BTreeSet<String>,
    pub write: BTreeSet<String>,
    pub exec: BTreeSet<String>,
}

/// Network use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Network {
    /// inet/inet6 destinations.
    pub connect: BTreeSet<Dest>,
    /// Ports listened on.
    pub listen: BTreeSet<Listen>,
    /// Unix sockets connected to: paths, or `@name` for abstract ones.
    pub unix: BTreeSet<String>,
}

/// Transport of a destination or listener (`Any`: the event did not say).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Proto {
    #[default]
    Any,
    Tcp,
    Udp,
}

impl Proto {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Proto::Any => "any",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "any" => Proto::Any,
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            _ => return None,
        })
    }

    /// Whether TCP traffic may use it (Landlock restricts TCP only).
    pub(crate) fn tcp(self) -> bool {
        matches!(self, Proto::Any | Proto::Tcp)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Dest {
    pub addr: String,
    pub port: u16,
    pub proto: Proto,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Listen {
    pub port: u16,
    pub proto: Proto,
}

/// Landlock scoping (ABI 6): refuse what crosses the sandbox's boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    /// Refuse signals to processes outside the sandbox.
    pub signals: bool,
    /// Refuse connects to abstract unix sockets created outside the sandbox.
    pub abstract_unix: bool,
}

impl Default for Scope {
    fn default() -> Self {
        Self {
            signals: true,
            abstract_unix: true,
        }
    }
}

/// Whether a profile path is a tree (ends in `/`).
pub(crate) fn is_tree(p: &str) -> bool {
    p.ends_with('/')
}

/// Whether `path` (a file or directory, no trailing `/`) is covered by profile entry `entry`.
pub(crate) fn covers(entry: &str, path: &str) -> bool {
    if is_tree(entry) {
        path.starts_with(entry) || path == entry.trim_end_matches('/') || entry == "/"
    } else {
        path == entry
    }
}

impl Profile {
    /// Profile from YAML text (errors as `name:line:col: message`).
    #[cfg(test)]
    pub(crate) fn from_yaml(name: &str, text: &str) -> Result<Self, read::ProfileErrors> {
        read::parse_with_notes(name, text).map(|(p, _)| p)
    }

    /// The profile as YAML.
    pub(crate) fn to_yaml(&self) -> String {
        write::to_yaml(self)
    }
}
