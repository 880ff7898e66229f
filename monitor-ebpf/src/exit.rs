//! `sched_process_exit` → [`ExitEvent`], when the whole process is gone (its last thread exited).
//! The process's lineage entry (`crate::lineage`) goes with it.
use aya_ebpf::{helpers::bpf_get_current_pid_tgid, macros::tracepoint, programs::TracePointContext};
use monitor_common::{EventKind, config::KernelOffsets, exit::ExitEvent, programs};

use crate::{header, lineage, maps, scope, submit, task, tracepoint};

#[tracepoint(category = "sched", name = "sched_process_exit")]
pub(crate) fn sched_process_exit(ctx: TracePointContext) -> u32 {
    emit_exit(&ctx);
    0
}
named!(sched_process_exit = programs::SCHED_PROCESS_EXIT.name);

#[inline(always)]
fn emit_exit(ctx: &TracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        // An escaped process whose agent is no longer watched is out of scope, but its lineage
        // entry must still go (and with it the escaped count that costs unwatched tasks a lookup).
        if lineage::any_escaped() && last_thread(ctx, &cfg.offsets)? {
            lineage::forget(lineage::current_tgid());
        }
        return None;
    }
    let off = &cfg.offsets;
    if !last_thread(ctx, off)? {
        return None;
    }
    lineage::forget(lineage::current_tgid());
    let exit_code: i32 = task::read_field(task::current_task(), off.task_exit_code).unwrap_or(-1);
    let mut entry = submit::reserve::<ExitEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit.
    unsafe {
        header::fill(&raw mut (*ev).header, EventKind::Exit, size_of::<ExitEvent>(), off);
        (*ev).exit_code = exit_code;
        (*ev)._pad = 0;
    }
    submit::submit(entry, true);
    Some(())
}

/// Whether the exiting thread is its process's last.
#[inline(always)]
fn last_thread(ctx: &TracePointContext, off: &KernelOffsets) -> Option<bool> {
    Some(if off.exit_group_dead == KernelOffsets::UNKNOWN {
        // Older kernels: approximate with "the thread group leader exits".
        let pid_tgid = bpf_get_current_pid_tgid();
        pid_tgid as u32 == (pid_tgid >> 32) as u32
    } else {
        let dead: u8 = tracepoint::field_at(ctx, off.exit_group_dead)?;
        dead != 0
    })
}
