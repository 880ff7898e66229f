//! `unlink`, `unlinkat` (`AT_REMOVEDIR`), `rmdir` at exit → `FileOpEvent` of kind `unlink`: `path` is
//! the name removed (the object itself is gone at exit: only its directory is walked).
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    file_op::{AT_REMOVEDIR, FILE_SYSCALL_RMDIR, FILE_SYSCALL_UNLINK, FILE_SYSCALL_UNLINKAT},
    programs,
    tracepoint::{RmdirArgs, UnlinkArgs, UnlinkatArgs},
};

use crate::{
    args,
    file_op::{CWD, Request, emit},
};

#[tracepoint(category = "syscalls", name = "sys_exit_unlink")]
pub(crate) fn sys_exit_unlink(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Unlink, FILE_SYSCALL_UNLINK, |regs| {
        let a: UnlinkArgs = args::current_as(regs)?;
        Some(Request::named(CWD, a.pathname))
    });
    0
}
named!(sys_exit_unlink = programs::SYS_EXIT_UNLINK.name);

#[tracepoint(category = "syscalls", name = "sys_exit_unlinkat")]
pub(crate) fn sys_exit_unlinkat(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Unlink, FILE_SYSCALL_UNLINKAT, |regs| {
        let a: UnlinkatArgs = args::current_as(regs)?;
        let mut r = Request::named(a.dfd, a.pathname);
        r.flags = a.flag as u32;
        Some(r)
    });
    0
}
named!(sys_exit_unlinkat = programs::SYS_EXIT_UNLINKAT.name);

#[tracepoint(category = "syscalls", name = "sys_exit_rmdir")]
pub(crate) fn sys_exit_rmdir(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Unlink, FILE_SYSCALL_RMDIR, |regs| {
        let a: RmdirArgs = args::current_as(regs)?;
        let mut r = Request::named(CWD, a.pathname);
        r.flags = AT_REMOVEDIR;
        Some(r)
    });
    0
}
named!(sys_exit_rmdir = programs::SYS_EXIT_RMDIR.name);
