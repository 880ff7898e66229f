//! `agentmon log verify|cat|stats`: inspect forensic logs written with `--record`. Also the
//! `--record*` options of the live commands.
use std::{
    collections::BTreeMap,
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result};
use prost::Message;
use serde::Serialize;

use crate::{
    enrich::Enriched,
    outputs::format::event_text,
    pipeline::Pipeline,
    record::{
        LiveRecorder, ReaderOptions, Record, RecordReader, Recorder, RecorderOptions, convert,
        decoder::EventDecoder,
        format::{EntryKind, FrameError},
        proto,
        reader::FrameReader,
        verify::{self, expand_rotations},
    },
};

/// `verify` exit status when logs are intact but incomplete (truncated tail or no trailer).
pub const EXIT_INCOMPLETE: i32 = 3;

/// Recording options of `agentmon run` / `agentmon exec`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct RecordArgs {
    /// Record every event and alert to FILE (a new file; see docs/RECORDING.md).
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Continue in FILE.1, FILE.2, … when a file would exceed this size.
    #[arg(long, value_name = "BYTES", requires = "record")]
    pub record_max_bytes: Option<u64>,
    /// fdatasync the recording at least every N frames (0: only by time).
    #[arg(long, value_name = "N", default_value_t = 4096, requires = "record")]
    pub record_sync_frames: u64,
    /// …and at least every MS milliseconds while events come in (0: only by count).
    #[arg(long, value_name = "MS", default_value_t = 1000, requires = "record")]
    pub record_sync_ms: u64,
}

impl RecordArgs {
    pub fn options(&self) -> RecorderOptions {
        RecorderOptions {
            max_bytes: self.record_max_bytes,
            sync_every_frames: self.record_sync_frames,
            sync_interval: (self.record_sync_ms > 0).then(|| Duration::from_millis(self.record_sync_ms)),
            ..RecorderOptions::default()
        }
    }

