//! `sched_process_fork` (raw tracepoint) → [`ForkEvent`]: new processes only, threads skipped.
//! The child inherits the parent's lineage (`crate::lineage`); a child born in another cgroup than
//! its parent's (`clone3(CLONE_INTO_CGROUP)`) outside every watched cgroup is an escape, reported
//! as a `cgroup_move` (`crate::cgroup_move::emit_born_elsewhere`). This runs before the child is
//! first scheduled, so its lineage is in place before any event of its own.
use aya_ebpf::{macros::raw_tracepoint, programs::RawTracePointContext};
use monitor_common::{EventKind, counter, fork::ForkEvent, programs};

use crate::{cgroup_move, header, lineage, maps::OrCount, scope, submit, task, tracepoint};

/// Raw tracepoint: `TP_PROTO(struct task_struct *parent, struct task_struct *child)`.
#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub(crate) fn sched_process_fork(ctx: RawTracePointContext) -> i32 {
    emit_fork(&ctx);
    0
}
named!(sched_process_fork = programs::SCHED_PROCESS_FORK.name);

#[inline(always)]
fn emit_fork(ctx: &RawTracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let off = &cfg.offsets;
    let child = tracepoint::fork_child(ctx);
    let child_pid: u32 = task::read_field(child, off.task_pid).or_count(counter::TASK_READ_FAILED)?;
    let child_tgid: u32 = task::read_field(child, off.task_tgid).or_count(counter::TASK_READ_FAILED)?;
    if child_pid != child_tgid {
        return None; // a new thread, not a new process
    }
    // mounts, scope, io_uring, code loading: the child's lineage, and a birth outside the scope.
    if let Some(lineage) = lineage::inherit(cfg, child_tgid) {
        cgroup_move::emit_born_elsewhere(cfg, child, child_tgid, lineage);
    }
    let mut entry = submit::reserve::<ForkEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit.
    unsafe {
        header::fill(&raw mut (*ev).header, EventKind::Fork, size_of::<ForkEvent>(), off);
        (*ev).child_tgid = child_tgid;
        (*ev)._pad = 0;
    }
    submit::submit(entry, true);
    Some(())
}
