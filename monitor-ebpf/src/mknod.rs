//! `mknod`, `mknodat` at exit → `FileOpEvent` of kind `mknod` with the mode (file type bits: FIFO,
//! character or block device, socket, regular file) and the device number.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    file_op::{FILE_SYSCALL_MKNOD, FILE_SYSCALL_MKNODAT},
    programs,
    tracepoint::{MknodArgs, MknodatArgs},
};

use crate::{
    args,
    file_op::{CWD, Request, emit},
};

#[tracepoint(category = "syscalls", name = "sys_exit_mknod")]
pub(crate) fn sys_exit_mknod(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Mknod, FILE_SYSCALL_MKNOD, |regs| {
        let a: MknodArgs = args::current_as(regs)?;
        let mut r = Request::named(CWD, a.filename);
        (r.mode, r.dev) = (a.mode as u32, a.dev as u32);
        Some(r)
    });
    0
}
named!(sys_exit_mknod = programs::SYS_EXIT_MKNOD.name);

#[tracepoint(category = "syscalls", name = "sys_exit_mknodat")]
pub(crate) fn sys_exit_mknodat(ctx: TracePointContext) -> u32 {
    emit(&ctx, EventKind::Mknod, FILE_SYSCALL_MKNODAT, |regs| {
        let a: MknodatArgs = args::current_as(regs)?;
        let mut r = Request::named(a.dfd, a.filename);
        (r.mode, r.dev) = (a.mode as u32, a.dev as u32);
        Some(r)
    });
    0
}
named!(sys_exit_mknodat = programs::SYS_EXIT_MKNODAT.name);
