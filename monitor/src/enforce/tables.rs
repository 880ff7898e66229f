//! Compiles [`DenyEntry`]s into the kernel's deny tables (replacing what was there).
use std::net::IpAddr;

use anyhow::{Context, Result, bail};
use aya::maps::{Array, HashMap, LpmTrie, MapData, lpm_trie::Key};
use monitor_common::{
    enforce::{
        DENY_FSTYPE_LEN, DENY_KIND_CHANGE, DENY_KIND_CONNECT, DENY_KIND_EXEC, DENY_KIND_IO_URING, DENY_KIND_MOUNT,
        DENY_KIND_OPEN, DENY_PATH_LEN, MOUNT_ANY_KEY, NetRule, PATH_RULE_WRITE_ONLY, PathKey, PathRule,
    },
    maps,
};

use super::spec::{DenyEntry, DenySpec, PathMatch};
use crate::probes::Probes;

/// LPM key for a path rule: exact entries include the NUL so they match only that string.
fn path_key(m: &PathMatch) -> Result<Key<PathKey>> {
    let (s, exact) = match m {
        PathMatch::Exact(s) => (s, true),
        PathMatch::Prefix(s) => (s, false),
    };
    let bytes = s.as_bytes();
    let len = bytes.len() + usize::from(exact);
    if len > DENY_PATH_LEN || bytes.is_empty() {
        bail!(
            "deny path {s:?} must be 1..{} bytes for the kernel table",
            DENY_PATH_LEN - 1
        );
    }
    let mut data = [0u8; DENY_PATH_LEN];
    data[..bytes.len()].copy_from_slice(bytes);
    Ok(Key::new((len * 8) as u32, PathKey { data }))
}

fn fstype_key(s: &str) -> Result<[u8; DENY_FSTYPE_LEN]> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() >= DENY_FSTYPE_LEN {
        bail!("deny fstype {s:?} must be 1..{} bytes", DENY_FSTYPE_LEN - 1);
    }
    let mut k = [0u8; DENY_FSTYPE_LEN];
    k[..b.len()].copy_from_slice(b);
    Ok(k)
}

fn clear_trie<K: aya::Pod, V: aya::Pod>(t: &mut LpmTrie<&mut MapData, K, V>) {
    let keys: Vec<_> = t.keys().filter_map(Result::ok).collect();
    for k in keys {
        let _ = t.remove(&k);
    }
}

fn trie<'a, K: aya::Pod, V: aya::Pod>(probes: &'a mut Probes, name: &str) -> Result<LpmTrie<&'a mut MapData, K, V>> {
    let map = probes
        .ebpf_mut()
        .map_mut(name)
        .with_context(|| format!("map {name} missing"))?;
    Ok(LpmTrie::try_from(map)?)
}

/// Rebuilds one connect deny trie from the entries whose address `octets` accepts (one family).
/// Returns whether any entry went in.
fn fill_net_trie<const N: usize>(
    probes: &mut Probes,
    name: &str,
    entries: &[DenyEntry],
    octets: impl Fn(&IpAddr) -> Option<[u8; N]>,
) -> Result<bool> {
    let mut t = trie::<[u8; N], NetRule>(probes, name)?;
    clear_trie(&mut t);
    let mut any = false;
    for e in entries {
        if let DenySpec::Connect { addr, prefix_len, port } = &e.spec
            && let Some(bytes) = octets(addr)
        {
            let rule = NetRule {
                rule_id: e.rule_id,
                port: port.unwrap_or(0),
                _pad: 0,
            };
            t.insert(&Key::new(u32::from(*prefix_len), bytes), rule, 0)?;
            any = true;
        }
    }
    Ok(any)
}

