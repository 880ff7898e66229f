//! `chdir`/`fchdir` → [`ChdirEvent`]: the arguments are kept at entry and the event emitted at exit
//! when the syscall succeeded, so userspace tracks each process's working directory.
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{map, tracepoint},
    maps::HashMap,
    programs::TracePointContext,
};
use monitor_common::{
    EventKind,
    chdir::ChdirEvent,
    counter, maps as names, programs,
    tracepoint::{ChdirArgs, FchdirArgs},
};

use crate::{
    header,
    maps::{self, OrCount},
    scope, strings, submit, tracepoint,
};

/// Syscall entry arguments of an in-flight chdir/fchdir, by thread (emitted at exit on success).
#[map]
static CHDIR_ARGS: HashMap<u64, ChdirPending> = HashMap::with_max_entries(4096, 0);
named!(CHDIR_ARGS = names::CHDIR_ARGS);

#[repr(C)]
#[derive(Clone, Copy)]
struct ChdirPending {
    /// User pointer to the path (chdir), 0 for fchdir.
    path: u64,
    /// The fd (fchdir), -1 for chdir.
    fd: i64,
}

#[tracepoint(category = "syscalls", name = "sys_enter_chdir")]
pub(crate) fn sys_enter_chdir(ctx: TracePointContext) -> u32 {
    stash_chdir(&ctx, |ctx| {
        let a: ChdirArgs = tracepoint::sys_enter(ctx)?;
        Some(ChdirPending {
            path: a.filename,
            fd: -1,
        })
    });
    0
}
named!(sys_enter_chdir = programs::SYS_ENTER_CHDIR.name);

#[tracepoint(category = "syscalls", name = "sys_enter_fchdir")]
pub(crate) fn sys_enter_fchdir(ctx: TracePointContext) -> u32 {
    stash_chdir(&ctx, |ctx| {
        let a: FchdirArgs = tracepoint::sys_enter(ctx)?;
        Some(ChdirPending {
            path: 0,
            fd: i64::from(a.fd as u32),
        })
    });
    0
}
named!(sys_enter_fchdir = programs::SYS_ENTER_FCHDIR.name);

#[tracepoint(category = "syscalls", name = "sys_exit_chdir")]
pub(crate) fn sys_exit_chdir(ctx: TracePointContext) -> u32 {
    emit_chdir(&ctx);
    0
}
named!(sys_exit_chdir = programs::SYS_EXIT_CHDIR.name);

#[tracepoint(category = "syscalls", name = "sys_exit_fchdir")]
pub(crate) fn sys_exit_fchdir(ctx: TracePointContext) -> u32 {
    emit_chdir(&ctx);
    0
}
named!(sys_exit_fchdir = programs::SYS_EXIT_FCHDIR.name);

/// Keeps the arguments until the syscall's exit; a full map loses the event (`MAP_INSERT_FAILED`).
#[inline(always)]
fn stash_chdir(ctx: &TracePointContext, args: impl FnOnce(&TracePointContext) -> Option<ChdirPending>) -> Option<()> {
    scope::watched()?;
    let args = args(ctx)?;
    CHDIR_ARGS
        .insert(bpf_get_current_pid_tgid(), args, 0)
        .or_count(counter::MAP_INSERT_FAILED)
}

/// At exit: no stashed arguments means the thread was not watched at entry; a failed syscall is no
/// change of directory.
#[inline(always)]
fn emit_chdir(ctx: &TracePointContext) -> Option<()> {
    let key = bpf_get_current_pid_tgid();
    // SAFETY: map values are plain data, copied out at once.
    let args = *unsafe { CHDIR_ARGS.get(key) }?;
    let _ = CHDIR_ARGS.remove(key);
    let ret = tracepoint::sys_exit_ret(ctx)?;
    if ret != 0 {
        return None;
    }
    let cfg = maps::config()?;
    let mut entry = submit::reserve::<ChdirEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit.
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::Chdir,
            size_of::<ChdirEvent>(),
            &cfg.offsets,
        );
        (*ev).fd = args.fd as i32;
        (*ev)._pad = 0;
        (*ev).header.flags |= strings::read_user_str(args.path as *const u8, &mut (*ev).path);
    }
    submit::submit(entry, true);
    Some(())
}
