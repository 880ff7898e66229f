//! `memfd_create` at exit → [`MemfdEvent`]: the name as passed (read after the kernel copied it),
//! the flags and the result, failures included.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    memfd::{MEMFD_NAME_MAX, MemfdEvent},
    programs,
    tracepoint::MemfdCreateArgs,
};

use crate::{args, record::Record, scope, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_memfd_create")]
pub(crate) fn sys_exit_memfd_create(ctx: TracePointContext) -> u32 {
    emit(&ctx);
    0
}
named!(sys_exit_memfd_create = programs::SYS_EXIT_MEMFD_CREATE.name);

#[inline(always)]
fn emit(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let result = tracepoint::sys_exit_ret(ctx)?;
    let a: MemfdCreateArgs = args::current_as(&cfg.offsets.regs)?;
    let mut rec = Record::<MemfdEvent>::start(EventKind::Memfd, &cfg.offsets)?;
    let name = rec.user_str(a.uname, MEMFD_NAME_MAX);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).flags = a.flags as u32;
        (*ev).name = name;
    }
    rec.submit(false);
    Some(())
}
