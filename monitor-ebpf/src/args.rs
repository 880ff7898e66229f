//! A syscall's arguments at its exit, read from the user registers the kernel saved at entry
//! (`bpf_task_pt_regs`; offsets from BTF in `KernelConfig::offsets.regs`). Programs that emit at
//! exit (when the result is known and user strings have been faulted in by the kernel's own copy)
//! need no entry program to stash them.
use aya_ebpf::helpers::generated::{bpf_get_current_task_btf, bpf_task_pt_regs};
use monitor_common::{config::RegsOffsets, counter};

use crate::{maps::OrCount, task::read_field};

/// The current syscall's six arguments (unused slots hold whatever the registers held). A failed
/// read loses the event (`counter::ARG_READ_FAILED`).
#[inline(always)]
pub(crate) fn current(regs_off: &RegsOffsets) -> Option<[u64; 6]> {
    let (args, complete) = first(regs_off, 6);
    complete.then_some(args)
}

/// The current syscall's six arguments, zeros from the first that cannot be read on, and whether
/// all were read (a failure is counted, `counter::ARG_READ_FAILED`). For a record that keeps a
/// failed read: unlike `current(..).unwrap_or(..)` it never copies an unwritten `Option` payload,
/// which 6.1's verifier refuses ("invalid read from stack").
#[inline(always)]
pub(crate) fn current_or_zeros(regs_off: &RegsOffsets) -> ([u64; 6], bool) {
    first(regs_off, 6)
}

/// The current syscall's first `n` arguments (`n` ≤ 6), zeros from the first that cannot be read
/// on (counted), and whether all `n` were read. One `bpf_probe_read_kernel` each (the registers
/// are not contiguous in `pt_regs`), so callers read only the arguments they use.
#[inline(always)]
fn first(regs_off: &RegsOffsets, n: usize) -> ([u64; 6], bool) {
    // SAFETY: both helpers take no user input; the task pointer is the trusted current task, as
    // bpf_task_pt_regs requires, and the registers are then read with bpf_probe_read_kernel.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as *const u8;
    let mut args = [0u64; 6];
    let mut i = 0;
    while i < n && i < 6 {
        match read_field(regs, regs_off.args[i]).or_count(counter::ARG_READ_FAILED) {
            Some(v) => args[i] = v,
            None => return (args, false),
        }
        i += 1;
    }
    (args, true)
}

/// The current syscall's arguments as `A`, a `monitor_common::tracepoint` argument struct (one
/// 8-byte slot per parameter, in order); only `A`'s slots are read.
#[inline(always)]
pub(crate) fn current_as<A: Copy>(regs_off: &RegsOffsets) -> Option<A> {
    const { assert!(size_of::<A>() <= size_of::<[u64; 6]>() && size_of::<A>().is_multiple_of(8)) };
    let (all, complete) = first(regs_off, size_of::<A>() / 8);
    if !complete {
        return None;
    }
    // SAFETY: `A` is a `#[repr(C)]` struct of at most six `u64` slots (asserted above), any bit
    // pattern valid.
    Some(unsafe { core::ptr::read_unaligned((&raw const all).cast::<A>()) })
}

/// The number of the syscall the current task is in (`pt_regs.orig_ax`, at `nr_offset` from BTF:
/// `ProcessOffsets::regs_syscall_nr`); `None` if unreadable. In a tracepoint that is not a
/// syscall's own (a state change, a rename), it tells which syscall got there.
#[inline(always)]
pub(crate) fn current_syscall(nr_offset: u32) -> Option<i64> {
    // SAFETY: both helpers take no user input; the task pointer is the trusted current task, as
    // bpf_task_pt_regs requires; the register is then read with bpf_probe_read_kernel.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as *const u8;
    read_field::<i64>(regs, nr_offset)
}

/// Whether a syscall result says the name does not exist (`ENOENT`, `ENOTDIR`): lookups that fail
/// this way are searches (`PATH`, library and config paths), not attempts the kernel refused.
#[inline(always)]
pub(crate) fn is_not_found(result: i64) -> bool {
    const ENOENT: i64 = 2;
    const ENOTDIR: i64 = 20;
    result == -ENOENT || result == -ENOTDIR
}

/// Only the current syscall's argument `i` (0..6): a cheap filter before reading the rest. `None`
/// when it cannot be read (not counted: the caller decides whether that loses an event).
#[inline(always)]
pub(crate) fn nth(regs_off: &RegsOffsets, i: usize) -> Option<u64> {
    // SAFETY: as in `current`.
    let regs = unsafe { bpf_task_pt_regs(bpf_get_current_task_btf()) } as *const u8;
    read_field(regs, *regs_off.args.get(i)?)
}
