//! `socket` events: a raw, packet or netlink socket created (or an attempt refused).
use monitor_common::{
    EventKind,
    net::SOCK_TYPE_MASK,
    socket::{SOCKET_SEEN_HOOK, SocketEvent},
};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    net::{Family, proto_name, ser_sock_type, sock_type_name},
    read_record,
};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SocketInfo {
    pub family: Family,
    /// The `AF_*` number as passed.
    pub af: u32,
    /// `SOCK_*` (flags masked off).
    #[serde(serialize_with = "ser_sock_type")]
    pub sock_type: u16,
    /// `SOCK_NONBLOCK`/`SOCK_CLOEXEC` and other bits of `type`.
    pub type_flags: u32,
    /// The protocol as passed (an ethertype in network order for packet sockets, the netlink
    /// family for netlink ones).
    pub protocol: u32,
    /// The syscall's result (the new descriptor, or `-errno`), when seen at its exit; absent for
    /// a raw inet socket seen created at the cgroup `sock_create` hook (by any route; no
    /// descriptor yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<i64>,
}

impl KindInfo for SocketInfo {
    const KIND: EventKind = EventKind::Socket;
    const FIELDS: &'static [Field] = &[
        Field::NetFamily,
        Field::NetProto,
        Field::SocketType,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: SocketEvent = read_record(bytes, "socket event")?;
        Ok(Self::of(
            ev.family,
            ev.sock_type,
            ev.protocol,
            (ev.seen != SOCKET_SEEN_HOOK).then_some(ev.result),
        ))
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("socket ")
            .lit(self.family.name())
            .lit(" ")
            .lit(sock_type_name(self.sock_type));
        let proto = self.proto();
        if !proto.is_empty() {
            line.lit(" ").lit(proto);
        }
        line.lit(" protocol=").num(self.protocol);
        if let Some(r) = self.result.filter(|r| *r < 0) {
            line.lit(" failed errno=").num(-r);
        }
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::NetFamily => Value::Str(self.family.name()),
            Field::NetProto => Value::Str(self.proto()),
            Field::SocketType => Value::Str(sock_type_name(self.sock_type)),
            // Seen created at the hook: it did not fail.
            Field::EvtFailed => Value::Bool(self.result.is_some_and(|r| r < 0)),
            Field::EvtErrno => Value::Num(self.result.unwrap_or(0).min(0).unsigned_abs()),
            _ => return None,
        })
    }

    type Proto = schema::Socket;

    fn to_proto(&self) -> schema::Socket {
        schema::Socket {
            family: self.af,
            sock_type: u32::from(self.sock_type) | self.type_flags,
            protocol: self.protocol,
            result: self.result,
        }
    }

    fn from_proto(p: schema::Socket) -> Result<Self, ConvertError> {
        Ok(Self::of(p.family, p.sock_type, p.protocol, p.result))
    }
}

impl SocketInfo {
    /// A socket of `socket(af, sock_type, protocol)` (`sock_type` with its flags), as the kernel
    /// and the log hold it.
    fn of(af: u32, sock_type: u32, protocol: u32, result: Option<i64>) -> Self {
        SocketInfo {
            family: Family::of(u16::try_from(af).unwrap_or(u16::MAX)),
            af,
            sock_type: (sock_type & SOCK_TYPE_MASK) as u16,
            type_flags: sock_type & !SOCK_TYPE_MASK,
            protocol,
            result,
        }
    }

    /// Where it was seen: `cgroup/sock_create` (created, any route) or `sys_exit_socket`
    /// (result).
    pub fn seen_at(&self) -> &'static str {
        if self.result.is_some() {
            "sys_exit_socket"
        } else {
            "cgroup/sock_create"
        }
    }

    /// `net.proto`: the protocol's name in the family (16-bit protocols only; others `other`).
    fn proto(&self) -> &'static str {
        match u16::try_from(self.protocol) {
            Ok(p) => proto_name(self.family, p),
            Err(_) => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use monitor_common::{
        EventKind,
        socket::{SOCKET_SEEN_HOOK, SOCKET_SEEN_SYSCALL, SocketEvent},
    };

    use crate::event::{Body, Family, KindInfo, Value, decode, field::Field, tests::*};

    #[test]
    fn names_family_type_and_protocol() {
        let ev = SocketEvent {
            header: header(EventKind::Socket, size_of::<SocketEvent>()),
            result: -1,
            family: 17,
            sock_type: 3 | 0o2_000_000,
            protocol: u32::from(0x0003u16.to_be()),
            seen: SOCKET_SEEN_SYSCALL,
            _pad: [0; 3],
        };
        let Body::Socket(s) = decode(&bytes_of(&ev)).unwrap().body else {
            panic!("not a socket")
        };
        assert_eq!(s.family, Family::Packet);
        assert_eq!(s.field(Field::SocketType).and_then(Value::as_str), Some("raw"));
        assert_eq!(s.field(Field::NetProto).and_then(Value::as_str), Some("all"));
        assert_eq!(s.field(Field::EvtErrno).and_then(Value::as_num), Some(1));
        assert_eq!(s.type_flags, 0o2_000_000);
        assert_eq!(s.seen_at(), "sys_exit_socket");
    }

    #[test]
    fn a_socket_seen_at_the_hook_has_no_result_and_did_not_fail() {
        let ev = SocketEvent {
            header: header(EventKind::Socket, size_of::<SocketEvent>()),
            result: 0,
            family: 2,
            sock_type: 3,
            protocol: 1,
            seen: SOCKET_SEEN_HOOK,
            _pad: [0; 3],
        };
        let Body::Socket(s) = decode(&bytes_of(&ev)).unwrap().body else {
            panic!("not a socket")
        };
        assert_eq!((s.result, s.seen_at()), (None, "cgroup/sock_create"));
        assert_eq!(s.field(Field::NetProto).and_then(Value::as_str), Some("icmp"));
        assert_eq!(s.field(Field::EvtFailed), Some(Value::Bool(false)));
        assert_eq!(s.field(Field::EvtErrno).and_then(Value::as_num), Some(0));
    }
}
