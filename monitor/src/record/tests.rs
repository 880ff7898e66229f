//! Write/read/verify/replay tests over real files, including damaged and tampered logs.
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{
    context::ContextTable,
    format::{EntryKind, FRAME_HEADER_LEN, FrameKind, Problem},
    reader::Located,
    replay::{ReplayStats, Source},
    verify::{verify_file, verify_files, with_rotations},
    *,
};
use crate::{
    enrich::{Enriched, synthetic::every_kind},
    event::Body,
    rules::Alert,
};

const N: u64 = 2_000;

/// A closed log of `n` synthetic events with an alert after every 10th; returns its path. Each event
/// ends its batch, as when events come one per ring-buffer drain: a frame holds an event (and the
/// context it defines), an alert, or the drop notice.
fn write_log(dir: &Path, n: u64) -> PathBuf {
    let path = dir.join("t.agentlog");
    let mut rec = Recorder::create(&path, RecorderOptions::default()).unwrap();
    for i in 0..n {
        let ev = every_kind(i);
        let seq = rec.record_event(&ev).unwrap();
        rec.end_batch().unwrap();
        if i % 10 == 0 {
            rec.record_alert(&Alert::synthetic(&ev), seq).unwrap();
        }
    }
    rec.record_drops(3, 3).unwrap();
    rec.close().unwrap();
    path
}

/// (offset, len, seq, kind) of every frame of an intact file.
fn frames_of(path: &Path) -> Vec<(u64, usize, u64, FrameKind)> {
    let mut r = FrameReader::open(path, ReaderOptions::default()).unwrap();
    let mut out = Vec::new();
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        out.push((f.offset, f.header.frame_len(), f.header.seq, f.header.kind));
    }
    out
}

/// The kinds of the records of every frame of an intact file (a batch's entries; none for the
/// header and trailer).
fn kinds_of(path: &Path) -> Vec<Vec<EntryKind>> {
    let mut r = FrameReader::open(path, ReaderOptions::default()).unwrap();
    let mut out = Vec::new();
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        out.push(f.entries().map(|e| e.unwrap().kind).collect());
    }
    out
}

/// Records in the frames before frame `k`: one per batch entry, and the header (and trailer) are one
/// each (a batch is never empty).
fn records_before(kinds: &[Vec<EntryKind>], k: usize) -> usize {
    kinds[..k].iter().map(|entries| entries.len().max(1)).sum()
}

fn json(e: &Enriched) -> serde_json::Value {
    serde_json::to_value(e).unwrap()
}

#[test]
fn round_trip_many_events_of_every_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), N);
    let (mut events, mut alerts, mut kinds) = (0u64, 0u64, std::collections::BTreeMap::new());
    let mut contexts = 0u64;
    let mut last_event_seq = 0;
    let mut last_id = 0;
    let mut records = RecordReader::open(&path, ReaderOptions::default()).unwrap();
    for (i, item) in records.by_ref().enumerate() {
        let loc = item.unwrap();
        if !matches!(loc.record, Record::Header(_) | Record::Trailer(_)) {
            assert_eq!(loc.seq, last_id + 1, "record ids count up from 1");
            last_id = loc.seq;
        }
        match loc.record {
            Record::Header(h) => {
                assert_eq!(i, 0);
                assert_eq!(
                    (h.magic.as_str(), h.format_version, h.file_index),
                    ("agentmon-log", format::FORMAT_VERSION, 0)
                );
                assert_eq!(h.prev_chain_hash, vec![0u8; 32]);
                assert_eq!(h.agentmon_version, env!("CARGO_PKG_VERSION"));
                assert!(h.start_time_unix_ns > 0);
            }
            Record::Event(e) => {
                assert_eq!(json(&e), json(&every_kind(events)));
                *kinds.entry(e.event.body.kind_name()).or_insert(0) += 1;
                events += 1;
                last_event_seq = loc.seq;
            }
            Record::Alert(a) => {
                assert_eq!(a.event_seq, last_event_seq, "alert names its event's id");
                assert!(a.event.is_none());
                let ev = every_kind(events - 1);
                let back = convert::alert_from_proto(*a, Some(ev.clone())).unwrap();
                assert_eq!(
                    serde_json::to_value(&back).unwrap(),
                    serde_json::to_value(Alert::synthetic(&ev)).unwrap()
                );
                alerts += 1;
            }
            Record::Drops(d) => assert_eq!((d.lost, d.total), (3, 3)),
            Record::Lost(l) => panic!("nothing was lost: {l:?}"),
            Record::Trailer(t) => {
                assert_eq!(t.reason, proto::trailer::Reason::Closed as i32);
                assert_eq!((t.events, t.alerts), (N, N / 10));
            }
            Record::Context(c) => {
                assert!(c.id >= 1 && c.process.is_some());
                contexts += 1;
            }
        }
    }
    assert_eq!((events, alerts), (N, N / 10));
    // 50 processes, each defined once and refreshed every CONTEXT_REFRESH_RECORDS records.
    assert!((50..=50 * (N / 1000 + 3)).contains(&contexts), "{contexts} contexts");
    assert_eq!(kinds.len(), 8, "{kinds:?}");
    let rep = verify_file(&path, |_| {});
    assert!(rep.intact() && rep.complete(), "{:?}", rep.errors);
    assert_eq!((rep.events, rep.alerts, rep.drops), (N, N / 10, 1));
}

