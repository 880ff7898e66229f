//! `chroot(2)` / `pivot_root(2)` at their exit → [`ChrootEvent`]: the path(s) as passed (read
//! after the kernel's own copy faulted them in) and, after success, the kernel's path of the new
//! root (`task->fs->root`, walked through the mount tree to its top).
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    chroot::{CHROOT_SYSCALL_CHROOT, CHROOT_SYSCALL_PIVOT_ROOT, ChrootEvent},
    programs,
    record::{PATH_MAX, Tail},
    tracepoint::{ChrootArgs, PivotRootArgs},
};

use crate::{actor, args, path, record::Record, scope, task, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_chroot")]
pub(crate) fn sys_exit_chroot(ctx: TracePointContext) -> u32 {
    emit(&ctx, CHROOT_SYSCALL_CHROOT);
    0
}
named!(sys_exit_chroot = programs::SYS_EXIT_CHROOT.name);

#[tracepoint(category = "syscalls", name = "sys_exit_pivot_root")]
pub(crate) fn sys_exit_pivot_root(ctx: TracePointContext) -> u32 {
    emit(&ctx, CHROOT_SYSCALL_PIVOT_ROOT);
    0
}
named!(sys_exit_pivot_root = programs::SYS_EXIT_PIVOT_ROOT.name);

#[inline(always)]
fn emit(ctx: &TracePointContext, syscall: u8) -> Option<()> {
    let cfg = scope::watched()?;
    let result = tracepoint::sys_exit_ret(ctx)?;
    let regs = &cfg.offsets.regs;
    let (first, second) = if syscall == CHROOT_SYSCALL_CHROOT {
        (args::current_as::<ChrootArgs>(regs)?.filename, 0)
    } else {
        let a: PivotRootArgs = args::current_as(regs)?;
        (a.new_root, a.put_old)
    };
    let off = &cfg.offsets.path;
    let mut rec = Record::<ChrootEvent>::start(EventKind::Chroot, &cfg.offsets)?;
    let path = rec.user_str(first, PATH_MAX);
    let put_old = if syscall == CHROOT_SYSCALL_PIVOT_ROOT {
        rec.user_str(second, PATH_MAX)
    } else {
        Tail::ABSENT
    };
    let root = if result == 0 {
        let fs: Option<*const u8> = task::read_field(task::current_task(), off.task_fs);
        rec.path(off, fs.and_then(|fs| path::path_at(off, fs, off.fs_root)))
    } else {
        Tail::ABSENT
    };
    let exe = actor::exe(&mut rec, cfg);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).syscall = syscall;
        (*ev).path = path;
        (*ev).put_old = put_old;
        (*ev).root = root;
        (*ev).exe = exe;
    }
    rec.submit(false);
    Some(())
}
