//! Typed reads of the tracepoint records (layouts in `monitor_common::tracepoint`, checked against
//! the kernel's format files by userspace): no program reads a record at a magic offset. A read that
//! fails loses the event and is counted (`counter::ARG_READ_FAILED`).
use core::mem::offset_of;

use aya_ebpf::{
    EbpfContext,
    programs::{RawTracePointContext, TracePointContext},
};
use monitor_common::{
    counter,
    tracepoint::{RawSysEnter, RawSysExit, SchedProcessExecRaw, SchedProcessForkRaw, SysEnterArgs, SysExitArgs},
};

use crate::maps::OrCount;

/// The arguments of a `sys_enter_*` record, typed as `A` (e.g. `OpenatArgs`).
#[inline(always)]
pub(crate) fn sys_enter<A>(ctx: &TracePointContext) -> Option<A> {
    // SAFETY: the record is a `SysEnterArgs<A>`; the read goes through bpf_probe_read_kernel, which
    // fails cleanly.
    unsafe { ctx.read_at::<A>(SysEnterArgs::<A>::ARGS_OFFSET) }.or_count(counter::ARG_READ_FAILED)
}

/// The return value in a `sys_exit_*` record.
#[inline(always)]
pub(crate) fn sys_exit_ret(ctx: &TracePointContext) -> Option<i64> {
    // SAFETY: the record is a `SysExitArgs`; read as in `sys_enter`.
    unsafe { ctx.read_at::<i64>(offset_of!(SysExitArgs, ret)) }.or_count(counter::ARG_READ_FAILED)
}

/// The syscall number in a `raw_syscalls/sys_enter` record.
#[inline(always)]
pub(crate) fn raw_sys_enter_id(ctx: &TracePointContext) -> Option<i64> {
    // SAFETY: the record is a `RawSysEnter`; read as in `sys_enter`.
    unsafe { ctx.read_at::<i64>(offset_of!(RawSysEnter, id)) }.or_count(counter::ARG_READ_FAILED)
}

/// The syscall number and result in a `raw_syscalls/sys_exit` record.
#[inline(always)]
pub(crate) fn raw_sys_exit(ctx: &TracePointContext) -> Option<(i64, i64)> {
    // SAFETY: the record is a `RawSysExit`; read as in `sys_enter`.
    let id = unsafe { ctx.read_at::<i64>(offset_of!(RawSysExit, id)) }.or_count(counter::ARG_READ_FAILED)?;
    // SAFETY: as above.
    let ret = unsafe { ctx.read_at::<i64>(offset_of!(RawSysExit, ret)) }.or_count(counter::ARG_READ_FAILED)?;
    Some((id, ret))
}

/// A `T` at an offset userspace found in the format file at start-up (the caller handles
/// `KernelOffsets::UNKNOWN`).
#[inline(always)]
pub(crate) fn field_at<T>(ctx: &TracePointContext, offset: u32) -> Option<T> {
    // SAFETY: the offset is the field's in this kernel's record; read as in `sys_enter`.
    unsafe { ctx.read_at::<T>(offset as usize) }.or_count(counter::ARG_READ_FAILED)
}

/// The child task of a `sched_process_fork` raw tracepoint.
#[inline(always)]
pub(crate) fn fork_child(ctx: &RawTracePointContext) -> *const u8 {
    let args = ctx.as_ptr() as *const SchedProcessForkRaw;
    // SAFETY: a raw tracepoint's context is its `TP_PROTO` arguments, one u64 each; the verifier
    // checks this context read is within them.
    unsafe { (*args).child as *const u8 }
}

/// The `linux_binprm` of a `sched_process_exec` raw tracepoint.
#[inline(always)]
pub(crate) fn exec_bprm(ctx: &RawTracePointContext) -> *const u8 {
    let args = ctx.as_ptr() as *const SchedProcessExecRaw;
    // SAFETY: a raw tracepoint's context is its `TP_PROTO` arguments, one u64 each; the verifier
    // checks this context read is within them.
    unsafe { (*args).bprm as *const u8 }
}
