//! What the network kinds (`connect`, `send`, `listen`, `socket`) share: address families, socket
//! types, protocols and the verdict of the cgroup socket hooks.

pub const AF_UNSPEC: u16 = 0;
pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub const AF_NETLINK: u16 = 16;
pub const AF_PACKET: u16 = 17;

/// Socket types (`socket(2)`'s `type` without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`).
pub const SOCK_STREAM: u16 = 1;
pub const SOCK_DGRAM: u16 = 2;
pub const SOCK_RAW: u16 = 3;
pub const SOCK_RDM: u16 = 4;
pub const SOCK_SEQPACKET: u16 = 5;
pub const SOCK_DCCP: u16 = 6;
pub const SOCK_PACKET: u16 = 10;
/// The bits of `type` that are the type (the others are flags).
pub const SOCK_TYPE_MASK: u32 = 0xf;

pub const IPPROTO_ICMP: u16 = 1;
pub const IPPROTO_TCP: u16 = 6;
pub const IPPROTO_UDP: u16 = 17;
pub const IPPROTO_ICMPV6: u16 = 58;
pub const IPPROTO_SCTP: u16 = 132;
pub const IPPROTO_UDPLITE: u16 = 136;
pub const IPPROTO_RAW: u16 = 255;
pub const IPPROTO_MPTCP: u16 = 262;

/// `NETLINK_ROUTE`: the netlink protocol glibc opens for every `getaddrinfo` (not reported).
pub const NETLINK_ROUTE: u32 = 0;

/// What the cgroup socket hook decided.
/// Allowed: no deny rule covers the destination and the agent is not quarantined.
pub const VERDICT_ALLOWED: u8 = 0;
/// Refused with `EPERM` by a deny rule (`rule_id`).
pub const VERDICT_DENIED: u8 = 1;
/// Refused with `EPERM`: the agent is quarantined.
pub const VERDICT_QUARANTINED: u8 = 2;
/// No hook checked it: seen at the syscall's exit only (a unix socket, a socket created outside
/// the watched cgroup that `lsm/socket_connect`, where it loads, did not refuse, an attempt the
/// kernel refused before its hook ran).
pub const VERDICT_UNCHECKED: u8 = 3;
