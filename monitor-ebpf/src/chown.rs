//! `chown`, `lchown`, `fchown`, `fchownat` (`AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`) at exit →
//! `FileOpEvent` of kind `chown` with the new owner and group; for fchown (and `AT_EMPTY_PATH`) the
//! kernel's path of the descriptor's file.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    file_op::{FILE_SYSCALL_CHOWN, FILE_SYSCALL_FCHOWN, FILE_SYSCALL_FCHOWNAT, FILE_SYSCALL_LCHOWN},
    programs,
    tracepoint::{ChownArgs, FchownArgs, FchownatArgs},
};

use crate::{
    args,
    file_op::{CWD, Request, emit},
};

#[tracepoint(category = "syscalls", name = "sys_exit_chown")]
pub(crate) fn sys_exit_chown(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Chown, FILE_SYSCALL_CHOWN, |regs| {
        let a: ChownArgs = args::current_as(regs)?;
        Some(owner(Request::named(CWD, a.filename), a.user, a.group))
    });
    0
}
named!(sys_exit_chown = programs::SYS_EXIT_CHOWN.name);

#[tracepoint(category = "syscalls", name = "sys_exit_lchown")]
pub(crate) fn sys_exit_lchown(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Chown, FILE_SYSCALL_LCHOWN, |regs| {
        let a: ChownArgs = args::current_as(regs)?;
        Some(owner(Request::named(CWD, a.filename), a.user, a.group))
    });
    0
}
named!(sys_exit_lchown = programs::SYS_EXIT_LCHOWN.name);

#[tracepoint(category = "syscalls", name = "sys_exit_fchown")]
pub(crate) fn sys_exit_fchown(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Chown, FILE_SYSCALL_FCHOWN, |regs| {
        let a: FchownArgs = args::current_as(regs)?;
        Some(owner(Request::by_fd(a.fd), a.user, a.group))
    });
    0
}
named!(sys_exit_fchown = programs::SYS_EXIT_FCHOWN.name);

#[tracepoint(category = "syscalls", name = "sys_exit_fchownat")]
pub(crate) fn sys_exit_fchownat(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Chown, FILE_SYSCALL_FCHOWNAT, |regs| {
        let a: FchownatArgs = args::current_as(regs)?;
        let mut r = owner(Request::named(a.dfd, a.filename), a.user, a.group);
        r.flags = a.flag as u32;
        r.takes_empty_path = true;
        Some(r)
    });
    0
}
named!(sys_exit_fchownat = programs::SYS_EXIT_FCHOWNAT.name);

/// With the new owner and group (`uid_t`/`gid_t` registers; `-1`: unchanged).
#[inline(always)]
fn owner(mut r: Request, user: u64, group: u64) -> Request {
    (r.uid, r.gid) = (user as u32, group as u32);
    r
}
