//! `connect` events: the address a process connects to.
use std::net::{Ipv4Addr, Ipv6Addr};

use monitor_common::{EventKind, connect::{AF_INET, AF_INET6, AF_UNIX, ConnectEvent}};
use serde::Serialize;

use super::{Notes, DecodeError, Field, KindInfo, Line, Value, read_record};
use crate::schema::{self, ConvertError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Inet,
    Inet6,
    Unix,
    Other,
}

impl Family {
    fn to_proto(self) -> schema::Family {
        match self {
            Family::Inet => schema::Family::Inet,
            Family::Inet6 => schema::Family::Inet6,
            Family::Unix => schema::Family::Unix,
            Family::Other => schema::Family::Other,
        }
    }

    /// A family as the log stores it (`schema::Family` as `i32`).
    pub(crate) fn from_proto(v: i32) -> Result<Family, ConvertError> {
        Ok(match schema::Family::try_from(v) {
            Ok(schema::Family::Inet) => Family::Inet,
            Ok(schema::Family::Inet6) => Family::Inet6,
            Ok(schema::Family::Unix) => Family::Unix,
            Ok(schema::Family::Other) => Family::Other,
            _ => {
                return Err(ConvertError::UnknownEnum {
                    what: "address family",
                    value: v,
                });
            }
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
            Family::Unix => "unix",
            Family::Other => "other",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectInfo {
    pub(crate) family: Family,
    /// IPv4/IPv6 text form, or the unix socket path (`@name` for abstract sockets); empty if unread.
    pub addr: String,
    /// Port for inet families, 0 otherwise.
    pub(crate) port: u16,
    pub(crate) fd: i32,
}

impl KindInfo for ConnectInfo {
    const KIND: EventKind = EventKind::Connect;
    const FIELDS: &'static [Field] = &[Field::NetFamily, Field::NetAddr, Field::NetPort];

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: ConnectEvent = read_record(bytes, "connect event")?;
        let n = (ev.addr_len as usize).min(ev.addr.len());
        let raw = &ev.addr[..n];
        let (family, addr) = match ev.family {
            AF_INET if n == 4 => (Family::Inet, Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]).to_string()),
            AF_INET => (Family::Inet, String::new()),
            AF_INET6 if n == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(raw);
                (Family::Inet6, Ipv6Addr::from(a).to_string())
            }
            AF_INET6 => (Family::Inet6, String::new()),
            AF_UNIX => (Family::Unix, unix_path(raw)),
            _ => (Family::Other, String::new()),
        };
        Ok(ConnectInfo {
            family,
            addr,
            port: ev.port,
            fd: ev.fd,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("connect ")
            .lit(self.family.name())
            .lit(" ")
            .val(&self.addr)
            .lit(":")
            .num(self.port);
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::NetFamily => Value::Str(self.family.name()),
            Field::NetAddr => Value::Str(&self.addr),
            Field::NetPort => Value::Num(self.port.into()),
            _ => return None,
        })
    }

    type Proto = schema::Connect;

    fn to_proto(&self) -> schema::Connect {
        schema::Connect {
            family: self.family.to_proto() as i32,
            addr: self.addr.clone(),
            port: u32::from(self.port),
            fd: self.fd,
        }
    }

    fn from_proto(p: schema::Connect) -> Result<Self, ConvertError> {
        Ok(Self {
            family: Family::from_proto(p.family)?,
            addr: p.addr,
            port: u16::try_from(p.port).map_err(|_| ConvertError::OutOfRange {
                what: "port",
                value: u64::from(p.port),
            })?,
            fd: p.fd,
        })
    }
}

fn unix_path(raw: &[u8]) -> String {
    match raw.first() {
        Some(0) => {
            // Abstract socket: name is every byte after the leading NUL (trailing NULs trimmed).
            let name = &raw[1..];
            let end = name.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
            format!("@{}", String::from_utf8_lossy(&name[..end]))
        }
        _ => super::c_string(raw),
    }
}

#[cfg(test)]
mod tests {
    use monitor_common::{EventKind, connect::*};

    use super::Family;
    use crate::event::{Body, decode, tests::*};

    fn event(family: u16, port: u16, bytes: &[u8]) -> ConnectEvent {
        let mut addr = [0u8; CONNECT_ADDR_LEN];
        addr[..bytes.len()].copy_from_slice(bytes);
        ConnectEvent {
            header: header(EventKind::Connect, size_of::<ConnectEvent>()),
            fd: 3,
            family,
            port,
            addrlen: 16,
            addr_len: bytes.len() as u32,
            addr,
            _pad: [0; 4],
        }
    }

    fn info(ev: ConnectEvent) -> super::ConnectInfo {
        match decode(&bytes_of(&ev)).unwrap().body {
            Body::Connect(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn formats_each_family() {
        let c = info(event(AF_INET, 8080, &[169, 254, 169, 254]));
        assert_eq!(
            (c.family, c.addr.as_str(), c.port),
            (Family::Inet, "169.254.169.254", 8080)
        );
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(info(event(AF_INET6, 443, &v6)).addr, "::1");
        assert_eq!(info(event(AF_UNIX, 0, b"/run/agent.sock\0")).addr, "/run/agent.sock");
        assert_eq!(info(event(AF_UNIX, 0, b"\0hidden")).addr, "@hidden");
        // A claimed length beyond the buffer is clamped, never read past.
        let mut ev = event(AF_INET, 1, &[1, 2, 3, 4]);
        ev.addr_len = 10_000;
        assert_eq!(info(ev).addr, "");
    }
}