    /// Starts recording into `pipeline` if `--record` was given.
    pub fn attach(&self, pipeline: &mut Pipeline) -> Result<()> {
        if let Some(path) = &self.record {
            let rec = Recorder::create(path, self.options()).context("starting the recording")?;
            tracing::info!(path = %path.display(), "recording events and alerts");
            pipeline.set_recorder(LiveRecorder::new(rec));
        }
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    #[command(subcommand)]
    pub command: LogCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// Check checksums, hash chain and rotation links. Exit status: 0 intact and complete, 1 damaged
    /// or tampered with, 3 intact but incomplete (cut off by a crash, or not closed).
    Verify {
        /// Log files; a file's rotated continuations (FILE.1, …) are included.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print every record (damaged frames are reported on stderr and skipped).
    Cat {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Stop reading a file at its first damaged frame instead of resynchronising.
        #[arg(long)]
        no_resync: bool,
    },
    /// Counts per kind and per agent, time span, alerts.
    Stats {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: LogArgs) -> Result<i32> {
    match args.command {
        LogCommand::Verify { files } => verify_cmd(&expand_rotations(&files)),
        LogCommand::Cat { files, json, no_resync } => quiet_pipe(cat(&expand_rotations(&files), json, !no_resync)),
        LogCommand::Stats { files, json } => quiet_pipe(stats(&expand_rotations(&files), json)),
    }
}

/// Output piped into `head` and closed early is not an error.
pub(crate) fn quiet_pipe(r: Result<i32>) -> Result<i32> {
    match r {
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            Ok(0)
        }
        r => r,
    }
}

/// A byte-progress bar on stderr, only when stderr is a terminal.
pub(crate) struct Progress(Option<indicatif::ProgressBar>);

impl Progress {
    pub(crate) fn for_files(files: &[PathBuf]) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let total = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
        {
            bar.set_style(style);
        }
        Self(Some(bar))
    }

    pub(crate) fn set(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.set_position(bytes);
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

fn verify_cmd(files: &[PathBuf]) -> Result<i32> {
    let progress = Progress::for_files(files);
    let report = verify::verify_files(files, |b| progress.set(b));
    progress.finish();
    let mut out = std::io::stdout().lock();
    for f in &report.files {
        let status = if !f.intact() {
            "FAILED"
        } else if !f.complete() {
            "INCOMPLETE"
        } else {
            "OK"
        };
        let seqs = match (f.first_seq, f.last_seq) {
            (Some(a), Some(b)) => format!(", seq {a}..={b}"),
            _ => String::new(),
        };
        writeln!(
            out,
            "{}: {status}: {} frames ({} events, {} alerts, {} drop notices){seqs}",
            f.path.display(),
            f.frames,
            f.events,
            f.alerts,
            f.drops
        )?;
        if let Some(first) = f.errors.first() {
            writeln!(out, "  first bad frame at byte {}: {}", first.offset, first.problem)?;
            for e in f.errors.iter().skip(1).take(9) {
                writeln!(out, "  then at byte {}: {}", e.offset, e.problem)?;
            }
            if f.error_count > 10 {
                writeln!(out, "  … {} problems in all", f.error_count)?;
            }
        }
        if let Some(t) = &f.truncated {
            writeln!(out, "  byte {}: {}", t.offset, t.problem)?;
        }
        if f.trailer.is_none() && f.truncated.is_none() && f.intact() {
            writeln!(
                out,
                "  no trailer: the recorder did not close this file (killed, or frames cut off at the end)"
            )?;
        }
    }
    for l in &report.links {
        writeln!(out, "{}: FAILED: {}", l.file.display(), l.problem)?;
    }
    Ok(if !report.intact() {
        1
    } else if !report.complete() {
        EXIT_INCOMPLETE
    } else {
        0
    })
}

/// Reports a reader problem on stderr; true if it is damage (not just a cut-off tail).
fn report_problem(path: &Path, e: &FrameError) -> bool {
    if e.is_truncation() {
        tracing::warn!("{}: {e}", path.display());
        false
    } else {
        eprintln!("agentmon: {}: {e}", path.display());
        true
    }
}

#[derive(Serialize)]
struct CatEvent<'a> {
    record: &'static str,
    seq: u64,
    offset: u64,
    #[serde(flatten)]
    event: &'a Enriched,
}

fn alert_json(a: &proto::Alert) -> serde_json::Value {
    let prio = convert::priority_from_proto(a.priority)
        .map(|p| p.as_str())
        .unwrap_or("unknown");
    let action = convert::action_from_proto(a.action)
        .ok()
        .and_then(|x| serde_json::to_value(x).ok())
        .unwrap_or(serde_json::Value::Null);
    serde_json::json!({
        "rule": a.rule,
        "priority": prio,
        "tags": a.tags,
        "action": action,
        "action_result": a.action_result,
        "action_latency_us": a.action_latency_us,
        "output": a.output,
        "event_seq": a.event_seq,
    })
}

fn context_json(c: &proto::Context) -> serde_json::Value {
    let p = c.process.clone().unwrap_or_default();
    serde_json::json!({
        "id": c.id,
        "pid": c.pid,
        "ppid": c.ppid,
        "uid": c.uid,
        "gid": c.gid,
        "cgroup_id": c.cgroup_id,
        "comm": c.comm,
        "exe": p.exe,
        "ancestors": p.ancestors.iter().map(|a| serde_json::json!({"pid": a.pid, "exe": a.exe})).collect::<Vec<_>>(),
        "cgroup": p.cgroup,
        "agent": p.agent,
    })
}

fn record_json(seq: u64, offset: u64, r: &Record) -> serde_json::Value {
    let (kind, mut v) = match r {
        Record::Event(e) => {
            return serde_json::to_value(CatEvent {
                record: "event",
                seq,
                offset,
                event: e,
            })
            .unwrap_or_default();
        }
        Record::Header(h) => (
            "header",
            serde_json::json!({
                "format_version": h.format_version,
                "host": h.host,
                "boot_id": h.boot_id,
                "start_time": convert::format_time_ns(h.start_time_unix_ns),
                "agentmon_version": h.agentmon_version,
                "file_index": h.file_index,
                "prev_file": h.prev_file,
            }),
        ),
        Record::Alert(a) => ("alert", alert_json(a)),
        Record::Context(c) => ("context", context_json(c)),
        Record::Drops(d) => (
            "drops",
            serde_json::json!({"lost": d.lost, "total": d.total, "time": convert::format_time_ns(d.time_unix_ns)}),
        ),
        Record::Trailer(t) => (
            "trailer",
            serde_json::json!({
                "reason": proto::trailer::Reason::try_from(t.reason).map(|r| r.as_str_name()).unwrap_or("UNKNOWN"),
                "next_file": t.next_file,
                "frames": t.frames,
                "events": t.events,
                "alerts": t.alerts,
                "end_time": convert::format_time_ns(t.end_time_unix_ns),
            }),
        ),
    };
    if let Some(o) = v.as_object_mut() {
        o.insert("record".into(), kind.into());
        o.insert("seq".into(), seq.into());
        o.insert("offset".into(), offset.into());
    }
    v
}

fn record_text(seq: u64, offset: u64, r: &Record) -> String {
    let what = match r {
        Record::Event(e) => event_text(e),
        Record::Header(h) => format!(
            "log header: host {} boot {} agentmon {} started {} file #{}{}",
            h.host,
            h.boot_id,
            h.agentmon_version,
            convert::format_time_ns(h.start_time_unix_ns),
            h.file_index,
            if h.prev_file.is_empty() {
                String::new()
            } else {
                format!(" (continues {})", h.prev_file)
            }
        ),
        Record::Alert(a) => {
            let j = alert_json(a);
            format!(
                "ALERT [{}] {}: {} (event #{}, action {} → {})",
                j["priority"].as_str().unwrap_or("?"),
                a.rule,
                a.output,
                a.event_seq,
                j["action"].as_str().unwrap_or("?"),
                a.action_result
            )
        }
        Record::Drops(d) => format!("DROPS: {} events lost ({} in all)", d.lost, d.total),
        Record::Context(c) => {
            let p = c.process.clone().unwrap_or_default();
            format!(
                "context {}: pid {} ppid {} uid {} comm {} exe {} agent {} cgroup {}",
                c.id, c.pid, c.ppid, c.uid, c.comm, p.exe, p.agent, p.cgroup
            )
        }
        Record::Trailer(t) => format!(
            "log trailer: {} frames, {} events, {} alerts{}",
            t.frames,
            t.events,
            t.alerts,
            if t.next_file.is_empty() {
                String::new()
            } else {
                format!(", continues in {}", t.next_file)
            }
        ),
    };
    format!("#{seq} @{offset} {what}")
}

fn cat(files: &[PathBuf], json: bool, resync: bool) -> Result<i32> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut damaged = false;
    for path in files {
        let reader = RecordReader::open(
            path,
            ReaderOptions {
                resync,
                ..Default::default()
            },
        )
        .with_context(|| path.display().to_string())?;
        for item in reader {
            match item {
                Ok(loc) => {
                    if json {
                        serde_json::to_writer(&mut out, &record_json(loc.seq, loc.offset, &loc.record))
                            .map_err(std::io::Error::from)?;
                        out.write_all(b"\n")?;
                    } else {
                        writeln!(out, "{}", record_text(loc.seq, loc.offset, &loc.record))?;
                    }
                }
                Err(e) => damaged |= report_problem(path, &e),
            }
        }
    }
    out.flush()?;
    Ok(i32::from(damaged))
}

#[derive(Default, Serialize)]
struct Stats {
    files: u64,
    bytes: u64,
    frames: u64,
    events: u64,
    events_by_kind: BTreeMap<String, u64>,
    events_by_agent: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event: Option<String>,
    alerts: u64,
    alerts_by_rule: BTreeMap<String, u64>,
    alerts_by_priority: BTreeMap<String, u64>,
    lost_events: u64,
    problems: u64,
    truncated: u64,
}

fn stats(files: &[PathBuf], json: bool) -> Result<i32> {
    let progress = Progress::for_files(files);
    let mut s = Stats::default();
    let (mut first_ns, mut last_ns) = (i64::MAX, i64::MIN);
    let mut done = 0;
    for path in files {
        s.files += 1;
        s.bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let mut r = FrameReader::open(
            path,
            ReaderOptions {
                resync: true,
                ..Default::default()
            },
        )
        .with_context(|| path.display().to_string())?;
        let mut dec = EventDecoder::default();
        while let Some(item) = r.next_frame() {
            let f = match item {
                Ok(f) => f,
                Err(e) => {
                    dec.after_damage(&e);
                    if report_problem(path, &e) {
                        s.problems += 1;
                    } else {
                        s.truncated += 1;
                    }
                    continue;
                }
            };
            s.frames += 1;
            if s.frames % 1024 == 0 {
                progress.set(done + f.offset);
            }
            for entry in f.entries() {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        dec.after_damage(&e);
                        report_problem(path, &e);
                        s.problems += 1;
                        continue;
                    }
                };
                match entry.kind {
                    EntryKind::Context => {
                        if dec.define_context(entry.payload).is_err() {
                            s.problems += 1;
                        }
                    }
                    EntryKind::Event => {
                        s.events += 1;
                        if dec.decode(entry.payload).is_err() {
                            s.problems += 1;
                            continue;
                        }
                        let e = dec.event();
                        *s.events_by_kind.entry(e.event.body.kind_name().into()).or_default() += 1;
                        match s.events_by_agent.get_mut(&e.agent) {
                            Some(n) => *n += 1,
                            None => {
                                s.events_by_agent.insert(e.agent.clone(), 1);
                            }
                        }
                        first_ns = first_ns.min(dec.time_ns());
                        last_ns = last_ns.max(dec.time_ns());
                    }
                    EntryKind::Alert => {
                        s.alerts += 1;
                        if let Ok(a) = proto::Alert::decode(entry.payload) {
                            let prio = convert::priority_from_proto(a.priority)
                                .map(|p| p.as_str())
                                .unwrap_or("unknown");
                            *s.alerts_by_priority.entry(prio.into()).or_default() += 1;
                            *s.alerts_by_rule.entry(a.rule).or_default() += 1;
                        }
                    }
                    EntryKind::Drops => {
                        if let Ok(d) = proto::Drops::decode(entry.payload) {
                            s.lost_events += d.lost;
                        }
                    }
                }
            }
        }
        done += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    }
    progress.finish();
    if first_ns <= last_ns {
        s.first_event = Some(convert::format_time_ns(first_ns));
        s.last_event = Some(convert::format_time_ns(last_ns));
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &s)?;
        writeln!(out)?;
    } else {
        print_stats(&mut out, &s)?;
    }
    Ok(i32::from(s.problems > 0))
}

