//! In-kernel scoping: is the current task inside a watched cgroup or one of its descendants — or a
//! process of a watched agent that left it (`crate::lineage`)?
use aya_ebpf::{helpers::generated::bpf_get_current_ancestor_cgroup_id, maps::HashMap};
use monitor_common::{
    MAX_CGROUP_LEVELS,
    config::{CgroupOffsets, FAST_LEVELS, KernelConfig},
};

use crate::{
    lineage,
    maps::{self, WATCHED},
    task::read_field,
};

/// How every program starts: the kernel config, if the current task is watched (`None`: return at
/// once; a missing config is counted by [`maps::config`]).
#[inline(always)]
pub(crate) fn watched() -> Option<&'static KernelConfig> {
    let cfg = maps::config()?;
    is_watched(cfg).then_some(cfg)
}

/// Returns true when the task's cgroup, or its ancestor at one of the levels where userspace put a
/// watched cgroup, is in `WATCHED`, or when the task's process left a watched agent's cgroup (it
/// stays in scope by lineage). Costs one helper call and one hash lookup per such level (usually
/// one), plus, only while some escaped process is alive, one more lookup: unwatched workloads pay
/// almost nothing.
#[inline(always)]
pub(crate) fn is_watched(cfg: &KernelConfig) -> bool {
    any_ancestor_in(cfg, &WATCHED) || lineage::escaped_in_scope()
}

/// The watched cgroup the current task is below by its cgroup (not by lineage), if any.
///
/// A function of its own (a BPF-to-BPF call), like the other scans here: the scan has an exit per
/// level, and inlined, every one of them would be a separate path through the rest of the caller
/// for the verifier; a call returns to a single place.
#[inline(never)]
pub(crate) fn watched_root(cfg: &KernelConfig) -> Option<u64> {
    first_ancestor_in(cfg, &WATCHED, |level| {
        // SAFETY: the helper has no preconditions.
        Some(unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) })
    })
}

/// The watched cgroup the cgroup at `cgrp` (a kernel `struct cgroup *` of the default hierarchy)
/// is, or is below, if any: the same test as [`watched_root`], for a cgroup that is not the
/// current task's.
#[inline(never)]
pub(crate) fn cgroup_watched_root(cfg: &KernelConfig, cgrp: *const u8) -> Option<u64> {
    let co = &cfg.offsets.cgroup;
    let depth: i32 = read_field(cgrp, co.level)?;
    first_ancestor_in(cfg, &WATCHED, |level| {
        // The scan goes up the levels: past the cgroup's own, none is left (and comparing each
        // later level with the unknown depth would multiply the verifier's paths).
        if level as i32 > depth {
            return None;
        }
        let ancestor: *const u8 = read_field(cgrp, co.ancestors + level * 8).unwrap_or(core::ptr::null());
        Some(cgroup_id(co, ancestor).unwrap_or(0))
    })
}

/// The id of a cgroup (its kernfs node's id: the directory's inode number).
#[inline(always)]
pub(crate) fn cgroup_id(co: &CgroupOffsets, cgrp: *const u8) -> Option<u64> {
    let kn: *const u8 = read_field(cgrp, co.kn)?;
    read_field(kn, co.kn_id)
}

/// Whether the task's ancestor cgroup at one of the watched levels is a key of `set` (the watched
/// cgroups, or the quarantined ones).
#[inline(always)]
pub(crate) fn any_ancestor_in(cfg: &KernelConfig, set: &HashMap<u64, u32>) -> bool {
    first_ancestor_in(cfg, set, |level| {
        // SAFETY: the helper has no preconditions.
        Some(unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) })
    })
    .is_some()
}

/// The first ancestor id `ancestor(level)` gives, over the watched levels in increasing order,
/// that is a key of `set`; `ancestor` returns `None` when no higher level can have one.
#[inline(always)]
fn first_ancestor_in(
    cfg: &KernelConfig,
    set: &HashMap<u64, u32>,
    ancestor: impl Fn(u32) -> Option<u64>,
) -> Option<u64> {
    let n = cfg.n_levels;
    if n == 0 {
        return None;
    }
    // Some(Some(id)): found; Some(None): not at this level; None: stop.
    let found = |level: u32| {
        let id = ancestor(level)?;
        // SAFETY: a lookup; the value is not used.
        Some((id != 0 && unsafe { set.get(id) }.is_some()).then_some(id))
    };
    if n as usize <= FAST_LEVELS {
        // `levels` is sorted (userspace writes them in increasing order).
        let mut i = 0usize;
        while i < FAST_LEVELS && i < n as usize {
            match found(cfg.levels[i]) {
                Some(Some(id)) => return Some(id),
                Some(None) => {}
                None => return None,
            }
            i += 1;
        }
        return None;
    }
    let levels = cfg.watched_levels;
    let mut level = 0u32;
    while level < MAX_CGROUP_LEVELS {
        if levels & (1 << level) != 0 {
            match found(level) {
                Some(Some(id)) => return Some(id),
                Some(None) => {}
                None => return None,
            }
        }
        level += 1;
    }
    None
}
