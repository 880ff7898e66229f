//! `deny`: the kernel side stopped an action synchronously (an `action: deny` rule's table matched,
//! or a quarantined agent connected).
use crate::EventHeader;

/// What the kernel side denied.
pub const DENY_EXEC: u8 = 1;
pub const DENY_OPEN: u8 = 2;
pub const DENY_MOUNT: u8 = 3;
pub const DENY_CONNECT: u8 = 4;
/// A rename, link, symlink, unlink, chmod, chown or truncate of a path (`DENY_CHANGE`).
pub const DENY_CHANGE: u8 = 5;
// mounts, scope, io_uring, code loading
/// `io_uring` refused (at setup, or at a submission to a ring the process got otherwise).
pub const DENY_IO_URING: u8 = 48;

/// The kernel side stopped an action synchronously; `rule_id` names the deny entry that matched.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DenyEvent {
    pub header: EventHeader,
    pub what: u8,
    pub _pad: [u8; 3],
    pub rule_id: u32,
}
