//! `mount`: `mount(2)` at syscall entry.
use crate::EventHeader;

pub const MOUNT_SOURCE_LEN: usize = 128;
pub const MOUNT_TARGET_LEN: usize = 192;
pub const MOUNT_FSTYPE_LEN: usize = 32;

/// `mount(2)`.
pub const MOUNT_SYSCALL_MOUNT: u8 = 0;
/// The new mount API: `move_mount(2)` attaching a mount made with `fsopen`/`fsconfig`/`fsmount` (fstype
/// and source remembered from those calls) or `open_tree` (bind; no fstype).
pub const MOUNT_SYSCALL_MOVE_MOUNT: u8 = 1;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct MountEvent {
    pub header: EventHeader,
    /// `MS_*` flags.
    pub flags: u64,
    pub source: [u8; MOUNT_SOURCE_LEN],
    pub target: [u8; MOUNT_TARGET_LEN],
    pub fstype: [u8; MOUNT_FSTYPE_LEN],
    /// One of `MOUNT_SYSCALL_*`.
    pub syscall: u8,
    pub _pad: [u8; 7],
}

/// What the kernel side remembers between `fsopen`/`fsconfig` and `move_mount` (per tgid).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MountPending {
    pub source: [u8; MOUNT_SOURCE_LEN],
    pub fstype: [u8; MOUNT_FSTYPE_LEN],
}
