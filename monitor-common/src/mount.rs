//! `mount`: `mount(2)` at syscall entry.
use crate::EventHeader;

pub const MOUNT_SOURCE_LEN: usize = 128;
pub const MOUNT_TARGET_LEN: usize = 192;
pub const MOUNT_FSTYPE_LEN: usize = 32;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct MountEvent {
    pub header: EventHeader,
    /// `MS_*` flags.
    pub flags: u64,
    pub source: [u8; MOUNT_SOURCE_LEN],
    pub target: [u8; MOUNT_TARGET_LEN],
    pub fstype: [u8; MOUNT_FSTYPE_LEN],
}
