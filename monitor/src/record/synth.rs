//! Synthetic events and logs, for tests and benchmarks (`agentmon log bench-gen`, `cargo xtask bench`).
use std::{
    path::Path,
    time::{Duration, Instant},
};

use prost::Message;

use super::{
    RecordError, Recorder, RecorderOptions,
    decoder::EventDecoder,
    format::{EntryKind, FrameError},
    proto,
    reader::{FrameReader, ReaderOptions},
};
use crate::{
    enrich::Ancestor,
    enrich::Enriched,
    event::{
        Body, ChdirInfo, ConnectInfo, DenyInfo, Event, ExecInfo, ExitInfo, Family, ForkInfo, Header, MountInfo,
        OpenInfo,
    },
    rules::{Action, Alert, Priority},
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
        agent: if pid.is_multiple_of(3) {
            "coder".into()
        } else {
            "researcher".into()
        },
        resolved_path,
    }
}

/// A deterministic, realistic stream of agent events (the replay benchmark's log): two agents whose
/// main process (python) makes tool calls, each a fork, an exec of a tool (python, git, bash, ls,
/// cat, grep, curl), the tool's opens (shared libraries, Python modules, project files; a third of
/// the tool calls write a file), sometimes a connect, and an exit. About 1 event in 2,000 is
/// something the default rules flag (a credential read, the metadata service, an exec from /tmp).
///
/// The mix is calibrated on a real recording (`agentmon exec --record` of a script running python,
/// ls, cat, grep and sh in a loop): ~91% opens, ~2.5% each exec, fork and exit, ~85 payload bytes
/// per event.
pub struct AgentSession {
    rng: u64,
    ktime_ns: u64,
    next_pid: u32,
    queue: std::collections::VecDeque<Enriched>,
}

const PY_MODULES: [&str; 12] = [
    "encodings/__init__",
    "codecs",
    "io",
    "abc",
    "os",
    "stat",
    "posixpath",
    "genericpath",
    "json/__init__",
    "json/decoder",
    "subprocess",
    "urllib/request",
];
const LIBS: [&str; 6] = [
    "/etc/ld.so.cache",
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib/x86_64-linux-gnu/libm.so.6",
    "/lib/x86_64-linux-gnu/libz.so.1",
    "/lib/x86_64-linux-gnu/libpcre2-8.so.0",
    "/usr/lib/locale/locale-archive",
];

impl Default for AgentSession {
    fn default() -> Self {
        Self {
            rng: 0x9e37_79b9_7f4a_7c15,
            ktime_ns: 5_000_000_000,
            next_pid: 2000,
            queue: Default::default(),
        }
    }
}

impl Iterator for AgentSession {
    type Item = Enriched;

    fn next(&mut self) -> Option<Enriched> {
        if self.queue.is_empty() {
            self.tool_call();
        }
        self.queue.pop_front()
    }
}

struct Proc {
    pid: u32,
    comm: &'static str,
    exe: &'static str,
    agent: &'static str,
    parent: Option<(u32, &'static str)>,
}

impl AgentSession {
    fn rand(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rand() % n
    }

    fn push(&mut self, p: &Proc, body: Body, resolved_path: Option<String>) {
        self.ktime_ns += 2_000 + self.below(40_000);
        let wall = Duration::from_secs(1_795_651_200) + Duration::from_micros(self.ktime_ns / 1_000);
        let mut ancestors = Vec::with_capacity(3);
        if let Some((pid, exe)) = p.parent {
            ancestors.push(Ancestor { pid, exe: exe.into() });
        }
        ancestors.push(Ancestor {
            pid: 900,
            exe: "/usr/bin/containerd-shim-runc-v2".into(),
        });
        ancestors.push(Ancestor {
            pid: 1,
            exe: "/usr/lib/systemd/systemd".into(),
        });
        let is_deny = matches!(body, Body::Deny(_));
        self.queue.push_back(Enriched {
            time: humantime::format_rfc3339_micros(std::time::UNIX_EPOCH + wall).to_string(),
            event: Event {
                header: Header {
                    ktime_ns: self.ktime_ns,
                    pid: p.pid,
                    tid: p.pid,
                    ppid: p.parent.map_or(900, |(pid, _)| pid),
                    uid: 1000,
                    gid: 1000,
                    cgroup_id: if p.agent == "coder" { 4242 } else { 4343 },
                    comm: p.comm.into(),
                    truncated: false,
                    read_failed: false,
                    denied: is_deny,
                },
                body,
            },
            exe: p.exe.into(),
            ancestors,
            cgroup: format!("kubepods.slice/agents/{}", p.agent),
            agent: p.agent.into(),
            resolved_path,
        });
    }

