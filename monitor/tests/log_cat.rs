//! `agentmon log cat` on a damaged log: by default it reports the damaged frame and goes on with the
//! next intact one; with `--no-resync` it stops there.
use std::process::Command;

use agentmon::record::{FrameKind, FrameReader, ReaderOptions, format::FRAME_HEADER_LEN};

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
    let st = Command::new(env!("CARGO_BIN_EXE_agentmon"))
        .args(["log", "bench-gen", "--mix", "uniform"])
        .arg(&log)
        .arg("200")
        .output()
        .unwrap();
    assert!(st.status.success());
    let mut frames = Vec::new();
    let mut r = FrameReader::open(&log, ReaderOptions::default()).unwrap();
    while let Some(f) = r.next_frame() {
        let f = f.unwrap();
        frames.push((f.offset, f.header.kind));
    }
    let k = (100..frames.len()).find(|&i| frames[i].1 == FrameKind::Event).unwrap();
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[frames[k].0 as usize + FRAME_HEADER_LEN + 1] ^= 1;
    std::fs::write(&log, &bytes).unwrap();
    let offset = format!("byte {}", frames[k].0);

    let (code, records, stderr) = cat(&log, &[]);
    assert_eq!(code, 1, "damage is reported in the exit status");
    assert!(stderr.contains(&offset), "{stderr}");
    assert_eq!(records.len(), frames.len() - 1, "every other frame is printed");

    let (code, records, stderr) = cat(&log, &["--no-resync"]);
    assert_eq!(code, 1);
    assert!(stderr.contains(&offset), "{stderr}");
    assert_eq!(records.len(), k, "only the frames before the damage");
}
