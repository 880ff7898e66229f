//! Event time: kernel boot-time nanoseconds (`CLOCK_BOOTTIME`, the clock of event timestamps) to
//! wall-clock time, kept as a number and rendered as text only where it is printed.
use std::{
    fmt,
    time::{Duration, UNIX_EPOCH},
};

/// A wall-clock instant in ns since the Unix epoch. Events carry it as a number (copying it costs
/// nothing, the recording stores it as is); [`Display`](fmt::Display) and the JSON form render it as
/// RFC 3339 with microseconds in UTC, the text every output prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WallTime(i64);

impl WallTime {
    pub const fn from_unix_ns(ns: i64) -> Self {
        Self(ns)
    }

    pub const fn unix_ns(self) -> i64 {
        self.0
    }
}

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = UNIX_EPOCH + Duration::from_nanos(self.0.max(0).unsigned_abs());
        fmt::Display::fmt(&humantime::format_rfc3339_micros(t), f)
    }
}

impl serde::Serialize for WallTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

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

    pub(crate) fn wall(&self, ktime_ns: u64) -> WallTime {
        let ns = (self.offset_ns + i128::from(ktime_ns)).clamp(0, i128::from(i64::MAX));
        WallTime(i64::try_from(ns).unwrap_or(i64::MAX))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::WallTime;

    #[test]
    fn renders_rfc3339_micros_in_text_and_json() {
        let t = WallTime::from_unix_ns(1_795_651_205_000_001_999);
        assert_eq!(t.to_string(), "2026-11-26T00:00:05.000001Z");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2026-11-26T00:00:05.000001Z\"");
        assert_eq!(WallTime::default().to_string(), "1970-01-01T00:00:00.000000Z");
    }
}
