//! `agentmon run --cgroup PATH…`: watch existing cgroups until SIGINT/SIGTERM.
use std::{path::PathBuf, time::Duration};

use anyhow::Result;
use tokio::signal::unix::{SignalKind, signal};

use super::MonitorArgs;
use crate::{
    cgroup::{Cgroup, cgroup2_root},
    output::Printer,
    session::Session,
};

#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// cgroup v2 directory to watch (absolute, or relative to the cgroup2 mount); repeatable.
    #[arg(long = "cgroup", value_name = "PATH", required = true)]
    pub cgroups: Vec<PathBuf>,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

pub async fn run(args: RunArgs) -> Result<i32> {
    let root = cgroup2_root()?;
    let cgroups = args
        .cgroups
        .iter()
        .map(|p| Cgroup::open(&root, p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut session = Session::start(
        root,
        &args.monitor.probe_options(),
        Printer::stdout(args.monitor.json),
        args.monitor.filter(),
    )?;
    args.monitor.record.attach(&mut session.pipeline)?;
    for (slot, cg) in cgroups.iter().enumerate() {
        session.watch(cg, &cg.rel, slot as u32)?;
        tracing::info!(cgroup = %cg.path.display(), id = cg.id, "watching");
    }
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            r = session.pump() => { r?; }
            _ = tick.tick() => { session.check_drops()?; }
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
        }
    }
    session.drain();
    session.check_drops()?;
    tracing::info!("stopping; detaching programs");
    Ok(0)
}
