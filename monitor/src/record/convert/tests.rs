//! Round trips of the conversions between agentmon's types and the log schema.
use prost::Message;

use super::*;
use crate::{
    enrich::synthetic,
    event::{ConnectInfo, DenyInfo, ExitInfo, Family, ListenInfo, OpenInfo, SendInfo, SocketInfo, Verdict},
    record::context::ContextCache,
};

/// Through the form an alert embeds.
fn roundtrip(e: &Enriched) -> Enriched {
    let bytes = embedded_event_to_proto(e).encode_to_vec();
    embedded_event_from_proto(proto::Event::decode(bytes.as_slice()).unwrap()).unwrap()
}

/// Through an Event entry and the Context entry it refers to.
fn entry_roundtrip(e: &Enriched) -> Enriched {
    let r = ContextCache::default().context_for(e, time_ns(e), 0);
    let mut contexts = ContextTable::default();
    let ctx = r.define.as_ref().unwrap().encode_to_vec();
    contexts
        .define(proto::Context::decode(ctx.as_slice()).unwrap())
        .unwrap();
    let bytes = event_to_proto(e, &r, time_ns(e)).encode_to_vec();
    event_from_proto(proto::Event::decode(bytes.as_slice()).unwrap(), &contexts).unwrap()
}

fn same(a: &Enriched, b: &Enriched) {
    // Enriched has no PartialEq (it lives in output.rs); its JSON form covers every field.
    assert_eq!(serde_json::to_value(a).unwrap(), serde_json::to_value(b).unwrap());
    assert_eq!(a.event, b.event);
    assert_eq!(a.ancestors, b.ancestors);
    assert_eq!(
        (&a.time, &a.exe, &a.cgroup, &a.agent, &a.resolved_path),
        (&b.time, &b.exe, &b.cgroup, &b.agent, &b.resolved_path)
    );
}

#[test]
fn every_body_kind_round_trips() {
    let events: Vec<_> = (0..8).map(synthetic::every_kind).collect();
    let kinds: std::collections::BTreeSet<_> = events.iter().map(|e| e.event.body.kind_name()).collect();
    assert_eq!(kinds.len(), 8, "{kinds:?}");
    for e in &events {
        same(e, &roundtrip(e));
        same(e, &entry_roundtrip(e));
    }
}

#[test]
fn the_container_round_trips_with_the_process_context() {
    let mut e = synthetic::every_kind(0);
    e.container = Some(Arc::new(ContainerInfo::new(
        "4f1c9a0e2b7d6c5a8e3f1b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e",
        Some("coder"),
        Some("ai/coder:1"),
    )));
    for back in [roundtrip(&e), entry_roundtrip(&e)] {
        same(&e, &back);
        assert_eq!(back.container.as_deref().map(|c| c.id.as_str()), Some("4f1c9a0e2b7d"));
        assert_eq!(back.container_field(|c| &c.name), "coder");
    }
    // A context of another container is another context.
    let mut cache = ContextCache::default();
    let first = cache.context_for(&e, time_ns(&e), 0);
    assert!(first.define.is_some());
    assert!(cache.context_for(&e, time_ns(&e), 1).define.is_none());
    e.container = None;
    assert!(cache.context_for(&e, time_ns(&e), 2).define.is_some());
}

#[test]
fn times_are_recorded_as_instants() {
    let mut e = synthetic::every_kind(0);
    for (ns, back) in [
        (1_795_721_197_123_456_000, "2026-11-26T19:26:37.123456Z"),
        // The outputs render µs; a finer time keeps its instant, rendered to the µs.
        (1_795_721_197_123_456_789, "2026-11-26T19:26:37.123456Z"),
        (0, "1970-01-01T00:00:00.000000Z"),
    ] {
        e.time = WallTime::from_unix_ns(ns);
        let (a, b) = (roundtrip(&e).time, entry_roundtrip(&e).time);
        assert_eq!((a.unix_ns(), b.unix_ns()), (ns, ns));
        assert_eq!((a.to_string(), b.to_string()), (back.to_string(), back.to_string()));
    }
}

