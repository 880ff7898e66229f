//! The sandbox's Landlock ruleset, built with the Landlock project's `landlock` crate from a
//! profile, before fork: the child only calls `landlock_restrict_self` on the ready ruleset.
//!
//! Every access right of the kernel's ABI is handled (so anything the profile does not grant is
//! refused): filesystem rights (ABI 1–3, 5), TCP bind/connect by port (ABI 4), abstract unix socket
//! and signal scoping (ABI 6). Rights per profile entry:
//!
//! | entry | file | tree |
//! |---|---|---|
//! | read | read | read, list |
//! | write | write, truncate | write, truncate, create/remove files, directories, links, fifos, sockets, rename across directories (refer), list |
//! | exec | execute, read | execute, read, list |
//!
//! and `ioctl` on devices for entries under `/dev`. An entry whose path does not exist when the
//! sandbox starts: a tree is granted on its nearest existing ancestor (a build's output directory
//! made afresh), unless that is `/` or a sensitive root (then, like a missing file, it is left out
//! with a warning).
use std::{
    collections::BTreeMap,
    os::fd::{AsRawFd, OwnedFd},
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr,
    Scope,
};

use crate::profile::{Profile, is_tree, learn::SENSITIVE_ROOTS};

/// The ABI the running kernel offers (`landlock_create_ruleset(NULL, 0, VERSION)`; 0: none).
pub(crate) fn kernel_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
    // SAFETY: the version query takes no memory.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    v.max(0) as i32
}

fn abi_of(v: i32) -> ABI {
    match v {
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        6 => ABI::V6,
        i if i >= 7 => ABI::V7,
        _ => ABI::Unsupported,
    }
}

/// A ruleset ready to be applied.
pub(crate) struct Prepared {
    fd: OwnedFd,
    /// The kernel's ABI and what of it the ruleset uses, for the operator.
    pub summary: String,
}

impl Prepared {
    /// In the child, after fork: restricts the calling process (no allocation; `no_new_privs` must
    /// be set already).
    pub(crate) fn restrict_self(&self) -> std::io::Result<()> {
        // SAFETY: a ruleset fd we own; flags 0.
        let rc = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, self.fd.as_raw_fd(), 0u32) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// Where a profile path is granted: itself, its nearest existing ancestor (trees), or nowhere.
fn anchor(entry: &str) -> Option<PathBuf> {
    let path = Path::new(entry.trim_end_matches('/'));
    let path = if path.as_os_str().is_empty() {
        Path::new("/")
    } else {
        path
    };
    if path.exists() {
        return Some(path.to_path_buf());
    }
    if !is_tree(entry) {
        tracing::warn!("sandbox: {entry} does not exist; not granted");
        return None;
    }
    let ancestor = path.ancestors().skip(1).find(|a| a.exists())?;
    let a = ancestor.to_string_lossy();
    if a == "/" || SENSITIVE_ROOTS.contains(&a.as_ref()) {
        tracing::warn!("sandbox: {entry} does not exist and its nearest existing directory is {a}; not granted");
        return None;
    }
    tracing::warn!("sandbox: {entry} does not exist; granted on {a}/ instead");
    Some(ancestor.to_path_buf())
}

/// The rights each path gets (see the module doc).
fn rights(p: &Profile, abi: ABI) -> BTreeMap<PathBuf, BitFlags<AccessFs>> {
    let all = AccessFs::from_all(abi);
    let tree_write = AccessFs::WriteFile
        | AccessFs::Truncate
        | AccessFs::MakeReg
        | AccessFs::MakeDir
        | AccessFs::MakeSym
        | AccessFs::MakeFifo
        | AccessFs::MakeSock
        | AccessFs::RemoveFile
        | AccessFs::RemoveDir
        | AccessFs::Refer
        | AccessFs::ReadDir;
    let mut out: BTreeMap<PathBuf, BitFlags<AccessFs>> = BTreeMap::new();
    let lists = [
        (
            &p.files.read,
            AccessFs::ReadFile | AccessFs::ReadDir,
            BitFlags::from(AccessFs::ReadFile),
        ),
        (&p.files.write, tree_write, AccessFs::WriteFile | AccessFs::Truncate),
        (
            &p.files.exec,
            AccessFs::Execute | AccessFs::ReadFile | AccessFs::ReadDir,
            AccessFs::Execute | AccessFs::ReadFile,
        ),
    ];
    for (entries, tree, file) in lists {
        for e in entries {
            let Some(at) = anchor(e) else { continue };
            let mut r = if at.is_dir() {
                tree
            } else {
                file & AccessFs::from_file(abi)
            };
            if e.starts_with("/dev/") {
                r |= AccessFs::IoctlDev;
            }
            *out.entry(at).or_default() |= r & all;
        }
    }
    out
}

/// Builds the ruleset (`None`: the kernel has no Landlock).
pub(crate) fn prepare(p: &Profile) -> Result<Option<Prepared>> {
    let version = kernel_abi();
    let abi = abi_of(version);
    if abi == ABI::Unsupported {
        tracing::warn!("sandbox: this kernel has no Landlock; only seccomp applies");
        return Ok(None);
    }
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .context("Landlock filesystem rights")?;
    let mut layers = vec![format!("filesystem ({} rights)", AccessFs::from_all(abi).len())];
    let net = version >= 4;
    if net {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .context("Landlock network rights")?;
        layers.push("TCP bind/connect".into());
    }
    let mut scopes = BitFlags::<Scope>::empty();
    if version >= 6 {
        if p.scope.signals {
            scopes |= Scope::Signal;
            layers.push("signal scope".into());
        }
        if p.scope.abstract_unix {
            scopes |= Scope::AbstractUnixSocket;
            layers.push("abstract unix socket scope".into());
        }
        if !scopes.is_empty() {
            ruleset = ruleset.scope(scopes).context("Landlock scopes")?;
        }
    }
    let mut created = ruleset.create().context("creating the Landlock ruleset")?;
    let grants = rights(p, abi);
    let n_paths = grants.len();
    for (path, access) in grants {
        let fd = match PathFd::new(&path) {
            Ok(fd) => fd,
            Err(e) => {
                tracing::warn!("sandbox: {}: {e}; not granted", path.display());
                continue;
            }
        };
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .with_context(|| format!("Landlock rule for {}", path.display()))?;
    }
    let mut n_ports = 0;
    if net {
        let connect: std::collections::BTreeSet<u16> = p
            .network
            .connect
            .iter()
            .filter(|d| d.proto.tcp())
            .map(|d| d.port)
            .collect();
        for port in connect {
            created = created
                .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
                .with_context(|| format!("Landlock rule for TCP port {port}"))?;
            n_ports += 1;
        }
        for l in p.network.listen.iter().filter(|l| l.proto.tcp()) {
            created = created
                .add_rule(NetPort::new(l.port, AccessNet::BindTcp))
                .with_context(|| format!("Landlock rule for TCP port {}", l.port))?;
            n_ports += 1;
        }
    }
    let fd: Option<OwnedFd> = created.into();
    let fd = fd.context("the Landlock ruleset has no descriptor")?;
    Ok(Some(Prepared {
        fd,
        summary: format!(
            "Landlock ABI {version}{}: {}; {n_paths} paths, {n_ports} ports granted",
            if version > 7 { " (used as 7)" } else { "" },
            layers.join(", ")
        ),
    }))
}
