//! In-kernel scoping: is the current task inside a watched cgroup or one of its descendants?
use aya_ebpf::{helpers::generated::bpf_get_current_ancestor_cgroup_id, maps::HashMap};
use monitor_common::{
    MAX_CGROUP_LEVELS,
    config::{FAST_LEVELS, KernelConfig},
};

use crate::maps::{self, WATCHED};

/// How every program starts: the kernel config, if the current task is watched (`None`: return at
/// once; a missing config is counted by [`maps::config`]).
#[inline(always)]
pub(crate) fn watched() -> Option<&'static KernelConfig> {
    let cfg = maps::config()?;
    is_watched(cfg).then_some(cfg)
}

/// Returns true when the task's cgroup, or its ancestor at one of the levels where userspace put a
/// watched cgroup, is in `WATCHED`. Costs one helper call and one hash lookup per such level (usually
/// one), so unwatched workloads pay almost nothing.
#[inline(always)]
pub(crate) fn is_watched(cfg: &KernelConfig) -> bool {
    any_ancestor_in(cfg, &WATCHED)
}

/// Whether the task's ancestor cgroup at one of the watched levels is a key of `set` (the watched
/// cgroups, or the quarantined ones).
#[inline(always)]
pub(crate) fn any_ancestor_in(cfg: &KernelConfig, set: &HashMap<u64, u32>) -> bool {
    let n = cfg.n_levels;
    if n == 0 {
        return false;
    }
    if n as usize <= FAST_LEVELS {
        let mut i = 0usize;
        while i < FAST_LEVELS && i < n as usize {
            if ancestor_in(cfg.levels[i], set) {
                return true;
            }
            i += 1;
        }
        return false;
    }
    let levels = cfg.watched_levels;
    let mut level = 0u32;
    while level < MAX_CGROUP_LEVELS {
        if levels & (1 << level) != 0 && ancestor_in(level, set) {
            return true;
        }
        level += 1;
    }
    false
}

/// Is the task's ancestor cgroup at `level` in `set`?
#[inline(always)]
fn ancestor_in(level: u32, set: &HashMap<u64, u32>) -> bool {
    // SAFETY: the helper has no memory preconditions; a level past the task's depth returns 0.
    let id = unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) };
    // SAFETY: only whether the entry exists is used, not its value.
    id != 0 && unsafe { set.get(id) }.is_some()
}
