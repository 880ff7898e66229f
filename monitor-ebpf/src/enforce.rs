//! Synchronous in-kernel deny: lookup tables filled by userspace from `action: deny` rules, and the
//! responses the kernel allows here (BPF LSM is refused): SIGKILL of the offending task at syscall
//! entry (exec/open/mount), or a refused `connect()` (EPERM) from the cgroup `sock_addr` programs.
use aya_ebpf::{
    helpers::generated::bpf_send_signal,
    macros::map,
    maps::{Array, HashMap, LpmTrie, PerCpuArray, lpm_trie::Key},
};
use monitor_common::{
    EventKind,
    config::KernelConfig,
    counter,
    deny::DenyEvent,
    enforce::{DENY_FSTYPE_LEN, DENY_PATH_LEN, MOUNT_ANY_KEY, NetRule, PATH_RULE_WRITE_ONLY, PathKey, PathRule},
    maps as names,
};

use crate::{
    header,
    maps::{self, OrCount},
    submit,
};

/// LPM tries need `BPF_F_NO_PREALLOC`.
const NO_PREALLOC: u32 = 1;
const SIGKILL: u32 = 9;

#[map]
pub(crate) static DENY_EXEC: LpmTrie<PathKey, PathRule> = LpmTrie::with_max_entries(4096, NO_PREALLOC);
named!(DENY_EXEC = names::DENY_EXEC);
#[map]
pub(crate) static DENY_OPEN: LpmTrie<PathKey, PathRule> = LpmTrie::with_max_entries(4096, NO_PREALLOC);
named!(DENY_OPEN = names::DENY_OPEN);
/// Paths whose changes are refused (`PathRule::flags`: `CHANGE_*`), by the LSM `path_*` hooks.
#[map]
pub(crate) static DENY_CHANGE: LpmTrie<PathKey, PathRule> = LpmTrie::with_max_entries(4096, NO_PREALLOC);
named!(DENY_CHANGE = names::DENY_CHANGE);
/// fstype (NUL padded) → rule id; the all-zero key denies every mount.
#[map]
pub(crate) static DENY_MOUNT: HashMap<[u8; DENY_FSTYPE_LEN], u32> = HashMap::with_max_entries(256, 0);
named!(DENY_MOUNT = names::DENY_MOUNT);
#[map]
pub(crate) static DENY_NET4: LpmTrie<[u8; 4], NetRule> = LpmTrie::with_max_entries(4096, NO_PREALLOC);
named!(DENY_NET4 = names::DENY_NET4);
#[map]
pub(crate) static DENY_NET6: LpmTrie<[u8; 16], NetRule> = LpmTrie::with_max_entries(4096, NO_PREALLOC);
named!(DENY_NET6 = names::DENY_NET6);
/// Watched cgroup id → `monitor_common::maps::PRESENT` while its agent is quarantined (pinned, so
/// `agentmon release` can reach it).
#[map]
pub(crate) static QUARANTINE: HashMap<u64, u32> = HashMap::pinned(1024, 0);
named!(QUARANTINE = names::QUARANTINE);

// mounts, scope, io_uring, code loading
/// The rule id of the deny rule refusing `io_uring` (one entry).
#[map]
pub(crate) static DENY_IO_URING: Array<u32> = Array::with_max_entries(1, 0);
named!(DENY_IO_URING = names::DENY_IO_URING);

/// The deny rule refusing `io_uring` to watched agents, if there is one.
#[inline(always)]
pub(crate) fn io_uring_rule(deny_kinds: u32) -> Option<u32> {
    if deny_kinds & monitor_common::enforce::DENY_KIND_IO_URING == 0 {
        return None;
    }
    DENY_IO_URING.get(0).copied()
}

/// Per-CPU scratch for a path lookup key (too large for the BPF stack next to everything else).
#[map]
static PATH_SCRATCH: PerCpuArray<Key<PathKey>> = PerCpuArray::with_max_entries(1, 0);
named!(PATH_SCRATCH = names::PATH_SCRATCH);

/// The path key buffer of this CPU, for the caller to fill with a NUL-terminated string; a missing
/// one loses the event (counted `NO_SCRATCH`).
#[inline(always)]
pub(crate) fn path_scratch() -> Option<*mut Key<PathKey>> {
    PATH_SCRATCH.get_ptr_mut(0).or_count(counter::NO_SCRATCH)
}

/// Looks a NUL-terminated path of `len` bytes (NUL included) up in `trie`.
#[inline(always)]
pub(crate) fn lookup_path(trie: &LpmTrie<PathKey, PathRule>, key: *mut Key<PathKey>, len: usize) -> Option<PathRule> {
    let len = if len > DENY_PATH_LEN { DENY_PATH_LEN } else { len };
    // SAFETY: `key` is this CPU's scratch entry (`path_scratch`), valid for the whole program run.
    unsafe {
        (*key).prefix_len = (len * 8) as u32;
        trie.get(&*key).copied()
    }
}

/// Whether an open with these flags is covered by the rule.
#[inline(always)]
pub(crate) fn open_matches(rule: &PathRule, flags: u32) -> bool {
    const O_ACCMODE: u32 = 3;
    const O_CREAT: u32 = 0o100;
    const O_TRUNC: u32 = 0o1000;
    if rule.flags & PATH_RULE_WRITE_ONLY == 0 {
        return true;
    }
    flags & O_ACCMODE != 0 || flags & (O_CREAT | O_TRUNC) != 0
}

/// Mount deny rule for this fstype (NUL-padded), or for any mount.
#[inline(always)]
pub(crate) fn mount_rule(fstype: &[u8; DENY_FSTYPE_LEN]) -> Option<u32> {
    // SAFETY: map values are plain data; userspace only replaces whole entries.
    unsafe { DENY_MOUNT.get(fstype).or_else(|| DENY_MOUNT.get(MOUNT_ANY_KEY)) }.copied()
}

/// Kills the current task (delivered before it returns to user space) and reports it.
#[inline(always)]
pub(crate) fn kill_current(what: u8, rule_id: u32) {
    // SAFETY: the helper has no memory preconditions; it signals the current task.
    unsafe { bpf_send_signal(SIGKILL) };
    maps::count(counter::DENIED);
    if let Some(cfg) = maps::config() {
        emit_deny(cfg, what, rule_id);
    }
}

/// Emits a [`DenyEvent`] naming the rule.
#[inline(always)]
pub(crate) fn emit_deny(cfg: &KernelConfig, what: u8, rule_id: u32) {
    let Some(mut entry) = submit::reserve::<DenyEvent>() else {
        return;
    };
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit.
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::Deny,
            size_of::<DenyEvent>(),
            &cfg.offsets,
        );
        (*ev).what = what;
        (*ev)._pad = [0; 3];
        (*ev).rule_id = rule_id;
    }
    submit::submit(entry, false);
}
