//! Process lifecycle for userspace's process table: `sched_process_fork` → [`ForkEvent`] (processes
//! only, threads skipped), `sched_process_exit` → [`ExitEvent`] (when the whole process is gone).
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{map, raw_tracepoint, tracepoint},
    maps::HashMap,
    programs::{RawTracePointContext, TracePointContext},
};
use monitor_common::{
    EventKind,
    config::KernelOffsets,
    process::{ChdirEvent, ExitEvent, ForkEvent},
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
        let pid_tgid = bpf_get_current_pid_tgid();
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

/// Syscall entry arguments of an in-flight chdir/fchdir, by thread (emitted at exit on success).
#[map]
static CHDIR_ARGS: HashMap<u64, ChdirArgs> = HashMap::with_max_entries(4096, 0);

#[repr(C)]
#[derive(Clone, Copy)]
struct ChdirArgs {
    path: u64,
    fd: i64,
}

#[tracepoint(category = "syscalls", name = "sys_enter_chdir")]
pub fn sys_enter_chdir(ctx: TracePointContext) -> u32 {
    stash_chdir(&ctx, false);
    0
}

#[tracepoint(category = "syscalls", name = "sys_enter_fchdir")]
pub fn sys_enter_fchdir(ctx: TracePointContext) -> u32 {
    stash_chdir(&ctx, true);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_chdir")]
pub fn sys_exit_chdir(ctx: TracePointContext) -> u32 {
    emit_chdir(&ctx);
    0
}

#[tracepoint(category = "syscalls", name = "sys_exit_fchdir")]
pub fn sys_exit_fchdir(ctx: TracePointContext) -> u32 {
    emit_chdir(&ctx);
    0
}

#[inline(always)]
fn stash_chdir(ctx: &TracePointContext, by_fd: bool) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let arg: u64 = unsafe { ctx.read_at(16) }.ok()?;
    let args = if by_fd {
        ChdirArgs {
            path: 0,
            fd: arg as u32 as i64,
        }
    } else {
        ChdirArgs { path: arg, fd: -1 }
    };
    CHDIR_ARGS.insert(&bpf_get_current_pid_tgid(), &args, 0).ok()
}

#[inline(always)]
fn emit_chdir(ctx: &TracePointContext) -> Option<()> {
    let key = bpf_get_current_pid_tgid();
    let args = *unsafe { CHDIR_ARGS.get(&key) }?;
    let _ = CHDIR_ARGS.remove(&key);
    let ret: i64 = unsafe { ctx.read_at(16) }.ok()?;
    if ret != 0 {
        return None;
    }
    let cfg = maps::config()?;
    let mut entry = header::reserve::<ChdirEvent>()?;
    let ev = entry.as_mut_ptr();
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::Chdir,
            size_of::<ChdirEvent>(),
            &cfg.offsets,
        );
        (*ev).fd = args.fd as i32;
        (*ev)._pad = 0;
        (*ev).header.flags |= header::read_user_str(args.path as *const u8, &mut (*ev).path);
    }
    header::submit(entry);
    Some(())
}
