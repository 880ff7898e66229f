//! `sched_process_exec` → [`ExecEvent`]: the executed path and the new image's argv.
//!
//! At this point the kernel has copied argv into the new stack (`mm->arg_start..arg_end`), so the
//! read does not depend on the caller's pages being faulted in, unlike at `sys_enter_execve`.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind, FLAG_DENIED, deny::DENY_EXEC, enforce::DENY_KIND_EXEC, exec::ExecEvent, programs,
    tracepoint::SchedProcessExec,
};

use crate::{enforce, header, scope, strings, submit, task, tracepoint};

#[tracepoint(category = "sched", name = "sched_process_exec")]
pub(crate) fn sched_process_exec(ctx: TracePointContext) -> u32 {
    emit(&ctx);
    0
}
named!(sched_process_exec = programs::SCHED_PROCESS_EXEC.name);

#[inline(always)]
fn emit(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let off = &cfg.offsets;
    let rec: SchedProcessExec = tracepoint::record(ctx)?;
    let filename = tracepoint::data_loc_ptr(ctx, rec.filename);

    // The executed path, read once into the per-CPU lookup key: a deny rule kills the task now,
    // before the new image runs a single instruction.
    let key = enforce::path_scratch()?;
    // SAFETY: `key` is this CPU's scratch entry, valid for the whole program run.
    let (str_flags, len) = unsafe { strings::read_kernel_str_len(filename, &mut (*key).data.data) };
    let denied = if cfg.deny_kinds & DENY_KIND_EXEC != 0 && len > 0 {
        enforce::lookup_path(&enforce::DENY_EXEC, key, len).map(|r| r.rule_id)
    } else {
        None
    };
    if let Some(rule_id) = denied {
        enforce::kill_current(DENY_EXEC, rule_id);
    }

    let mut entry = submit::reserve::<ExecEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit; `key` as above.
    unsafe {
        header::fill(&raw mut (*ev).header, EventKind::Exec, size_of::<ExecEvent>(), off);
        enforce::copy_path(key, &mut (*ev).filename);
        let mut flags = str_flags;
        if denied.is_some() {
            flags |= FLAG_DENIED;
        }
        (*ev).args_len = 0;
        (*ev).args_total = 0;
        let mm: Option<*const u8> = task::read_field(task::current_task(), off.task_mm);
        if let Some(mm) = mm {
            let start: u64 = task::read_field(mm, off.mm_arg_start).unwrap_or(0);
            let end: u64 = task::read_field(mm, off.mm_arg_end).unwrap_or(0);
            if end > start {
                let total = end - start;
                (*ev).args_total = total as u32;
                let (read_flags, copied) = strings::read_user_bytes(start as *const u8, total, &mut (*ev).args);
                flags |= read_flags;
                (*ev).args_len = copied;
            }
        }
        (*ev).header.flags |= flags;
    }
    submit::submit(entry);
    Some(())
}
