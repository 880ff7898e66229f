//! What the network kinds (`connect`, `send`, `listen`, `socket`) share: the address family, the
//! socket's type and protocol by name, the verdict of the cgroup socket hooks, and addresses as
//! text.
use std::net::{Ipv4Addr, Ipv6Addr};

use monitor_common::net::{
    AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_UNIX, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_MPTCP, IPPROTO_RAW,
    IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, SOCK_DCCP, SOCK_DGRAM, SOCK_PACKET, SOCK_RAW, SOCK_RDM,
    SOCK_SEQPACKET, SOCK_STREAM, VERDICT_ALLOWED, VERDICT_DENIED, VERDICT_QUARANTINED,
};
use serde::{Serialize, Serializer};

use super::{Field, Line, Value};
use crate::schema::{self, ConvertError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Inet,
    Inet6,
    Unix,
    Packet,
    Netlink,
    Other,
}

impl Family {
    /// The family of an `AF_*` number.
    pub fn of(af: u16) -> Family {
        match af {
            AF_INET => Family::Inet,
            AF_INET6 => Family::Inet6,
            AF_UNIX => Family::Unix,
            AF_PACKET => Family::Packet,
            AF_NETLINK => Family::Netlink,
            _ => Family::Other,
        }
    }

    pub fn to_proto(self) -> schema::Family {
        match self {
            Family::Inet => schema::Family::Inet,
            Family::Inet6 => schema::Family::Inet6,
            Family::Unix => schema::Family::Unix,
            Family::Packet => schema::Family::Packet,
            Family::Netlink => schema::Family::Netlink,
            Family::Other => schema::Family::Other,
        }
    }

    /// A family as the log stores it (`schema::Family` as `i32`).
    pub fn from_proto(v: i32) -> Result<Family, ConvertError> {
        Ok(match schema::Family::try_from(v) {
            Ok(schema::Family::Inet) => Family::Inet,
            Ok(schema::Family::Inet6) => Family::Inet6,
            Ok(schema::Family::Unix) => Family::Unix,
            Ok(schema::Family::Packet) => Family::Packet,
            Ok(schema::Family::Netlink) => Family::Netlink,
            Ok(schema::Family::Other) => Family::Other,
            _ => {
                return Err(ConvertError::UnknownEnum {
                    what: "address family",
                    value: v,
                });
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
            Family::Unix => "unix",
            Family::Packet => "packet",
            Family::Netlink => "netlink",
            Family::Other => "other",
        }
    }
}

/// `socket.type`: the name of a socket type (`SOCK_*`, flags masked off); empty when unknown.
pub(super) fn sock_type_name(t: u16) -> &'static str {
    match t {
        SOCK_STREAM => "stream",
        SOCK_DGRAM => "dgram",
        SOCK_RAW => "raw",
        SOCK_RDM => "rdm",
        SOCK_SEQPACKET => "seqpacket",
        SOCK_DCCP => "dccp",
        SOCK_PACKET => "packet",
        _ => "",
    }
}

/// `net.proto`: the name of a socket's protocol in its family — inet: `tcp`, `udp`, `icmp`, …;
/// netlink: `route`, `sock_diag`, `netfilter`, `audit`, …; packet: the ethertype (`all`, `ip`,
/// `arp`, `ipv6`); `other` for any other number, empty for 0 in inet (the type's default).
pub(super) fn proto_name(family: Family, p: u16) -> &'static str {
    match family {
        Family::Netlink => match p {
            0 => "route",
            2 => "usersock",
            3 => "firewall",
            4 => "sock_diag",
            5 => "nflog",
            6 => "xfrm",
            7 => "selinux",
            8 => "iscsi",
            9 => "audit",
            10 => "fib_lookup",
            11 => "connector",
            12 => "netfilter",
            15 => "kobject_uevent",
            16 => "generic",
            18 => "scsitransport",
            19 => "ecryptfs",
            20 => "rdma",
            21 => "crypto",
            22 => "smc",
            _ => "other",
        },
        // The protocol of a packet socket is an ethertype in network byte order.
        Family::Packet => match u16::from_be(p) {
            0 => "",
            0x0003 => "all",
            0x0800 => "ip",
            0x0806 => "arp",
            0x86dd => "ipv6",
            _ => "other",
        },
        _ => match p {
            0 => "",
            IPPROTO_TCP => "tcp",
            IPPROTO_UDP => "udp",
            IPPROTO_ICMP => "icmp",
            IPPROTO_ICMPV6 => "icmpv6",
            IPPROTO_SCTP => "sctp",
            IPPROTO_UDPLITE => "udplite",
            IPPROTO_RAW => "raw",
            IPPROTO_MPTCP => "mptcp",
            _ => "other",
        },
    }
}

