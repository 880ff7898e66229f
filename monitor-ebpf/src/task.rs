//! Reads of kernel task fields through the offsets userspace resolved from BTF
//! (`monitor_common::config::KernelOffsets`; Rust eBPF has no CO-RE). An unknown offset or a failed
//! read gives `None`: the caller leaves the field empty, or counts the lost event
//! (`counter::TASK_READ_FAILED`) when it cannot do without it.
use aya_ebpf::helpers::{bpf_probe_read_kernel, generated::bpf_get_current_task};
use monitor_common::config::KernelOffsets;

/// Reads a `T` at `base + offset` in kernel memory; `None` if the offset is unknown or the read fails.
#[inline(always)]
pub(crate) fn read_field<T>(base: *const u8, offset: u32) -> Option<T> {
    if base.is_null() || offset == KernelOffsets::UNKNOWN {
        return None;
    }
    // SAFETY: bpf_probe_read_kernel checks the address and fails cleanly on a bad one.
    unsafe { bpf_probe_read_kernel(base.add(offset as usize).cast::<T>()) }.ok()
}

/// The current `task_struct`.
#[inline(always)]
pub(crate) fn current_task() -> *const u8 {
    // SAFETY: the helper has no preconditions; the pointer is only read through `read_field`.
    unsafe { bpf_get_current_task() as *const u8 }
}

/// tgid of the current task's `real_parent`, 0 if unknown.
#[inline(always)]
pub(crate) fn parent_tgid(off: &KernelOffsets) -> u32 {
    let parent: Option<*const u8> = read_field(current_task(), off.task_real_parent);
    match parent {
        Some(p) => read_field::<u32>(p, off.task_tgid).unwrap_or(0),
        None => 0,
    }
}

/// Reads a `T` from user memory; `None` if it cannot be read.
#[inline(always)]
pub(crate) fn read_user<T>(addr: u64) -> Option<T> {
    // SAFETY: bpf_probe_read_user checks the address and fails cleanly.
    unsafe { aya_ebpf::helpers::bpf_probe_read_user(addr as *const T) }.ok()
}
