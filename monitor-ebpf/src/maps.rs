//! Maps shared between the programs and userspace (their names are the contract in
//! `monitor_common::maps`), the counters, and [`OrCount`]: how an early return that loses an event
//! is counted.
use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, PerCpuArray, RingBuf},
};
use monitor_common::{config::KernelConfig, counter, maps as names};

/// All events, in order per CPU. Userspace may resize it at load time.
#[map]
pub(crate) static EVENTS: RingBuf = RingBuf::with_byte_size(8 * 1024 * 1024, 0);
named!(EVENTS = names::EVENTS);

/// Watched cgroup ids (key); the value is `monitor_common::maps::PRESENT`, never read.
#[map]
pub(crate) static WATCHED: HashMap<u64, u32> = HashMap::with_max_entries(4096, 0);
named!(WATCHED = names::WATCHED);

/// Single entry: offsets and scope levels, written by userspace before attaching.
#[map]
pub(crate) static CONFIG: Array<KernelConfig> = Array::with_max_entries(1, 0);
named!(CONFIG = names::CONFIG);

/// Single entry: `bpf_ktime_get_ns()` of the last record that woke the reader (a batched one that
/// forced a wakeup, or one submitted with the default wakeup; see `submit::wakeup_flags`). Updated
/// with plain loads and stores from every CPU: a lost race costs at most one extra or one fewer
/// wakeup, never a record (userspace's drain covers the window).
#[map]
pub(crate) static LAST_WAKEUP: Array<u64> = Array::with_max_entries(1, 0);
named!(LAST_WAKEUP = names::LAST_WAKEUP);

/// Per-CPU counters indexed by `monitor_common::counter::*`.
#[map]
pub(crate) static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);
named!(COUNTERS = names::COUNTERS);

/// Adds one to counter `index` of this CPU.
#[inline(always)]
pub(crate) fn count(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: a valid per-CPU slot of this CPU; programs do not migrate while running.
        unsafe { *slot += 1 };
    }
}

/// The configuration userspace wrote; a missing entry loses the event (counted `NO_CONFIG`).
#[inline(always)]
pub(crate) fn config() -> Option<&'static KernelConfig> {
    CONFIG.get(0).or_count(counter::NO_CONFIG)
}

/// An early return that loses an event is counted: `value.or_count(counter::REASON)?`.
pub(crate) trait OrCount<T> {
    /// `None` (or `Err`) counts one under `reason` (a `monitor_common::counter` index).
    fn or_count(self, reason: u32) -> Option<T>;
}

impl<T> OrCount<T> for Option<T> {
    #[inline(always)]
    fn or_count(self, reason: u32) -> Option<T> {
        if self.is_none() {
            count(reason);
        }
        self
    }
}

impl<T, E> OrCount<T> for Result<T, E> {
    #[inline(always)]
    fn or_count(self, reason: u32) -> Option<T> {
        self.ok().or_count(reason)
    }
}
