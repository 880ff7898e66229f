//! `prctl(2)` (the security-relevant options, `monitor_common::prctl::PRCTL_OPTIONS`) and
//! `seccomp(2)` at their exit → [`PrctlEvent`], with the result.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    prctl::{PRCTL_SYSCALL_PRCTL, PRCTL_SYSCALL_SECCOMP, PrctlEvent, prctl_option_is_event},
    programs,
    tracepoint::{PrctlArgs, SeccompArgs},
};

use crate::{actor, args, record::Record, scope, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_prctl")]
pub(crate) fn sys_exit_prctl(ctx: TracePointContext) -> u32 {
    emit(&ctx, PRCTL_SYSCALL_PRCTL);
    0
}
named!(sys_exit_prctl = programs::SYS_EXIT_PRCTL.name);

#[tracepoint(category = "syscalls", name = "sys_exit_seccomp")]
pub(crate) fn sys_exit_seccomp(ctx: TracePointContext) -> u32 {
    emit(&ctx, PRCTL_SYSCALL_SECCOMP);
    0
}
named!(sys_exit_seccomp = programs::SYS_EXIT_SECCOMP.name);

#[inline(always)]
fn emit(ctx: &TracePointContext, syscall: u8) -> Option<()> {
    let cfg = scope::watched()?;
    let regs = &cfg.offsets.regs;
    let (option, call_args) = if syscall == PRCTL_SYSCALL_PRCTL {
        let a: PrctlArgs = args::current_as(regs)?;
        // An `int` option: the register's low 32 bits.
        let option = u64::from(a.option as u32);
        if !prctl_option_is_event(option) {
            return None;
        }
        (option, [a.arg2, a.arg3, a.arg4, a.arg5])
    } else {
        let a: SeccompArgs = args::current_as(regs)?;
        (u64::from(a.op as u32), [u64::from(a.flags as u32), 0, 0, 0])
    };
    let result = tracepoint::sys_exit_ret(ctx)?;
    let mut rec = Record::<PrctlEvent>::start(EventKind::Prctl, &cfg.offsets)?;
    let exe = actor::exe(&mut rec, cfg);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).option = option;
        (*ev).args = call_args;
        (*ev).syscall = syscall;
        (*ev).exe = exe;
    }
    rec.submit(false);
    Some(())
}
