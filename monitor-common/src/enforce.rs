//! Kernel deny tables, filled by userspace from rules with `action: deny`, and the quarantine set.

/// Bytes of path compared by the deny tries (LPM trie data limit is 256 bytes).
pub const DENY_PATH_LEN: usize = 256;
pub const DENY_FSTYPE_LEN: usize = 32;

/// LPM-trie key data for path prefixes. An exact-path entry includes the terminating NUL in its
/// prefix length, so it only matches that very string; a prefix entry does not.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct PathKey {
    pub data: [u8; DENY_PATH_LEN],
}

/// Value of a path deny entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathRule {
    pub rule_id: u32,
    /// `PATH_RULE_*` bits.
    pub flags: u32,
}

/// Only deny opens for writing (`O_WRONLY`/`O_RDWR`/`O_CREAT`/`O_TRUNC`).
pub const PATH_RULE_WRITE_ONLY: u32 = 1;

/// Value of a network deny entry (LPM tries keyed by IPv4/IPv6 address bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetRule {
    pub rule_id: u32,
    /// Destination port in host order; 0 = any port.
    pub port: u16,
    pub _pad: u16,
}

/// Key of the "deny any mount" entry in the fstype table (all zero).
pub const MOUNT_ANY_KEY: [u8; DENY_FSTYPE_LEN] = [0; DENY_FSTYPE_LEN];

/// Bits of `KernelConfig::deny_kinds`: which deny tables have entries (so programs skip empty ones).
pub const DENY_KIND_EXEC: u32 = 1 << 0;
pub const DENY_KIND_OPEN: u32 = 1 << 1;
pub const DENY_KIND_MOUNT: u32 = 1 << 2;
pub const DENY_KIND_CONNECT: u32 = 1 << 3;
/// `DENY_CHANGE` has entries: rules that refuse renames onto, links and symlinks at, unlinks,
/// chmods, chowns and truncations of paths (enforced by the BPF LSM `path_*` hooks only).
pub const DENY_KIND_CHANGE: u32 = 1 << 4;
// mounts, scope, io_uring, code loading (a high bit, clear of the ones other kinds take next)
/// An `action: deny` rule refuses `io_uring` to watched agents (`DENY_IO_URING` holds its rule id):
/// `io_uring_setup` and every submission kill the caller before it returns.
pub const DENY_KIND_IO_URING: u32 = 1 << 12;

/// Set with `DENY_KIND_OPEN` when the BPF LSM `file_open` program is attached: it refuses denied
/// opens with `-EPERM` before they have an effect, so the open tracepoints only report them and do
/// not kill (a kernel without BPF LSM leaves it clear: the tracepoint kills at the syscall's exit).
pub const DENY_VIA_LSM_OPEN: u32 = 1 << 20;
/// Set with `DENY_KIND_EXEC` when the BPF LSM `bprm_check_security` program is attached: a denied
/// exec fails with EPERM before the new program is loaded (the caller lives on), and the exec
/// tracepoints report it flagged denied.
pub const DENY_VIA_LSM_EXEC: u32 = 1 << 21;

/// Set with `DENY_KIND_MOUNT` when the BPF LSM `sb_mount` and `move_mount` programs are attached:
/// a denied `mount(2)` or `move_mount` fails with EPERM before the mount tree changes, and its mount
/// event is flagged denied instead of its caller killed (the new API's other steps keep the kill).
pub const DENY_VIA_LSM_MOUNT: u32 = 1 << 22;

/// Set with `DENY_KIND_CHANGE` when the BPF LSM `path_*` programs are attached: a denied rename,
/// link, symlink, unlink, rmdir, chmod, chown or truncate fails with EPERM before the name or the
/// file changes, and its event at the syscall's exit is flagged denied. Without them no kernel
/// program checks `DENY_CHANGE` (userspace kills the caller after the change).
pub const DENY_VIA_LSM_CHANGE: u32 = 1 << 23;

/// `PathRule::flags` of a `DENY_CHANGE` entry: the changes it refuses. An entry carries the bits of
/// every entry whose path covers it too (userspace merges them), since the trie answers with the
/// longest matching entry only.
pub const CHANGE_RENAME: u32 = 1 << 1;
pub const CHANGE_LINK: u32 = 1 << 2;
pub const CHANGE_SYMLINK: u32 = 1 << 3;
/// `unlink`, `unlinkat` (with or without `AT_REMOVEDIR`) and `rmdir`.
pub const CHANGE_UNLINK: u32 = 1 << 4;
pub const CHANGE_CHMOD: u32 = 1 << 5;
pub const CHANGE_CHOWN: u32 = 1 << 6;
pub const CHANGE_TRUNCATE: u32 = 1 << 7;

/// `rule_id` reported for connects refused because the agent is quarantined.
pub const RULE_ID_QUARANTINE: u32 = u32::MAX;

#[cfg(feature = "user")]
mod pod {
    // SAFETY: repr(C), Copy, a byte array: any bit pattern is valid.
    unsafe impl aya::Pod for super::PathKey {}
    // SAFETY: repr(C), Copy, two u32: no padding, any bit pattern is valid.
    unsafe impl aya::Pod for super::PathRule {}
    // SAFETY: repr(C), Copy, integers with the padding spelled out as `_pad`: any bit pattern is valid.
    unsafe impl aya::Pod for super::NetRule {}
}
