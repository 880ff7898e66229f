//! Execs → [`ExecEvent`]:
//! - the raw `sched_process_exec` tracepoint, once the new image is set up: the file name as passed
//!   (the kernel's copy), the kernel's path of the binary now running (`mm->exe_file`: a script's
//!   interpreter, a memfd's `/memfd:…`), the argv area (copied into the new stack by the kernel, so
//!   always readable), and the environment strings that change what runs, found by scanning the
//!   whole environment (`crate::env`). A deny-table match on the name as passed or on the running
//!   binary kills the task before the new image runs a single instruction.
//! - `sys_exit_execve` / `sys_exit_execveat` returning an error: the attempt, with its errno, its
//!   file name and first arguments (user memory, readable at exit).
use aya_ebpf::{
    helpers::generated::bpf_get_current_task,
    macros::{raw_tracepoint, tracepoint},
    programs::{RawTracePointContext, TracePointContext},
};
use monitor_common::{
    EventKind, FLAG_DENIED,
    config::KernelConfig,
    deny::DENY_EXEC,
    enforce::{DENY_KIND_EXEC, DENY_VIA_LSM_EXEC},
    exec::{EXEC_FAILED_ARG_MAX, EXEC_FAILED_ARGS, EXEC_FAILED_EXECVE, EXEC_FAILED_EXECVEAT, EXEC_RAN, ExecEvent},
    programs,
    record::{ARGS_MAX, PATH_MAX, Tail},
    tracepoint::{ExecveArgs, ExecveatArgs},
};

use crate::{
    args, enforce, env, maps, path,
    record::{Record, reread},
    scope, task, tracepoint,
};

/// Raw tracepoint: `TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`.
#[raw_tracepoint(tracepoint = "sched_process_exec")]
pub(crate) fn sched_process_exec(ctx: RawTracePointContext) -> i32 {
    ran(&ctx);
    0
}
named!(sched_process_exec = programs::SCHED_PROCESS_EXEC.name);

#[tracepoint(category = "syscalls", name = "sys_exit_execve")]
pub(crate) fn sys_exit_execve(ctx: TracePointContext) -> u32 {
    failed(&ctx, EXEC_FAILED_EXECVE);
    0
}
named!(sys_exit_execve = programs::SYS_EXIT_EXECVE.name);

#[tracepoint(category = "syscalls", name = "sys_exit_execveat")]
pub(crate) fn sys_exit_execveat(ctx: TracePointContext) -> u32 {
    failed(&ctx, EXEC_FAILED_EXECVEAT);
    0
}
named!(sys_exit_execveat = programs::SYS_EXIT_EXECVEAT.name);

/// Builds the exec record. Every tail goes into the record's fixed part (map memory) as soon as
/// it is known, and is read back from there (volatile) where it is needed again: no tail stays in
/// a register or on the stack across the path walks' and the environment scan's `bpf_loop` calls.
/// Verifiers before ~6.4 cannot track precision into a loop callback and mark every scalar of the
/// caller precise instead, so each variant of a live tail (absent, no room, read failed, cut)
/// would multiply the states the callbacks are verified in: on 6.1 that passed a million
/// instructions.
#[inline(always)]
fn ran(ctx: &RawTracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let off = &cfg.offsets;
    let po = &off.path;
    let bprm = tracepoint::exec_bprm(ctx);
    let filename: *const u8 = task::read_field(bprm, po.bprm_filename)?;
    let interp: *const u8 = task::read_field(bprm, po.bprm_interp).unwrap_or(filename);
    let task_ptr = task::current_task();
    let mm: Option<*const u8> = task::read_field(task_ptr, off.task_mm);

    let mut rec = Record::<ExecEvent>::start(EventKind::Exec, off)?;
    let ev = rec.fixed();
    // SAFETY: (so every access to `*ev` below) the record's fixed part in this CPU's scratch
    // buffer, valid for the program run; `Record` appends only after it.
    unsafe {
        (*ev).origin = EXEC_RAN;
        (*ev).script = u8::from(interp != filename);
        (*ev).cwd_path = Tail::ABSENT;
        (*ev).args = Tail::ABSENT;
        (*ev).env = Tail::ABSENT;
        (*ev).filename = rec.kernel_str(filename, PATH_MAX);
    }
    let exe_file: Option<*const u8> = mm.and_then(|mm| task::read_field(mm, po.mm_exe_file));
    let exe_path = rec.path(po, exe_file.and_then(|f| path::path_at(po, f, po.file_path)));
    // SAFETY: as above.
    unsafe { (*ev).exe_path = exe_path };
    // SAFETY: as above.
    if rec.is_relative(unsafe { reread(&raw const (*ev).filename) }) {
        let cwd_path = rec.path(po, path::dir_path(po, task_ptr, -100));
        // SAFETY: as above.
        unsafe { (*ev).cwd_path = cwd_path };
    }
    if let Some(mm) = mm {
        let start: u64 = task::read_field(mm, off.mm_arg_start).unwrap_or(0);
        let end: u64 = task::read_field(mm, off.mm_arg_end).unwrap_or(0);
        if end > start {
            let args = rec.user_bytes(start, end - start, ARGS_MAX);
            // SAFETY: as above.
            unsafe {
                (*ev).args_total = (end - start) as u32;
                (*ev).args = args;
            }
        }
        let env_start: u64 = task::read_field(mm, po.mm_env_start).unwrap_or(0);
        let env_end: u64 = task::read_field(mm, po.mm_env_end).unwrap_or(0);
        if env_end > env_start {
            // SAFETY: as above.
            unsafe { (*ev).env_total = (env_end - env_start) as u32 };
            let from = rec.used();
            env::scan(env_start, env_end);
            let env_t = rec.since(from);
            // SAFETY: as above.
            unsafe { (*ev).env = env_t };
        }
    }
    // SAFETY: as above.
    let (filename_t, exe_t) = unsafe { (reread(&raw const (*ev).filename), reread(&raw const (*ev).exe_path)) };
    if let Some(rule_id) = deny_rule(cfg, &rec, filename_t, exe_t) {
        // SAFETY: as above.
        unsafe { (*ev).header.flags |= FLAG_DENIED };
        enforce::kill_current(DENY_EXEC, rule_id);
    }
    rec.submit(false);
    Some(())
}

