//! Typed events decoded from ring-buffer records (wire format in `monitor-common`).
//!
//! One module per kind, mirroring the kernel side. Decoding never trusts the record: sizes are checked
//! and every string is bounded by its buffer.
mod chdir;
mod connect;
mod deny;
mod exec;
mod exit;
mod fork;
mod mount;
mod open;

pub use chdir::ChdirInfo;
pub use connect::{ConnectInfo, Family};
pub use deny::DenyInfo;
pub use exec::{ExecInfo, split_args};
pub use exit::{ExitInfo, exit_status};
pub use fork::ForkInfo;
pub use mount::MountInfo;
pub use open::OpenInfo;

use monitor_common::{EventHeader, EventKind, FLAG_DENIED, FLAG_READ_FAILED, FLAG_TRUNCATED};
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("record of {len} bytes is shorter than the {need}-byte {what}")]
    Short {
        len: usize,
        need: usize,
        what: &'static str,
    },
    #[error("unknown event kind {0}")]
    UnknownKind(u16),
}

/// Fields common to every event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Nanoseconds since boot (CLOCK_BOOTTIME) at the hook.
    pub ktime_ns: u64,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cgroup_id: u64,
    pub comm: String,
    /// A string field was cut to fit its buffer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// A user-memory read failed; some field is empty.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_failed: bool,
    /// The kernel already denied the action.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub denied: bool,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Body {
    Exec(ExecInfo),
    Open(OpenInfo),
    Connect(ConnectInfo),
    Mount(MountInfo),
    Fork(ForkInfo),
    Exit(ExitInfo),
    Deny(DenyInfo),
    Chdir(ChdirInfo),
}

impl Body {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Body::Exec(_) => "exec",
            Body::Open(_) => "open",
            Body::Connect(_) => "connect",
            Body::Mount(_) => "mount",
            Body::Fork(_) => "fork",
            Body::Exit(_) => "exit",
            Body::Deny(_) => "deny",
            Body::Chdir(_) => "chdir",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    #[serde(flatten)]
    pub header: Header,
    #[serde(flatten)]
    pub body: Body,
}

/// Reads a `T` from the start of `bytes`, checking the length.
pub(crate) fn read_record<T: Copy>(bytes: &[u8], what: &'static str) -> Result<T, DecodeError> {
    let need = size_of::<T>();
    if bytes.len() < need {
        return Err(DecodeError::Short {
            len: bytes.len(),
            need,
            what,
        });
    }
    // SAFETY: length checked above; T is a plain-old-data #[repr(C)] wire struct (any bit pattern is
    // valid) and read_unaligned has no alignment requirement.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// The bytes of a NUL-terminated string in a fixed buffer, lossily as UTF-8.
pub(crate) fn c_string(buf: &[u8]) -> String {
    let n = monitor_common::c_str_len(buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn decode_header(h: &EventHeader) -> Header {
    Header {
        ktime_ns: h.ktime_ns,
        pid: h.tgid,
        tid: h.pid,
        ppid: h.ppid,
        uid: h.uid,
        gid: h.gid,
        cgroup_id: h.cgroup_id,
        comm: c_string(&h.comm),
        truncated: h.flags & FLAG_TRUNCATED != 0,
        read_failed: h.flags & FLAG_READ_FAILED != 0,
        denied: h.flags & FLAG_DENIED != 0,
    }
}

/// Decodes one ring-buffer record.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let raw: EventHeader = read_record(bytes, "event header")?;
    let kind = EventKind::from_u16(raw.kind).ok_or(DecodeError::UnknownKind(raw.kind))?;
    let body = match kind {
        EventKind::Exec => Body::Exec(exec::decode(bytes)?),
        EventKind::Open => Body::Open(open::decode(bytes)?),
        EventKind::Connect => Body::Connect(connect::decode(bytes)?),
        EventKind::Mount => Body::Mount(mount::decode(bytes)?),
        EventKind::Fork => Body::Fork(fork::decode(bytes)?),
        EventKind::Exit => Body::Exit(exit::decode(bytes)?),
        EventKind::Deny => Body::Deny(deny::decode(bytes)?),
        EventKind::Chdir => Body::Chdir(chdir::decode(bytes)?),
    };
    Ok(Event {
        header: decode_header(&raw),
        body,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use monitor_common::EventHeader;

    /// A header for hand-built records in unit tests.
    pub fn header(kind: monitor_common::EventKind, size: usize) -> EventHeader {
        let mut comm = [0u8; 16];
        comm[..4].copy_from_slice(b"test");
        EventHeader {
            kind: kind as u16,
            flags: 0,
            size: size as u32,
            ktime_ns: 42,
            pid: 11,
            tgid: 10,
            ppid: 1,
            uid: 0,
            gid: 0,
            _pad: 0,
            cgroup_id: 7,
            comm,
        }
    }

    pub fn bytes_of<T>(v: &T) -> Vec<u8> {
        // SAFETY: test-only view of a #[repr(C)] struct as bytes.
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    #[test]
    fn rejects_short_and_unknown_records() {
        assert!(matches!(
            super::decode(&[1, 2, 3]),
            Err(super::DecodeError::Short { .. })
        ));
        let mut h = header(monitor_common::EventKind::Open, 64);
        h.kind = 999;
        assert_eq!(super::decode(&bytes_of(&h)), Err(super::DecodeError::UnknownKind(999)));
        // A valid header announcing an open event but without its payload.
        let h = header(monitor_common::EventKind::Open, 64);
        assert!(matches!(
            super::decode(&bytes_of(&h)),
            Err(super::DecodeError::Short { .. })
        ));
    }
}
