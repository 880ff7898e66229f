//! Event time: kernel boot-time nanoseconds (`CLOCK_BOOTTIME`, the clock of event timestamps) to
//! wall-clock time.
/// Converts kernel boot-time nanoseconds to wall-clock time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    /// realtime − boottime, in ns.
    offset_ns: i128,
}

impl Clock {
    pub(crate) fn new() -> Self {
        let read = |id| {
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: clock_gettime writes into the timespec we own.
            unsafe { libc::clock_gettime(id, &raw mut ts) };
            i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
        };
        Self {
            offset_ns: read(libc::CLOCK_REALTIME) - read(libc::CLOCK_BOOTTIME),
        }
    }

    pub(crate) fn wall_ns(&self, ktime_ns: u64) -> i128 {
        self.offset_ns + i128::from(ktime_ns)
    }

    pub(crate) fn rfc3339(&self, ktime_ns: u64) -> String {
        let ns = self.wall_ns(ktime_ns).max(0) as u128;
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns as u64);
        humantime::format_rfc3339_micros(t).to_string()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
