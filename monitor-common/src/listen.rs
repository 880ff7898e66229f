//! `listen`: a socket that accepts connections or datagrams — where an agent listens. TCP (and
//! other stream/seqpacket) sockets at `sys_exit_listen`, with the local address read from the
//! kernel's socket; TCP listens that reach no `listen` syscall (`io_uring` `IORING_OP_LISTEN`) at
//! the `sock:inet_sock_set_state` tracepoint; UDP sockets bound to an address at the cgroup
//! `post_bind4`/`post_bind6` hooks (every route to `bind`); unix datagram sockets bound to a path
//! at `sys_exit_bind`. A variable-length record (`crate::record`).
use crate::{EventHeader, record::Tail};

/// Where the event was seen.
pub const LISTEN_SEEN_LISTEN: u8 = 0;
pub const LISTEN_SEEN_TCP_STATE: u8 = 1;
pub const LISTEN_SEEN_BIND_HOOK: u8 = 2;
pub const LISTEN_SEEN_BIND: u8 = 3;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ListenEvent {
    pub header: EventHeader,
    /// The socket's descriptor (syscall exits); -1 elsewhere.
    pub fd: i32,
    pub family: u16,
    /// Local port, host byte order (inet families).
    pub port: u16,
    pub sock_type: u16,
    pub protocol: u16,
    /// `LISTEN_SEEN_*`.
    pub seen: u8,
    pub _pad: [u8; 3],
    /// Local address: 4 bytes (`AF_INET`) or 16 (`AF_INET6`).
    pub addr: [u8; 16],
    /// `AF_UNIX`: the kernel's path of the socket inode (sockets bound in the filesystem).
    pub path: Tail,
    /// `AF_UNIX`: the bound address as the kernel holds it (`sun_path` bytes; abstract names start
    /// with NUL).
    pub name: Tail,
}
