//! `connect` events: the address a socket connected to (or tried to), with the kernel's verdict;
//! for unix sockets, the socket the kernel connected it to.
use monitor_common::{
    EventKind,
    connect::{AF_INET, AF_INET6, AF_UNIX, CONNECT_SEEN_HOOK, ConnectEvent},
    net::VERDICT_ALLOWED,
};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    net::{Destination, Family, dest_fields, dest_of_record, dest_proto, Verdict, inet_addr, u16_from, unix_name},
    read_record, tail_string,
};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ConnectInfo {
    #[serde(flatten)]
    pub dest: Destination,
    /// The socket's descriptor; -1 when seen at the cgroup hook (which does not know it).
    pub fd: i32,
    /// The syscall's result (0 or `-errno`), when seen at its exit; the cgroup hook sees the
    /// attempt and its verdict, not its outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<i64>,
}

impl ConnectInfo {
    /// A connect of a TCP socket (or a unix stream socket) seen at the hook and allowed: what
    /// hand-made events (fixtures, tests) default to.
    pub fn new(family: Family, addr: &str, port: u16) -> Self {
        let inet = matches!(family, Family::Inet | Family::Inet6);
        ConnectInfo {
            dest: Destination {
                family,
                addr: addr.into(),
                port,
                raw_addr: None,
                sock_type: monitor_common::net::SOCK_STREAM,
                protocol: if inet { monitor_common::net::IPPROTO_TCP } else { 0 },
                verdict: if inet { Verdict::Allowed } else { Verdict::Unchecked },
                rule_id: None,
            },
            fd: -1,
            result: if inet { None } else { Some(0) },
        }
    }

    /// Where it was seen: `cgroup/connect` (every route, verdict) or `sys_exit_connect` (result).
    pub fn seen_at(&self) -> &'static str {
        if self.result.is_some() {
            "sys_exit_connect"
        } else {
            "cgroup/connect"
        }
    }
}

impl KindInfo for ConnectInfo {
    const KIND: EventKind = EventKind::Connect;
    const FIELDS: &'static [Field] = dest_fields!(Field::EvtFailed, Field::EvtErrno);

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: ConnectEvent = read_record(bytes, "connect event")?;
        let n = (ev.addr_len as usize).min(ev.addr.len());
        let raw = &ev.addr[..n];
        let (family, addr) = match ev.family {
            AF_INET | AF_INET6 if n == 4 || n == 16 => {
                let mut a = [0u8; 16];
                a[..n].copy_from_slice(raw);
                (Family::of(ev.family), inet_addr(ev.family, &a))
            }
            AF_UNIX => (Family::Unix, unix_name(raw)),
            af => (Family::of(af), String::new()),
        };
        let kernel = match tail_string(bytes, ev.peer_path, "connect peer path", notes)? {
            Some(path) => Some(path),
            None => tail_bytes(bytes, ev.peer_name).map(|b| unix_name(&b)),
        };
        let (addr, raw_addr) = match kernel {
            Some(k) if k != addr => (k, Some(addr)),
            _ => (addr, None),
        };
        let at_hook = ev.seen == CONNECT_SEEN_HOOK;
        Ok(ConnectInfo {
            dest: dest_of_record!(
                ev,
                family,
                (addr, raw_addr),
                (at_hook && ev.verdict != VERDICT_ALLOWED).then_some(ev.rule_id)
            ),
            fd: ev.fd,
            result: (!at_hook).then_some(ev.result),
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("connect ");
        self.dest.describe(line);
        if let Some(r) = self.result.filter(|r| *r < 0) {
            line.lit(" failed errno=").num(-r);
        }
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::EvtFailed => Value::Bool(self.result? < 0),
            Field::EvtErrno => Value::Num(self.result?.min(0).unsigned_abs()),
            _ => return self.dest.field(field),
        })
    }

    dest_proto!(schema::Connect { fd, result });
}

