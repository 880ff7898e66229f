//! The fast decoder against prost and the general path, on every kind and on damaged input.
use proptest::prelude::*;

use super::*;
use crate::{enrich::synthetic::every_kind, record::context::ContextCache};

/// `n` events of the kinds a recorded agent's log is made of (exec, open, connect, fork, exit).
fn recorded_shapes(n: usize) -> Vec<Enriched> {
    // The kinds the fast path knows (the high-volume ones; exec, mount, deny, chdir take prost's).
    let usual = |e: &Enriched| {
        !matches!(
            e.event.body,
            Body::Exec(_) | Body::Mount(_) | Body::Deny(_) | Body::Chdir(_)
        )
    };
    (0..)
        .map(every_kind)
        .filter(usual)
        .take(n)
        .enumerate()
        .map(|(i, mut e)| {
            // The agent's root makes some of them.
            e.facts.agent_root = i % 5 == 0;
            e
        })
        .collect()
}

/// Encodes `events` as a writer would: (is a context, payload) of each Context and Event entry.
fn frames(events: impl IntoIterator<Item = Enriched>) -> Vec<(bool, Vec<u8>)> {
    let mut cache = ContextCache::default();
    let mut out = Vec::new();
    for (i, ev) in events.into_iter().enumerate() {
        let t = convert::time_ns(&ev);
        let r = cache.context_for(&ev, t, i as u64);
        if let Some(c) = &r.define {
            out.push((true, c.encode_to_vec()));
        }
        out.push((false, convert::event_to_proto(&ev, &r, t).encode_to_vec()));
    }
    out
}

fn json(e: &Enriched) -> serde_json::Value {
    serde_json::to_value(e).unwrap()
}

/// Decodes `payload` both ways with the contexts of `dec`; the fast path must give what prost
/// gives whenever it takes the event.
fn check(dec: &mut EventDecoder, payload: &[u8]) -> Result<bool, TestCaseError> {
    let reference = proto::Event::decode(payload)
        .map_err(|e| e.to_string())
        .and_then(|p| convert::event_from_proto(p, &dec.contexts).map_err(|e| e.to_string()));
    let fast = dec.decode_in_place(payload).is_some();
    if fast {
        let fast_ev = json(dec.event());
        let r = reference
            .as_ref()
            .map_err(|e| TestCaseError::fail(format!("fast path took a bad event: {e}")))?;
        prop_assert_eq!(fast_ev, json(r));
    }
    // The public entry point agrees with the reference either way.
    match (dec.decode(payload), reference) {
        (Ok(()), Ok(r)) => prop_assert_eq!(json(dec.event()), json(&r)),
        (Err(_), Err(_)) => {}
        (a, b) => prop_assert!(false, "decode {a:?} vs reference {:?}", b.map(|_| ())),
    }
    Ok(fast)
}

fn feed(dec: &mut EventDecoder, frames: &[(bool, Vec<u8>)]) -> Result<usize, TestCaseError> {
    let mut fast = 0;
    for (is_context, payload) in frames {
        if *is_context {
            dec.define_context(payload).unwrap();
        } else if check(dec, payload)? {
            fast += 1;
        }
    }
    Ok(fast)
}

#[test]
fn fast_path_agrees_with_prost_on_recorded_shapes() {
    let mut dec = EventDecoder::default();
    let fast = feed(&mut dec, &frames(recorded_shapes(5_000))).unwrap();
    assert!(fast > 4_900, "the usual events take the fast path ({fast})");
    let mut dec = EventDecoder::default();
    feed(&mut dec, &frames((0..64).map(every_kind))).unwrap();
}

fn arb_event() -> impl Strategy<Value = Enriched> {
    let s = || "\\PC{0,12}";
    (
        0u64..64,
        (any::<u32>(), any::<u32>(), any::<u64>(), s(), s()),
        (
            s(),
            proptest::collection::vec(s(), 0..4),
            any::<i32>(),
            any::<u32>(),
            any::<u16>(),
        ),
        (
            proptest::option::of(s()),
            any::<bool>(),
            0u64..u64::MAX / 4,
            any::<[bool; 3]>(),
        ),
    )
        .prop_map(
            |(i, (pid, tid, ktime, comm, exe), (path, argv, fd, flags, port), (resolved, raw, k2, fl))| {
                let mut ev = every_kind(i);
                let h = &mut ev.event.header;
                (h.pid, h.tid, h.ktime_ns, h.comm) = (pid, tid, ktime.max(k2), comm);
                (h.truncated, h.read_failed, h.denied) = (fl[0], fl[1], fl[2]);
                // The agent facts, on some events (the agent root's events carry them all).
                ev.facts.agent_root = fd % 2 == 0;
                ev.facts.dst_agent = if port % 3 == 0 { exe.clone() } else { String::new() };
                ev.exe = exe;
                match &mut ev.event.body {
                    Body::Open(o) => (o.path, o.dfd, o.flags) = (path.clone(), fd, flags),
                    Body::Exec(x) => (x.filename, x.argv) = (path.clone(), argv),
                    Body::Connect(c) => (c.dest.addr, c.dest.port, c.fd) = (path.clone(), port, fd),
                    Body::Exit(x) => x.signal = Some(fd),
                    _ => {}
                }
                ev.resolved_path = if raw { Some(path) } else { resolved };
                ev
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_agrees_with_prost_on_arbitrary_events(events in proptest::collection::vec(arb_event(), 1..8)) {
        let mut dec = EventDecoder::default();
        feed(&mut dec, &frames(events))?;
    }

    #[test]
    fn fast_path_agrees_with_prost_on_damaged_payloads(
        i in 0usize..40,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        insert in proptest::collection::vec(any::<u8>(), 0..6),
        at in any::<prop::sample::Index>(),
    ) {
        let all = frames(recorded_shapes(40));
        let mut dec = EventDecoder::default();
        for (is_context, payload) in &all {
            if *is_context {
                dec.define_context(payload).unwrap();
            }
        }
        let events: Vec<&Vec<u8>> = all.iter().filter(|(c, _)| !c).map(|(_, p)| p).collect();
        let mut b = events[i % events.len()].clone();
        for (k, x) in &flips {
            let k = k.index(b.len());
            b[k] ^= x | 1;
        }
        let at = at.index(b.len() + 1);
        b.splice(at..at, insert.iter().copied());
        b.truncate(cut.index(b.len() + 1).max(b.len() / 2));
        check(&mut dec, &b)?;
    }
}
