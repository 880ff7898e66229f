//! `agentmon replay FILE…`: recorded events through the rule engine, alerts printed as live.
use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result, anyhow, bail};

use super::log::Progress;
use crate::{
    outputs::format::write_alert,
    record::{
        Evaluator, ReplayOptions,
        replay::{self, Source},
        verify::expand_rotations,
    },
};

#[derive(Clone, Debug, clap::Args)]
pub struct ReplayArgs {
    /// Log files, in order; a file's rotated continuations (FILE.1, …) are included.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Evaluate the events with the rules in DIR. Without it, the alerts recorded live are printed.
    #[arg(long, value_name = "DIR")]
    pub(crate) rules: Option<PathBuf>,
    /// One JSON object per alert and line.
    #[arg(long)]
    pub(crate) json: bool,
    /// Only events at or after this time (RFC 3339, e.g. 2026-11-26T19:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// Only events of this agent.
    #[arg(long, value_name = "NAME")]
    pub(crate) agent: Option<String>,
    /// Do not check the hash chain (tampering) of every frame, only checksums and sequence numbers
    /// (damage, truncation, missing or reordered frames): faster (docs/BENCHMARKS.md), for repeated
    /// hunts through a log that `agentmon log verify` already checked.
    #[arg(long)]
    pub(crate) skip_chain: bool,
    /// Stop reading a file at its first damaged frame (reported with its byte offset) instead of
    /// resynchronising on the next intact frame and going on.
    #[arg(long)]
    pub(crate) no_resync: bool,
}

/// Loads the rule engine for `--rules DIR` (the same loader as live monitoring; replay never runs
/// the responder, so no action is taken: `action_result` stays empty).
fn load_rules(dir: &Path) -> Result<Box<dyn Evaluator>> {
    let set = crate::rules::RuleSet::load_dir(dir).map_err(|e| anyhow!("{e}"))?;
    tracing::info!(dir = %dir.display(), rules = set.rule_count(), "rules loaded");
    Ok(Box::new(set))
}

fn parse_time(flag: &str, s: Option<&str>) -> Result<Option<i64>> {
    let Some(s) = s else { return Ok(None) };
    let t = humantime::parse_rfc3339_weak(s).with_context(|| format!("{flag} {s:?}: expected RFC 3339 time"))?;
    let d = t
        .duration_since(std::time::UNIX_EPOCH)
        .with_context(|| format!("{flag} {s:?} is before 1970"))?;
    Ok(Some(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)))
}

pub fn run(args: ReplayArgs) -> Result<i32> {
    super::log::quiet_pipe(replay_cmd(&args))
}

fn replay_cmd(args: &ReplayArgs) -> Result<i32> {
    let filter = ReplayOptions {
        since_ns: parse_time("--since", args.since.as_deref())?,
        until_ns: parse_time("--until", args.until.as_deref())?,
        agent: args.agent.clone(),
        skip_chain: args.skip_chain,
        no_resync: args.no_resync,
    };
    let files = expand_rotations(&args.files);
    for f in &files {
        if !f.exists() {
            bail!("{}: no such file", f.display());
        }
    }
    let mut rules = args.rules.as_deref().map(load_rules).transpose()?;
    let source = match rules.as_deref_mut() {
        Some(eval) => Source::Rules(eval),
        None => Source::Recorded,
    };
    let progress = Progress::for_files(&files);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut write_err = None;
    let stats = replay::replay(
        &files,
        source,
        &filter,
        |a| {
            if let Err(e) = write_alert(&mut out, args.json, a) {
                write_err.get_or_insert(e);
            }
        },
        |path, e| {
            if e.is_truncation() {
                tracing::warn!("{}: {e}", path.display());
            } else {
                super::report(format_args!("{}: {e} (skipped)", path.display()));
            }
        },
        |b| progress.set(b),
    );
    progress.finish();
    out.flush()?;
    if let Some(e) = write_err {
        return Err(e).context("writing alerts");
    }
    tracing::info!(?stats, "replay done");
    Ok(i32::from(stats.problems > 0))
}