/// The deny rule covering the name as passed or the binary now running.
#[inline(always)]
fn deny_rule(cfg: &KernelConfig, rec: &Record<ExecEvent>, filename: Tail, exe: Tail) -> Option<u32> {
    if cfg.deny_kinds & DENY_KIND_EXEC == 0 {
        return None;
    }
    let key = enforce::path_scratch()?;
    for t in [filename, exe] {
        if t.len == 0 {
            continue;
        }
        if let Some(len) = rec.copy_to_key(t, key)
            && let Some(rule) = enforce::lookup_path(&enforce::DENY_EXEC, key, len)
        {
            return Some(rule.rule_id);
        }
    }
    None
}

#[inline(always)]
fn failed(ctx: &TracePointContext, origin: u8) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let result = tracepoint::sys_exit_ret(ctx)?;
    // A successful exec is reported by `sched_process_exec`; a name that does not exist is a
    // `PATH` search going on to its next directory, not an attempt worth an event.
    if result >= 0 || args::is_not_found(result) {
        return None;
    }
    let (dfd, filename, argv) = if origin == EXEC_FAILED_EXECVE {
        let a: ExecveArgs = args::current_as(&cfg.offsets.regs)?;
        (-100i64, a.filename, a.argv)
    } else {
        let a: ExecveatArgs = args::current_as(&cfg.offsets.regs)?;
        (i64::from(a.fd as i32), a.filename, a.argv)
    };
    let po = &cfg.offsets.path;
    let mut rec = Record::<ExecEvent>::start(EventKind::Exec, &cfg.offsets)?;
    let filename_t = rec.user_str(filename, PATH_MAX);
    let cwd_path = if rec.is_relative(filename_t) {
        // SAFETY: the helper has no preconditions; the task is read through bpf_probe_read_kernel.
        let task_ptr = unsafe { bpf_get_current_task() } as *const u8;
        rec.path(po, path::dir_path(po, task_ptr, dfd))
    } else {
        Tail::ABSENT
    };
    // The first arguments, NUL-separated like an argv area.
    let from = rec.used();
    let mut i = 0;
    while i < EXEC_FAILED_ARGS {
        let p: Option<u64> = task::read_user(argv + (i as u64) * 8);
        match p {
            Some(p) if p != 0 => {
                rec.user_str(p, EXEC_FAILED_ARG_MAX);
            }
            _ => break,
        }
        i += 1;
    }
    let args_t = rec.since(from);
    let ev = rec.fixed();
    // SAFETY: the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).origin = origin;
        (*ev).filename = filename_t;
        (*ev).exe_path = Tail::ABSENT;
        (*ev).cwd_path = cwd_path;
        (*ev).args = args_t;
        (*ev).env = Tail::ABSENT;
        // Refused by the LSM hook before the program was loaded (`crate::lsm`).
        if cfg.deny_kinds & DENY_VIA_LSM_EXEC != 0 && crate::lsm::take_denied(DENY_EXEC).is_some() {
            (*ev).header.flags |= FLAG_DENIED;
        }
    }
    rec.submit(false);
    Some(())
}
