//! `kill -9` while recording: the log stays valid up to the last complete frame.
//!
//! The writer is a child process: this test binary again, running only [`writer`] (ignored in
//! ordinary runs), which records synthetic events through the real recorder until it is killed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{
    io::{BufRead, BufReader, Write},
    os::unix::process::ExitStatusExt,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use agentmon::{
    enrich::synthetic::every_kind,
    record::{
        FrameReader, ReaderOptions, Record, Recorder, RecorderOptions, context::ContextTable, reader::decode_entry,
        verify::verify_file,
    },
};

/// The log [`writer`] writes (set only in its environment).
const WRITER_LOG: &str = "AGENTMON_TEST_CRASH_LOG";

/// The writer process of [`kill_9_loses_at_most_the_frame_being_written`]: records every kind of
/// event in turn, a batch every 80 events (a ring-buffer drain) or when full, until killed, and
/// prints the id of the last record written to the file after each batch.
#[test]
#[ignore = "the child process of kill_9_loses_at_most_the_frame_being_written, which runs it"]
fn writer() {
    let Some(path) = std::env::var_os(WRITER_LOG) else {
        return;
    };
    let opts = RecorderOptions {
        sync_every_frames: 0,
        sync_interval: None,
        ..RecorderOptions::default()
    };
    let mut rec = Recorder::create(path, opts).unwrap();
    let mut out = std::io::stdout().lock();
    let mut written = 0;
    for i in 0.. {
        rec.record_event(&every_kind(i)).unwrap();
        if i % 80 == 79 {
            rec.end_batch().unwrap();
        }
        if rec.written_id() != written {
            written = rec.written_id();
            writeln!(out, "{written}").and_then(|()| out.flush()).unwrap();
        }
    }
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

/// Runs the writer until the file has `min_bytes`, SIGKILLs it; returns the id of the last record it
/// said was written (to the file) before it died.
fn record_then_kill(path: &Path, min_bytes: u64) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["writer", "--exact", "--ignored", "--nocapture", "--test-threads", "1"])
        .env(WRITER_LOG, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last_reported = 0;
    while std::fs::metadata(path).map_or(0, |m| m.len()) < min_bytes {
        assert!(start.elapsed() < Duration::from_secs(60), "the writer never got going");
        let line = lines.next().expect("the writer ended").unwrap();
        // The test harness's own lines ("running 1 test", "test writer ... ") are not ids; the first
        // id may follow the latter on its line.
        if let Some(id) = line.split_whitespace().last().and_then(|w| w.parse().ok()) {
            last_reported = id;
        }
    }
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGKILL) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    last_reported
}

#[test]
fn kill_9_loses_at_most_the_frame_being_written() {
    let dir = tempfile::tempdir().unwrap();
    for (round, min_bytes) in [64 * 1024u64, 300 * 1024, 1024 * 1024].into_iter().enumerate() {
        let path = dir.path().join(format!("crash{round}.agentlog"));
        let reported = record_then_kill(&path, min_bytes);
        let len = std::fs::metadata(&path).unwrap().len();

        let rep = verify_file(&path, |_| {});
        assert!(rep.intact(), "round {round}: {:?}", rep.errors);
        assert!(rep.trailer.is_none(), "killed: no trailer");
        assert!(rep.events > 100, "round {round}: only {} events", rep.events);

        // Every complete frame reads back, in order, with the content written; only the very end
        // (the frame being written, if any) is missing.
        let mut events = 0u64;
        let mut last_id = 0u64;
        let mut end_of_last = 0u64;
        let mut truncated_at = None;
        let mut r = FrameReader::open(&path, ReaderOptions::default()).unwrap();
        let mut contexts = ContextTable::default();
        while let Some(item) = r.next_frame() {
            match item {
                Ok(f) => {
                    assert!(truncated_at.is_none(), "nothing after the truncation");
                    assert_eq!(f.offset, end_of_last, "frames are contiguous");
                    end_of_last = f.offset + f.header.frame_len() as u64;
                    for entry in f.entries() {
                        let entry = entry.unwrap();
                        last_id = entry.id;
                        if let Record::Event(e) = decode_entry(entry.kind, entry.payload, &mut contexts).unwrap() {
                            assert_eq!(json(&*e), json(&every_kind(events)));
                            events += 1;
                        }
                    }
                }
                Err(e) => {
                    assert!(e.is_truncation(), "round {round}: {e}");
                    truncated_at = Some(e.offset);
                }
            }
        }
        assert_eq!(events, rep.events);
        // Nothing the recorder had written is lost (no user-space buffering after a batch is written).
        assert!(
            last_id >= reported,
            "round {round}: record {reported} was written but the log ends at record {last_id}"
        );
        match truncated_at {
            // The partial frame (the one being written) starts right after the last complete one.
            Some(off) => {
                assert_eq!(off, end_of_last);
                assert!(off < len);
                assert_eq!(Some(off), rep.truncated.as_ref().map(|t| t.offset));
            }
            None => {
                assert_eq!(end_of_last, len, "no partial frame: the file ends with a whole frame");
                assert!(rep.truncated.is_none());
            }
        }
    }
}
