//! Process lifecycle for userspace's process table: `sched_process_fork` → [`ForkEvent`] (processes
//! only, threads skipped), `sched_process_exit` → [`ExitEvent`] (when the whole process is gone).
use aya_ebpf::{
    macros::{raw_tracepoint, tracepoint},
    programs::{RawTracePointContext, TracePointContext},
};
use monitor_common::{
    EventKind,
    config::KernelOffsets,
    process::{ExitEvent, ForkEvent},
};

use crate::{header, maps, scope};

/// Raw tracepoint: `TP_PROTO(struct task_struct *parent, struct task_struct *child)`.
#[raw_tracepoint(tracepoint = "sched_process_fork")]
pub fn sched_process_fork(ctx: RawTracePointContext) -> i32 {
    emit_fork(&ctx);
    0
}

#[inline(always)]
fn emit_fork(ctx: &RawTracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let off = &cfg.offsets;
    let child: *const u8 = ctx.arg::<u64>(1) as *const u8;
    let child_pid: u32 = header::read_field(child, off.task_pid)?;
    let child_tgid: u32 = header::read_field(child, off.task_tgid)?;
    if child_pid != child_tgid {
        return None; // a new thread, not a new process
    }
    let mut entry = header::reserve::<ForkEvent>()?;
    let ev = entry.as_mut_ptr();
    unsafe {
        header::fill(&raw mut (*ev).header, EventKind::Fork, size_of::<ForkEvent>(), off);
        (*ev).child_tgid = child_tgid;
        (*ev)._pad = 0;
    }
    header::submit(entry);
    Some(())
}

#[tracepoint(category = "sched", name = "sched_process_exit")]
pub fn sched_process_exit(ctx: TracePointContext) -> u32 {
    emit_exit(&ctx);
    0
}

#[inline(always)]
fn emit_exit(ctx: &TracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let off = &cfg.offsets;
    let last_thread = if off.exit_group_dead != KernelOffsets::UNKNOWN {
        let dead: u8 = unsafe { ctx.read_at(off.exit_group_dead as usize) }.ok()?;
        dead != 0
    } else {
        // Older kernels: approximate with "the thread group leader exits".
        let pid_tgid = aya_ebpf::helpers::bpf_get_current_pid_tgid();
        pid_tgid as u32 == (pid_tgid >> 32) as u32
    };
    if !last_thread {
        return None;
    }
    let exit_code: i32 = header::read_field(header::current_task(), off.task_exit_code).unwrap_or(-1);
    let mut entry = header::reserve::<ExitEvent>()?;
    let ev = entry.as_mut_ptr();
    unsafe {
        header::fill(&raw mut (*ev).header, EventKind::Exit, size_of::<ExitEvent>(), off);
        (*ev).exit_code = exit_code;
        (*ev)._pad = 0;
    }
    header::submit(entry);
    Some(())
}
