//! `agentmon learn --output PROFILE [--duration D] -- CMD…` (or `--cgroup PATH…` for a running
//! agent): watch the agent, count its syscalls in the kernel, and write the profile of what it did
//! (`crate::profile`).
use std::{collections::BTreeMap, path::PathBuf, time::Duration};

use anyhow::{Context, Result, bail};
use monitor_common::programs::SYSCALL_COUNT;
use tokio::signal::unix::{SignalKind, signal};

use crate::{
    cgroup::{Cgroup, cgroup2_root},
    outputs::Printer,
    pipeline::Filter,
    probes::ProbeOptions,
    profile::{Coverage, learn::Learner},
    session::Session,
};

#[derive(Clone, Debug, clap::Args)]
pub struct LearnArgs {
    /// Where to write the profile (YAML).
    #[arg(long, short, value_name = "PROFILE")]
    pub(crate) output: PathBuf,
    /// Stop learning after this long (`30s`, `10m`): CMD is stopped then; required with --cgroup
    /// unless you stop agentmon with SIGINT.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Learn a running agent: its cgroup (absolute, or relative to the cgroup2 mount); repeatable.
    #[arg(long = "cgroup", value_name = "PATH", conflicts_with = "command")]
    pub(crate) cgroups: Vec<PathBuf>,
    /// The agent's name in the profile (default: the command's file name or the cgroup's).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Parent cgroup for CMD's (absolute, or relative to the cgroup2 mount). Default: the root.
    #[arg(long, value_name = "PATH")]
    pub(crate) parent_cgroup: Option<PathBuf>,
    /// Ring buffer size in bytes (power of two, ≥ 4096).
    #[arg(long, default_value_t = 8 * 1024 * 1024, value_name = "BYTES")]
    pub(crate) ringbuf_size: u32,
    /// The command to learn and its arguments.
    #[arg(last = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

pub async fn run(args: LearnArgs) -> Result<i32> {
    crate::probes::check_privileges()?;
    if args.command.is_empty() && args.cgroups.is_empty() {
        bail!("nothing to learn: give -- CMD… or --cgroup PATH");
    }
    let root = cgroup2_root()?;
    let mut session = Session::start(
        root.clone(),
        &ProbeOptions {
            ringbuf_bytes: args.ringbuf_size,
        },
        Printer::stdout(false),
        Filter {
            events: false,
            lifecycle: false,
        },
        None,
    )?;
    session.pipeline.set_learner(Learner::default());
    session.probes.attach_on_demand(&SYSCALL_COUNT)?;
    let started = std::time::SystemTime::now();
    let t0 = std::time::Instant::now();
    let mut exit_status = None;
    // CMD's cgroup, removed at the end (after its counts are read: its id could be reused).
    let mut made = None;
    let (agent, watched) = if args.command.is_empty() {
        let cgroups = args
            .cgroups
            .iter()
            .map(|p| Cgroup::open(&root, p))
            .collect::<Result<Vec<_>, _>>()?;
        let agent = args.name.clone().unwrap_or_else(|| {
            cgroups[0]
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        for cg in &cgroups {
            session.watch(cg, &agent)?;
        }
        watch_until(&mut session, args.duration).await?;
        session.finish(Duration::from_secs(5)).await;
        session.check_drops()?;
        (agent, cgroups)
    } else {
        let agent = args
            .name
            .clone()
            .unwrap_or_else(|| super::exec::default_agent(&args.command));
        let guard = super::exec::fresh_cgroup(&root, args.parent_cgroup.as_deref(), "learn")?;
        session.watch(&guard.0, &agent)?;
        let sighup = signal(SignalKind::hangup())?;
        let code =
            super::exec::supervise(&mut session, &guard.0, &args.command, None, None, args.duration, sighup).await?;
        exit_status = Some(code);
        let cg = guard.0.clone();
        made = Some(guard);
        (agent, vec![cg])
    };
    session.probes.detach_on_demand(&SYSCALL_COUNT)?;
    let ids: Vec<u64> = watched.iter().map(|c| c.id).collect();
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    for ((cg, nr), n) in session.probes.syscall_counts()? {
        if ids.contains(&cg) {
            *counts.entry(nr).or_default() += n;
        }
    }
    let lost: u64 = session.probes.counters()?.lost().map(|(_, n)| n).sum();
    for cg in &watched {
        session.unwatch(cg.id, &agent)?;
    }
    drop(made);
    let coverage = Coverage {
        command: args.command.clone(),
        cgroups: watched.iter().map(|c| c.path.display().to_string()).collect(),
        started: humantime::format_rfc3339_seconds(started).to_string(),
        duration_ms: t0.elapsed().as_millis() as u64,
        events: 0,
        drops: lost,
        complete: lost == 0,
        exit_status,
        agentmon: env!("CARGO_PKG_VERSION").into(),
    };
    let learner = session
        .pipeline
        .take_learner()
        .context("the learner is gone from the pipeline")?;
    let profile = learner.finish(&agent, &counts, coverage);
    std::fs::write(&args.output, profile.to_yaml()).with_context(|| format!("writing {}", args.output.display()))?;
    super::report(format_args!(
        "profile written to {}: {} executables, {} read / {} write / {} exec entries, {} destinations, {} syscalls; {} events{}",
        args.output.display(),
        profile.executables.len(),
        profile.files.read.len(),
        profile.files.write.len(),
        profile.files.exec.len(),
        profile.network.connect.len(),
        profile.syscalls.len(),
        profile.coverage.events,
        if lost > 0 {
            format!(", {lost} LOST: the profile is incomplete")
        } else {
            String::new()
        }
    ));
    Ok(exit_status.unwrap_or(0))
}

/// Pumps events until `limit` passes or SIGINT/SIGTERM.
async fn watch_until(session: &mut Session, limit: Option<Duration>) -> Result<()> {
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let until = tokio::time::sleep(limit.unwrap_or(Duration::MAX / 4));
    tokio::pin!(until);
    loop {
        tokio::select! {
            r = session.pump() => { r?; }
            _ = tick.tick() => { session.check_drops()?; }
            _ = sigint.recv() => return Ok(()),
            _ = sigterm.recv() => return Ok(()),
            () = &mut until => return Ok(()),
        }
    }
}
