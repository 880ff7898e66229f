//! `agentmon log cat` on a damaged log: by default it reports the damaged frame and goes on with the
//! next intact one; with `--no-resync` it stops there.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::process::Command;

use agentmon::{
    enrich::synthetic::every_kind,
    record::{
        FrameReader, ReaderOptions, Recorder, RecorderOptions,
        format::{EntryKind, FRAME_HEADER_LEN},
    },
};

fn cat(log: &std::path::Path, extra: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_agentmon"))
        .args(["log", "cat", "--json"])
        .args(extra)
        .arg(log)
        .output()
        .unwrap();
    let records = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (
        out.status.code().unwrap_or(-1),
        records,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cat_resynchronises_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("t.agentlog");
    // 200 events of every kind in turn, a batch each (as when they come one per ring-buffer drain).
    let mut rec = Recorder::create(&log, RecorderOptions::default()).unwrap();
    for i in 0..200 {
        rec.record_event(&every_kind(i)).unwrap();
        rec.end_batch().unwrap();
    }
    rec.close().unwrap();
    // (offset, kinds of its entries) of every frame: an event per batch.
    let mut frames = Vec::new();
    let mut r = FrameReader::open(&log, ReaderOptions::default()).unwrap();
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        let kinds: Vec<EntryKind> = f.entries().map(|e| e.unwrap().kind).collect();
        frames.push((f.offset, kinds));
    }
    assert!(frames.len() > 200, "one frame per drain");
    let k = (100..frames.len())
        .find(|&i| frames[i].1.contains(&EntryKind::Event))
        .unwrap();
    // A batch holds one record per entry (never none); the header and the trailer are one each.
    let records_in = |frames: &[(u64, Vec<EntryKind>)]| frames.iter().map(|f| f.1.len().max(1)).sum::<usize>();
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[frames[k].0 as usize + FRAME_HEADER_LEN + 1] ^= 1;
    std::fs::write(&log, &bytes).unwrap();
    let offset = format!("byte {}", frames[k].0);

    let (code, records, stderr) = cat(&log, &[]);
    assert_eq!(code, 1, "damage is reported in the exit status");
    assert!(stderr.contains(&offset), "{stderr}");
    // Every other frame's records are printed, but for events whose process context the damaged
    // batch may have (re)defined: those are reported as unattributable until it is written again.
    let unattributable = stderr.matches("which is not defined").count();
    assert_eq!(
        records.len() + unattributable,
        records_in(&frames) - frames[k].1.len(),
        "{stderr}"
    );
    assert!(
        records.len() > records_in(&frames[..k]),
        "reading went on after the damage"
    );

    let (code, records, stderr) = cat(&log, &["--no-resync"]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&offset), "{stderr}");
    assert_eq!(
        records.len(),
        records_in(&frames[..k]),
        "only the frames before the damage"
    );
}
