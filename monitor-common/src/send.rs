//! `send`: a datagram sent to an address without `connect`. UDP (`sendto`, `sendmsg`, `sendmmsg`,
//! `io_uring` sends) at the cgroup `sendmsg4`/`sendmsg6` hooks, with the verdict; unix datagram
//! sockets at `sys_enter_sendto`/`sendmsg`/`sendmmsg`, with the path as passed (and, for a
//! relative one, the kernel's path of the working directory). One event per (socket,
//! destination) and second: the first datagram to a new destination is always reported, the
//! following ones are counted and reported with the next event for that destination. A
//! variable-length record (`crate::record`).
use crate::{EventHeader, record::Tail};

/// Least time between two events for one (socket, destination), nanoseconds.
pub const SEND_REPORT_INTERVAL_NS: u64 = 1_000_000_000;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct SendEvent {
    pub header: EventHeader,
    /// The kernel's cookie of the sending socket (`bpf_get_socket_cookie`).
    pub socket_cookie: u64,
    /// Datagrams this event stands for: 1 for the first to a destination, else every one sent to
    /// it from this socket since the previous event, this one included.
    pub datagrams: u64,
    /// The deny rule that refused it (`VERDICT_DENIED`).
    pub rule_id: u32,
    pub family: u16,
    /// Destination port, host byte order.
    pub port: u16,
    pub sock_type: u16,
    pub protocol: u16,
    /// `crate::net::VERDICT_*`.
    pub verdict: u8,
    pub _pad: [u8; 3],
    /// Destination address: 4 bytes (`AF_INET`) or 16 (`AF_INET6`).
    pub addr: [u8; 16],
    /// `AF_UNIX`: the destination's `sun_path` bytes as passed (abstract names start with NUL).
    pub path: Tail,
    /// `AF_UNIX`, relative paths: the kernel's path of the sender's working directory.
    pub dir_path: Tail,
}

/// How many messages of one `sendmmsg` are looked at for a unix destination.
pub const SENDMMSG_SCANNED: u32 = 8;

/// Key of the kernel's per-(socket, destination) report state.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SendKey {
    /// The socket: its cookie (UDP), the address of its `struct sock` (unix).
    pub socket_cookie: u64,
    /// The address (inet), two FNV-1a hashes of the path (unix).
    pub addr: [u8; 16],
    pub port: u16,
    pub family: u16,
    pub _pad: u32,
}

/// The report state of one (socket, destination).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SendState {
    /// `bpf_ktime_get_ns` of the last event.
    pub reported_ns: u64,
    /// Datagrams since that event, not yet reported.
    pub unreported: u64,
}
