//! `agentmon run --cgroup PATH…` / `--config FILE`: watch existing cgroups, and the agents the config
//! names as they come and go, until SIGINT/SIGTERM.
use std::{path::PathBuf, time::Duration};

use anyhow::Result;
use tokio::signal::unix::{SignalKind, signal};

use super::MonitorArgs;
use crate::cgroup::{Cgroup, cgroup2_root};

#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// cgroup v2 directory to watch (absolute, or relative to the cgroup2 mount); repeatable.
    #[arg(long = "cgroup", value_name = "PATH")]
    pub(crate) cgroups: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) agents: super::agents::AgentArgs,
    #[command(flatten)]
    pub(crate) monitor: MonitorArgs,
}

pub async fn run(args: RunArgs) -> Result<i32> {
    crate::probes::check_privileges()?;
    // Handlers first: once "watching" is logged a SIGHUP must reload, never kill (its default).
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let root = cgroup2_root()?;
    let cgroups = args
        .cgroups
        .iter()
        .map(|p| Cgroup::open(&root, p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut agents = super::agents::Agents::start(&args.agents, &root, !cgroups.is_empty()).await?;
    let mut monitor = args.monitor.clone();
    if monitor.rules.is_none() && !monitor.no_rules {
        monitor.rules = agents.config.as_ref().and_then(|c| c.rules_dir.clone());
    }
    if monitor.rules_maturity.is_none() {
        monitor.rules_maturity = agents.config.as_ref().and_then(|c| c.rules_maturity);
    }
    let (mut session, rules_dir) = monitor.start_session(root)?;
    for cg in &cgroups {
        session.watch(cg, &cg.rel)?;
        tracing::info!(cgroup = %cg.path.display(), id = cg.id, "watching");
    }
    session.pipeline.set_metrics(agents.metrics.clone());
    session.pipeline.set_sinks(agents.take_sinks());
    agents.apply_initial(&mut session);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            r = session.pump() => { r?; }
            _ = tick.tick() => { session.check_drops()?; }
            Some(ev) = agents.recv() => agents.apply(&mut session, ev),
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            _ = sighup.recv() => match &rules_dir {
                Some(dir) => session.reload_rules(dir),
                None => tracing::info!("SIGHUP: running without rules, nothing to reload"),
            },
        }
    }
    session.finish(Duration::from_secs(5)).await;
    session.check_drops()?;
    session.log_final_stats();
    if let Some(sinks) = session.pipeline.take_sinks() {
        sinks.shutdown(Duration::from_secs(5)).await;
    }
    tracing::info!("stopping; detaching programs");
    Ok(0)
}
