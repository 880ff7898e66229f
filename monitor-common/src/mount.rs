//! `mount`: every way a mount is made or changed — `mount(2)` and the new mount API's `fsopen`,
//! `fsmount`, `move_mount`, `open_tree` (bind clones included), `mount_setattr` and `fspick` — seen at the
//! syscall's exit, failed attempts included. A variable-length record (`crate::record`).
//!
//! Where the call names a kernel object (a mount fd), its strings are the kernel's: the device name
//! the mount carries (`mount.mnt_devname`), its filesystem type (`sb->s_type->name`) and the path
//! walked from it. Where it only names paths, they are the strings as passed, plus the kernel's path
//! of the directory a relative one starts from.
use crate::{EventHeader, record::Tail};

/// `mount(2)`: everything in one call.
pub const MOUNT_SYSCALL_MOUNT: u8 = 0;
/// `move_mount(2)`: attaches a detached mount (from `fsmount` or `open_tree`), or moves one.
pub const MOUNT_SYSCALL_MOVE_MOUNT: u8 = 1;
/// `fsopen(2)`: a filesystem context is created (the first step of a new-API mount; refused without
/// the privilege to mount).
pub const MOUNT_SYSCALL_FSOPEN: u8 = 2;
/// `fsmount(2)`: the context becomes a detached mount, usable through its fd without `move_mount`.
pub const MOUNT_SYSCALL_FSMOUNT: u8 = 3;
/// `open_tree(2)`: an fd of a mount tree; with `OPEN_TREE_CLONE`, a detached copy of it (a bind
/// mount not yet attached anywhere).
pub const MOUNT_SYSCALL_OPEN_TREE: u8 = 4;
/// `mount_setattr(2)`: a mount's attributes change (read-only, nosuid, idmap, propagation, …).
pub const MOUNT_SYSCALL_MOUNT_SETATTR: u8 = 5;
/// `open_tree_attr(2)` (Linux 6.15+): `open_tree` with `mount_setattr`'s attributes for the clone.
pub const MOUNT_SYSCALL_OPEN_TREE_ATTR: u8 = 6;
/// `fspick(2)`: a context to reconfigure an existing mount's superblock (`fsconfig`'s
/// `FSCONFIG_CMD_RECONFIGURE` then applies it, e.g. a remount read-write).
pub const MOUNT_SYSCALL_FSPICK: u8 = 7;

/// `MountEvent::detached`: the mount object the call produced or changed is not attached to any
/// mount tree (an `fsmount` fd, an `open_tree(OPEN_TREE_CLONE)` fd, or a `mount_setattr` on one).
pub const MOUNT_DETACHED: u8 = 1;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct MountEvent {
    pub header: EventHeader,
    /// The syscall's result: 0 or a new fd, or `-errno`.
    pub result: i64,
    /// `mount`: `MS_*`; `move_mount`: `MOVE_MOUNT_*`; `fsopen`: `FSOPEN_*`; `fsmount`: `FSMOUNT_*`;
    /// `open_tree`: `OPEN_TREE_*` and `AT_*`; `mount_setattr`: `AT_*`.
    pub flags: u64,
    /// `fsmount`: its `attr_flags` (`MOUNT_ATTR_*`); `mount_setattr`: `mount_attr.attr_set`.
    pub attr_set: u64,
    /// `mount_setattr`: `mount_attr.attr_clr`.
    pub attr_clr: u64,
    /// `mount_setattr`: `mount_attr.propagation` (`MS_SHARED`, `MS_PRIVATE`, …).
    pub propagation: u64,
    /// The directory fd the target (`open_tree`: the source) path is relative to; `move_mount`:
    /// `to_dfd`; `fsmount`: the filesystem context fd; -1 when the call has none.
    pub dfd: i32,
    /// `move_mount`: `from_dfd`; -1 otherwise.
    pub from_dfd: i32,
    /// One of `MOUNT_SYSCALL_*`.
    pub syscall: u8,
    /// `MOUNT_DETACHED` or 0.
    pub detached: u8,
    pub _pad: [u8; 6],
    /// The source as passed (`mount`: `dev_name`; `move_mount`: `from_pathname`; `open_tree`: its
    /// path), or the mount object's device name when the call names a mount by fd.
    pub source: Tail,
    /// The kernel's path of the source object (`open_tree` without `OPEN_TREE_CLONE`).
    pub kernel_source: Tail,
    /// The kernel's path of the directory a relative source path starts from.
    pub source_dir: Tail,
    /// The target as passed (`mount`: `dir_name`; `move_mount`: `to_pathname`; `mount_setattr`:
    /// its path).
    pub target: Tail,
    /// The kernel's path of the target object: where `move_mount` attached the mount (walked from
    /// the moved mount after the call), the mount `mount_setattr` changed.
    pub kernel_target: Tail,
    /// The kernel's path of the directory a relative target path starts from.
    pub target_dir: Tail,
    /// The filesystem type as passed (`mount`, `fsopen`), or the mount object's (`sb->s_type->name`).
    pub fstype: Tail,
}

/// Longest source, fstype or device name read (a `mount(2)` source may be a path: `PATH_MAX`).
pub const MOUNT_STRING_MAX: usize = crate::record::PATH_MAX;
