//! `task/task_rename` → [`RenameCommEvent`]: a task's `comm` is about to change (the tracepoint runs
//! in the renaming task, before the copy). Renames done by exec itself (the syscall the task is in
//! is `execve`/`execveat`, read from `pt_regs.orig_ax`) are skipped: the exec event reports them.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind, counter, programs,
    rename_comm::{RenameCommEvent, SYSCALL_EXECVE, SYSCALL_EXECVEAT},
    tracepoint::TaskRename,
};

use crate::{actor, args, maps::OrCount, record::Record, scope};

#[tracepoint(category = "task", name = "task_rename")]
pub(crate) fn task_rename(ctx: TracePointContext) -> u32 {
    emit(&ctx);
    0
}
named!(task_rename = programs::TASK_RENAME.name);

#[inline(always)]
fn emit(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let nr = args::current_syscall(cfg.offsets.process.regs_syscall_nr).unwrap_or(-1);
    if nr == SYSCALL_EXECVE || nr == SYSCALL_EXECVEAT {
        return None;
    }
    // SAFETY: the record is a `TaskRename` (its layout checked against the format file at
    // start-up); the read goes through bpf_probe_read_kernel, which fails cleanly.
    let r: TaskRename = unsafe { ctx.read_at::<TaskRename>(0) }.or_count(counter::ARG_READ_FAILED)?;
    let mut rec = Record::<RenameCommEvent>::start(EventKind::RenameComm, &cfg.offsets)?;
    let exe = actor::exe(&mut rec, cfg);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).task_pid = r.pid;
        (*ev).syscall_nr = nr as i32;
        (*ev).old_comm = r.oldcomm;
        (*ev).new_comm = r.newcomm;
        (*ev).exe = exe;
    }
    rec.submit(false);
    Some(())
}
