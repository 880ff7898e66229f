//! Network syscalls and `sock/inet_sock_set_state`.
use core::mem::offset_of;

use super::{Field, Layout, SYSCALL_NR, SysEnterArgs, TraceEntry};

syscall_args! {
    /// `connect(int fd, struct sockaddr *uservaddr, int addrlen)`.
    ConnectArgs { fd, addr = "uservaddr", addrlen }

    /// `socket(int family, int type, int protocol)`.
    SocketArgs { family, sock_type = "type", protocol }

    /// `bind(int fd, struct sockaddr *umyaddr, int addrlen)`.
    BindArgs { fd, addr = "umyaddr", addrlen }

    /// `sendto(int fd, void *buff, size_t len, unsigned int flags, struct sockaddr *addr, int addr_len)`.
    SendtoArgs { fd, buff, len, flags, addr, addr_len }

    /// `sendmsg(int fd, struct user_msghdr *msg, unsigned int flags)`.
    SendmsgArgs { fd, msg, flags }

    /// `sendmmsg(int fd, struct mmsghdr *mmsg, unsigned int vlen, unsigned int flags)`.
    SendmmsgArgs { fd, mmsg, vlen, flags }

    /// `listen(int fd, int backlog)`.
    ListenArgs { fd, backlog }
}

/// The `sock/inet_sock_set_state` record: a TCP (or SCTP, MPTCP) socket changed state.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct InetSockSetState {
    pub common: TraceEntry,
    pub skaddr: u64,
    pub oldstate: i32,
    pub newstate: i32,
    /// Local and remote port, host order.
    pub sport: u16,
    pub dport: u16,
    pub family: u16,
    pub protocol: u16,
    pub saddr: [u8; 4],
    pub daddr: [u8; 4],
    pub saddr_v6: [u8; 16],
    pub daddr_v6: [u8; 16],
}

/// `TCP_LISTEN` in `InetSockSetState::newstate`.
pub const TCP_LISTEN: i32 = 10;

impl Layout for InetSockSetState {
    const FIELDS: &'static [Field] = &[
        Field {
            name: "skaddr",
            offset: offset_of!(InetSockSetState, skaddr),
            size: 8,
        },
        Field {
            name: "oldstate",
            offset: offset_of!(InetSockSetState, oldstate),
            size: 4,
        },
        Field {
            name: "newstate",
            offset: offset_of!(InetSockSetState, newstate),
            size: 4,
        },
        Field {
            name: "sport",
            offset: offset_of!(InetSockSetState, sport),
            size: 2,
        },
        Field {
            name: "dport",
            offset: offset_of!(InetSockSetState, dport),
            size: 2,
        },
        Field {
            name: "family",
            offset: offset_of!(InetSockSetState, family),
            size: 2,
        },
        Field {
            name: "protocol",
            offset: offset_of!(InetSockSetState, protocol),
            size: 2,
        },
        Field {
            name: "saddr",
            offset: offset_of!(InetSockSetState, saddr),
            size: 4,
        },
        Field {
            name: "daddr",
            offset: offset_of!(InetSockSetState, daddr),
            size: 4,
        },
        Field {
            name: "saddr_v6",
            offset: offset_of!(InetSockSetState, saddr_v6),
            size: 16,
        },
        Field {
            name: "daddr_v6",
            offset: offset_of!(InetSockSetState, daddr_v6),
            size: 16,
        },
    ];
}