/// What the cgroup socket hook decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allowed,
    /// Refused with EPERM by a deny rule.
    Denied,
    /// Refused with EPERM: the agent is quarantined.
    Quarantined,
    /// No hook saw it (seen at the syscall's exit only).
    Unchecked,
}

impl Verdict {
    pub fn of(v: u8) -> Verdict {
        match v {
            VERDICT_ALLOWED => Verdict::Allowed,
            VERDICT_DENIED => Verdict::Denied,
            VERDICT_QUARANTINED => Verdict::Quarantined,
            // `VERDICT_UNCHECKED`, and any value a newer kernel side might add.
            _ => Verdict::Unchecked,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Denied => "denied",
            Verdict::Quarantined => "quarantined",
            Verdict::Unchecked => "unchecked",
        }
    }

    /// The kernel refused it.
    pub fn refused(self) -> bool {
        matches!(self, Verdict::Denied | Verdict::Quarantined)
    }

    pub fn to_proto(self) -> schema::Verdict {
        match self {
            Verdict::Allowed => schema::Verdict::Allowed,
            Verdict::Denied => schema::Verdict::Denied,
            Verdict::Quarantined => schema::Verdict::Quarantined,
            Verdict::Unchecked => schema::Verdict::Unchecked,
        }
    }

    /// A verdict as the log stores it; unspecified (a log written before verdicts were recorded)
    /// reads as unchecked.
    pub fn from_proto(v: i32) -> Result<Verdict, ConvertError> {
        Ok(match schema::Verdict::try_from(v) {
            Ok(schema::Verdict::Allowed) => Verdict::Allowed,
            Ok(schema::Verdict::Denied) => Verdict::Denied,
            Ok(schema::Verdict::Quarantined) => Verdict::Quarantined,
            Ok(schema::Verdict::Unchecked | schema::Verdict::Unspecified) => Verdict::Unchecked,
            Err(_) => {
                return Err(ConvertError::UnknownEnum {
                    what: "verdict",
                    value: v,
                });
            }
        })
    }
}

/// An inet address (4 or 16 bytes, by family) as text.
pub(super) fn inet_addr(family: u16, bytes: &[u8; 16]) -> String {
    match family {
        AF_INET => Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        AF_INET6 => Ipv6Addr::from(*bytes).to_string(),
        _ => String::new(),
    }
}

/// A unix socket address (`sun_path` bytes) as text: a path, or `@name` for an abstract socket
/// (every byte after the leading NUL, trailing NULs trimmed).
pub(super) fn unix_name(raw: &[u8]) -> String {
    match raw.first() {
        Some(0) => {
            let name = &raw[1..];
            let end = name.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            format!("@{}", String::from_utf8_lossy(&name[..end]))
        }
        _ => super::c_string(raw),
    }
}

/// Serializes a socket type number by name.
#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's `serialize_with` passes a reference"
)]
pub(super) fn ser_sock_type<S: Serializer>(t: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(sock_type_name(*t))
}

/// `u16::try_from` for a number read back from the log.
pub(super) fn u16_from(what: &'static str, v: u32) -> Result<u16, ConvertError> {
    u16::try_from(v).map_err(|_| ConvertError::OutOfRange {
        what,
        value: u64::from(v),
    })
}

/// Where a connect or a send goes, with the socket and the hook's verdict: what both kinds carry,
/// under the same JSON keys (flattened into each), rule fields and log fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Destination {
    pub family: Family,
    /// IPv4/IPv6 text. Unix sockets: for a connect that succeeded, the kernel's path of the socket
    /// connected to, else the path as passed (joined to the kernel's working directory when
    /// relative, for a send); `@name` for abstract sockets; empty if unread.
    pub addr: String,
    /// Port for inet families, 0 otherwise.
    pub port: u16,
    /// Unix sockets: the path as passed (`@name` for abstract names), when it differs from `addr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_addr: Option<String>,
    /// `SOCK_*` of the socket (0 unknown).
    #[serde(serialize_with = "ser_sock_type")]
    pub sock_type: u16,
    /// `IPPROTO_*` of the socket (0 unknown).
    pub protocol: u16,
    pub verdict: Verdict,
    /// The deny rule that refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<u32>,
}

