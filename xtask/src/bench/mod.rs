//! `cargo xtask bench`: agentmon's overhead and throughput, each figure a ratio or a figure measured
//! in one run, repetitions interleaved so machine noise hits every case alike, medians reported.
//! `--only` picks parts (default: all), one module each:
//!
//! - [`storm`]: overhead and drops on an open/close storm — (a) no monitor, (b) agentmon loaded with
//!   the storm unwatched, (c) the storm watched;
//! - [`idle`], [`rules`], [`latency`], [`replay`], [`sandbox`]: the idle monitor's CPU, rule
//!   matching, action latency, replay of generated logs, the sandbox's overhead;
//! - the live pipeline (issue 13): [`cpu_per_event`] (agentmon CPU per event in a watched storm,
//!   with and without `--record`), [`storm_floor`] (the storm ratios beside the empty-program floor
//!   and the kernel side alone), [`burst`] (an agent's work burst watched vs not),
//!   [`two_storms`] (both cores storming at once: delivered, drops).
//!
//! `AGENTMON_BIN=PATH` measures another agentmon binary (e.g. an older build) instead of
//! `target/release/agentmon`. Rule matching, the replay benchmark's logs and the floor's programs
//! come from this tree's `target/release/agentmon-bench` (`bench/`: it links agentmon's library,
//! so it measures this tree's rule engine whatever `AGENTMON_BIN` says).
mod burst;
mod cgroup;
mod cpu_per_event;
mod idle;
mod latency;
mod monitor;
mod replay;
mod rules;
mod sandbox;
mod storm;
mod storm_floor;
mod two_storms;

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::workspace_root;

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// open+close pairs per storm (each pair is two syscalls; the open is an event when watched).
    #[arg(long, default_value_t = 1_000_000)]
    pub iterations: u64,
    /// Interleaved repetitions of each case.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Events in the generated log for the replay benchmark (0 skips it).
    #[arg(long, default_value_t = 5_000_000)]
    pub replay_events: u64,
    /// Ring buffer size for agentmon, bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub ringbuf_size: u32,
    /// Seconds over which the idle monitor's CPU use is measured.
    #[arg(long, default_value_t = 20)]
    pub idle_secs: u64,
    /// Runs of the sandbox workload's build + test + script per measurement.
    #[arg(long, default_value_t = 10)]
    pub sandbox_iterations: u32,
    /// Rounds of the agent work burst per measurement (`--only burst`).
    #[arg(long, default_value_t = 2)]
    pub burst_rounds: u32,
    /// Seconds the two simultaneous storms run (`--only two-storms`).
    #[arg(long, default_value_t = 10.0)]
    pub two_storms_secs: f64,
    /// Run only these parts (comma-separated); default: all.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Part>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Part {
    /// Overhead and drops on the open/close storm.
    Storm,
    /// CPU used by a monitor with nothing to do.
    Idle,
    /// Rule-matching throughput.
    Rules,
    /// Action latency (kill, quarantine).
    Latency,
    /// Replay of a generated log (also skipped by `--replay-events 0`).
    Replay,
    /// The sandbox's overhead on a benign workload (a C build, its test, a script run).
    Sandbox,
    /// agentmon's CPU per event during a watched storm, with and without `--record` (issue 13 a).
    CpuPerEvent,
    /// The storm ratios beside the empty-program floor, and the kernel side alone (issue 13 b).
    StormFloor,
    /// An agent work burst (git, build, test, scripts) watched vs not (issue 13 c).
    Burst,
    /// Two storms on both cores at once, default ring buffer: delivered, drops (issue 13 d).
    TwoStorms,
}

/// The agentmon binary under measurement.
fn agentmon_release() -> PathBuf {
    std::env::var_os("AGENTMON_BIN").map_or_else(crate::agentmon_release, PathBuf::from)
}

/// The benchmark tool (`bench/`), built by `cargo xtask bench`.
fn agentmon_bench() -> PathBuf {
    workspace_root().join("target/release/agentmon-bench")
}

/// The value of `key=N` in a log line (0 if absent).
pub(super) fn field(stats: &str, key: &str) -> u64 {
    stats
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or(0)
}

/// The median (the upper one of an even count); NaN for none.
pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

pub(crate) fn bench(a: BenchArgs) -> Result<()> {
    let run = |p: Part| a.only.is_empty() || a.only.contains(&p);
    if run(Part::Storm) {
        storm::storm_overhead(&a)?;
    }
    if run(Part::Idle) {
        idle::idle_cpu(a.idle_secs, a.ringbuf_size)?;
    }
    if run(Part::Rules) {
        rules::rule_throughput()?;
    }
    if run(Part::Latency) {
        latency::action_latency(10)?;
    }
    if run(Part::Replay) && a.replay_events > 0 {
        replay::replay(a.replay_events, a.reps)?;
    }
    if run(Part::Sandbox) {
        sandbox::sandbox_overhead(a.sandbox_iterations, a.reps)?;
    }
    if run(Part::CpuPerEvent) {
        cpu_per_event::cpu_per_event(&a)?;
    }
    if run(Part::StormFloor) {
        storm_floor::storm_floor(&a)?;
    }
    if run(Part::Burst) {
        burst::burst(&a)?;
    }
    if run(Part::TwoStorms) {
        two_storms::two_storms(&a)?;
    }
    Ok(())
}

/// A directory under the temporary directory, removed with its contents on drop.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(name: &str) -> Result<Self> {
        let p = std::env::temp_dir().join(format!("agentmon-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(Self(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `min–max` of a list of figures, with `digits` decimals.
pub(super) fn range(v: &[f64], digits: usize) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.digits$}–{max:.digits$}")
}