/// The bytes a record's tail names (`None` when absent, unreadable or out of bounds).
pub(super) fn tail_bytes(record: &[u8], t: monitor_common::record::Tail) -> Option<Vec<u8>> {
    use monitor_common::record::{TAIL_ABSENT, TAIL_NO_ROOM, TAIL_READ_FAILED};
    if t.flags & (TAIL_ABSENT | TAIL_NO_ROOM | TAIL_READ_FAILED) != 0 {
        return None;
    }
    let (off, len) = (usize::from(t.off), usize::from(t.len));
    record.get(off..off + len).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use monitor_common::{
        EventKind,
        connect::*,
        net::{SOCK_STREAM, VERDICT_ALLOWED, VERDICT_DENIED, VERDICT_UNCHECKED},
        record::{TAIL_ABSENT, Tail},
    };

    use crate::event::{Body, Family, KindInfo, Value, Verdict, decode, tests::*};

    fn event(family: u16, port: u16, bytes: &[u8]) -> ConnectEvent {
        let mut addr = [0u8; CONNECT_ADDR_LEN];
        addr[..bytes.len()].copy_from_slice(bytes);
        let absent = Tail {
            flags: TAIL_ABSENT,
            ..Tail::default()
        };
        ConnectEvent {
            header: header(EventKind::Connect, size_of::<ConnectEvent>()),
            result: 0,
            fd: -1,
            rule_id: 0,
            family,
            port,
            sock_type: SOCK_STREAM,
            protocol: 6,
            seen: CONNECT_SEEN_HOOK,
            verdict: VERDICT_ALLOWED,
            _pad: [0; 2],
            addr_len: bytes.len() as u32,
            addr,
            peer_path: absent,
            peer_name: absent,
        }
    }

    fn info_of(bytes: &[u8]) -> super::ConnectInfo {
        match decode(bytes).unwrap().body {
            Body::Connect(c) => c,
            other => panic!("{other:?}"),
        }
    }

    fn info(ev: ConnectEvent) -> super::ConnectInfo {
        info_of(&bytes_of(&ev))
    }

    #[test]
    fn formats_each_family() {
        let c = info(event(AF_INET, 8080, &[169, 254, 169, 254]));
        assert_eq!(
            (c.dest.family, c.dest.addr.as_str(), c.dest.port),
            (Family::Inet, "169.254.169.254", 8080)
        );
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(info(event(AF_INET6, 443, &v6)).dest.addr, "::1");
        assert_eq!(info(event(AF_UNIX, 0, b"/run/agent.sock\0")).dest.addr, "/run/agent.sock");
        assert_eq!(info(event(AF_UNIX, 0, b"\0hidden")).dest.addr, "@hidden");
        // A claimed length beyond the buffer is clamped, never read past.
        let mut ev = event(AF_INET, 1, &[1, 2, 3, 4]);
        ev.addr_len = 10_000;
        assert_eq!(info(ev).dest.addr, "");
    }

    #[test]
    fn the_hook_gives_the_verdict_and_the_exit_the_result() {
        let mut ev = event(AF_INET, 80, &[169, 254, 169, 254]);
        ev.verdict = VERDICT_DENIED;
        ev.rule_id = 3;
        let c = info(ev);
        assert_eq!((c.dest.verdict, c.dest.rule_id, c.result), (Verdict::Denied, Some(3), None));
        assert_eq!(c.seen_at(), "cgroup/connect");
        assert_eq!(c.field(crate::event::Field::EvtFailed), None, "the hook does not know the result");

        let mut ev = event(AF_INET, 80, &[10, 0, 0, 1]);
        (ev.seen, ev.verdict, ev.result, ev.fd) = (CONNECT_SEEN_SYSCALL, VERDICT_UNCHECKED, -22, 3);
        let c = info(ev);
        assert_eq!((c.dest.verdict, c.dest.rule_id, c.result, c.fd), (Verdict::Unchecked, None, Some(-22), 3));
        assert_eq!(c.field(crate::event::Field::EvtErrno).and_then(Value::as_num), Some(22));
    }

    #[test]
    fn a_unix_connect_names_the_socket_the_kernel_connected_to() {
        let mut ev = event(AF_UNIX, 0, b"link.sock\0");
        (ev.seen, ev.verdict) = (CONNECT_SEEN_SYSCALL, VERDICT_UNCHECKED);
        let path = b"/run/agents/b.sock";
        let off = size_of::<ConnectEvent>();
        ev.peer_path = Tail {
            off: off as u16,
            len: path.len() as u16,
            flags: 0,
            _pad: 0,
        };
        ev.header.size = (off + path.len()) as u32;
        let mut bytes = bytes_of(&ev);
        bytes.extend_from_slice(path);
        let c = info_of(&bytes);
        assert_eq!(c.dest.addr, "/run/agents/b.sock");
        assert_eq!(c.dest.raw_addr.as_deref(), Some("link.sock"));

        // An abstract peer: its name as the kernel holds it.
        let mut ev = event(AF_UNIX, 0, b"\0svc");
        (ev.seen, ev.verdict) = (CONNECT_SEEN_SYSCALL, VERDICT_UNCHECKED);
        ev.peer_name = Tail {
            off: off as u16,
            len: 4,
            flags: 0,
            _pad: 0,
        };
        ev.header.size = (off + 4) as u32;
        let mut bytes = bytes_of(&ev);
        bytes.extend_from_slice(b"\0svc");
        let c = info_of(&bytes);
        assert_eq!((c.dest.addr.as_str(), c.dest.raw_addr), ("@svc", None));
    }
}