#[test]
fn a_batch_is_written_when_full_and_at_once_after_an_alert_or_drop_notice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.agentlog");
    let opts = RecorderOptions {
        batch_bytes: 4096,
        ..RecorderOptions::default()
    };
    let mut rec = Recorder::create(&path, opts).unwrap();
    let first = rec.record_event(&every_kind(0)).unwrap();
    assert_eq!(rec.written_id(), 0, "an event waits for the end of its batch");
    let ev = every_kind(1);
    let id = rec.record_event(&ev).unwrap();
    rec.record_alert(&Alert::synthetic(&ev), id).unwrap();
    assert!(rec.written_id() > id, "the alert went out with its batch");
    rec.record_event(&every_kind(2)).unwrap();
    rec.record_drops(1, 1).unwrap();
    let after_drops = rec.written_id();
    for i in 3..2_000 {
        rec.record_event(&every_kind(i)).unwrap();
    }
    assert!(rec.written_id() > after_drops + 1_000, "full batches are written");
    rec.close().unwrap();
    let frames = frames_of(&path);
    let batches: Vec<_> = frames.iter().filter(|f| f.3 == FrameKind::Batch).collect();
    assert!(batches.len() > 10, "{} batches", batches.len());
    // Within the limit plus one record (a synthetic record is well under 1 KiB).
    assert!(batches.iter().all(|f| f.1 - FRAME_HEADER_LEN < 4096 + 1024));
    assert_eq!(first, 2, "ids count from 1: the new process context, then its event");
}

#[test]
fn refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 1);
    assert!(Recorder::create(&path, RecorderOptions::default()).is_err());
}

/// Verifies `bytes` written to a file; returns the report.
fn verify_bytes(dir: &Path, bytes: &[u8]) -> verify::FileReport {
    let p = dir.join("damaged.agentlog");
    std::fs::write(&p, bytes).unwrap();
    verify_file(&p, |_| {})
}

fn first(rep: &verify::FileReport) -> (u64, Problem) {
    let e = rep.first_problem().expect("a problem must be reported");
    (e.offset, e.problem.clone())
}

#[test]
fn flipped_bytes_are_found_at_their_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 100);
    let orig = std::fs::read(&path).unwrap();
    let frames = frames_of(&path);
    let (off, len, _, _) = frames[37];
    // In the payload: payload checksum.
    let mut b = orig.clone();
    b[off as usize + FRAME_HEADER_LEN + (len - FRAME_HEADER_LEN) / 2] ^= 0x04;
    let rep = verify_bytes(dir.path(), &b);
    assert!(!rep.intact());
    let (o, p) = first(&rep);
    assert_eq!(o, off);
    assert!(matches!(p, Problem::PayloadChecksum { .. }), "{p}");
    // Resync went on: every other frame was still checked.
    assert_eq!(rep.frames as usize, frames.len() - 1);
    assert_eq!(rep.error_count, 1, "{:?}", rep.errors);
    // In each part of the frame header.
    for at in [0usize, 5, 9, 16, 18, 21, 30, 57] {
        let mut b = orig.clone();
        b[off as usize + at] ^= 0x40;
        let (o, p) = first(&verify_bytes(dir.path(), &b));
        assert_eq!(o, off, "flip at header byte {at}");
        assert!(
            matches!(p, Problem::HeaderChecksum { .. } | Problem::BadMagic { .. }),
            "flip at {at}: {p}"
        );
    }
    // In the file header frame.
    let mut b = orig;
    b[70] ^= 1;
    assert_eq!(first(&verify_bytes(dir.path(), &b)).0, 0);
}

#[test]
fn a_damaged_file_header_costs_only_itself() {
    // Without the header, the reader still checks the chain from the next frame on. Batches of
    // 64 KiB (chained with BLAKE3).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.agentlog");
    let mut rec = Recorder::create(&path, RecorderOptions::default()).unwrap();
    for i in 0..60_000 {
        rec.record_event(&every_kind(i)).unwrap();
    }
    rec.close().unwrap();
    assert!(frames_of(&path).len() > 40);
    assert!(frames_of(&path)[20].1 > format::BLAKE3_FROM);
    let mut b = std::fs::read(&path).unwrap();
    b[FRAME_HEADER_LEN + 3] ^= 0x10;
    let rep = verify_bytes(dir.path(), &b);
    assert_eq!(rep.error_count, 1, "{:?}", rep.errors);
    assert_eq!(first(&rep).0, 0);
    assert_eq!(rep.frames as usize, frames_of(&path).len() - 1);
    // A forged frame after it is still caught.
    let frames = frames_of(&path);
    let (off, len, seq, kind) = frames[30];
    let (forged, _) = format::encode_frame(
        kind,
        seq,
        &[3; 32],
        &b[off as usize + FRAME_HEADER_LEN..off as usize + len],
    );
    b.splice(off as usize..off as usize + len, forged);
    let rep = verify_bytes(dir.path(), &b);
    assert!(
        rep.errors
            .iter()
            .any(|e| e.offset == off && e.problem == Problem::Chain),
        "{:?}",
        rep.errors
    );
}

#[test]
fn truncation_is_found_and_complete_frames_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 100);
    let orig = std::fs::read(&path).unwrap();
    let frames = frames_of(&path);
    let kinds = kinds_of(&path);
    let (off, len, _, _) = frames[50];
    for cut in [1, 20, FRAME_HEADER_LEN, len - 1] {
        let rep = verify_bytes(dir.path(), &orig[..off as usize + cut]);
        assert!(rep.intact(), "a cut tail is not damage: {:?}", rep.errors);
        assert!(!rep.complete());
        let t = rep.truncated.as_ref().unwrap();
        assert_eq!(t.offset, off, "cut at +{cut}");
        assert!(matches!(t.problem, Problem::Truncated { have, .. } if have == cut as u64));
        assert_eq!(rep.frames, 50);
        // The record reader yields the records of all 50 complete frames, then the truncation.
        let p = dir.path().join("damaged.agentlog");
        let items: Vec<_> = RecordReader::open(&p, ReaderOptions::default()).unwrap().collect();
        let n = records_before(&kinds, 50);
        assert_eq!(items.len(), n + 1);
        assert!(items[..n].iter().all(Result::is_ok));
        assert!(items[n].as_ref().unwrap_err().is_truncation());
    }
    // Cut exactly between frames: nothing is damaged, but the trailer is missing.
    let rep = verify_bytes(dir.path(), &orig[..off as usize]);
    assert!(rep.intact() && !rep.complete() && rep.truncated.is_none());
}

