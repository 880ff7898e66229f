//! `agentmon log verify|cat|stats`: inspect forensic logs written with `--record`. Also the
//! `--record*` options of the live commands.
use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result};

mod cat;
mod stats;

use crate::{
    pipeline::Pipeline,
    record::{
        LiveRecorder, Recorder, RecorderOptions,
        format::FrameError,
        live::OnFailure,
        verify::{self, expand_rotations},
    },
};

/// `verify` exit status when logs are intact but incomplete (truncated tail or no trailer).
pub(crate) const EXIT_INCOMPLETE: i32 = 3;

/// Recording options of `agentmon run` / `agentmon exec`.
#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct RecordArgs {
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
    /// When the recording cannot be written (disk full, I/O error): `alert` keeps monitoring and
    /// raises a critical alert for every watched agent; `stop` quarantines (freezes) them, so
    /// nothing they do goes unrecorded. Either way the lost records are counted and marked in the log.
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = OnFailure::Alert, requires = "record")]
    pub on_record_failure: OnFailure,
}

impl RecordArgs {
    pub(crate) fn options(&self) -> RecorderOptions {
        RecorderOptions {
            max_bytes: self.record_max_bytes,
            sync_every_frames: self.record_sync_frames,
            sync_interval: (self.record_sync_ms > 0).then(|| Duration::from_millis(self.record_sync_ms)),
            ..RecorderOptions::default()
        }
    }

    /// Starts recording into `pipeline` if `--record` was given.
    pub(crate) fn attach(&self, pipeline: &mut Pipeline) -> Result<()> {
        if let Some(path) = &self.record {
            let rec = Recorder::create(path, self.options()).context("starting the recording")?;
            tracing::info!(path = %path.display(), "recording events and alerts");
            pipeline.set_recorder(LiveRecorder::new(rec), self.on_record_failure);
        }
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    #[command(subcommand)]
    pub(crate) command: LogCommand,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum LogCommand {
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
        LogCommand::Cat { files, json, no_resync } => quiet_pipe(cat::cat(&expand_rotations(&files), json, !no_resync)),
        LogCommand::Stats { files, json } => quiet_pipe(stats::stats(&expand_rotations(&files), json)),
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
        super::report(format_args!("{}: {e}", path.display()));
        true
    }
}
