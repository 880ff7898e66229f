//! Scope by lineage: every process in scope has a `LINEAGE` entry naming its agent's watched
//! cgroup (seeded by userspace for the processes already inside when watching starts, added at
//! fork for children of processes in scope, and when a process is moved into a watched cgroup).
//! A process that leaves its agent's cgroup subtree (`crate::cgroup_move`) is marked escaped: the
//! scope check admits it, and its children inherit the mark, until it exits.
//!
//! While no escaped process is alive (`ESCAPES` is 0), the scope check costs tasks outside the
//! watched cgroups one array read more than before; the count is a separate map rather than a
//! `KernelConfig` field because the kernel side writes it and userspace rewrites `CONFIG` whole.
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::map,
    maps::{Array, HashMap},
};
use monitor_common::{
    cgroup_move::{LINEAGE_ESCAPED, Lineage},
    config::KernelConfig,
    counter, maps as names,
};

use crate::{
    maps::{OrCount, WATCHED},
    scope,
};

/// tgid → the agent of a process in scope (escaped or not).
#[map]
pub(crate) static LINEAGE: HashMap<u32, Lineage> = HashMap::with_max_entries(65536, 0);
named!(LINEAGE = names::LINEAGE);

/// Number of escaped processes alive (one entry).
#[map]
pub(crate) static ESCAPES: Array<u64> = Array::with_max_entries(1, 0);
named!(ESCAPES = names::ESCAPES);

/// The current process's tgid.
#[inline(always)]
pub(crate) fn current_tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

/// Whether any escaped process is alive (one array read).
#[inline(always)]
pub(crate) fn any_escaped() -> bool {
    match ESCAPES.get_ptr(0) {
        // SAFETY: a valid map value pointer, read once.
        Some(p) => (unsafe { core::ptr::read_volatile(p) }) != 0,
        None => false,
    }
}

/// Whether the current process left a watched agent's cgroup and stays in scope by lineage.
#[inline(always)]
pub(crate) fn escaped_in_scope() -> bool {
    if !any_escaped() {
        return false;
    }
    match get(current_tgid()) {
        Some(l) => l.flags & LINEAGE_ESCAPED != 0,
        None => false,
    }
}

/// The entry of `tgid`, if its agent is still watched.
#[inline(always)]
pub(crate) fn get(tgid: u32) -> Option<Lineage> {
    // SAFETY: map values are plain data, copied out.
    let l = *unsafe { LINEAGE.get(tgid) }?;
    // SAFETY: a lookup; the value is not used.
    unsafe { WATCHED.get(l.agent_cgroup_id) }.map(|_| l)
}

/// Adds `delta` (wrapping: `u64::MAX` is -1) to the escaped count, atomically.
#[inline(always)]
fn add_escapes(delta: u64) {
    if let Some(p) = ESCAPES.get_ptr_mut(0) {
        // SAFETY: a valid, aligned map value; every CPU updates it only with atomic adds. The old
        // value is not used, so this is BPF's plain atomic add (`BPF_ATOMIC | BPF_ADD`): the bpf
        // target has no compare-and-swap, hence no `AtomicU64::fetch_add`.
        unsafe {
            core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(p, delta);
        }
    }
}

/// Records `tgid` as a process of the agent of `agent_cgroup_id`, escaped or not, keeping the
/// escaped count right if it replaces an entry. A full map loses the lineage (counted
/// `MAP_INSERT_FAILED`): the process is then followed by its cgroup only.
#[inline(always)]
pub(crate) fn track(tgid: u32, agent_cgroup_id: u64, flags: u32) {
    // SAFETY: as in `get`.
    let was_escaped = unsafe { LINEAGE.get(tgid) }.is_some_and(|l| l.flags & LINEAGE_ESCAPED != 0);
    let entry = Lineage {
        agent_cgroup_id,
        flags,
        _pad: 0,
    };
    if LINEAGE
        .insert(tgid, entry, 0)
        .or_count(counter::MAP_INSERT_FAILED)
        .is_none()
    {
        return;
    }
    let escaped = flags & LINEAGE_ESCAPED != 0;
    if escaped && !was_escaped {
        add_escapes(1);
    } else if was_escaped && !escaped {
        add_escapes(u64::MAX);
    }
}

/// A new process `child_tgid` of the current (in-scope) process: it inherits the parent's entry,
/// or, for a parent in scope by its cgroup without one, is recorded under the parent's watched
/// cgroup. Returns the child's entry.
#[inline(always)]
pub(crate) fn inherit(cfg: &KernelConfig, child_tgid: u32) -> Option<Lineage> {
    let entry = match get(current_tgid()) {
        Some(l) => l,
        None => Lineage {
            agent_cgroup_id: scope::watched_root(cfg)?,
            flags: 0,
            _pad: 0,
        },
    };
    track(child_tgid, entry.agent_cgroup_id, entry.flags);
    Some(entry)
}

/// The process `tgid` ended: its entry goes.
#[inline(always)]
pub(crate) fn forget(tgid: u32) {
    // SAFETY: as in `get`.
    let Some(l) = (unsafe { LINEAGE.get(tgid) }).copied() else {
        return;
    };
    if LINEAGE.remove(tgid).is_ok() && l.flags & LINEAGE_ESCAPED != 0 {
        add_escapes(u64::MAX);
    }
}
