//! `symlink`, `symlinkat` at exit → `FileOpEvent` of kind `symlink`: `path` is the new link, `source`
//! the target text stored in it (not resolved by the kernel: userspace resolves it against the
//! link's directory).
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    file_op::{FILE_SYSCALL_SYMLINK, FILE_SYSCALL_SYMLINKAT},
    programs,
    tracepoint::{SymlinkArgs, SymlinkatArgs},
};

use crate::{
    args,
    file_op::{CWD, Request, emit},
};

#[tracepoint(category = "syscalls", name = "sys_exit_symlink")]
pub(crate) fn sys_exit_symlink(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Symlink, FILE_SYSCALL_SYMLINK, |regs| {
        let a: SymlinkArgs = args::current_as(regs)?;
        let mut r = Request::named(CWD, a.newname).with_source(CWD, a.oldname);
        r.source_is_text = true;
        Some(r)
    });
    0
}
named!(sys_exit_symlink = programs::SYS_EXIT_SYMLINK.name);

#[tracepoint(category = "syscalls", name = "sys_exit_symlinkat")]
pub(crate) fn sys_exit_symlinkat(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Symlink, FILE_SYSCALL_SYMLINKAT, |regs| {
        let a: SymlinkatArgs = args::current_as(regs)?;
        let mut r = Request::named(a.newdfd, a.newname).with_source(CWD, a.oldname);
        r.source_is_text = true;
        Some(r)
    });
    0
}
named!(sys_exit_symlinkat = programs::SYS_EXIT_SYMLINKAT.name);
