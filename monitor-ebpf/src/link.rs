//! `link`, `linkat` (`AT_SYMLINK_FOLLOW`, `AT_EMPTY_PATH`) at exit → `FileOpEvent` of kind `link`:
//! `path` is the new link, `source` the existing file (with `AT_EMPTY_PATH`, the descriptor's file,
//! walked from the kernel's objects).
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    file_op::{FILE_SYSCALL_LINK, FILE_SYSCALL_LINKAT},
    programs,
    tracepoint::{LinkArgs, LinkatArgs},
};

use crate::{
    args,
    file_op::{CWD, Request, emit},
};

#[tracepoint(category = "syscalls", name = "sys_exit_link")]
pub(crate) fn sys_exit_link(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Link, FILE_SYSCALL_LINK, |regs| {
        let a: LinkArgs = args::current_as(regs)?;
        Some(Request::named(CWD, a.newname).with_source(CWD, a.oldname))
    });
    0
}
named!(sys_exit_link = programs::SYS_EXIT_LINK.name);

#[tracepoint(category = "syscalls", name = "sys_exit_linkat")]
pub(crate) fn sys_exit_linkat(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Link, FILE_SYSCALL_LINKAT, |regs| {
        let a: LinkatArgs = args::current_as(regs)?;
        let mut r = Request::named(a.newdfd, a.newname).with_source(a.olddfd, a.oldname);
        r.flags = a.flags as u32;
        r.takes_empty_path = true;
        Some(r)
    });
    0
}
named!(sys_exit_linkat = programs::SYS_EXIT_LINKAT.name);
