//! `mount` events.
use monitor_common::mount::MountEvent;
use serde::Serialize;

use super::{DecodeError, c_string, read_record};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MountInfo {
    pub source: String,
    pub target: String,
    pub fstype: String,
    /// `MS_*` flags.
    pub flags: u64,
}

pub(super) fn decode(bytes: &[u8]) -> Result<MountInfo, DecodeError> {
    let ev: MountEvent = read_record(bytes, "mount event")?;
    Ok(MountInfo {
        source: c_string(&ev.source),
        target: c_string(&ev.target),
        fstype: c_string(&ev.fstype),
        flags: ev.flags,
    })
}