#[test]
fn removed_and_swapped_frames_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 100);
    let orig = std::fs::read(&path).unwrap();
    let frames = frames_of(&path);
    let range = |k: usize| frames[k].0 as usize..frames[k].0 as usize + frames[k].1;

    // Drop frame 40.
    let mut b = orig[..range(40).start].to_vec();
    b.extend_from_slice(&orig[range(40).end..]);
    let (o, p) = first(&verify_bytes(dir.path(), &b));
    assert_eq!(o, frames[40].0);
    assert_eq!(
        p,
        Problem::Sequence {
            expected: 40,
            found: 41
        }
    );

    // Swap frames 60 and 61.
    let mut b = orig[..range(60).start].to_vec();
    b.extend_from_slice(&orig[range(61)]);
    b.extend_from_slice(&orig[range(60)]);
    b.extend_from_slice(&orig[range(61).end..]);
    let (o, p) = first(&verify_bytes(dir.path(), &b));
    assert_eq!(o, frames[60].0);
    assert_eq!(
        p,
        Problem::Sequence {
            expected: 60,
            found: 61
        }
    );

    // Replace frame 70 by a well-formed frame with the right sequence number but forged content:
    // checksums are fine, the chain is not.
    let mut batch = batch::BatchBuilder::new(1);
    batch.push(EntryKind::Drops, &proto::Drops::default());
    let (forged, _) = format::encode_frame(FrameKind::Batch, 70, &[9; 32], &batch.frame_mut()[FRAME_HEADER_LEN..]);
    let mut b = orig[..range(70).start].to_vec();
    b.extend_from_slice(&forged);
    b.extend_from_slice(&orig[range(70).end..]);
    let rep = verify_bytes(dir.path(), &b);
    assert_eq!(first(&rep), (frames[70].0, Problem::Chain));

    // Drop the last batches and the trailer together: a log that ends early, no damage.
    let n = frames.len();
    let rep = verify_bytes(dir.path(), &orig[..frames[n - 3].0 as usize]);
    assert!(rep.intact() && !rep.complete());

    // Remove the trailer's frame only and append the frames again: duplicates are out of sequence.
    let mut b = orig[..range(n - 1).start].to_vec();
    b.extend_from_slice(&orig[range(10).start..range(11).end]);
    let (o, p) = first(&verify_bytes(dir.path(), &b));
    assert_eq!(o, frames[n - 1].0);
    assert_eq!(
        p,
        Problem::Sequence {
            expected: (n - 1) as u64,
            found: 10
        }
    );
}

#[test]
fn without_resync_reading_stops_at_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 50);
    let mut b = std::fs::read(&path).unwrap();
    let frames = frames_of(&path);
    let kinds = kinds_of(&path);
    let k = first_event_frame(&kinds, 20);
    b[frames[k].0 as usize + FRAME_HEADER_LEN] ^= 0xff;
    std::fs::write(&path, &b).unwrap();
    let items: Vec<_> = RecordReader::open(&path, ReaderOptions::default()).unwrap().collect();
    let before = records_before(&kinds, k);
    assert_eq!(items.len(), before + 1);
    assert_eq!(items[before].as_ref().unwrap_err().offset, frames[k].0);
    let resynced: Vec<_> = RecordReader::open(
        &path,
        ReaderOptions {
            resync: true,
            ..Default::default()
        },
    )
    .unwrap()
    .collect();
    assert_eq!(
        resynced.len(),
        records_before(&kinds, kinds.len()) - kinds[k].len() + 1,
        "one error in place of the damaged frame, all others read"
    );
    assert_eq!(resynced.iter().filter(|i| i.is_err()).count(), 1);
}

#[test]
fn not_a_log() {
    let dir = tempfile::tempdir().unwrap();
    for bytes in [
        &b""[..],
        b"hello world, this is not a log at all, not even close to one. ok",
    ] {
        let rep = verify_bytes(dir.path(), bytes);
        assert!(matches!(first(&rep), (0, Problem::NotALog(_))), "{:?}", rep.errors);
    }
    // A valid frame that is not a header.
    let (f, _) = format::encode_frame(FrameKind::Batch, 0, &format::ZERO_HASH, b"\x01");
    assert!(matches!(first(&verify_bytes(dir.path(), &f)), (0, Problem::NotALog(_))));
}

