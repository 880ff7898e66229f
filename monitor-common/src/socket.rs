//! `socket`: a socket that reaches below the transport layer or into the kernel — `SOCK_RAW` in
//! any family but netlink, `AF_PACKET`, `AF_NETLINK` of any protocol but `NETLINK_ROUTE` (which
//! every `getaddrinfo` opens). Raw inet and inet6 sockets are seen where the kernel creates them,
//! the cgroup `sock_create` hook, whatever the route (`socket(2)`, `io_uring` `IORING_OP_SOCKET`);
//! everything else, and every failed attempt, at `sys_exit_socket`.
use crate::EventHeader;

/// [`SocketEvent::seen`]: at `sys_exit_socket`, with the syscall's result.
pub const SOCKET_SEEN_SYSCALL: u8 = 0;
/// [`SocketEvent::seen`]: at the cgroup `sock_create` hook (created; no descriptor yet).
pub const SOCKET_SEEN_HOOK: u8 = 1;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct SocketEvent {
    pub header: EventHeader,
    /// The syscall's result: the new descriptor, or `-errno` (0 when seen at the hook).
    pub result: i64,
    pub family: u32,
    /// `type` as passed (`SOCK_NONBLOCK`/`SOCK_CLOEXEC` included); at the hook, the socket's type.
    pub sock_type: u32,
    pub protocol: u32,
    /// `SOCKET_SEEN_*`.
    pub seen: u8,
    pub _pad: [u8; 3],
}
