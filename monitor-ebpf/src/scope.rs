//! In-kernel scoping: is the current task inside a watched cgroup or one of its descendants?
use aya_ebpf::helpers::generated::bpf_get_current_ancestor_cgroup_id;
use monitor_common::{
    MAX_CGROUP_LEVELS,
    config::{FAST_LEVELS, KernelConfig},
};

use crate::maps::WATCHED;

/// Returns true when the task's cgroup, or its ancestor at one of the levels where userspace put a
/// watched cgroup, is in `WATCHED`. Costs one helper call and one hash lookup per such level (usually
/// one), so unwatched workloads pay almost nothing.
#[inline(always)]
pub fn is_watched(cfg: &KernelConfig) -> bool {
    let n = cfg.n_levels;
    if n == 0 {
        return false;
    }
    if n as usize <= FAST_LEVELS {
        let mut i = 0usize;
        while i < FAST_LEVELS && i < n as usize {
            if watched_at(cfg.levels[i]) {
                return true;
            }
            i += 1;
        }
        return false;
    }
    let levels = cfg.watched_levels;
    let mut level = 0u32;
    while level < MAX_CGROUP_LEVELS {
        if levels & (1 << level) != 0 && watched_at(level) {
            return true;
        }
        level += 1;
    }
    false
}

/// Is the task's ancestor cgroup at `level` a watched one?
#[inline(always)]
fn watched_at(level: u32) -> bool {
    let id = unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) };
    id != 0 && unsafe { WATCHED.get(&id) }.is_some()
}