#[test]
fn rotation_links_files_into_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("rot.agentlog");
    let opts = RecorderOptions {
        max_bytes: Some(8 * 1024),
        ..Default::default()
    };
    let mut rec = Recorder::create(&base, opts).unwrap();
    for i in 0..1_000 {
        rec.record_event(&every_kind(i)).unwrap();
    }
    rec.close().unwrap();
    let files = with_rotations(&base);
    assert!(files.len() > 5, "{files:?}");
    for f in &files {
        let len = std::fs::metadata(f).unwrap().len();
        assert!(len <= 8 * 1024, "{} has {len} bytes", f.display());
    }
    assert_eq!(files[1], dir.path().join("rot.agentlog.1"));
    let rep = verify_files(&files, |_| {});
    assert!(
        rep.intact() && rep.complete(),
        "{:?} {:?}",
        rep.links,
        rep.files[0].errors
    );
    assert_eq!(rep.files.iter().map(|f| f.events).sum::<u64>(), 1_000);
    // Each continuation alone still verifies (its header carries the link).
    assert!(verify_file(&files[2], |_| {}).intact());
    // A missing middle file breaks the link.
    let gap = [files[0].clone(), files[2].clone()];
    let rep = verify_files(&gap, |_| {});
    assert!(!rep.intact());
    assert_eq!(rep.links[0].file, files[2]);
    // So does a swapped order.
    let rep = verify_files(&[files[1].clone(), files[0].clone(), files[2].clone()], |_| {});
    assert!(!rep.links.is_empty());
    // Replay reads the rotated files as one stream.
    let mut n = 0;
    let mut eval = |_: &Enriched| {
        n += 1;
        Vec::new()
    };
    let stats = replay::replay(
        &files,
        Source::Rules(&mut eval),
        &ReplayOptions::default(),
        |_| {},
        |_, e| panic!("{e}"),
        |_| {},
    );
    assert_eq!((stats.events, stats.replayed, n), (1_000, 1_000, 1_000));
}

/// Test evaluator: alerts on every connect to the metadata service.
struct MetadataRule;

impl Evaluator for MetadataRule {
    fn evaluate(&mut self, ev: &Enriched) -> Vec<Alert> {
        match &ev.event.body {
            Body::Connect(c) if c.dest.addr == "169.254.169.254" => vec![Alert::synthetic(ev)],
            _ => Vec::new(),
        }
    }
}

#[test]
fn replay_evaluates_filters_and_reproduces_recorded_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 700);
    let files = [path];
    let run = |filter: &ReplayOptions| {
        let mut alerts = Vec::new();
        let stats = replay::replay(
            &files,
            Source::Rules(&mut MetadataRule),
            filter,
            |a| alerts.push(a.clone()),
            |_, e| panic!("{e}"),
            |_| {},
        );
        (stats, alerts)
    };
    let (stats, alerts) = run(&ReplayOptions::default());
    assert_eq!((stats.events, stats.replayed, stats.recorded_alerts), (700, 700, 70));
    assert_eq!(alerts.len(), 88, "one connect in 8 events");
    assert!(alerts.iter().all(|a| matches!(a.event.event.body, Body::Connect(_))));

    let (stats, alerts) = run(&ReplayOptions {
        agent: Some("coder".into()),
        ..Default::default()
    });
    let coder = (0..700).filter(|i| every_kind(*i).agent == "coder").count() as u64;
    assert!(coder > 100 && coder < 600);
    assert_eq!(stats.replayed, coder);
    assert!(alerts.iter().all(|a| a.event.agent == "coder"));

    // Time window: events 100..200 (synthetic events are 1 µs apart).
    let t = |i| every_kind(i).time.unix_ns();
    let (stats, _) = run(&ReplayOptions {
        since_ns: Some(t(100)),
        until_ns: Some(t(200)),
        ..Default::default()
    });
    assert_eq!(stats.replayed, 100);

    // Without rules: the recorded alerts, with their events.
    let mut recorded = Vec::new();
    let stats = replay::replay(
        &files,
        Source::Recorded,
        &ReplayOptions::default(),
        |a| recorded.push(a.clone()),
        |_, e| panic!("{e}"),
        |_| {},
    );
    assert_eq!((stats.alerts, recorded.len()), (70, 70));
    assert_eq!(json(&recorded[3].event), json(&every_kind(30)));
}

#[test]
fn replay_skips_damage_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 70);
    let frames = frames_of(&path);
    let k = first_event_frame(&kinds_of(&path), 5);
    let mut b = std::fs::read(&path).unwrap();
    b[frames[k].0 as usize + FRAME_HEADER_LEN + 3] ^= 1;
    let cut = b.len() - 10;
    std::fs::write(&path, &b[..cut]).unwrap();
    let mut problems = Vec::new();
    let stats = replay::replay(
        &[path],
        Source::Rules(&mut MetadataRule),
        &ReplayOptions::default(),
        |_| {},
        |_, e| problems.push(e.clone()),
        |_| {},
    );
    // The damaged batch, reported where it is. Whether it defined contexts is unknown, so the reader
    // forgets them: the events after it that refer to a context not defined again yet are reported
    // as unattributable, never attributed to a stale one; the others are replayed.
    assert_eq!(stats.truncated, 1);
    assert_eq!(problems[0].offset, frames[k].0);
    assert!(
        problems[1..problems.len() - 1]
            .iter()
            .all(|p| p.to_string().contains("which is not defined")),
        "{problems:?}"
    );
    assert!(problems.last().unwrap().is_truncation());
    assert_eq!(stats.replayed + (stats.problems - 1), 69, "{stats:?}");
}

/// Replays `paths` through `eval`; returns the stats, the alerts and the problems reported.
fn replay_all(
    paths: &[PathBuf],
    eval: &mut dyn Evaluator,
    options: &ReplayOptions,
) -> (ReplayStats, Vec<Alert>, Vec<FrameError>) {
    let (mut alerts, mut problems) = (Vec::new(), Vec::new());
    let stats = replay::replay(
        paths,
        Source::Rules(eval),
        options,
        |a| alerts.push(a.clone()),
        |_, e| problems.push(e.clone()),
        |_| {},
    );
    (stats, alerts, problems)
}

/// Index of the first frame at or after `from` that holds an event.
fn first_event_frame(kinds: &[Vec<EntryKind>], from: usize) -> usize {
    (from..kinds.len())
        .find(|&i| kinds[i].contains(&EntryKind::Event))
        .expect("a batch with an event")
}

