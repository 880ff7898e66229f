//! Ring-buffer policy: a fixed-size record is reserved with [`reserve`] (a full ring buffer counts a
//! drop, never silent) and handed over with [`submit`]; a variable-length record built in scratch
//! memory (`crate::record`) is copied in with [`output`]. Either takes the kernel's default wakeup
//! (the kinds a response or a rule waits on: exec, connect, mount, deny, …) or, for the
//! high-volume kinds (open, mmap, file changes, process births and deaths), wakeups batched per
//! window.
use aya_ebpf::{helpers::generated as gen_, maps::ring_buf::RingBufEntry};
use monitor_common::{BATCH_WINDOW_NS, counter};

use crate::maps::{EVENTS, LAST_WAKEUP, count};

/// Reserves a `T` record in the ring buffer; a full buffer counts a drop (never silent).
#[inline(always)]
pub(crate) fn reserve<T: 'static>() -> Option<RingBufEntry<T>> {
    let entry = EVENTS.reserve::<T>(0);
    if entry.is_none() {
        count(counter::RINGBUF_DROPS);
    }
    entry
}

/// Submits a filled record and counts it. `batched`: the high-volume wakeup policy
/// ([`batched_flags`]), else the kernel's default wakeup.
#[inline(always)]
pub(crate) fn submit<T: 'static>(entry: RingBufEntry<T>, batched: bool) {
    entry.submit(wakeup_flags(batched));
    count(counter::EVENTS);
}

const BPF_RB_AVAIL_DATA: u64 = 0;
const BPF_RB_RING_SIZE: u64 = 1;
const BPF_RB_NO_WAKEUP: u64 = 1;
const BPF_RB_FORCE_WAKEUP: u64 = 2;

/// While a quarter of the ring is pending, a batched record wakes the reader at most once per this
/// many ns. A wakeup is an `irq_work` self-IPI (in a VM, an APIC write that exits to the host): one per
/// record for as long as the reader is behind made the watched agent's storm twice as slow, and
/// taught the reader nothing the first wakeup had not.
const CATCH_UP_WAKEUP_NS: u64 = BATCH_WINDOW_NS / 16;

/// The wakeup flags of a record: [`batched_flags`] for a high-volume one; the kernel's default
/// wakeup (0) for the others, which then [`stamp_wakeup`].
#[inline(always)]
fn wakeup_flags(batched: bool) -> u64 {
    if batched {
        batched_flags()
    } else {
        stamp_wakeup();
        0
    }
}

/// Records that a wakeup is on its way (a record submitted with the kernel's default wakeup): the
/// batched records right behind it (an exec's library opens) ride on the drain one window after
/// the one it causes instead of forcing a wakeup of their own. Where the default wakeup is skipped
/// because the reader has not caught up, the reader's drain is already under way or scheduled.
#[inline(always)]
fn stamp_wakeup() {
    if let Some(p) = LAST_WAKEUP.get_ptr_mut(0) {
        // SAFETY: a valid map value pointer; the helper has no preconditions; a racing store from
        // another CPU only costs a wakeup.
        unsafe { *p = gen_::bpf_ktime_get_ns() };
    }
}

/// The wakeup flags of a high-volume record: the reader is woken when the last wakeup is at least
/// [`BATCH_WINDOW_NS`] old (an isolated record after a quiet spell wakes it at once), or when a
/// quarter of the ring is pending and the last wakeup is at least [`CATCH_UP_WAKEUP_NS`] old (a
/// reader that fell behind is hurried before the ring fills). A storm thus costs about one wakeup
/// per window. Records submitted without a wakeup are picked up by the reader's drain one window
/// after each wakeup-driven drain (it repeats while records keep coming; `monitor/src/session.rs`).
/// Must be called after the record's space is reserved (or, for [`output`], right before the copy,
/// which reserves it): a drain that starts later than the time read here sees the record.
#[inline(always)]
fn batched_flags() -> u64 {
    // SAFETY: the helper has no preconditions.
    let now = unsafe { gen_::bpf_ktime_get_ns() };
    let last = LAST_WAKEUP.get_ptr_mut(0);
    // A missing entry cannot happen (array of one); wake then, to be safe. Another CPU may have
    // stored a later time than `now`: that wakeup is on its way, so no wakeup here.
    let since = match last {
        // SAFETY: a valid map value pointer; a racing store from another CPU only costs a wakeup.
        Some(p) => now.saturating_sub(unsafe { *p }),
        None => u64::MAX,
    };
    let wake = since >= BATCH_WINDOW_NS
        || (since >= CATCH_UP_WAKEUP_NS && EVENTS.query(BPF_RB_AVAIL_DATA) >= EVENTS.query(BPF_RB_RING_SIZE) / 4);
    if wake {
        if let Some(p) = last {
            // SAFETY: as above.
            unsafe { *p = now };
        }
        BPF_RB_FORCE_WAKEUP
    } else {
        BPF_RB_NO_WAKEUP
    }
}

/// Copies `len` bytes at `data` (a record built in scratch memory) into the ring buffer; a full ring
/// counts a drop. `batched`: the high-volume wakeup policy, else the kernel's default wakeup.
/// Returns whether the record is in the ring buffer.
#[inline(always)]
pub(crate) fn output(data: *const u8, len: usize, batched: bool) -> bool {
    let flags = wakeup_flags(batched);
    // SAFETY: `data` is valid for `len` bytes (the caller's scratch record, `len` bounded by it).
    let record = unsafe { core::slice::from_raw_parts(data, len) };
    if EVENTS.output::<[u8]>(record, flags).is_ok() {
        count(counter::EVENTS);
        true
    } else {
        count(counter::RINGBUF_DROPS);
        false
    }
}
