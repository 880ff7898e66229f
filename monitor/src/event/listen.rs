//! `listen` events: where an agent listens — a stream socket that listens, a UDP or unix datagram
//! socket bound to an address — with the local address as the kernel holds it.
use monitor_common::{
    EventKind,
    listen::{LISTEN_SEEN_BIND, LISTEN_SEEN_BIND_HOOK, LISTEN_SEEN_LISTEN, LISTEN_SEEN_TCP_STATE, ListenEvent},
    net::AF_UNIX,
};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    connect::tail_bytes,
    net::{Family, inet_addr, proto_name, ser_sock_type, sock_type_name, u16_from, unix_name},
    read_record, tail_string,
};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListenInfo {
    pub family: Family,
    /// Local address (IPv4/IPv6 text); unix sockets: the kernel's path of the socket (`@name` for
    /// abstract ones).
    pub addr: String,
    /// Local port (inet), 0 otherwise.
    pub port: u16,
    #[serde(serialize_with = "ser_sock_type")]
    pub sock_type: u16,
    pub protocol: u16,
    /// The socket's descriptor; -1 where the hook does not know it.
    pub fd: i32,
    /// Where it was seen: `sys_exit_listen`, `inet_sock_set_state` (a listen by another route
    /// than the syscall), `cgroup/post_bind` (a UDP bind), `sys_exit_bind` (a unix datagram bind).
    pub seen_at: &'static str,
}

const SEEN: [(u8, &str, schema::ListenSeen); 4] = [
    (LISTEN_SEEN_LISTEN, "sys_exit_listen", schema::ListenSeen::SysExitListen),
    (LISTEN_SEEN_TCP_STATE, "inet_sock_set_state", schema::ListenSeen::InetSockSetState),
    (LISTEN_SEEN_BIND_HOOK, "cgroup/post_bind", schema::ListenSeen::PostBind),
    (LISTEN_SEEN_BIND, "sys_exit_bind", schema::ListenSeen::SysExitBind),
];

impl ListenInfo {
    /// A TCP socket listening on `addr:port` (a unix stream socket for a path or `@name`), seen
    /// at `listen(2)`: what hand-made events (fixtures, tests) default to.
    pub fn new(family: Family, addr: &str, port: u16) -> Self {
        let inet = matches!(family, Family::Inet | Family::Inet6);
        ListenInfo {
            family,
            addr: addr.into(),
            port,
            sock_type: monitor_common::net::SOCK_STREAM,
            protocol: if inet { monitor_common::net::IPPROTO_TCP } else { 0 },
            fd: 3,
            seen_at: "sys_exit_listen",
        }
    }
}

impl KindInfo for ListenInfo {
    const KIND: EventKind = EventKind::Listen;
    const FIELDS: &'static [Field] = &[
        Field::NetFamily,
        Field::NetLocalAddr,
        Field::NetLocalPort,
        Field::NetProto,
        Field::SocketType,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: ListenEvent = read_record(bytes, "listen event")?;
        let addr = if ev.family == AF_UNIX {
            match tail_string(bytes, ev.path, "listen socket path", notes)? {
                Some(p) => p,
                None => tail_bytes(bytes, ev.name).map(|b| unix_name(&b)).unwrap_or_default(),
            }
        } else {
            inet_addr(ev.family, &ev.addr)
        };
        Ok(ListenInfo {
            family: Family::of(ev.family),
            addr,
            port: ev.port,
            sock_type: ev.sock_type,
            protocol: ev.protocol,
            fd: ev.fd,
            seen_at: SEEN
                .iter()
                .find(|(v, _, _)| *v == ev.seen)
                .map_or("sys_exit_listen", |(_, name, _)| *name),
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("listen ").lit(self.family.name()).lit(" ").val(&self.addr);
        if matches!(self.family, Family::Inet | Family::Inet6) {
            line.lit(":").num(self.port);
        }
        let proto = proto_name(self.family, self.protocol);
        if !proto.is_empty() {
            line.lit(" ").lit(proto);
        }
        line.lit(" ").lit(sock_type_name(self.sock_type));
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::NetFamily => Value::Str(self.family.name()),
            Field::NetLocalAddr => Value::Str(&self.addr),
            Field::NetLocalPort => Value::Num(self.port.into()),
            Field::NetProto => Value::Str(proto_name(self.family, self.protocol)),
            Field::SocketType => Value::Str(sock_type_name(self.sock_type)),
            _ => return None,
        })
    }

    type Proto = schema::Listen;

    fn to_proto(&self) -> schema::Listen {
        schema::Listen {
            family: self.family.to_proto() as i32,
            addr: self.addr.clone(),
            port: u32::from(self.port),
            sock_type: u32::from(self.sock_type),
            protocol: u32::from(self.protocol),
            fd: self.fd,
            seen: SEEN
                .iter()
                .find(|(_, name, _)| *name == self.seen_at)
                .map_or(schema::ListenSeen::Unspecified, |(_, _, p)| *p) as i32,
        }
    }

    fn from_proto(p: schema::Listen) -> Result<Self, ConvertError> {
        let seen = schema::ListenSeen::try_from(p.seen).ok();
        Ok(Self {
            family: Family::from_proto(p.family)?,
            addr: p.addr,
            port: u16_from("port", p.port)?,
            sock_type: u16_from("socket type", p.sock_type)?,
            protocol: u16_from("protocol", p.protocol)?,
            fd: p.fd,
            seen_at: SEEN
                .iter()
                .find(|(_, _, s)| Some(*s) == seen)
                .map(|(_, name, _)| *name)
                .ok_or(ConvertError::UnknownEnum {
                    what: "listen hook",
                    value: p.seen,
                })?,
        })
    }
}