impl Destination {
    /// `FAMILY ADDR[:PORT][ (as passed: RAW)][ PROTO] VERDICT`, after the kind's word.
    pub(super) fn describe(&self, line: &mut Line<'_>) {
        line.lit(self.family.name()).lit(" ").val(&self.addr);
        if matches!(self.family, Family::Inet | Family::Inet6) {
            line.lit(":").num(self.port);
        }
        if let Some(raw) = &self.raw_addr {
            line.lit(" (as passed: ").val(raw).lit(")");
        }
        let proto = proto_name(self.family, self.protocol);
        if !proto.is_empty() {
            line.lit(" ").lit(proto);
        }
        line.lit(" ").lit(self.verdict.name());
    }

    /// The destination's rule fields (`None` for any other field).
    pub(super) fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::NetFamily => Value::Str(self.family.name()),
            Field::NetAddr => Value::Str(&self.addr),
            Field::NetPort => Value::Num(self.port.into()),
            Field::NetRawAddr => Value::Str(self.raw_addr.as_deref().unwrap_or(&self.addr)),
            Field::NetProto => Value::Str(proto_name(self.family, self.protocol)),
            Field::SocketType => Value::Str(sock_type_name(self.sock_type)),
            Field::NetVerdict => Value::Str(self.verdict.name()),
            _ => return None,
        })
    }
}

/// The [`Destination`] of a kernel record that names one (`ConnectEvent`, `SendEvent`: `port`,
/// `sock_type`, `protocol` and `verdict` under the same names), with the address as decoded and
/// the rule id when the verdict has one.
macro_rules! dest_of_record {
    ($ev:expr, $family:expr, ($addr:expr, $raw_addr:expr), $rule_id:expr) => {{
        let ev = &$ev;
        Destination {
            family: $family,
            addr: $addr,
            port: ev.port,
            raw_addr: $raw_addr,
            sock_type: ev.sock_type,
            protocol: ev.protocol,
            verdict: Verdict::of(ev.verdict),
            rule_id: $rule_id,
        }
    }};
}
pub(super) use dest_of_record;

/// The `FIELDS` of a kind that names a [`Destination`]: the destination's, then the kind's own.
macro_rules! dest_fields {
    ($($own:expr),* $(,)?) => {
        &[
            Field::NetFamily,
            Field::NetAddr,
            Field::NetPort,
            Field::NetRawAddr,
            Field::NetProto,
            Field::SocketType,
            Field::NetVerdict,
            $($own),*
        ]
    };
}
pub(super) use dest_fields;

/// `KindInfo`'s proto conversion of a kind that names a [`Destination`]: the log message `$proto` carries
/// the destination (`family, addr, port, raw_addr, sock_type, protocol, verdict, rule_id`) and the
/// kind's own `$own` fields, all under the same names as the event's (plain copies).
macro_rules! dest_proto {
    ($proto:path { $($own:ident),* $(,)? }) => {
        type Proto = $proto;

        fn to_proto(&self) -> $proto {
            $proto {
                family: self.dest.family.to_proto() as i32,
                addr: self.dest.addr.clone(),
                port: u32::from(self.dest.port),
                raw_addr: self.dest.raw_addr.clone(),
                sock_type: u32::from(self.dest.sock_type),
                protocol: u32::from(self.dest.protocol),
                verdict: self.dest.verdict.to_proto() as i32,
                rule_id: self.dest.rule_id,
                $($own: self.$own,)*
            }
        }

        fn from_proto(p: $proto) -> Result<Self, ConvertError> {
            Ok(Self {
                dest: Destination {
                    family: Family::from_proto(p.family)?,
                    addr: p.addr,
                    port: u16_from("port", p.port)?,
                    raw_addr: p.raw_addr,
                    sock_type: u16_from("socket type", p.sock_type)?,
                    protocol: u16_from("protocol", p.protocol)?,
                    verdict: Verdict::from_proto(p.verdict)?,
                    rule_id: p.rule_id,
                },
                $($own: p.$own,)*
            })
        }
    };
}
pub(super) use dest_proto;
