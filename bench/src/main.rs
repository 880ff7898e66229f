//! `agentmon-bench`: the measurements of docs/BENCHMARKS.md that need agentmon's library rather than
//! its binary. `cargo xtask bench` runs it (`--only rules`, `--only replay`); it is development
//! tooling, neither part of the `agentmon` binary nor installed.
//!
//! - `rules`, `rules-log`: rule-matching throughput ([`rules`]).
//! - `log-gen`, `log-read`: synthetic logs through the real recorder, and how fast logs are read
//!   ([`logs`]; the realistic event stream is [`session`]).
//! - `floor`: an immediately-returning program at each of agentmon's attach points, the storm
//!   benchmark's floor ([`floor`]).
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark tool: results on stdout, progress and skipped inputs on stderr"
)]
mod floor;
mod logs;
mod rules;
mod session;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "agentmon-bench", about = "agentmon's benchmarks (development tooling)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Rule-matching throughput of a rule set plus generated rules over a synthetic event mix.
    Rules(rules::RulesArgs),
    /// Time `RuleSet::evaluate` alone over the events of a recorded log, held in memory.
    RulesLog(rules::RulesLogArgs),
    /// Write a synthetic log through the real recorder.
    LogGen(logs::GenArgs),
    /// Attach a program that returns at once at every attach point agentmon uses (the floor).
    Floor(floor::FloorArgs),
    /// Verify/decode throughput of a log (single thread), and the chain hashes by payload size.
    LogRead {
        /// An intact log.
        file: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Rules(a) => rules::synthetic_mix(&a),
        Cmd::RulesLog(a) => rules::recorded(&a),
        Cmd::LogGen(a) => logs::generate(&a),
        Cmd::LogRead { file } => logs::read(&file),
        Cmd::Floor(a) => floor::run(&a),
    }
}