/// The `DENY_CHANGE` entries: one per distinct path, the first rule's id, and the `CHANGE_*` bits
/// of every change rule whose path covers it (the trie answers with the longest match alone, so a
/// `chmod`-only rule on `/etc/x` must still carry the `unlink` of a rule on the prefix `/etc/`).
fn change_rules(entries: &[DenyEntry]) -> Vec<(&PathMatch, PathRule)> {
    let changes: Vec<(&PathMatch, u32, u32)> = entries
        .iter()
        .filter_map(|e| match &e.spec {
            DenySpec::Change { path, ops } => Some((path, e.rule_id, *ops)),
            _ => None,
        })
        .collect();
    let text = |m: &PathMatch| match m {
        PathMatch::Exact(s) | PathMatch::Prefix(s) => s.clone(),
    };
    let mut out: Vec<(&PathMatch, PathRule)> = Vec::new();
    for &(path, rule_id, _) in &changes {
        if out.iter().any(|(p, _)| *p == path) {
            continue;
        }
        let me = text(path);
        let flags = changes
            .iter()
            .filter(|(other, _, _)| {
                *other == path || matches!(other, PathMatch::Prefix(pre) if me.starts_with(pre.as_str()))
            })
            .fold(0, |acc, (_, _, ops)| acc | ops);
        out.push((path, PathRule { rule_id, flags }));
    }
    out
}

