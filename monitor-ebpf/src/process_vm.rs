//! `process_vm_readv(2)` / `process_vm_writev(2)` at their exit → [`ProcessVmEvent`]: the target
//! pid as named and the bytes moved (or the error).
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{EventKind, process_vm::ProcessVmEvent, programs, tracepoint::ProcessVmArgs};

use crate::{actor, args, record::Record, scope, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_process_vm_readv")]
pub(crate) fn sys_exit_process_vm_readv(ctx: TracePointContext) -> u32 {
    emit(&ctx, false);
    0
}
named!(sys_exit_process_vm_readv = programs::SYS_EXIT_PROCESS_VM_READV.name);

#[tracepoint(category = "syscalls", name = "sys_exit_process_vm_writev")]
pub(crate) fn sys_exit_process_vm_writev(ctx: TracePointContext) -> u32 {
    emit(&ctx, true);
    0
}
named!(sys_exit_process_vm_writev = programs::SYS_EXIT_PROCESS_VM_WRITEV.name);

#[inline(always)]
fn emit(ctx: &TracePointContext, write: bool) -> Option<()> {
    let cfg = scope::watched()?;
    let result = tracepoint::sys_exit_ret(ctx)?;
    let a: ProcessVmArgs = args::current_as(&cfg.offsets.regs)?;
    let mut rec = Record::<ProcessVmEvent>::start(EventKind::ProcessVm, &cfg.offsets)?;
    let exe = actor::exe(&mut rec, cfg);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).local_iovcnt = a.liovcnt;
        (*ev).remote_iovcnt = a.riovcnt;
        (*ev).target_pid = a.pid as i32;
        (*ev).write = u8::from(write);
        (*ev).caller_pidns_level = actor::pidns_level(&cfg.offsets.process);
        (*ev).exe = exe;
    }
    rec.submit(false);
    Some(())
}
