//! In-kernel scoping: is the current task inside a watched cgroup or one of its descendants?
use aya_ebpf::helpers::generated::bpf_get_current_ancestor_cgroup_id;
use monitor_common::{MAX_CGROUP_LEVELS, config::KernelConfig};

use crate::maps::WATCHED;

/// Returns true when the task's cgroup, or its ancestor at one of the levels where userspace put a
/// watched cgroup, is in `WATCHED`. Costs one helper call and one hash lookup per such level (usually
/// one), so unwatched workloads pay almost nothing.
#[inline(always)]
pub fn is_watched(cfg: &KernelConfig) -> bool {
    let levels = cfg.watched_levels;
    if levels == 0 {
        return false;
    }
    let mut level = 0u32;
    while level < MAX_CGROUP_LEVELS {
        if levels & (1 << level) != 0 {
            let id = unsafe { bpf_get_current_ancestor_cgroup_id(level as i32) };
            if id != 0 && unsafe { WATCHED.get(&id) }.is_some() {
                return true;
            }
        }
        level += 1;
    }
    false
}
