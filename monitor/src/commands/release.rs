//! `agentmon release AGENT`: thaw a quarantined agent (or `--kill` it); `--list` shows them.
#![expect(clippy::print_stdout, reason = "the list and the outcome are this command's output")]
use anyhow::{Result, bail};

use crate::{event::escaped, respond};

#[derive(Clone, Debug, clap::Args)]
pub struct ReleaseArgs {
    /// Agent name, cgroup path or cgroup id of a quarantined agent.
    pub(crate) agent: Option<String>,
    /// End the agent (kill every process) instead of thawing it.
    #[arg(long)]
    pub(crate) kill: bool,
    /// List quarantined agents.
    #[arg(long, conflicts_with = "agent")]
    pub(crate) list: bool,
}

pub fn run(args: ReleaseArgs) -> Result<i32> {
    if args.list {
        for q in respond::state::load_quarantined()? {
            println!(
                "{}\t{}\tsince={}\trule={}\tpids=[{}]",
                escaped(&q.agent),
                escaped(&q.cgroup.to_string_lossy()),
                q.since,
                escaped(&q.rule),
                q.pids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
            );
        }
        return Ok(0);
    }
    let Some(which) = args.agent else {
        bail!("name the agent to release (or use --list)")
    };
    let q = respond::quarantine::release(&which, args.kill)?;
    let what = if args.kill { "killed" } else { "released" };
    println!(
        "{what} {} ({})",
        escaped(&q.agent),
        escaped(&q.cgroup.to_string_lossy())
    );
    Ok(0)
}