#[test]
fn odd_values_round_trip() {
    let both = |e: &Enriched| {
        same(e, &roundtrip(e));
        same(e, &entry_roundtrip(e));
    };
    let mut e = synthetic::every_kind(0);
    e.resolved_path = None;
    e.ancestors.clear();
    e.exe.clear();
    e.event.header.comm = "ünïcode\u{1F600}".into();
    e.event.header.truncated = true;
    e.event.header.read_failed = true;
    e.event.header.denied = true;
    both(&e);
    for dfd in [-100, 0, 5, i32::MIN, i32::MAX] {
        e.event.body = Body::Open(OpenInfo {
            path: "rel/x".into(),
            flags: 0,
            mode: 0,
            dfd,
            syscall: "openat2",
            result: -2,
            kernel_path: None,
            dir_path: Some("/srv/work".into()),
        });
        both(&e);
    }
    for syscall in ["open", "creat", "open_by_handle_at"] {
        e.event.body = Body::Open(OpenInfo {
            path: "../x".into(),
            flags: 0o101,
            mode: 0o600,
            dfd: -100,
            syscall,
            result: i64::from(i32::MAX) + 7,
            kernel_path: Some("/srv/x".into()),
            dir_path: None,
        });
        both(&e);
    }
    for (code, sig) in [(Some(0), None), (None, Some(9)), (None, None)] {
        e.event.body = Body::Exit(ExitInfo {
            exit_code: code,
            signal: sig,
        });
        both(&e);
    }
    for what in ["exec", "open", "mount", "connect", "unknown"] {
        e.event.body = Body::Deny(DenyInfo { what, rule_id: 7 });
        both(&e);
    }
    for family in [Family::Inet, Family::Inet6, Family::Unix, Family::Other] {
        let mut c = ConnectInfo::new(family, "x", u16::MAX);
        c.fd = -1;
        e.event.body = Body::Connect(c);
        both(&e);
    }
    // network
    for verdict in [
        Verdict::Allowed,
        Verdict::Denied,
        Verdict::Quarantined,
        Verdict::Unchecked,
    ] {
        let mut c = ConnectInfo::new(Family::Unix, "/run/agents/b.sock", 0);
        (c.dest.raw_addr, c.dest.verdict, c.dest.rule_id, c.result) =
            (Some("b.sock".into()), verdict, Some(3), Some(-111));
        (c.dest.sock_type, c.dest.protocol) = (5, 0);
        e.event.body = Body::Connect(c);
        both(&e);
        let mut s = SendInfo::new(Family::Inet6, "fd00::53", 53);
        (s.dest.verdict, s.dest.rule_id, s.datagrams, s.socket_cookie) = (verdict, None, 1000, u64::MAX);
        e.event.body = Body::Send(s);
        both(&e);
    }
    for seen_at in [
        "sys_exit_listen",
        "inet_sock_set_state",
        "cgroup/post_bind",
        "sys_exit_bind",
    ] {
        let mut l = ListenInfo::new(Family::Unix, "@agent", 0);
        l.seen_at = seen_at;
        e.event.body = Body::Listen(l);
        both(&e);
    }
    e.event.body = Body::Socket(SocketInfo {
        family: Family::Netlink,
        af: 16,
        sock_type: 3,
        type_flags: 0o2_000_000,
        protocol: 12,
        result: Some(-13),
    });
    both(&e);
    // A raw socket seen created at the cgroup hook: no result.
    e.event.body = Body::Socket(SocketInfo {
        family: Family::Inet,
        af: 2,
        sock_type: 3,
        type_flags: 0,
        protocol: 1,
        result: None,
    });
    both(&e);
}

#[test]
fn alerts_round_trip_by_reference_and_embedded() {
    let ev = synthetic::every_kind(1);
    for (i, priority) in [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ]
    .into_iter()
    .enumerate()
    {
        let action = [Action::Alert, Action::Kill, Action::Quarantine, Action::Deny][i % 4];
        let a = Alert {
            rule: format!("rule {i}"),
            priority,
            tags: vec!["mitre_exfil".into(), "t1".into()],
            action,
            action_result: "killed 3 processes".into(),
            action_latency_us: (i % 2 == 0).then_some(1234),
            output: "cat read /etc/shadow".into(),
            event: ev.clone(),
        };
        let by_ref = alert_to_proto(&a, 42);
        assert!(by_ref.event.is_none());
        assert_eq!(by_ref.event_seq, 42);
        assert!(alert_from_proto(by_ref.clone(), None).is_err(), "needs its event");
        let back = alert_from_proto(by_ref, Some(ev.clone())).unwrap();
        let embedded = alert_from_proto(alert_to_proto(&a, 0), None).unwrap();
        for b in [back, embedded] {
            assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::to_value(&b).unwrap());
        }
    }
}

#[test]
fn rejects_what_the_schema_allows_but_agentmon_cannot_hold() {
    let mut p = embedded_event_to_proto(&synthetic::every_kind(0));
    p.body = Some(proto::event::Body::Connect(proto::Connect {
        family: proto::Family::Inet as i32,
        port: 70_000,
        ..Default::default()
    }));
    assert!(matches!(
        embedded_event_from_proto(p.clone()),
        Err(ConvertError::OutOfRange { .. })
    ));
    p.body = None;
    assert_eq!(
        embedded_event_from_proto(p.clone()).unwrap_err(),
        ConvertError::Missing("event body")
    );
    p.body = Some(proto::event::Body::Open(proto::Open::default()));
    assert!(matches!(
        embedded_event_from_proto(p.clone()),
        Err(ConvertError::UnknownEnum { .. })
    ));
    p.header = None;
    embedded_event_from_proto(p).unwrap_err();
    assert!(priority_from_proto(0).is_err() && priority_from_proto(99).is_err());
    action_from_proto(0).unwrap_err();
}

/// The live recorder's in-place conversion writes the bytes a fresh one writes, whatever entry its
/// scratch held before: every kind after every kind, and opens whose optional strings come and go.
#[test]
fn an_entry_converted_over_an_earlier_one_is_the_entry_converted_afresh() {
    let mut events: Vec<Enriched> = (0..16).map(synthetic::every_kind).collect();
    let p = synthetic::Process::default();
    for (kernel, dir) in [(None, None), (Some("/etc/shadow"), Some("/etc")), (None, Some("/tmp"))] {
        let mut ev = p.event(7, synthetic::open("shadow", 0));
        if let Body::Open(o) = &mut ev.event.body {
            o.kernel_path = kernel.map(str::to_string);
            o.dir_path = dir.map(str::to_string);
        }
        ev.resolved_path = kernel.map(str::to_string);
        events.push(ev);
    }
    let mut scratch = proto::Event::default();
    for (i, before) in events.iter().enumerate() {
        for e in &events {
            let r = ContextCache::default().context_for(e, time_ns(e), 0);
            event_to_proto_into(before, &r, time_ns(before), &mut scratch);
            event_to_proto_into(e, &r, time_ns(e), &mut scratch);
            assert_eq!(
                scratch.encode_to_vec(),
                event_to_proto(e, &r, time_ns(e)).encode_to_vec(),
                "event {i} then {:?}",
                e.event.body.kind_name()
            );
        }
    }
}
