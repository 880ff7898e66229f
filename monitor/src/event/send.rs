//! `send` events: datagrams sent to an address without `connect`, one event per (socket,
//! destination) and second, with the kernel's verdict (UDP) or the path (unix).
use std::path::Path;

use monitor_common::{
    EventKind,
    net::{AF_UNIX, VERDICT_ALLOWED, VERDICT_UNCHECKED},
    send::SendEvent,
};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    connect::tail_bytes,
    net::{Destination, Family, dest_fields, dest_of_record, dest_proto, Verdict, inet_addr, u16_from, unix_name},
    read_record, tail_string,
};
use crate::{
    enrich::resolve::normalize_lexically,
    schema::{self, ConvertError},
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SendInfo {
    #[serde(flatten)]
    pub dest: Destination,
    /// Datagrams this event stands for: 1 for the first to this destination from this socket,
    /// else every one since the previous event.
    pub datagrams: u64,
    /// The kernel's cookie of the socket (the same on every event of one socket).
    pub socket_cookie: u64,
}

impl SendInfo {
    /// The first UDP datagram from a socket to `addr:port`, allowed: what hand-made events
    /// (fixtures, tests) default to.
    pub fn new(family: Family, addr: &str, port: u16) -> Self {
        SendInfo {
            dest: Destination {
                family,
                addr: addr.into(),
                port,
                raw_addr: None,
                sock_type: monitor_common::net::SOCK_DGRAM,
                protocol: monitor_common::net::IPPROTO_UDP,
                verdict: Verdict::Allowed,
                rule_id: None,
            },
            datagrams: 1,
            socket_cookie: 0,
        }
    }
}

impl KindInfo for SendInfo {
    const KIND: EventKind = EventKind::Send;
    const FIELDS: &'static [Field] = dest_fields!(Field::NetDatagrams);

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: SendEvent = read_record(bytes, "send event")?;
        let (addr, raw_addr) = if ev.family == AF_UNIX {
            let raw = unix_name(&tail_bytes(bytes, ev.path).unwrap_or_default());
            let dir = tail_string(bytes, ev.dir_path, "send directory path", notes)?;
            match dir {
                Some(dir) if !raw.starts_with('/') && !raw.starts_with('@') && !raw.is_empty() => {
                    let joined = normalize_lexically(&Path::new(&dir).join(&raw));
                    (joined.to_string_lossy().into_owned(), Some(raw))
                }
                _ => (raw, None),
            }
        } else {
            (inet_addr(ev.family, &ev.addr), None)
        };
        Ok(SendInfo {
            dest: dest_of_record!(
                ev,
                Family::of(ev.family),
                (addr, raw_addr),
                (ev.verdict != VERDICT_ALLOWED && ev.verdict != VERDICT_UNCHECKED).then_some(ev.rule_id)
            ),
            datagrams: ev.datagrams,
            socket_cookie: ev.socket_cookie,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("send ");
        self.dest.describe(line);
        line.lit(" datagrams=").num(self.datagrams);
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::NetDatagrams => Value::Num(self.datagrams),
            _ => return self.dest.field(field),
        })
    }

    dest_proto!(schema::Send { datagrams, socket_cookie });
}

#[cfg(test)]
mod tests {
    use monitor_common::{
        EventKind,
        net::*,
        record::{TAIL_ABSENT, Tail},
        send::SendEvent,
    };

    use crate::event::{Body, Family, Verdict, decode, tests::*};

    #[test]
    fn decodes_destination_count_and_verdict() {
        let absent = Tail {
            flags: TAIL_ABSENT,
            ..Tail::default()
        };
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&[10, 0, 0, 53]);
        let ev = SendEvent {
            header: header(EventKind::Send, size_of::<SendEvent>()),
            socket_cookie: 77,
            datagrams: 5,
            rule_id: 2,
            family: AF_INET,
            port: 53,
            sock_type: SOCK_DGRAM,
            protocol: IPPROTO_UDP,
            verdict: VERDICT_DENIED,
            _pad: [0; 3],
            addr,
            path: absent,
            dir_path: absent,
        };
        let Body::Send(s) = decode(&bytes_of(&ev)).unwrap().body else {
            panic!("not a send")
        };
        assert_eq!((s.dest.family, s.dest.addr.as_str(), s.dest.port), (Family::Inet, "10.0.0.53", 53));
        assert_eq!((s.dest.verdict, s.dest.rule_id, s.datagrams), (Verdict::Denied, Some(2), 5));
        let json = serde_json::to_value(Body::Send(s)).unwrap();
        assert_eq!((json["sock_type"].as_str(), json["kind"].as_str()), (Some("dgram"), Some("send")));
    }

    #[test]
    fn a_unix_send_names_the_path_joined_to_the_working_directory() {
        let path = b"agents/d.sock";
        let dir = b"/run";
        let off = size_of::<SendEvent>();
        let ev = SendEvent {
            header: header(EventKind::Send, off + path.len() + dir.len()),
            socket_cookie: 1,
            datagrams: 1,
            rule_id: 0,
            family: AF_UNIX,
            port: 0,
            sock_type: SOCK_DGRAM,
            protocol: 0,
            verdict: VERDICT_UNCHECKED,
            _pad: [0; 3],
            addr: [0; 16],
            path: Tail {
                off: off as u16,
                len: path.len() as u16,
                flags: 0,
                _pad: 0,
            },
            dir_path: Tail {
                off: (off + path.len()) as u16,
                len: dir.len() as u16,
                flags: 0,
                _pad: 0,
            },
        };
        let mut bytes = bytes_of(&ev);
        bytes.extend_from_slice(path);
        bytes.extend_from_slice(dir);
        let Body::Send(s) = decode(&bytes).unwrap().body else {
            panic!("not a send")
        };
        assert_eq!((s.dest.addr.as_str(), s.dest.raw_addr.as_deref()), ("/run/agents/d.sock", Some("agents/d.sock")));
        assert_eq!((s.dest.family, s.dest.verdict, s.dest.rule_id), (Family::Unix, Verdict::Unchecked, None));
    }
}