#[test]
fn a_damaged_context_costs_its_events_their_attribution_until_redefined() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ctx.agentlog");
    // One process, an event per batch; its context is defined with the first event (frame 1) and
    // refreshed every CONTEXT_REFRESH_RECORDS records.
    let mut rec = Recorder::create(&path, RecorderOptions::default()).unwrap();
    let n = format::CONTEXT_REFRESH_RECORDS * 2;
    let mut ev = every_kind(1);
    for i in 0..n {
        ev.event.header.ktime_ns += 1_000;
        ev.time = crate::enrich::WallTime::from_unix_ns(1_795_651_200_000_000_000 + i as i64 * 1_000);
        rec.record_event(&ev).unwrap();
        rec.end_batch().unwrap();
    }
    rec.close().unwrap();
    let frames = frames_of(&path);
    let kinds = kinds_of(&path);
    assert_eq!(kinds[1], [EntryKind::Context, EntryKind::Event]);
    let refresh = (2..frames.len())
        .find(|&i| kinds[i].contains(&EntryKind::Context))
        .unwrap();
    let mut b = std::fs::read(&path).unwrap();
    b[frames[1].0 as usize + FRAME_HEADER_LEN + 2] ^= 1;
    std::fs::write(&path, &b).unwrap();
    let (mut ok, mut unknown, mut other) = (0, 0, 0);
    for item in RecordReader::open(
        &path,
        ReaderOptions {
            resync: true,
            ..Default::default()
        },
    )
    .unwrap()
    {
        match item {
            Ok(Located {
                record: Record::Event(e),
                ..
            }) => {
                assert_eq!(e.exe, ev.exe, "an event is never misattributed");
                ok += 1;
            }
            Ok(_) => {}
            Err(e) if e.to_string().contains("process context 1") => unknown += 1,
            Err(_) => other += 1,
        }
    }
    // The damaged frame itself (the context and the first event), then the events up to the refresh.
    assert_eq!(other, 1);
    assert_eq!(unknown, refresh - 2);
    assert_eq!(ok + unknown, n as usize - 1);
    // Replay reports the same, and goes on.
    let (stats, _, _) = replay_all(&[path], &mut MetadataRule, &ReplayOptions::default());
    assert_eq!((stats.replayed, stats.problems), (ok as u64, 1 + unknown as u64));
}

/// Writes fail (`/dev/full`: ENOSPC, as on a full filesystem) for a while, then succeed again: the
/// lost records are counted, a `Lost` record marks them as soon as a write succeeds, the trailer
/// counts them, and `log verify` reports the gap at the `Lost` record's offset.
#[test]
fn records_lost_to_a_full_disk_are_marked_and_fail_verification() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.agentlog");
    let mut rec = Recorder::create(&path, RecorderOptions::default()).unwrap();
    for i in 0..5 {
        rec.record_event(&every_kind(i)).unwrap();
        rec.end_batch().unwrap();
    }
    let written = rec.written_id();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let real = rec.replace_file(full);
    let mut failures = 0;
    for i in 5..15 {
        let ev = every_kind(i);
        let seq = rec.record_event(&ev).unwrap();
        failures += u32::from(rec.end_batch().is_err());
        if i == 9 {
            failures += u32::from(rec.record_alert(&Alert::synthetic(&ev), seq).is_err());
        }
    }
    assert_eq!(failures, 11, "every write failed");
    assert!(rec.loss_pending());
    let lost = rec.lost_total();
    // 10 events, 1 alert, their contexts, and the ids reserved for `Lost` records not written.
    assert!(lost >= 11, "{lost}");
    assert_eq!(rec.written_id(), written);
    rec.replace_file(real);
    // The space is back: the next write marks the loss first (even with no records to write).
    rec.end_batch().unwrap();
    assert!(!rec.loss_pending());
    for i in 15..20 {
        rec.record_event(&every_kind(i)).unwrap();
        rec.end_batch().unwrap();
    }
    assert_eq!(rec.lost_total(), lost);
    rec.close().unwrap();

    let losts: Vec<(u64, u64, proto::Lost)> = RecordReader::open(&path, ReaderOptions::default())
        .unwrap()
        .filter_map(|r| match r.unwrap() {
            Located {
                offset,
                seq,
                record: Record::Lost(l),
            } => Some((offset, seq, l)),
            _ => None,
        })
        .collect();
    assert_eq!(losts.len(), 1, "{losts:?}");
    let (offset, id, l) = &losts[0];
    assert_eq!((l.first_id, l.last_id, l.total), (written + 1, id - 1, lost));
    assert_eq!((l.events, l.alerts), (10, 1));
    assert!(l.error.contains("No space left on device"), "{}", l.error);

    let rep = verify_file(&path, |_| {});
    assert!(!rep.intact(), "a log with lost records must not verify as OK");
    assert_eq!(rep.error_count, 1, "{:?}", rep.errors);
    let (o, p) = first(&rep);
    assert_eq!(o, *offset, "the gap is reported where its Lost record is");
    assert!(
        matches!(&p, Problem::RecordsMissing { first, last, why: Some(_) } if (*first, *last) == (written + 1, id - 1)),
        "{p}"
    );
    assert!(p.to_string().contains("the recorder could not write them"), "{p}");
    assert_eq!(rep.trailer.as_ref().map(|t| t.lost), Some(lost));
}

