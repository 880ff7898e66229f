//! Module loading and removal at the syscall's exit → [`ModuleEvent`]: `init_module(2)` (the
//! image's length, the parameters), `finit_module(2)` (the kernel's path of the file, the
//! parameters), `delete_module(2)` (the name as passed). Optional programs: a kernel without module
//! support has none of these tracepoints (`monitor_common::programs::OPTIONAL`).
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    module::{
        MODULE_ARGS_MAX, MODULE_NAME_MAX, MODULE_SYSCALL_DELETE, MODULE_SYSCALL_FINIT, MODULE_SYSCALL_INIT, ModuleEvent,
    },
    programs,
    record::Tail,
    tracepoint::{DeleteModuleArgs, FinitModuleArgs, InitModuleArgs},
};

use crate::{actor, args, path, record::Record, scope, task, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_init_module")]
pub(crate) fn sys_exit_init_module(ctx: TracePointContext) -> u32 {
    emit(&ctx, MODULE_SYSCALL_INIT);
    0
}
named!(sys_exit_init_module = programs::SYS_EXIT_INIT_MODULE.name);

#[tracepoint(category = "syscalls", name = "sys_exit_finit_module")]
pub(crate) fn sys_exit_finit_module(ctx: TracePointContext) -> u32 {
    emit(&ctx, MODULE_SYSCALL_FINIT);
    0
}
named!(sys_exit_finit_module = programs::SYS_EXIT_FINIT_MODULE.name);

#[tracepoint(category = "syscalls", name = "sys_exit_delete_module")]
pub(crate) fn sys_exit_delete_module(ctx: TracePointContext) -> u32 {
    emit(&ctx, MODULE_SYSCALL_DELETE);
    0
}
named!(sys_exit_delete_module = programs::SYS_EXIT_DELETE_MODULE.name);

#[inline(always)]
fn emit(ctx: &TracePointContext, syscall: u8) -> Option<()> {
    let cfg = scope::watched()?;
    let result = tracepoint::sys_exit_ret(ctx)?;
    let regs = &cfg.offsets.regs;
    let mut rec = Record::<ModuleEvent>::start(EventKind::Module, &cfg.offsets)?;
    let (mut len, mut flags, mut fd) = (0u64, 0u32, -1i64);
    let (mut path, mut name, mut params) = (Tail::ABSENT, Tail::ABSENT, Tail::ABSENT);
    match syscall {
        MODULE_SYSCALL_INIT => {
            let a: InitModuleArgs = args::current_as(regs)?;
            len = a.len;
            params = rec.user_str(a.args, MODULE_ARGS_MAX);
        }
        MODULE_SYSCALL_FINIT => {
            let a: FinitModuleArgs = args::current_as(regs)?;
            fd = i64::from(a.fd as i32);
            flags = a.flags as u32;
            params = rec.user_str(a.args, MODULE_ARGS_MAX);
            let off = &cfg.offsets.path;
            path = rec.path(off, path::fd_path(off, task::current_task(), fd));
        }
        _ => {
            let a: DeleteModuleArgs = args::current_as(regs)?;
            flags = a.flags as u32;
            name = rec.user_str(a.name, MODULE_NAME_MAX);
        }
    }
    let exe = actor::exe(&mut rec, cfg);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).len = len;
        (*ev).flags = flags;
        (*ev).fd = fd as i32;
        (*ev).syscall = syscall;
        (*ev).path = path;
        (*ev).name = name;
        (*ev).args = params;
        (*ev).exe = exe;
    }
    rec.submit(false);
    Some(())
}
