//! `connect`: a socket connected (or tried to) to an address. Seen where the kernel decides:
//! inet and inet6 connects at the cgroup `connect4`/`connect6` hooks, whatever the route (the
//! `connect` syscall, `io_uring` `IORING_OP_CONNECT`, TCP Fast Open `sendto`/`sendmsg`), with the
//! verdict; everything those hooks do not see (unix sockets, sockets created outside the watched
//! cgroup, attempts refused before the hook) at `sys_exit_connect`, with the result. A
//! variable-length record (`crate::record`).
pub use crate::net::{AF_INET, AF_INET6, AF_UNIX};
use crate::{EventHeader, record::Tail};

/// Large enough for `sockaddr_un.sun_path`.
pub const CONNECT_ADDR_LEN: usize = 108;

/// Where the event was seen.
/// The cgroup `connect4`/`connect6` hook, or `lsm/socket_connect` refusing it (which runs first,
/// and checks sockets made outside the watched cgroup too): the kernel's copy of the address, the
/// verdict; the result is not known there (`result` is 0).
pub const CONNECT_SEEN_HOOK: u8 = 0;
/// `sys_exit_connect`: the address as passed (read after the kernel copied it), the result.
pub const CONNECT_SEEN_SYSCALL: u8 = 1;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ConnectEvent {
    pub header: EventHeader,
    /// The syscall's result (`CONNECT_SEEN_SYSCALL`: 0 or `-errno`); 0 at the hook.
    pub result: i64,
    /// The socket's descriptor (`CONNECT_SEEN_SYSCALL`); -1 at the hook.
    pub fd: i32,
    /// The deny rule that refused it (`VERDICT_DENIED`).
    pub rule_id: u32,
    /// `sa_family` of the address.
    pub family: u16,
    /// Port in host byte order (inet families).
    pub port: u16,
    /// The socket's type and protocol (`crate::net::SOCK_*`, `IPPROTO_*`); 0 when unknown.
    pub sock_type: u16,
    pub protocol: u16,
    /// `CONNECT_SEEN_*`.
    pub seen: u8,
    /// `crate::net::VERDICT_*`.
    pub verdict: u8,
    pub _pad: [u8; 2],
    /// Bytes of `addr` that hold the address.
    pub addr_len: u32,
    /// `AF_INET`: 4 address bytes; `AF_INET6`: 16 address bytes; `AF_UNIX`: `sun_path` (abstract names
    /// start with NUL).
    pub addr: [u8; CONNECT_ADDR_LEN],
    /// `AF_UNIX`, successful connects: the kernel's path of the socket inode connected to (walked
    /// from the peer socket's `unix_sock.path`), for sockets bound in the filesystem.
    pub peer_path: Tail,
    /// `AF_UNIX`, successful connects: the peer's address as the kernel holds it (`sun_path` bytes;
    /// abstract names start with NUL).
    pub peer_name: Tail,
}