/// Record ids that jump without a `Lost` record (records cut out, ids rewritten) or go backwards
/// are errors too.
#[test]
fn gaps_in_record_ids_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::read(write_log(dir.path(), 3)).unwrap();
    let frames = frames_of_bytes(&log);
    let mut r = FrameReader::new(&log[..], ReaderOptions::default());
    let mut chain = r.next_frame().unwrap().unwrap().header.chain;
    let mut b = log[..frames[0].1].to_vec();
    // Batches of one event each with ids 1, 2, 5, 4: well sealed and chained.
    // An event entry's payload as the recorder wrote it.
    let ev: Vec<u8> = {
        let mut r = FrameReader::new(&log[..], ReaderOptions::default());
        let mut found = None;
        while let Some(f) = r.next_frame() {
            let f = f.unwrap();
            if let Some(e) = f.entries().map(Result::unwrap).find(|e| e.kind == EntryKind::Event) {
                found = Some(e.payload.to_vec());
                break;
            }
        }
        found.unwrap()
    };
    let mut offsets = Vec::new();
    for (seq, id) in [1u64, 2, 5, 4].into_iter().enumerate() {
        let mut batch = batch::BatchBuilder::new(id);
        batch.push(EntryKind::Event, &Raw(&ev));
        let payload = batch.frame_mut()[FRAME_HEADER_LEN..].to_vec();
        // The entry starts after the frame header and the batch's first id (one byte here).
        offsets.push(b.len() as u64 + FRAME_HEADER_LEN as u64 + 1);
        let (frame, c) = format::encode_frame(FrameKind::Batch, seq as u64 + 1, &chain, &payload);
        chain = c;
        b.extend_from_slice(&frame);
    }
    let rep = verify_bytes(dir.path(), &b);
    let problems: Vec<(u64, String)> = rep.errors.iter().map(|e| (e.offset, e.problem.to_string())).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].0, offsets[2]);
    assert!(
        problems[0]
            .1
            .contains("records 3..=4 (2 records) are missing: record ids jump from 2 to 5"),
        "{problems:?}"
    );
    assert_eq!(problems[1].0, offsets[3]);
    assert!(problems[1].1.contains("ids go backwards"), "{problems:?}");
}

/// Bytes already encoded, as a message.
#[derive(Debug)]
struct Raw<'a>(&'a [u8]);

impl prost::Message for Raw<'_> {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(self.0);
    }
    fn merge_field(
        &mut self,
        _: u32,
        _: prost::encoding::WireType,
        _: &mut impl bytes::Buf,
        _: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        unreachable!("only encoded")
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {}
}

/// A 60-byte frame header with a valid header checksum claiming a payload of `len` bytes.
fn crafted_header(len: u32, seq: u64) -> [u8; FRAME_HEADER_LEN] {
    let mut h = [0u8; FRAME_HEADER_LEN];
    h[0..4].copy_from_slice(b"AMLF");
    h[4..8].copy_from_slice(&len.to_le_bytes());
    h[8..16].copy_from_slice(&seq.to_le_bytes());
    h[16] = FrameKind::Batch as u8;
    h[20..24].copy_from_slice(&0x1234_5678u32.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..56]);
    h[56..60].copy_from_slice(&crc.to_le_bytes());
    h
}

/// 10 000 frame headers that each claim 16 MiB (the crafted log took 14.6 s to verify):
/// verification now costs time linear in the 600 KB present, reports the damage, and still finds
/// the intact frames after it.
#[test]
fn crafted_frame_lengths_cost_only_the_bytes_present() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::read(write_log(dir.path(), 30)).unwrap();
    let frames = frames_of_bytes(&log);
    let split = frames[10].0 as usize;
    let mut b = log[..split].to_vec();
    for i in 0..10_000u64 {
        b.extend_from_slice(&crafted_header(format::MAX_PAYLOAD_LEN as u32, i));
    }
    b.extend_from_slice(&log[split..]);
    // 10 000 claims of 16 MiB: a reader that believed them would read or allocate 160 GiB.
    let rep = verify_bytes(dir.path(), &b);
    assert_eq!(rep.frames as usize, frames.len(), "every intact frame is still found");
    assert_eq!(first(&rep).0, split as u64);
    // The same as a stream (no file length to check against).
    drain(&b, true);
    // Headers claiming 16 MiB at the very end: a truncated tail, reported without reading 16 MiB.
    let mut tail = log.clone();
    tail.extend_from_slice(&crafted_header(format::MAX_PAYLOAD_LEN as u32, 99));
    let rep = verify_bytes(dir.path(), &tail);
    assert!(
        matches!(first(&rep), (o, Problem::Truncated { .. }) if o == log.len() as u64),
        "{:?}",
        rep.errors
    );
}

/// Reads everything a reader yields; the point is that it returns (no panic, no endless loop).
fn drain(bytes: &[u8], resync: bool) -> usize {
    let mut r = RecordReader::new(
        bytes,
        ReaderOptions {
            resync,
            ..Default::default()
        },
    );
    let mut n = 0;
    for item in r.by_ref() {
        if let Err(e) = item {
            assert!(e.offset <= bytes.len() as u64);
        }
        n += 1;
        assert!(n <= bytes.len() + 2, "more items than bytes");
    }
    n
}

