//! `chmod`, `fchmod`, `fchmodat`, `fchmodat2` (`AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`) at exit →
//! `FileOpEvent` of kind `chmod` with the new mode; for fchmod (and `AT_EMPTY_PATH`) the kernel's
//! path of the descriptor's file.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    file_op::{FILE_SYSCALL_CHMOD, FILE_SYSCALL_FCHMOD, FILE_SYSCALL_FCHMODAT, FILE_SYSCALL_FCHMODAT2},
    programs,
    tracepoint::{ChmodArgs, FchmodArgs, Fchmodat2Args, FchmodatArgs},
};

use crate::{
    args,
    file_op::{CWD, Request, emit},
};

#[tracepoint(category = "syscalls", name = "sys_exit_chmod")]
pub(crate) fn sys_exit_chmod(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Chmod, FILE_SYSCALL_CHMOD, |regs| {
        let a: ChmodArgs = args::current_as(regs)?;
        let mut r = Request::named(CWD, a.filename);
        r.mode = a.mode as u32;
        Some(r)
    });
    0
}
named!(sys_exit_chmod = programs::SYS_EXIT_CHMOD.name);

#[tracepoint(category = "syscalls", name = "sys_exit_fchmod")]
pub(crate) fn sys_exit_fchmod(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Chmod, FILE_SYSCALL_FCHMOD, |regs| {
        let a: FchmodArgs = args::current_as(regs)?;
        let mut r = Request::by_fd(a.fd);
        r.mode = a.mode as u32;
        Some(r)
    });
    0
}
named!(sys_exit_fchmod = programs::SYS_EXIT_FCHMOD.name);

#[tracepoint(category = "syscalls", name = "sys_exit_fchmodat")]
pub(crate) fn sys_exit_fchmodat(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Chmod, FILE_SYSCALL_FCHMODAT, |regs| {
        let a: FchmodatArgs = args::current_as(regs)?;
        let mut r = Request::named(a.dfd, a.filename);
        r.mode = a.mode as u32;
        Some(r)
    });
    0
}
named!(sys_exit_fchmodat = programs::SYS_EXIT_FCHMODAT.name);

#[tracepoint(category = "syscalls", name = "sys_exit_fchmodat2")]
pub(crate) fn sys_exit_fchmodat2(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Chmod, FILE_SYSCALL_FCHMODAT2, |regs| {
        let a: Fchmodat2Args = args::current_as(regs)?;
        let mut r = Request::named(a.dfd, a.filename);
        r.mode = a.mode as u32;
        r.flags = a.flags as u32;
        r.takes_empty_path = true;
        Some(r)
    });
    0
}
named!(sys_exit_fchmodat2 = programs::SYS_EXIT_FCHMODAT2.name);