/// Replaces the kernel deny tables with `entries`. On error nothing is half-applied to the
/// `deny_kinds` switch: tables are rebuilt first, the switch flipped last.
pub(crate) fn apply(probes: &mut Probes, entries: &[DenyEntry]) -> Result<()> {
    // Validate everything before touching the kernel.
    for e in entries {
        match &e.spec {
            DenySpec::Exec(m) | DenySpec::Open { path: m, .. } | DenySpec::Change { path: m, .. } => {
                path_key(m).with_context(|| format!("rule {}", e.rule))?;
            }
            DenySpec::MountFstype(f) => {
                fstype_key(f).with_context(|| format!("rule {}", e.rule))?;
            }
            DenySpec::Connect { addr, prefix_len, .. } => {
                let max = if addr.is_ipv4() { 32 } else { 128 };
                if *prefix_len > max {
                    bail!("rule {}: prefix length /{prefix_len} is longer than {max}", e.rule);
                }
            }
            DenySpec::MountAny | DenySpec::IoUring => {}
        }
    }
    probes.set_deny_kinds(0)?;
    let mut kinds = 0u32;
    {
        let mut exec = trie::<PathKey, PathRule>(probes, maps::DENY_EXEC)?;
        clear_trie(&mut exec);
        for e in entries {
            if let DenySpec::Exec(m) = &e.spec {
                exec.insert(
                    &path_key(m)?,
                    PathRule {
                        rule_id: e.rule_id,
                        flags: 0,
                    },
                    0,
                )?;
                kinds |= DENY_KIND_EXEC;
            }
        }
    }
    {
        let mut open = trie::<PathKey, PathRule>(probes, maps::DENY_OPEN)?;
        clear_trie(&mut open);
        for e in entries {
            if let DenySpec::Open { path, write_only } = &e.spec {
                let flags = if *write_only { PATH_RULE_WRITE_ONLY } else { 0 };
                open.insert(
                    &path_key(path)?,
                    PathRule {
                        rule_id: e.rule_id,
                        flags,
                    },
                    0,
                )?;
                kinds |= DENY_KIND_OPEN;
            }
        }
    }
    {
        let mut change = trie::<PathKey, PathRule>(probes, maps::DENY_CHANGE)?;
        clear_trie(&mut change);
        for (path, rule) in change_rules(entries) {
            change.insert(&path_key(path)?, rule, 0)?;
            kinds |= DENY_KIND_CHANGE;
        }
    }
    let v4 = fill_net_trie(probes, maps::DENY_NET4, entries, |a| match a {
        IpAddr::V4(a) => Some(a.octets()),
        IpAddr::V6(_) => None,
    })?;
    let v6 = fill_net_trie(probes, maps::DENY_NET6, entries, |a| match a {
        IpAddr::V6(a) => Some(a.octets()),
        IpAddr::V4(_) => None,
    })?;
    if v4 || v6 {
        kinds |= DENY_KIND_CONNECT;
    }
    {
        let map = probes
            .ebpf_mut()
            .map_mut(maps::DENY_MOUNT)
            .with_context(|| format!("map {} missing", maps::DENY_MOUNT))?;
        let mut mount: HashMap<_, [u8; DENY_FSTYPE_LEN], u32> = HashMap::try_from(map)?;
        let keys: Vec<_> = mount.keys().filter_map(Result::ok).collect();
        for k in keys {
            let _ = mount.remove(&k);
        }
        for e in entries {
            let key = match &e.spec {
                DenySpec::MountAny => MOUNT_ANY_KEY,
                DenySpec::MountFstype(f) => fstype_key(f)?,
                _ => continue,
            };
            mount.insert(key, e.rule_id, 0)?;
            kinds |= DENY_KIND_MOUNT;
        }
    }
    // mounts, scope, io_uring, code loading
    if let Some(e) = entries.iter().find(|e| e.spec == DenySpec::IoUring) {
        let map = probes
            .ebpf_mut()
            .map_mut(maps::DENY_IO_URING)
            .with_context(|| format!("map {} missing", maps::DENY_IO_URING))?;
        let mut rule: Array<_, u32> = Array::try_from(map)?;
        rule.set(0, e.rule_id, 0)?;
        kinds |= DENY_KIND_IO_URING;
    }
    probes.set_deny_kinds(kinds)?;
    tracing::info!(entries = entries.len(), "kernel deny tables loaded");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_keys_include_the_nul_and_prefix_keys_do_not() {
        let e = path_key(&PathMatch::Exact("/bin/sh".into())).unwrap();
        assert_eq!(e.prefix_len(), 8 * 8);
        let p = path_key(&PathMatch::Prefix("/tmp/".into())).unwrap();
        assert_eq!(p.prefix_len(), 5 * 8);
        assert!(path_key(&PathMatch::Prefix(String::new())).is_err());
        assert!(path_key(&PathMatch::Exact("x".repeat(256))).is_err());
        fstype_key("tmpfs").unwrap();
        fstype_key(&"x".repeat(40)).unwrap_err();
    }

    #[test]
    fn a_change_entry_carries_the_changes_of_the_prefixes_that_cover_it() {
        use monitor_common::enforce::{CHANGE_CHMOD, CHANGE_RENAME, CHANGE_UNLINK};
        let entry = |rule_id, path, ops| DenyEntry {
            rule_id,
            rule: format!("r{rule_id}"),
            spec: DenySpec::Change { path, ops },
        };
        let entries = [
            entry(0, PathMatch::Prefix("/etc/".into()), CHANGE_UNLINK),
            entry(1, PathMatch::Exact("/etc/agent.yaml".into()), CHANGE_CHMOD),
            entry(2, PathMatch::Exact("/etc/agent.yaml".into()), CHANGE_RENAME),
            entry(3, PathMatch::Exact("/etcetera".into()), CHANGE_CHMOD),
            DenyEntry {
                rule_id: 4,
                rule: "open".into(),
                spec: DenySpec::Open {
                    path: PathMatch::Prefix("/".into()),
                    write_only: false,
                },
            },
        ];
        let got: Vec<(PathMatch, u32, u32)> = change_rules(&entries)
            .into_iter()
            .map(|(p, r)| (p.clone(), r.rule_id, r.flags))
            .collect();
        assert_eq!(
            got,
            [
                (PathMatch::Prefix("/etc/".into()), 0, CHANGE_UNLINK),
                (
                    PathMatch::Exact("/etc/agent.yaml".into()),
                    1,
                    CHANGE_UNLINK | CHANGE_CHMOD | CHANGE_RENAME
                ),
                (PathMatch::Exact("/etcetera".into()), 3, CHANGE_CHMOD),
            ]
        );
    }
}
