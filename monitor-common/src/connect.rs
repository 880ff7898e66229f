//! `connect`: `connect(2)` at syscall entry.
use crate::EventHeader;

/// Large enough for `sockaddr_un.sun_path`.
pub const CONNECT_ADDR_LEN: usize = 108;

pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ConnectEvent {
    pub header: EventHeader,
    pub fd: i32,
    /// `sa_family`.
    pub family: u16,
    /// Port in host byte order (inet families).
    pub port: u16,
    /// `addrlen` passed to the syscall.
    pub addrlen: u32,
    /// Bytes copied into `addr`.
    pub addr_len: u32,
    /// `AF_INET`: 4 address bytes; `AF_INET6`: 16 address bytes; `AF_UNIX`: `sun_path` (abstract names
    /// start with NUL).
    pub addr: [u8; CONNECT_ADDR_LEN],
    pub _pad: [u8; 4],
}
