//! Fills the common [`EventHeader`] and reads kernel task fields through userspace-resolved offsets.
use aya_ebpf::helpers::{
    bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_uid_gid, bpf_probe_read_kernel,
    generated::{bpf_get_current_cgroup_id, bpf_get_current_task, bpf_ktime_get_boot_ns},
};
use monitor_common::{EventHeader, EventKind, config::KernelOffsets};

/// Reads a `T` at `base + offset` in kernel memory; `None` if the offset is unknown or the read fails.
#[inline(always)]
pub fn read_field<T>(base: *const u8, offset: u32) -> Option<T> {
    if base.is_null() || offset == KernelOffsets::UNKNOWN {
        return None;
    }
    unsafe { bpf_probe_read_kernel(base.add(offset as usize).cast::<T>()) }.ok()
}

#[inline(always)]
pub fn current_task() -> *const u8 {
    unsafe { bpf_get_current_task() as *const u8 }
}

/// tgid of the current task's `real_parent`, 0 if unknown.
#[inline(always)]
pub fn parent_tgid(off: &KernelOffsets) -> u32 {
    let parent: Option<*const u8> = read_field(current_task(), off.task_real_parent);
    match parent {
        Some(p) => read_field::<u32>(p, off.task_tgid).unwrap_or(0),
        None => 0,
    }
}

/// Writes the header of a record of type `T` in place (ring-buffer memory, never the stack).
#[inline(always)]
pub fn fill(h: *mut EventHeader, kind: EventKind, size: usize, off: &KernelOffsets) {
    fill_basic(h, kind, size);
    unsafe { (*h).ppid = parent_tgid(off) };
}

/// [`fill`] without the parent (for program types that cannot read task memory, e.g. sock_addr).
#[inline(always)]
pub fn fill_basic(h: *mut EventHeader, kind: EventKind, size: usize) {
    let pid_tgid = bpf_get_current_pid_tgid();
    let uid_gid = bpf_get_current_uid_gid();
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

use core::ffi::c_void;

use aya_ebpf::{helpers::generated as gen_, maps::ring_buf::RingBufEntry};
use monitor_common::{BATCH_WINDOW_NS, FLAG_READ_FAILED, FLAG_TRUNCATED, counter};

use crate::maps::{EVENTS, LAST_WAKEUP, count};

/// Reserves a `T` record in the ring buffer; a full buffer counts a drop (never silent).
#[inline(always)]
pub fn reserve<T: 'static>() -> Option<RingBufEntry<T>> {
    let entry = EVENTS.reserve::<T>(0);
    if entry.is_none() {
        count(counter::RINGBUF_DROPS);
    }
    entry
}

/// Submits a filled record and counts it.
#[inline(always)]
pub fn submit<T: 'static>(entry: RingBufEntry<T>) {
    entry.submit(0);
    count(counter::EVENTS);
}

/// Pending bytes above which a batched record wakes the reader at once (or a quarter of the ring,
/// if that is smaller).
const BATCH_WAKEUP_BYTES: u64 = 64 * 1024;
const BPF_RB_AVAIL_DATA: u64 = 0;
const BPF_RB_RING_SIZE: u64 = 1;
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;

/// Submits a high-volume record (open) without waking the reader for each one. The reader is woken
/// when 64 KiB (or a quarter of the ring, if smaller) are pending, or when the last forced wakeup is
/// at least [`BATCH_WINDOW_NS`] old: an isolated record after a quiet spell wakes it at once, and a
/// storm costs at most one wakeup per window plus the size threshold's. Records submitted without a
/// wakeup are picked up by the reader's drain one window after each wakeup-driven drain (it repeats
/// while records keep coming; `monitor/src/session.rs`). Rare, security-relevant kinds (exec,
/// connect, mount, deny) use [`submit`].
#[inline(always)]
pub fn submit_batched<T: 'static>(entry: RingBufEntry<T>) {
    let quarter = EVENTS.query(BPF_RB_RING_SIZE) / 4;
    let threshold = if quarter < BATCH_WAKEUP_BYTES {
        quarter
    } else {
        BATCH_WAKEUP_BYTES
    };
    // Read after the reservation, so a drain that starts later than `now` sees this record, committed
    // or still being written (userspace's straggler drain relies on it).
    let now = unsafe { gen_::bpf_ktime_get_ns() };
    let last = LAST_WAKEUP.get_ptr_mut(0);
    // A missing entry cannot happen (array of one); wake then, to be safe. Another CPU may have
    // stored a later time than `now`: that wakeup is on its way, so no wakeup here.
    let idle = match last {
        Some(p) => now.saturating_sub(unsafe { *p }) >= BATCH_WINDOW_NS,
        None => true,
    };
    let flags = if idle || EVENTS.query(BPF_RB_AVAIL_DATA) >= threshold {
        if let Some(p) = last {
            unsafe { *p = now };
        }
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    };
    entry.submit(flags);
    count(counter::EVENTS);
}

/// Reads a NUL-terminated user string into `buf`. Returns `FLAG_*` bits: truncated when the string
/// filled the buffer, read-failed (counted) when the memory could not be read. A null `src` reads as an
/// empty string without failure.
#[inline(always)]
pub fn read_user_str(src: *const u8, buf: &mut [u8]) -> u16 {
    let dst = buf.as_mut_ptr();
    if src.is_null() {
        unsafe { *dst = 0 };
        return 0;
    }
    let n = unsafe { gen_::bpf_probe_read_user_str(dst.cast::<c_void>(), buf.len() as u32, src.cast()) };
    str_result(n, buf)
}

/// [`read_user_str`] that also returns the length read, NUL included (0 on failure).
#[inline(always)]
pub fn read_user_str_len(src: *const u8, buf: &mut [u8]) -> (u16, usize) {
    let dst = buf.as_mut_ptr();
    if src.is_null() {
        unsafe { *dst = 0 };
        return (0, 0);
    }
    let n = unsafe { gen_::bpf_probe_read_user_str(dst.cast::<c_void>(), buf.len() as u32, src.cast()) };
    (str_result(n, buf), if n > 0 { n as usize } else { 0 })
}

/// Reads a NUL-terminated kernel string into `buf` (like [`read_user_str`]); also returns the length read, NUL included (0 on failure).
#[inline(always)]
pub fn read_kernel_str_len(src: *const u8, buf: &mut [u8]) -> (u16, usize) {
    let dst = buf.as_mut_ptr();
    let n = unsafe { gen_::bpf_probe_read_kernel_str(dst.cast::<c_void>(), buf.len() as u32, src.cast()) };
    (str_result(n, buf), if n > 0 { n as usize } else { 0 })
}

#[inline(always)]
fn str_result(n: i64, buf: &mut [u8]) -> u16 {
    if n < 0 {
        unsafe { *buf.as_mut_ptr() = 0 };
        count(counter::READ_FAILURES);
        return FLAG_READ_FAILED;
    }
    // `n` includes the NUL; a string that filled the buffer was (probably) cut.
    if n as usize >= buf.len() { FLAG_TRUNCATED } else { 0 }
}
