//! `mount` events.
use monitor_common::mount::{MOUNT_SYSCALL_MOVE_MOUNT, MountEvent};
use serde::Serialize;

use super::{DecodeError, c_string, read_record};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MountInfo {
    pub source: String,
    pub target: String,
    pub fstype: String,
    /// `MS_*` flags (`mount`) or `MOVE_MOUNT_*` flags (`move_mount`).
    pub flags: u64,
    /// `mount` or `move_mount` (new mount API; fstype/source from the earlier fsopen/fsconfig).
    pub syscall: &'static str,
}

pub(super) fn decode(bytes: &[u8]) -> Result<MountInfo, DecodeError> {
    let ev: MountEvent = read_record(bytes, "mount event")?;
    Ok(MountInfo {
        source: c_string(&ev.source),
        target: c_string(&ev.target),
        fstype: c_string(&ev.fstype),
        flags: ev.flags,
        syscall: if ev.syscall == MOUNT_SYSCALL_MOVE_MOUNT {
            "move_mount"
        } else {
            "mount"
        },
    })
}
