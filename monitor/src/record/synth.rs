//! Synthetic events and logs, for tests and benchmarks (`agentmon log bench-gen`, `cargo xtask bench`).
use std::{
    path::Path,
    time::{Duration, Instant},
};

use prost::Message;

use super::{
    RecordError, Recorder, RecorderOptions,
    format::{FrameError, FrameKind},
    proto,
    reader::{FrameReader, ReaderOptions},
};
use crate::{
    alert::{Action, Alert, Priority},
    event::{
        Body, ChdirInfo, ConnectInfo, DenyInfo, Event, ExecInfo, ExitInfo, Family, ForkInfo, Header, MountInfo,
        OpenInfo,
    },
    output::Enriched,
    proctable::Ancestor,
};

/// The `i`-th synthetic event: every body kind in turn (8), with realistic sizes (a ~250-byte payload).
pub fn synthetic_event(i: u64) -> Enriched {
    let pid = 1000 + (i % 50) as u32;
    let body = match i % 8 {
        0 => Body::Exec(ExecInfo {
            filename: "/usr/bin/curl".into(),
            argv: vec!["curl".into(), "-s".into(), format!("https://example.invalid/{i}")],
            argv_truncated: false,
        }),
        1 => Body::Open(OpenInfo {
            path: format!("/home/agent/work/file-{}.txt", i % 97),
            flags: (libc::O_WRONLY | libc::O_CREAT) as u32,
            mode: 0o644,
            dfd: -100,
            syscall: if i.is_multiple_of(2) { "openat" } else { "openat2" },
        }),
        2 => Body::Connect(ConnectInfo {
            family: Family::Inet,
            addr: "169.254.169.254".into(),
            port: 80,
            fd: 5,
        }),
        3 => Body::Mount(MountInfo {
            source: "tmpfs".into(),
            target: "/mnt/x".into(),
            fstype: "tmpfs".into(),
            flags: 0,
            syscall: if i.is_multiple_of(2) { "mount" } else { "move_mount" },
        }),
        4 => Body::Fork(ForkInfo { child_pid: pid + 1 }),
        5 => Body::Exit(ExitInfo {
            exit_code: Some((i % 3) as i32),
            signal: None,
        }),
        6 => Body::Deny(DenyInfo {
            what: "connect",
            rule_id: (i % 5) as u32,
        }),
        _ => Body::Chdir(ChdirInfo {
            path: "../work".into(),
            fd: -1,
        }),
    };
    let resolved_path = match &body {
        Body::Open(o) => Some(o.path.clone()),
        Body::Exec(x) => Some(x.filename.clone()),
        _ => None,
    };
    let ktime_ns = 5_000_000_000 + i * 1_000;
    // 2026-11-26T00:00:00Z plus the kernel time: strictly increasing, µs precision like live output.
    let wall = Duration::from_secs(1_795_651_200) + Duration::from_micros(ktime_ns / 1_000);
    Enriched {
        time: humantime::format_rfc3339_micros(std::time::UNIX_EPOCH + wall).to_string(),
        event: Event {
            header: Header {
                ktime_ns,
                pid,
                tid: pid,
                ppid: 999,
                uid: 1000,
                gid: 1000,
                cgroup_id: 4242,
                comm: "agent-worker".into(),
                truncated: false,
                read_failed: false,
                denied: matches!(body, Body::Deny(_)),
            },
            body,
        },
        exe: "/usr/bin/python3.12".into(),
        ancestors: vec![
            Ancestor {
                pid: 999,
                exe: "/usr/bin/bash".into(),
            },
            Ancestor {
                pid: 1,
                exe: "/usr/lib/systemd/systemd".into(),
            },
        ],
        cgroup: "agents/coder".into(),
        agent: if i.is_multiple_of(3) {
            "coder".into()
        } else {
            "researcher".into()
        },
        resolved_path,
    }
}

/// One event of every body kind.
pub fn every_kind() -> Vec<Enriched> {
    (0..8).map(synthetic_event).collect()
}

