//! `action: deny` rules → kernel [`DenyEntry`]s. The condition must be an OR of alternatives, each
//! restricted to one event kind and made only of atoms the kernel matches (see `enforce/spec.rs`).
use monitor_common::enforce::{
    CHANGE_CHMOD, CHANGE_CHOWN, CHANGE_LINK, CHANGE_RENAME, CHANGE_SYMLINK, CHANGE_TRUNCATE, CHANGE_UNLINK,
};

use super::{
    cond::{Cond, Pred, Test, applicable_kinds},
    fields::{Field, Kind, KindSet},
};
use crate::enforce::spec::{DenySpec, PathMatch};

/// Why a deny condition cannot be expressed, and where (`None` = the rule as a whole).
pub(super) struct DenyError {
    pub at: Option<super::error::Loc>,
    pub message: String,
}

fn err<T>(at: Option<super::error::Loc>, message: impl Into<String>) -> Result<T, DenyError> {
    Err(DenyError {
        at,
        message: message.into(),
    })
}

/// The kernel specs equivalent to `cond`.
pub(super) fn compile(cond: &Cond) -> Result<Vec<DenySpec>, DenyError> {
    let mut specs = Vec::new();
    for atoms in dnf(cond)? {
        let alt = Cond::And(atoms.iter().map(|a| (*a).clone()).collect());
        let kinds = applicable_kinds(&alt);
        if let Some(ops) = change_ops(kinds) {
            specs.extend(change_alternative(ops, &atoms)?);
            continue;
        }
        let mut it = kinds.kinds();
        let (Some(kind), None) = (it.next(), it.next()) else {
            return err(
                None,
                format!(
                    "deny: each alternative must apply to exactly one event kind (or only to changes: {}), this one applies to [{}] (add `evt.kind = ...`)",
                    CHANGE_NAMES,
                    kinds.names()
                ),
            );
        };
        specs.extend(alternative(kind, &atoms)?);
    }
    Ok(specs)
}

/// Most alternatives a deny condition may expand to.
const MAX_ALTERNATIVES: usize = 1024;

/// The condition as an OR of ANDs of atoms (`a and (b or c)` → `[a, b], [a, c]`).
fn dnf(c: &Cond) -> Result<Vec<Vec<&Cond>>, DenyError> {
    Ok(match c {
        Cond::Or(parts) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(dnf(p)?);
            }
            out
        }
        Cond::And(parts) => {
            let mut out: Vec<Vec<&Cond>> = vec![Vec::new()];
            for p in parts {
                let alts = dnf(p)?;
                if out.len() * alts.len() > MAX_ALTERNATIVES {
                    return err(
                        None,
                        format!("deny: the condition expands to more than {MAX_ALTERNATIVES} alternatives"),
                    );
                }
                out = out
                    .iter()
                    .flat_map(|prefix| {
                        alts.iter().map(move |alt| {
                            let mut v = prefix.clone();
                            v.extend(alt.iter().copied());
                            v
                        })
                    })
                    .collect();
            }
            out
        }
        atom => vec![vec![atom]],
    })
}

fn path_matches(t: &Test) -> Option<Vec<PathMatch>> {
    match &t.pred {
        Pred::Eq(v) => Some(v.iter().cloned().map(PathMatch::Exact).collect()),
        Pred::Prefix(v) => Some(v.iter().cloned().map(PathMatch::Prefix).collect()),
        _ => None,
    }
}