fn small_log() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::read(write_log(dir.path(), 30)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096), resync: bool) {
        drain(&bytes, resync);
    }

    #[test]
    fn arbitrary_bytes_after_a_magic_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut b = b"AMLF".to_vec();
        b.extend_from_slice(&tail);
        drain(&b, true);
        drain(&b, false);
    }

    #[test]
    fn mutated_logs_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        insert in proptest::collection::vec(any::<u8>(), 0..64),
        at in any::<prop::sample::Index>(),
    ) {
        let log = small_log();
        let mut b = log.clone();
        for (i, x) in &flips {
            let i = i.index(b.len());
            b[i] ^= x | 1;
        }
        let n = drain(&b, true);
        prop_assert!(n >= 1);
        drain(&b, false);
        let mut c = log.clone();
        let i = at.index(c.len());
        c.splice(i..i, insert.iter().copied());
        drain(&c, true);
        let k = cut.index(log.len());
        drain(&log[..k], true);
        drain(&log[..k], false);
    }

    /// Crafted headers claiming any length (up to 16 MiB, valid header checksums) inserted at any
    /// frame boundary after the file header: no panic, and resynchronisation still finds every intact
    /// frame.
    #[test]
    fn crafted_lengths_never_hide_intact_frames(
        claims in proptest::collection::vec(0u32..=(format::MAX_PAYLOAD_LEN as u32), 1..64),
        at in any::<prop::sample::Index>(),
    ) {
        let log = small_log();
        let frames = frames_of_bytes(&log);
        // After the file header (a file must start with one).
        let split = frames[1 + at.index(frames.len() - 1)].0 as usize;
        let mut b = log[..split].to_vec();
        for (i, len) in claims.iter().enumerate() {
            b.extend_from_slice(&crafted_header(*len, i as u64));
        }
        b.extend_from_slice(&log[split..]);
        drain(&b, true);
        drain(&b, false);
        let dir = tempfile::tempdir().unwrap();
        let rep = verify_bytes(dir.path(), &b);
        prop_assert_eq!(rep.frames as usize, frames.len());
        prop_assert_eq!(first(&rep).0, split as u64);
    }

    #[test]
    fn arbitrary_payloads_never_panic(kind in 1u8..=8, payload in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Some(kind) = EntryKind::from_u8(kind) {
            let _ = reader::decode_entry(kind, &payload, &mut ContextTable::default());
        }
    }

    /// A batch with valid checksums and chain but any content (a writer bug, or a forger who
    /// recomputed the chain): every reader reports or skips it, none panics.
    #[test]
    fn well_sealed_arbitrary_batches_never_panic(
        first_id in any::<u64>(),
        entries in proptest::collection::vec((0u8..9, proptest::collection::vec(any::<u8>(), 0..48)), 0..8),
        garbage in proptest::collection::vec(any::<u8>(), 0..16),
        lie in any::<Option<u8>>(),
    ) {
        let mut payload = Vec::new();
        prost::encoding::encode_varint(first_id, &mut payload);
        for (kind, bytes) in &entries {
            payload.push(*kind);
            // Sometimes a length that does not match the bytes.
            let len = lie.map_or(bytes.len() as u64, u64::from);
            prost::encoding::encode_varint(len, &mut payload);
            payload.extend_from_slice(bytes);
        }
        payload.extend_from_slice(&garbage);
        let log = small_log();
        let header_len = frames_of_bytes(&log)[0].1;
        let mut r = FrameReader::new(&log[..], ReaderOptions::default());
        let chain = r.next_frame().unwrap().unwrap().header.chain;
        let (frame, _) = format::encode_frame(FrameKind::Batch, 1, &chain, &payload);
        let mut b = log[..header_len].to_vec();
        b.extend_from_slice(&frame);
        drain(&b, true);
        let dir = tempfile::tempdir().unwrap();
        let rep = verify_bytes(dir.path(), &b);
        prop_assert_eq!(rep.frames, 2);
        let p = dir.path().join("damaged.agentlog");
        let (stats, _, _) = replay_all(&[p], &mut MetadataRule, &ReplayOptions::default());
        prop_assert!(stats.events <= entries.len() as u64);
    }
}

/// (offset, len) of every frame of an intact log in memory.
fn frames_of_bytes(bytes: &[u8]) -> Vec<(u64, usize)> {
    let mut r = FrameReader::new(bytes, ReaderOptions::default());
    let mut out = Vec::new();
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        out.push((f.offset, f.header.frame_len()));
    }
    out
}

#[test]
fn logs_of_other_format_versions_are_refused() {
    use prost::Message;
    let dir = tempfile::tempdir().unwrap();
    for version in [1, 2, 4] {
        let header = proto::LogHeader {
            magic: format::LOG_MAGIC.into(),
            format_version: version,
            prev_chain_hash: format::ZERO_HASH.to_vec(),
            ..Default::default()
        };
        let (f, _) = format::encode_frame(FrameKind::Header, 0, &format::ZERO_HASH, &header.encode_to_vec());
        let (offset, problem) = first(&verify_bytes(dir.path(), &f));
        assert_eq!(offset, 0);
        assert_eq!(
            problem.to_string(),
            format!("unsupported frame: format version {version} (this agentmon reads format 3)")
        );
    }
}

#[test]
fn replay_checks_the_chain_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 100);
    let orig = std::fs::read(&path).unwrap();
    let frames = frames_of(&path);
    let k = first_event_frame(&kinds_of(&path), 70);
    let (off, len, seq, kind) = frames[k];
    let range = off as usize..off as usize + len;
    // The same event, resealed on a forged chain: checksums and sequence are right, the chain is not.
    let (forged, _) = format::encode_frame(kind, seq, &[7; 32], &orig[range.start + FRAME_HEADER_LEN..range.end]);
    let mut b = orig[..range.start].to_vec();
    b.extend_from_slice(&forged);
    b.extend_from_slice(&orig[range.end..]);
    std::fs::write(&path, &b).unwrap();
    let run = |skip_chain| {
        let options = ReplayOptions {
            skip_chain,
            ..Default::default()
        };
        let (stats, _, problems) = replay_all(std::slice::from_ref(&path), &mut MetadataRule, &options);
        (stats, problems)
    };
    let (stats, problems) = run(true);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(stats.replayed, 100);
    let (stats, problems) = run(false);
    // The forged frame does not follow its predecessor, and its successor does not follow it.
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!((problems[0].offset, &problems[0].problem), (off, &Problem::Chain));
    assert_eq!(
        (problems[1].offset, &problems[1].problem),
        (off + len as u64, &Problem::Chain)
    );
    // Reported, then taken as the new link: every event is still replayed.
    assert_eq!(stats.replayed, 100);
}

