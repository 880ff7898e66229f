//! Synthetic logs and how fast they are read: `log-gen` writes events through the real recorder
//! (the replay benchmark's logs, the recording-cost figures); `log-read` times reading, checking and
//! decoding a log in single-threaded passes, then the two chain hashes by input size.
use std::{
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use agentmon::{
    enrich::{Enriched, synthetic},
    event::Body,
    record::{
        FrameReader, ReaderOptions, Recorder, RecorderOptions,
        decoder::EventDecoder,
        format::{EntryKind, FrameError, Problem},
        proto,
    },
    rules::Alert,
};
use anyhow::{Context, Result};
use prost::Message;

use crate::session::AgentSession;

/// Which synthetic events a generated log holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mix {
    /// A realistic agent session ([`AgentSession`]).
    #[default]
    Session,
    /// Every body kind in turn ([`synthetic::every_kind`]): a worst case, where every other event is
    /// an exec, connect or mount and a quarter of them raise alerts.
    Uniform,
}

#[derive(Debug, clap::Args)]
pub(crate) struct GenArgs {
    file: PathBuf,
    /// Events to write; 0: until killed.
    count: u64,
    /// fdatasync every N frames (0: never).
    #[arg(long, default_value_t = 0)]
    sync_frames: u64,
    /// Print the id of the last record written (to the file) on stdout after each batch.
    #[arg(long)]
    print_seq: bool,
    /// Which events.
    #[arg(long, value_enum, default_value_t = Mix::Session)]
    mix: Mix,
    /// End a batch every N events, as a ring-buffer drain of N events would (0: only when full).
    #[arg(long, default_value_t = 0)]
    drain: u64,
}

/// `log-gen`: writes the log, then its size and speed on stderr.
pub(crate) fn generate(a: &GenArgs) -> Result<()> {
    let opts = RecorderOptions {
        max_bytes: None,
        sync_every_frames: a.sync_frames,
        sync_interval: None,
        ..RecorderOptions::default()
    };
    let start = Instant::now();
    let mut stdout = std::io::stdout();
    let count = (a.count > 0).then_some(a.count);
    write_synthetic(&a.file, count, a.mix, a.drain, opts, |id| {
        if a.print_seq {
            let _ = writeln!(stdout, "{id}").and_then(|()| stdout.flush());
        }
    })?;
    let took = start.elapsed();
    let bytes = std::fs::metadata(&a.file).map_or(0, |m| m.len());
    eprintln!(
        "wrote {} events ({bytes} bytes) in {:.3} s: {:.0} events/s, {:.0} ns/event (sync every {} frames)",
        a.count,
        took.as_secs_f64(),
        a.count as f64 / took.as_secs_f64().max(1e-9),
        took.as_nanos() as f64 / a.count.max(1) as f64,
        a.sync_frames
    );
    Ok(())
}

/// Writes `n_events` events of `mix` to a new log at `path` (`None`: until the process is killed).
/// A batch ends every `drain` events, as the live recorder's does after each ring-buffer drain (0:
/// only when full). `written` gets the id of the last record written to the file each time a batch
/// was written. Connects to the metadata service are recorded with an alert (every 10th of them in
/// the uniform mix).
fn write_synthetic(
    path: &Path,
    n_events: Option<u64>,
    mix: Mix,
    drain: u64,
    opts: RecorderOptions,
    mut written: impl FnMut(u64),
) -> Result<()> {
    let mut rec = Recorder::create(path, opts)?;
    let mut events: Box<dyn Iterator<Item = Enriched>> = match mix {
        Mix::Session => Box::new(AgentSession::default()),
        Mix::Uniform => Box::new((0..).map(synthetic::every_kind)),
    };
    let mut i = 0u64;
    while n_events.is_none_or(|n| i < n) {
        let Some(ev) = events.next() else { break };
        let before = rec.written_id();
        let id = rec.record_event(&ev)?;
        let metadata = matches!(&ev.event.body, Body::Connect(c) if c.dest.addr == "169.254.169.254");
        // Uniform: every 10th connect (i % 8 == 2) raises an alert.
        if metadata && (mix == Mix::Session || i % 80 == 2) {
            rec.record_alert(&Alert::synthetic(&ev), id)?;
        }
        if drain > 0 && (i + 1).is_multiple_of(drain) {
            rec.end_batch()?;
        }
        if rec.written_id() != before {
            written(rec.written_id());
        }
        i += 1;
    }
    rec.close()?;
    Ok(())
}