/// A synthetic alert on `ev`.
pub fn synthetic_alert(ev: &Enriched) -> Alert {
    Alert {
        rule: "Metadata service access".into(),
        priority: Priority::Critical,
        tags: vec!["network".into(), "credential_access".into()],
        action: Action::Kill,
        action_result: "killed 1 process".into(),
        action_latency_us: Some(180),
        output: format!("{} connected to the metadata service", ev.event.header.comm),
        event: ev.clone(),
    }
}

/// Writes a log of `n_events` synthetic events (and an alert on every 10th connect) to `path`.
pub fn generate_synthetic_log(path: &Path, n_events: u64) -> Result<(), RecordError> {
    let opts = RecorderOptions {
        sync_every_frames: 0,
        sync_interval: None,
        ..RecorderOptions::default()
    };
    write_synthetic(path, Some(n_events), opts, |_| {})
}

/// Like [`generate_synthetic_log`] with recorder options; `n_events: None` writes until the process
/// is killed (the crash test). `recorded` gets each event's sequence number once `record_event`
/// returned.
pub fn write_synthetic(
    path: &Path,
    n_events: Option<u64>,
    opts: RecorderOptions,
    mut recorded: impl FnMut(u64),
) -> Result<(), RecordError> {
    let mut rec = Recorder::create(path, opts)?;
    let mut i = 0u64;
    while n_events.is_none_or(|n| i < n) {
        let ev = synthetic_event(i);
        let seq = rec.record_event(&ev)?;
        recorded(seq);
        // Every 10th connect event (i % 8 == 2) raises an alert.
        if i % 80 == 2 {
            rec.record_alert(&synthetic_alert(&ev), seq)?;
        }
        i += 1;
    }
    rec.close()
}

/// What [`measure_replay_throughput`] measured (single thread).
#[derive(Clone, Debug, Default)]
pub struct ThroughputReport {
    pub bytes: u64,
    pub frames: u64,
    pub events: u64,
    /// Frame checks only: CRC32C of header and payload, sequence, SHA-256 chain (`agentmon log verify`).
    pub verify: Duration,
    /// Verify plus protobuf decoding of every event payload.
    pub verify_decode: Duration,
    /// Verify, decode, and conversion to `Enriched` (what replay feeds the rule engine).
    pub verify_decode_convert: Duration,
    /// The same three passes in CPU time of the measuring thread (what "per core" means on a busy
    /// machine: wall time also counts waiting for a core).
    pub cpu: [Duration; 3],
}

/// CPU time used by the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

impl ThroughputReport {
    pub fn events_per_sec(&self, d: Duration) -> f64 {
        self.events as f64 / d.as_secs_f64().max(1e-9)
    }
}

/// Reads `path` three times, doing more work each time (see [`ThroughputReport`]). Any damage in
/// the log is an error: measure on an intact log.
pub fn measure_replay_throughput(path: &Path) -> Result<ThroughputReport, RecordError> {
    let mut report = ThroughputReport {
        bytes: std::fs::metadata(path).map_err(|e| RecordError::io(path, e))?.len(),
        ..Default::default()
    };
    for pass in 0..3 {
        let start = Instant::now();
        let cpu_start = thread_cpu();
        let mut r = FrameReader::open(path, ReaderOptions::default()).map_err(|e| RecordError::io(path, e))?;
        let (mut frames, mut events) = (0u64, 0u64);
        while let Some(f) = r.next_frame() {
            let f = f?;
            frames += 1;
            if f.header.kind != FrameKind::Event {
                continue;
            }
            events += 1;
            if pass == 0 {
                continue;
            }
            let p = proto::Event::decode(f.payload).map_err(|e| bad(f.offset, e))?;
            if pass == 2 {
                std::hint::black_box(super::convert::event_from_proto(p).map_err(|e| bad(f.offset, e))?);
            } else {
                std::hint::black_box(p);
            }
        }
        let took = start.elapsed();
        report.cpu[pass] = thread_cpu().saturating_sub(cpu_start);
        (report.frames, report.events) = (frames, events);
        match pass {
            0 => report.verify = took,
            1 => report.verify_decode = took,
            _ => report.verify_decode_convert = took,
        }
    }
    Ok(report)
}

fn bad(offset: u64, e: impl ToString) -> FrameError {
    FrameError {
        offset,
        problem: super::format::Problem::Payload {
            kind: "event",
            reason: e.to_string(),
        },
    }
}
