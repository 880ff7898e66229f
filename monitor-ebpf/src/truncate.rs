//! `truncate` (by name) and `ftruncate` (by descriptor: the kernel's path of its file) at exit →
//! `FileOpEvent` of kind `truncate` with the length asked for.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    file_op::{FILE_SYSCALL_FTRUNCATE, FILE_SYSCALL_TRUNCATE},
    programs,
    tracepoint::{FtruncateArgs, TruncateArgs},
};

use crate::{
    args,
    file_op::{CWD, Request, emit},
};

#[tracepoint(category = "syscalls", name = "sys_exit_truncate")]
pub(crate) fn sys_exit_truncate(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Truncate, FILE_SYSCALL_TRUNCATE, |regs| {
        let a: TruncateArgs = args::current_as(regs)?;
        let mut r = Request::named(CWD, a.path);
        r.length = a.length as i64;
        Some(r)
    });
    0
}
named!(sys_exit_truncate = programs::SYS_EXIT_TRUNCATE.name);

#[tracepoint(category = "syscalls", name = "sys_exit_ftruncate")]
pub(crate) fn sys_exit_ftruncate(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Truncate, FILE_SYSCALL_FTRUNCATE, |regs| {
        let a: FtruncateArgs = args::current_as(regs)?;
        let mut r = Request::by_fd(a.fd);
        r.length = a.length as i64;
        Some(r)
    });
    0
}
named!(sys_exit_ftruncate = programs::SYS_EXIT_FTRUNCATE.name);
