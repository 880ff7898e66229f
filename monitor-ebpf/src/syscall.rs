//! System calls by number (contract in `monitor_common::syscall`): [`syscall_count`] counts every
//! syscall of a watched task per watched cgroup while `agentmon learn` runs; [`syscall_report`]
//! reports, under `agentmon exec --sandbox`, the calls `SANDBOX_SYSCALLS` flags — the ones its
//! seccomp filter refused (`-EPERM` at exit: a refused syscall never reaches `sys_enter`, but its exit
//! is traced) and, in audit mode, the first call per process of a syscall the profile does not list.
//! Both are attached only on demand (`monitor_common::programs::ON_DEMAND`).
use aya_ebpf::{
    bindings::BPF_ANY,
    helpers::bpf_get_current_pid_tgid,
    macros::{map, tracepoint},
    maps::{Array, LruHashMap, PerCpuHashMap},
    programs::TracePointContext,
};
use monitor_common::{
    EventKind, FLAG_READ_FAILED, counter, maps as names, programs,
    syscall::{EPERM, REPORT_FIRST, REPORT_REFUSED, ReportedKey, SYSCALL_SLOTS, SyscallEvent, SyscallKey},
};

use crate::{
    args, header,
    maps::{self, OrCount},
    scope, submit, tracepoint,
};

/// Syscall counts per watched cgroup and number (per CPU; userspace sums them).
#[map]
static SYSCALL_COUNTS: PerCpuHashMap<SyscallKey, u64> = PerCpuHashMap::with_max_entries(16384, 0);
named!(SYSCALL_COUNTS = names::SYSCALL_COUNTS);

/// `REPORT_*` flags by syscall number, written by userspace for a sandbox.
#[map]
static SANDBOX_SYSCALLS: Array<u32> = Array::with_max_entries(SYSCALL_SLOTS, 0);
named!(SANDBOX_SYSCALLS = names::SANDBOX_SYSCALLS);

/// (process, syscall) pairs already reported under `REPORT_FIRST`.
#[map]
static SYSCALL_REPORTED: LruHashMap<ReportedKey, u32> = LruHashMap::with_max_entries(65536, 0);
named!(SYSCALL_REPORTED = names::SYSCALL_REPORTED);

#[tracepoint(category = "raw_syscalls", name = "sys_enter")]
pub(crate) fn syscall_count(ctx: TracePointContext) -> u32 {
    count(&ctx);
    0
}
named!(syscall_count = programs::SYSCALL_COUNT.name);

#[tracepoint(category = "raw_syscalls", name = "sys_exit")]
pub(crate) fn syscall_report(ctx: TracePointContext) -> u32 {
    report(&ctx);
    0
}
named!(syscall_report = programs::SYSCALL_REPORT.name);

/// Adds one to this CPU's count of the syscall for the caller's watched cgroup. A full map loses the
/// count (`MAP_INSERT_FAILED`, which marks a learned profile incomplete).
#[inline(always)]
fn count(ctx: &TracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    let cgroup_id = scope::watched_root(cfg)?;
    let nr = tracepoint::raw_sys_enter_id(ctx)?;
    if nr < 0 {
        return None;
    }
    let key = SyscallKey {
        cgroup_id,
        nr: nr as u32,
        _pad: 0,
    };
    match SYSCALL_COUNTS.get_ptr_mut(key) {
        // SAFETY: this CPU's slot of a live entry; programs do not migrate while they run.
        Some(n) => unsafe { *n += 1 },
        // A racing insert from another CPU only sets that CPU's slot: both counts survive.
        None => SYSCALL_COUNTS
            .insert(key, 1, u64::from(BPF_ANY))
            .or_count(counter::MAP_INSERT_FAILED)?,
    }
    Some(())
}

/// Emits a [`SyscallEvent`] for a call the sandbox flags.
#[inline(always)]
fn report(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let (nr, ret) = tracepoint::raw_sys_exit(ctx)?;
    if nr < 0 || nr >= i64::from(SYSCALL_SLOTS) {
        return None;
    }
    let nr = nr as u32;
    let flags = *SANDBOX_SYSCALLS.get(nr)?;
    if flags == 0 {
        return None;
    }
    let why = if flags & REPORT_REFUSED != 0 && ret == -EPERM {
        REPORT_REFUSED
    } else if flags & REPORT_FIRST != 0 && first_call((bpf_get_current_pid_tgid() >> 32) as u32, nr) {
        REPORT_FIRST
    } else {
        return None;
    };
    let (regs, complete) = args::current_or_zeros(&cfg.offsets.regs);
    let mut entry = submit::reserve::<SyscallEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit.
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::Syscall,
            size_of::<SyscallEvent>(),
            &cfg.offsets,
        );
        (*ev).nr = nr;
        (*ev).why = why;
        (*ev).ret = ret;
        (*ev).args = regs;
        if !complete {
            (*ev).header.flags |= FLAG_READ_FAILED;
        }
    }
    submit::submit(entry, false);
    Some(())
}

/// Whether this is the first report of `nr` for process `tgid` (and remember that it was).
#[inline(always)]
fn first_call(tgid: u32, nr: u32) -> bool {
    let key = ReportedKey { tgid, nr };
    // SAFETY: only whether the entry exists is used.
    if unsafe { SYSCALL_REPORTED.get(key) }.is_some() {
        return false;
    }
    // A full LRU evicts an old pair (reported again later): never a lost report.
    let _ = SYSCALL_REPORTED.insert(key, 1, 0);
    true
}
