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
    tracepoint::{DataLoc, SchedProcessForkRaw, SysEnterArgs, SysExitArgs},
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

/// The fixed part of a record whose layout is `T` (e.g. `SchedProcessExec`).
#[inline(always)]
pub(crate) fn record<T>(ctx: &TracePointContext) -> Option<T> {
    // SAFETY: the record starts with a `T`; read as in `sys_enter`.
    unsafe { ctx.read_at::<T>(0) }.or_count(counter::ARG_READ_FAILED)
}

/// A `T` at an offset userspace found in the format file at start-up (the caller handles
/// `KernelOffsets::UNKNOWN`).
#[inline(always)]
pub(crate) fn field_at<T>(ctx: &TracePointContext, offset: u32) -> Option<T> {
    // SAFETY: the offset is the field's in this kernel's record; read as in `sys_enter`.
    unsafe { ctx.read_at::<T>(offset as usize) }.or_count(counter::ARG_READ_FAILED)
}

/// Where a `__data_loc` field's data (a kernel string) sits: inside the record itself.
#[inline(always)]
pub(crate) fn data_loc_ptr(ctx: &TracePointContext, loc: DataLoc) -> *const u8 {
    // Pointer arithmetic only; the string is read with bpf_probe_read_kernel_str.
    (ctx.as_ptr() as *const u8).wrapping_add(loc.offset())
}

/// The child task of a `sched_process_fork` raw tracepoint.
#[inline(always)]
pub(crate) fn fork_child(ctx: &RawTracePointContext) -> *const u8 {
    let args = ctx.as_ptr() as *const SchedProcessForkRaw;
    // SAFETY: a raw tracepoint's context is its `TP_PROTO` arguments, one u64 each; the verifier
    // checks this context read is within them.
    unsafe { (*args).child as *const u8 }
}
