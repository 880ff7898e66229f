//! `ptrace(2)` at its exit → [`PtraceEvent`]: the request, the target pid as named, the result. The
//! target's executable is named by userspace from its process table or `/proc` (BPF has no
//! pid-to-task lookup for a pid of the caller's namespace).
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind, programs,
    ptrace::{PtraceEvent, ptrace_request_is_event},
    tracepoint::PtraceArgs,
};

use crate::{actor, args, record::Record, scope, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_ptrace")]
pub(crate) fn sys_exit_ptrace(ctx: TracePointContext) -> u32 {
    emit(&ctx);
    0
}
named!(sys_exit_ptrace = programs::SYS_EXIT_PTRACE.name);

#[inline(always)]
fn emit(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let result = tracepoint::sys_exit_ret(ctx)?;
    let a: PtraceArgs = args::current_as(&cfg.offsets.regs)?;
    let request = a.request as i64;
    if !ptrace_request_is_event(request) {
        return None;
    }
    let mut rec = Record::<PtraceEvent>::start(EventKind::Ptrace, &cfg.offsets)?;
    let exe = actor::exe(&mut rec, cfg);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).request = request;
        (*ev).addr = a.addr;
        (*ev).data = a.data;
        // A `long` the kernel reads as a pid_t.
        (*ev).target_pid = a.pid as i32;
        (*ev).caller_pidns_level = actor::pidns_level(&cfg.offsets.process);
        (*ev).exe = exe;
    }
    rec.submit(false);
    Some(())
}
