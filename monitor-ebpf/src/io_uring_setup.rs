//! `io_uring_setup` at exit → [`IoUringSetupEvent`]: the entries asked for, the ring's flags
//! (`SQPOLL`: a kernel thread submits for the process) and what the kernel answered (read back from
//! the caller's `io_uring_params` after the call), failures included. A deny rule refusing `io_uring`
//! kills the caller before the call returns: it never gets the ring.
use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind, FLAG_DENIED, FLAG_READ_FAILED, counter, deny::DENY_IO_URING, io_uring_setup::IoUringSetupEvent,
    programs, tracepoint::IoUringSetupArgs,
};

use crate::{args, enforce, header, maps, scope, submit, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_io_uring_setup")]
pub(crate) fn sys_exit_io_uring_setup(ctx: TracePointContext) -> u32 {
    emit(&ctx);
    0
}
named!(sys_exit_io_uring_setup = programs::SYS_EXIT_IO_URING_SETUP.name);

/// The start of `struct io_uring_params`.
#[repr(C)]
#[derive(Clone, Copy)]
struct Params {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
}

#[inline(always)]
fn emit(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let result = tracepoint::sys_exit_ret(ctx)?;
    let a: IoUringSetupArgs = args::current_as(&cfg.offsets.regs)?;
    // SAFETY: user memory, read through the helper (which fails cleanly).
    let params = unsafe { bpf_probe_read_user(a.params as *const Params) };
    let denied = enforce::io_uring_rule(cfg.deny_kinds);
    let mut entry = submit::reserve::<IoUringSetupEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit.
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::IoUringSetup,
            size_of::<IoUringSetupEvent>(),
            &cfg.offsets,
        );
        (*ev).setup.result = result;
        (*ev).setup.entries = a.entries as u32;
        match params {
            Ok(p) => {
                (*ev).setup.flags = p.flags;
                (*ev).setup.sq_entries = p.sq_entries;
                (*ev).setup.cq_entries = p.cq_entries;
                (*ev).setup.features = p.features;
                (*ev).setup.wq_fd = p.wq_fd;
            }
            Err(_) => {
                maps::count(counter::READ_FAILURES);
                (*ev).header.flags |= FLAG_READ_FAILED;
                (*ev).setup.flags = 0;
                (*ev).setup.sq_entries = 0;
                (*ev).setup.cq_entries = 0;
                (*ev).setup.features = 0;
                (*ev).setup.wq_fd = 0;
            }
        }
        if denied.is_some() {
            (*ev).header.flags |= FLAG_DENIED;
        }
    }
    submit::submit(entry, false);
    if let Some(rule_id) = denied {
        enforce::kill_current(DENY_IO_URING, rule_id);
    }
    Some(())
}
