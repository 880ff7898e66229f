//! Maps shared between the programs and userspace (names are part of the contract with `monitor`).
use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, PerCpuArray, RingBuf},
};
use monitor_common::{config::KernelConfig, counter};

/// All events, in order per CPU. Userspace may resize it at load time.
#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(8 * 1024 * 1024, 0);

/// Watched cgroup ids (key) → agent slot (value, assigned by userspace).
#[map]
pub static WATCHED: HashMap<u64, u32> = HashMap::with_max_entries(4096, 0);

/// Single entry: offsets and scope levels, written by userspace before attaching.
#[map]
pub static CONFIG: Array<KernelConfig> = Array::with_max_entries(1, 0);

/// Single entry: `bpf_ktime_get_ns()` of the last batched record that forced a reader wakeup (see
/// `header::submit_batched`). Updated with plain loads and stores from every CPU: a lost race costs
/// at most one extra or one fewer wakeup, never a record (userspace's drain covers the window).
#[map]
pub static LAST_WAKEUP: Array<u64> = Array::with_max_entries(1, 0);

/// Per-CPU counters indexed by `monitor_common::counter::*`.
#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

#[inline(always)]
pub fn count(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        unsafe { *slot += 1 };
    }
}

#[inline(always)]
pub fn config() -> Option<&'static KernelConfig> {
    CONFIG.get(0)
}