#[test]
fn replay_stops_at_damage_when_told_not_to_resynchronise() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(dir.path(), 70);
    let frames = frames_of(&path);
    let kinds = kinds_of(&path);
    let k = first_event_frame(&kinds, 30);
    let before = kinds[..k]
        .iter()
        .flatten()
        .filter(|&&kind| kind == EntryKind::Event)
        .count() as u64;
    let mut b = std::fs::read(&path).unwrap();
    b[frames[k].0 as usize + FRAME_HEADER_LEN + 1] ^= 1;
    std::fs::write(&path, &b).unwrap();
    let options = ReplayOptions {
        no_resync: true,
        ..Default::default()
    };
    let (stats, _, problems) = replay_all(&[path], &mut MetadataRule, &options);
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].offset, frames[k].0);
    assert_eq!((stats.replayed, stats.problems), (before, 1));
}

// mounts, scope, io_uring, code loading
/// The kinds of the mount, scope, `io_uring` and code-loading group, with their kernel-side fields
/// filled, go through a log unchanged, and replaying it gives the verdicts rules gave live.
#[test]
fn mount_scope_io_uring_and_loading_kinds_round_trip_and_replay_gives_live_verdicts() {
    use crate::{
        enrich::synthetic::{self, Process, wall_time},
        rules::RuleSet,
    };
    let mut setattr = synthetic::mount_info("", "t", "tmpfs");
    setattr.syscall = "mount_setattr";
    setattr.target_dir = Some("/home/agent".into());
    setattr.attr_clr = 1;
    setattr.result = -1;
    let mut moved = synthetic::mount_info("agentmon", "./dst", "tmpfs");
    moved.syscall = "move_mount";
    moved.kernel_target = Some("/real/dst".into());
    moved.detached = false;
    let bodies = [
        Body::Mount(setattr.resolve()),
        Body::Mount(moved.resolve()),
        synthetic::cgroup_move(1001, "/elsewhere", true),
        synthetic::io_uring_setup(8, 2),
        synthetic::io_uring_op(18, Some("/home/agent/.aws/credentials")),
        synthetic::io_uring_op(16, None),
        synthetic::memfd("payload"),
        synthetic::mmap("/tmp/dropped.so"),
    ];
    let rules = "\
- rule: Readonly cleared\n  desc: t\n  condition: mount.syscall = mount_setattr and mount.attr_clr = 1 and mount.target = /home/agent/t and evt.failed\n  output: x\n  priority: WARNING\n\
- rule: Moved\n  desc: t\n  condition: mount.target = /real/dst and mount.raw_target = ./dst and not mount.detached\n  output: x\n  priority: WARNING\n\
- rule: Left\n  desc: t\n  condition: cgroup.left_scope and cgroup.dest = /elsewhere and cgroup.moved_pid = 1001\n  output: x\n  priority: WARNING\n\
- rule: Sqpoll\n  desc: t\n  condition: iouring.sqpoll and iouring.entries = 8\n  output: x\n  priority: WARNING\n\
- rule: Ring creds\n  desc: t\n  condition: iouring.op = openat and file.path startswith /home/agent/.aws and file.read\n  output: x\n  priority: WARNING\n\
- rule: Ring connect\n  desc: t\n  condition: iouring.op = connect\n  output: x\n  priority: WARNING\n\
- rule: Memfd\n  desc: t\n  condition: memfd.name = payload and memfd.flags = 1\n  output: x\n  priority: WARNING\n\
- rule: Dropped so\n  desc: t\n  condition: evt.kind = mmap and file.path endswith .so and mmap.prot = 5 and mmap.syscall = mmap\n  output: x\n  priority: WARNING\n";
    let mut live = RuleSet::from_sources(&[("t.yaml".into(), rules.into())]).unwrap();
    let who = Process {
        agent: "coder".into(),
        ..Process::default()
    };
    let events: Vec<Enriched> = bodies
        .into_iter()
        .enumerate()
        .map(|(i, b)| {
            let mut e = who.event(1_000_000 * (i as u64 + 1), b);
            e.time = wall_time(e.event.header.ktime_ns);
            e
        })
        .collect();
    let fired =
        |rules: &mut RuleSet, e: &Enriched| -> Vec<String> { rules.evaluate(e).into_iter().map(|a| a.rule).collect() };
    let verdicts: Vec<Vec<String>> = events.iter().map(|e| fired(&mut live, e)).collect();
    assert!(
        verdicts.iter().all(|v| v.len() == 1),
        "each event fires its rule: {verdicts:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.agentlog");
    let mut rec = Recorder::create(&path, RecorderOptions::default()).unwrap();
    for e in &events {
        rec.record_event(e).unwrap();
    }
    rec.close().unwrap();
    let mut replayed = RuleSet::from_sources(&[("t.yaml".into(), rules.into())]).unwrap();
    let read: Vec<Enriched> = RecordReader::open(&path, ReaderOptions::default())
        .unwrap()
        .filter_map(|r| match r.unwrap().record {
            Record::Event(e) => Some(*e),
            _ => None,
        })
        .collect();
    assert_eq!(read.len(), events.len());
    for ((orig, back), verdict) in events.iter().zip(&read).zip(&verdicts) {
        assert_eq!(json(back), json(orig));
        assert_eq!(&fired(&mut replayed, back), verdict);
    }
}