fn alternative(kind: Kind, atoms: &[&Cond]) -> Result<Vec<DenySpec>, DenyError> {
    let mut paths: Option<Vec<PathMatch>> = None;
    let mut nets: Option<Vec<(std::net::IpAddr, u8)>> = None;
    let mut ports: Option<Vec<u16>> = None;
    let mut fstypes: Option<Vec<String>> = None;
    let mut write_only = false;
    for atom in atoms {
        let t = match atom {
            Cond::Kind(_) | Cond::Const(true) => continue,
            Cond::Test(t) if !t.negate => t,
            _ => {
                return err(
                    None,
                    format!(
                        "deny: the kernel cannot evaluate `not`/`!=` in a {} alternative",
                        kind.name()
                    ),
                );
            }
        };
        let unsupported = || {
            err(
                Some(t.loc),
                format!(
                    "deny: this test cannot be enforced in the kernel for {} (supported: {})",
                    kind.name(),
                    supported(kind)
                ),
            )
        };
        let dup = |what: &str| err(Some(t.loc), format!("deny: only one {what} test per alternative"));
        match (kind, t.field, &t.pred) {
            (Kind::Exec, Field::ExecPath | Field::FilePath | Field::FileRawPath, _)
            | (Kind::Open, Field::FilePath | Field::FileRawPath, _) => {
                let Some(p) = path_matches(t) else { return unsupported() };
                if paths.replace(p).is_some() {
                    return dup("path");
                }
            }
            (Kind::Open, Field::FileWrite, Pred::Bool(true)) => write_only = true,
            (Kind::Connect, Field::NetAddr, Pred::AddrEq(ips)) => {
                let v = ips
                    .iter()
                    .map(|ip| (*ip, if ip.is_ipv4() { 32 } else { 128 }))
                    .collect();
                if nets.replace(v).is_some() {
                    return dup("address");
                }
            }
            (Kind::Connect, Field::NetAddr, Pred::Cidr(cidrs)) => {
                if nets
                    .replace(cidrs.iter().map(|c| (c.addr, c.prefix_len)).collect())
                    .is_some()
                {
                    return dup("address");
                }
            }
            (Kind::Connect, Field::NetPort, Pred::NumIn(v)) => {
                let Ok(p) = v.iter().map(|n| u16::try_from(*n)).collect::<Result<Vec<u16>, _>>() else {
                    return err(Some(t.loc), "deny: a port must be at most 65535");
                };
                if ports.replace(p).is_some() {
                    return dup("port");
                }
            }
            (Kind::Mount, Field::MountFstype, Pred::Eq(v)) => {
                if fstypes.replace(v.to_vec()).is_some() {
                    return dup("fstype");
                }
            }
            _ => return unsupported(),
        }
    }
    let missing = |what: &str| err(None, format!("deny: a {} alternative needs {what}", kind.name()));
    Ok(match kind {
        Kind::Exec => match paths {
            Some(p) => p.into_iter().map(DenySpec::Exec).collect(),
            None => return missing("an `exec.path =|startswith|in` test"),
        },
        Kind::Open => match paths {
            Some(p) => p.into_iter().map(|path| DenySpec::Open { path, write_only }).collect(),
            None => return missing("a `file.path =|startswith|in` test"),
        },
        Kind::Connect => {
            let Some(nets) = nets else {
                return missing("a `net.addr in_cidr (...)` or `net.addr = ...` test");
            };
            let ports: Vec<Option<u16>> = match ports {
                Some(p) => p.into_iter().map(Some).collect(),
                None => vec![None],
            };
            let mut out = Vec::new();
            for (addr, prefix_len) in nets {
                for port in &ports {
                    out.push(DenySpec::Connect {
                        addr,
                        prefix_len,
                        port: *port,
                    });
                }
            }
            out
        }
        Kind::Mount => match fstypes {
            Some(f) => f.into_iter().map(DenySpec::MountFstype).collect(),
            None => vec![DenySpec::MountAny],
        },
        // mounts, scope, io_uring, code loading: no test but the kind (any use of io_uring).
        Kind::IoUringSetup | Kind::IoUringOp => vec![DenySpec::IoUring],
        _ => {
            return err(
                None,
                format!("deny: {} events cannot be denied in the kernel", kind.name()),
            );
        }
    })
}

/// The file changes a deny rule can refuse in the kernel (the LSM `path_*` hooks), with their
/// `DENY_CHANGE` bits.
const CHANGE_KINDS: [(Kind, u32); 7] = [
    (Kind::Rename, CHANGE_RENAME),
    (Kind::Link, CHANGE_LINK),
    (Kind::Symlink, CHANGE_SYMLINK),
    (Kind::Unlink, CHANGE_UNLINK),
    (Kind::Chmod, CHANGE_CHMOD),
    (Kind::Chown, CHANGE_CHOWN),
    (Kind::Truncate, CHANGE_TRUNCATE),
];
const CHANGE_NAMES: &str = "rename, link, symlink, unlink, chmod, chown, truncate";

/// The `CHANGE_*` bits of `kinds` when it holds change kinds only.
fn change_ops(kinds: KindSet) -> Option<u32> {
    let mut ops = 0;
    for k in kinds.kinds() {
        ops |= CHANGE_KINDS.iter().find(|(c, _)| *c == k)?.1;
    }
    (ops != 0).then_some(ops)
}

/// An alternative over change kinds: `evt.kind in (rename, unlink, …) and file.path =|startswith|in
/// …` (`file.write`, always true for them, may stand beside it).
fn change_alternative(ops: u32, atoms: &[&Cond]) -> Result<Vec<DenySpec>, DenyError> {
    let mut paths: Option<Vec<PathMatch>> = None;
    for atom in atoms {
        let t = match atom {
            Cond::Kind(_) | Cond::Const(true) => continue,
            Cond::Test(t) if !t.negate => t,
            _ => {
                return err(
                    None,
                    "deny: the kernel cannot evaluate `not`/`!=` in a change alternative",
                );
            }
        };
        match (t.field, &t.pred) {
            (Field::FilePath | Field::FileRawPath, _) => {
                let Some(p) = path_matches(t) else {
                    return err(
                        Some(t.loc),
                        "deny: a change's file.path must be tested with =, startswith or in",
                    );
                };
                if paths.replace(p).is_some() {
                    return err(Some(t.loc), "deny: only one path test per alternative");
                }
            }
            (Field::FileWrite, Pred::Bool(true)) => {}
            _ => {
                return err(
                    Some(t.loc),
                    format!(
                        "deny: this test cannot be enforced in the kernel for changes ({CHANGE_NAMES}; supported: file.path =|startswith|in)"
                    ),
                );
            }
        }
    }
    let Some(paths) = paths else {
        return err(
            None,
            "deny: a change alternative needs a `file.path =|startswith|in` test",
        );
    };
    Ok(paths.into_iter().map(|path| DenySpec::Change { path, ops }).collect())
}

fn supported(kind: Kind) -> &'static str {
    match kind {
        Kind::Exec => "exec.path =|startswith|in",
        Kind::Open => "file.path =|startswith|in, optionally `and file.write`",
        Kind::Connect => "net.addr in_cidr|=|in, optionally `and net.port =`",
        Kind::Mount => "evt.kind = mount, optionally `and mount.fstype =|in`",
        Kind::IoUringSetup | Kind::IoUringOp => "evt.kind = io_uring_setup (or io_uring_op) alone",
        _ => "nothing: this kind has no kernel deny table",
    }
}
