//! Fills the common [`EventHeader`] of a record in place (ring-buffer memory, never the stack).
use aya_ebpf::helpers::{
    bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
    generated::{bpf_get_current_cgroup_id, bpf_ktime_get_boot_ns},
};
use monitor_common::{EventHeader, EventKind, config::KernelOffsets};

use crate::task;

/// Writes the header of a record of `size` bytes, parent included.
#[inline(always)]
pub(crate) fn fill(h: *mut EventHeader, kind: EventKind, size: usize, off: &KernelOffsets) {
    fill_basic(h, kind, size);
    // SAFETY: `h` points into a reserved ring-buffer record (the caller's contract).
    unsafe { (*h).ppid = task::parent_tgid(off) };
}

/// [`fill`] without the parent (for program types that cannot read task memory, e.g. `sock_addr`).
#[inline(always)]
pub(crate) fn fill_basic(h: *mut EventHeader, kind: EventKind, size: usize) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let uid_gid = bpf_get_current_uid_gid();
    // SAFETY: `h` points into a reserved ring-buffer record (the caller's contract); every field is
    // written, so no reserved byte reaches userspace uninitialised.
    unsafe {
        (*h).kind = kind as u16;
        (*h).flags = 0;
        (*h).size = size as u32;
        (*h).ktime_ns = bpf_ktime_get_boot_ns();
        (*h).pid = pid_tgid as u32;
        (*h).tgid = (pid_tgid >> 32) as u32;
        (*h).ppid = 0;
        (*h).uid = uid_gid as u32;
        (*h).gid = (uid_gid >> 32) as u32;
        (*h)._pad = 0;
        (*h).cgroup_id = bpf_get_current_cgroup_id();
        (*h).comm = bpf_get_current_comm().unwrap_or([0u8; 16]);
    }
}