    fn open(&mut self, p: &Proc, path: String, write: bool) {
        let flags = if write {
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC
        } else {
            libc::O_RDONLY | libc::O_CLOEXEC
        } as u32;
        let body = Body::Open(OpenInfo {
            path: path.clone(),
            flags,
            mode: if write { 0o644 } else { 0 },
            dfd: -100,
            syscall: "openat",
        });
        self.push(p, body, Some(path));
    }

    fn tool_call(&mut self) {
        let (agent, main_pid) = if self.below(3) == 0 {
            ("researcher", 1100)
        } else {
            ("coder", 1000)
        };
        let main = Proc {
            pid: main_pid,
            comm: "python3",
            exe: "/usr/bin/python3.12",
            agent,
            parent: None,
        };
        for _ in 0..self.below(6) {
            let f = self.below(40);
            self.open(&main, format!("/home/agent/{agent}/workspace/src/module_{f}.py"), false);
        }
        self.next_pid = if self.next_pid >= 4_000_000 {
            2000
        } else {
            self.next_pid + 1
        };
        let pid = self.next_pid;
        self.push(&main, Body::Fork(ForkInfo { child_pid: pid }), None);
        let (comm, exe, argv): (&'static str, &'static str, Vec<String>) = match self.below(20) {
            0..=5 => (
                "python3",
                "/usr/bin/python3.12",
                vec!["python3".into(), "tools/run_tests.py".into()],
            ),
            6..=9 => (
                "git",
                "/usr/bin/git",
                vec!["git".into(), "status".into(), "--short".into()],
            ),
            10..=11 => (
                "bash",
                "/usr/bin/bash",
                vec!["bash".into(), "-c".into(), "ls -la src | wc -l".into()],
            ),
            12..=13 => ("ls", "/usr/bin/ls", vec!["ls".into(), "-la".into(), "src".into()]),
            14..=15 => ("cat", "/usr/bin/cat", vec!["cat".into(), "README.md".into()]),
            16..=18 => (
                "grep",
                "/usr/bin/grep",
                vec!["grep".into(), "-rn".into(), "TODO".into(), "src".into()],
            ),
            _ => (
                "curl",
                "/usr/bin/curl",
                vec![
                    "curl".into(),
                    "-sSfo".into(),
                    "data.json".into(),
                    "https://api.example.invalid/v1/data".into(),
                ],
            ),
        };
        let child = Proc {
            pid,
            comm,
            exe,
            agent,
            parent: Some((main_pid, "/usr/bin/python3.12")),
        };
        let roll = self.below(2000);
        // The rare event a default rule flags, instead of the normal tool.
        let (exe, argv) = if roll == 0 {
            ("/tmp/payload", vec!["/tmp/payload".into()])
        } else {
            (exe, argv)
        };
        self.push(
            &Proc { exe, ..child },
            Body::Exec(ExecInfo {
                filename: exe.into(),
                argv,
                argv_truncated: false,
            }),
            Some(exe.into()),
        );
        let child = Proc { exe, ..child };
        let n_libs = if comm == "python3" {
            3
        } else {
            2 + self.below(4) as usize
        };
        for lib in LIBS.iter().take(n_libs) {
            self.open(&child, (*lib).to_string(), false);
        }
        if comm == "python3" {
            for _ in 0..40 + self.below(60) {
                let m = PY_MODULES[self.below(PY_MODULES.len() as u64) as usize];
                self.open(&child, format!("/usr/lib/python3.12/{m}.py"), false);
                let name = m.rsplit('/').next().unwrap_or(m);
                let dir = m.rsplit_once('/').map_or(String::new(), |(d, _)| format!("{d}/"));
                self.open(
                    &child,
                    format!("/usr/lib/python3.12/{dir}__pycache__/{name}.cpython-312.pyc"),
                    false,
                );
            }
        }
        for _ in 0..self.below(8) {
            let f = self.below(40);
            self.open(
                &child,
                format!("/home/agent/{agent}/workspace/src/module_{f}.py"),
                false,
            );
        }
        if self.below(3) == 0 {
            let f = self.below(10);
            self.open(
                &child,
                format!("/home/agent/{agent}/workspace/out/result_{f}.json"),
                true,
            );
        }
        if roll == 1 {
            self.open(&child, "/home/agent/.aws/credentials".into(), false);
        }
        if comm == "curl" || comm == "git" && self.below(4) == 0 || roll == 2 {
            let addr = if roll == 2 { "169.254.169.254" } else { "140.82.121.4" };
            self.push(
                &child,
                Body::Connect(ConnectInfo {
                    family: Family::Inet,
                    addr: addr.into(),
                    port: if roll == 2 { 80 } else { 443 },
                    fd: 3,
                }),
                None,
            );
        }
        if self.below(40) == 0 {
            self.push(
                &child,
                Body::Chdir(ChdirInfo {
                    path: "src".into(),
                    fd: -1,
                }),
                None,
            );
        }
        self.push(
            &child,
            Body::Exit(ExitInfo {
                exit_code: Some(0),
                signal: None,
            }),
            None,
        );
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

/// Which synthetic events a generated log holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// A realistic agent session ([`AgentSession`]).
    #[default]
    Session,
    /// Every body kind in turn ([`synthetic_event`]): a worst case, where every other event is an
    /// exec, connect or mount and a quarter of them raise alerts.
    Uniform,
}

/// Writes a log of `n_events` synthetic events of the `Uniform` mix (and an alert on every 10th
/// connect) to `path`.
pub fn generate_synthetic_log(path: &Path, n_events: u64) -> Result<(), RecordError> {
    let opts = RecorderOptions {
        sync_every_frames: 0,
        sync_interval: None,
        ..RecorderOptions::default()
    };
    write_synthetic(path, Some(n_events), Mix::Uniform, 0, opts, |_| {})
}

/// Like [`generate_synthetic_log`] with a mix and recorder options; `n_events: None` writes until the
/// process is killed (the crash test). A batch ends every `drain` events, as the live recorder's does
/// after each ring-buffer drain (0: only when full). `written` gets the id of the last record written to the file
/// each time a batch was written. Connects to the metadata service are recorded with an alert.
pub fn write_synthetic(
    path: &Path,
    n_events: Option<u64>,
    mix: Mix,
    drain: u64,
    opts: RecorderOptions,
    mut written: impl FnMut(u64),
) -> Result<(), RecordError> {
    let mut rec = Recorder::create(path, opts)?;
    let mut events: Box<dyn Iterator<Item = Enriched>> = match mix {
        Mix::Session => Box::new(AgentSession::default()),
        Mix::Uniform => Box::new((0..).map(synthetic_event)),
    };
    let mut i = 0u64;
    while n_events.is_none_or(|n| i < n) {
        let Some(ev) = events.next() else { break };
        let before = rec.written_id();
        let id = rec.record_event(&ev)?;
        let metadata = matches!(&ev.event.body, Body::Connect(c) if c.addr == "169.254.169.254");
        // Uniform: every 10th connect (i % 8 == 2) raises an alert.
        if metadata && (mix == Mix::Session || i % 80 == 2) {
            rec.record_alert(&synthetic_alert(&ev), id)?;
        }
        if drain > 0 && (i + 1).is_multiple_of(drain) {
            rec.end_batch()?;
        }
        if rec.written_id() != before {
            written(rec.written_id());
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
    /// Frame checks only: CRC32C of header and payload, sequence, hash chain (`agentmon log verify`).
    pub verify: Duration,
    /// Verify plus protobuf decoding of every event payload.
    pub verify_decode: Duration,
    /// Verify, decode, and conversion to `Enriched` with process contexts resolved (what replay feeds
    /// the rule engine).
    pub verify_decode_convert: Duration,
    /// The same three passes in CPU time of the measuring thread (what "per core" means on a busy
    /// machine: wall time also counts waiting for a core).
    pub cpu: [Duration; 3],
    /// CPU time of decoding every event payload into the reused event again, from memory (no
    /// reading, no checks): the decoder alone.
    pub decode_only_cpu: Duration,
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
        let mut dec = EventDecoder::default();
        while let Some(f) = r.next_frame() {
            let f = f?;
            frames += 1;
            for e in f.entries() {
                let e = e?;
                if pass == 2 && e.kind == EntryKind::Context {
                    dec.define_context(e.payload).map_err(|err| bad(e.offset, err))?;
                }
                if e.kind != EntryKind::Event {
                    continue;
                }
                events += 1;
                match pass {
                    0 => {}
                    1 => {
                        std::hint::black_box(proto::Event::decode(e.payload).map_err(|err| bad(e.offset, err))?);
                    }
                    _ => {
                        dec.decode(e.payload).map_err(|err| bad(e.offset, err))?;
                        std::hint::black_box(dec.event());
                    }
                }
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
    // The decoder alone: every Context and Event payload kept in memory, decoded once more.
    let mut payloads = Vec::new();
    let mut r = FrameReader::open(path, ReaderOptions::default()).map_err(|e| RecordError::io(path, e))?;
    while let Some(f) = r.next_frame() {
        let f = f?;
        for e in f.entries() {
            let e = e?;
            if matches!(e.kind, EntryKind::Context | EntryKind::Event) {
                payloads.push((e.kind == EntryKind::Context, e.payload.to_vec()));
            }
        }
    }
    let mut dec = EventDecoder::default();
    let cpu_start = thread_cpu();
    for (is_context, p) in &payloads {
        if *is_context {
            dec.define_context(p).map_err(|e| bad(0, e))?;
        } else {
            dec.decode(p).map_err(|e| bad(0, e))?;
            std::hint::black_box(dec.event());
        }
    }
    report.decode_only_cpu = thread_cpu().saturating_sub(cpu_start);
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
