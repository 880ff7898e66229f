//! `rename`, `renameat`, `renameat2` (`RENAME_NOREPLACE`, `RENAME_EXCHANGE`, `RENAME_WHITEOUT`) at
//! exit → `FileOpEvent` of kind `rename`: `path` is the new name (what is written), `source` the old.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    file_op::{FILE_SYSCALL_RENAME, FILE_SYSCALL_RENAMEAT, FILE_SYSCALL_RENAMEAT2},
    programs,
    tracepoint::{RenameArgs, Renameat2Args, RenameatArgs},
};

use crate::{
    args,
    file_op::{CWD, Request, emit},
};

#[tracepoint(category = "syscalls", name = "sys_exit_rename")]
pub(crate) fn sys_exit_rename(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Rename, FILE_SYSCALL_RENAME, |regs| {
        let a: RenameArgs = args::current_as(regs)?;
        Some(Request::named(CWD, a.newname).with_source(CWD, a.oldname))
    });
    0
}
named!(sys_exit_rename = programs::SYS_EXIT_RENAME.name);

#[tracepoint(category = "syscalls", name = "sys_exit_renameat")]
pub(crate) fn sys_exit_renameat(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Rename, FILE_SYSCALL_RENAMEAT, |regs| {
        let a: RenameatArgs = args::current_as(regs)?;
        Some(Request::named(a.newdfd, a.newname).with_source(a.olddfd, a.oldname))
    });
    0
}
named!(sys_exit_renameat = programs::SYS_EXIT_RENAMEAT.name);

#[tracepoint(category = "syscalls", name = "sys_exit_renameat2")]
pub(crate) fn sys_exit_renameat2(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Rename, FILE_SYSCALL_RENAMEAT2, |regs| {
        let a: Renameat2Args = args::current_as(regs)?;
        let mut r = Request::named(a.newdfd, a.newname).with_source(a.olddfd, a.oldname);
        r.flags = a.flags as u32;
        Some(r)
    });
    0
}
named!(sys_exit_renameat2 = programs::SYS_EXIT_RENAMEAT2.name);
