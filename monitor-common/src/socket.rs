//! `socket`: a socket that reaches below the transport layer or into the kernel — `SOCK_RAW` in
//! any family but netlink, `AF_PACKET`, `AF_NETLINK` of any protocol but `NETLINK_ROUTE` (which
//! every `getaddrinfo` opens) — seen at `sys_exit_socket`, failed attempts included.
use crate::EventHeader;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct SocketEvent {
    pub header: EventHeader,
    /// The syscall's result: the new descriptor, or `-errno`.
    pub result: i64,
    pub family: u32,
    /// `type` as passed (`SOCK_NONBLOCK`/`SOCK_CLOEXEC` included).
    pub sock_type: u32,
    pub protocol: u32,
    pub _pad: u32,
}