fn print_stats(out: &mut impl Write, s: &Stats) -> std::io::Result<()> {
    writeln!(out, "files: {} ({} bytes, {} frames)", s.files, s.bytes, s.frames)?;
    if let (Some(a), Some(b)) = (&s.first_event, &s.last_event) {
        writeln!(out, "time span: {a} .. {b}")?;
    }
    writeln!(out, "events: {}", s.events)?;
    for (k, n) in &s.events_by_kind {
        writeln!(out, "  {k:<10} {n}")?;
    }
    writeln!(out, "events per agent:")?;
    for (k, n) in &s.events_by_agent {
        let k = if k.is_empty() { "(none)" } else { k };
        writeln!(out, "  {k:<20} {n}")?;
    }
    writeln!(out, "alerts: {}", s.alerts)?;
    for (k, n) in &s.alerts_by_priority {
        writeln!(out, "  {k:<14} {n}")?;
    }
    for (k, n) in &s.alerts_by_rule {
        writeln!(out, "  rule {k:?}: {n}")?;
    }
    if s.lost_events > 0 {
        writeln!(
            out,
            "events lost in the ring buffer (recorded drop notices): {}",
            s.lost_events
        )?;
    }
    if s.problems + s.truncated > 0 {
        writeln!(out, "damaged frames: {}, truncated tails: {}", s.problems, s.truncated)?;
    }
    Ok(())
}