/// What [`measure`] measured (single thread).
#[derive(Clone, Debug, Default)]
struct ThroughputReport {
    bytes: u64,
    frames: u64,
    events: u64,
    /// Frame checks only: CRC32C of header and payload, sequence, hash chain (`agentmon log verify`).
    verify: Duration,
    /// Verify plus protobuf decoding of every event payload.
    verify_decode: Duration,
    /// Verify, decode, and conversion to `Enriched` with process contexts resolved (what replay feeds
    /// the rule engine).
    verify_decode_convert: Duration,
    /// The same three passes in CPU time of the measuring thread (what "per core" means on a busy
    /// machine: wall time also counts waiting for a core).
    cpu: [Duration; 3],
    /// CPU time of decoding every event payload into the reused event again, from memory (no
    /// reading, no checks): the decoder alone.
    decode_only_cpu: Duration,
}

impl ThroughputReport {
    fn events_per_sec(&self, d: Duration) -> f64 {
        self.events as f64 / d.as_secs_f64().max(1e-9)
    }
}

/// CPU time used by the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

fn bad(offset: u64, e: impl ToString) -> FrameError {
    FrameError {
        offset,
        problem: Problem::Payload {
            kind: "event",
            reason: e.to_string(),
        },
    }
}

fn open(path: &Path) -> Result<FrameReader<std::fs::File>> {
    FrameReader::open(path, ReaderOptions::default()).with_context(|| path.display().to_string())
}

/// Reads `path` three times, doing more work each time (see [`ThroughputReport`]), then decodes its
/// events once more from memory. Any damage in the log is an error: measure on an intact log.
fn measure(path: &Path) -> Result<ThroughputReport> {
    let mut report = ThroughputReport {
        bytes: std::fs::metadata(path)
            .with_context(|| path.display().to_string())?
            .len(),
        ..Default::default()
    };
    for pass in 0..3 {
        let start = Instant::now();
        let cpu_start = thread_cpu();
        let mut r = open(path)?;
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
    let mut r = open(path)?;
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

/// `log-read FILE`: the passes of [`measure`], then [`chain_hash_speeds`].
pub(crate) fn read(file: &Path) -> Result<()> {
    let r = measure(file)?;
    println!(
        "{} bytes, {} frames, {} events (single thread)",
        r.bytes, r.frames, r.events
    );
    for (i, (what, d)) in [
        ("verify (CRC32C + hash chain)", r.verify),
        ("verify + protobuf decode", r.verify_decode),
        ("verify + decode + convert to Enriched", r.verify_decode_convert),
    ]
    .into_iter()
    .enumerate()
    {
        let cpu = r.cpu[i];
        println!(
            "  {what:<38} wall {:>6.3} s {:>5.2} M ev/s {:>5.0} MB/s | cpu {:>6.3} s {:>5.2} M ev/s {:>5.0} MB/s",
            d.as_secs_f64(),
            r.events_per_sec(d) / 1e6,
            r.bytes as f64 / d.as_secs_f64().max(1e-9) / 1e6,
            cpu.as_secs_f64(),
            r.events_per_sec(cpu) / 1e6,
            r.bytes as f64 / cpu.as_secs_f64().max(1e-9) / 1e6,
        );
    }
    println!(
        "  {:<38} cpu {:>6.3} s {:>5.2} M ev/s",
        "decode only (payloads in memory)",
        r.decode_only_cpu.as_secs_f64(),
        r.events_per_sec(r.decode_only_cpu) / 1e6
    );
    chain_hash_speeds();
    Ok(())
}

/// SHA-256 and BLAKE3 throughput by input size: where the chain switches from one to the other
/// (`agentmon::record::format::BLAKE3_FROM`).
fn chain_hash_speeds() {
    use sha2::Digest;
    println!("chain hash throughput by payload size (MB/s):");
    for size in [144usize, 1024, 2048, 4096, 8192, 65_536] {
        let buf = vec![0x5au8; size];
        let rounds = (256 << 20) / size;
        let time = |f: &dyn Fn(&[u8]) -> u8| {
            let start = Instant::now();
            let mut acc = 0u8;
            for _ in 0..rounds {
                acc ^= f(std::hint::black_box(&buf));
            }
            std::hint::black_box(acc);
            (size * rounds) as f64 / start.elapsed().as_secs_f64().max(1e-9) / 1e6
        };
        let sha = time(&|b| sha2::Sha256::digest(b)[0]);
        let blake = time(&|b| blake3::hash(b).as_bytes()[0]);
        println!("  {size:>6} B: SHA-256 {sha:>6.0}  BLAKE3 {blake:>6.0}");
    }
}
