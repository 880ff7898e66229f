//! The `kill` response: every task of the agent's cgroup subtree ends.
use std::time::Duration;

use anyhow::Result;

use crate::cgroup::Cgroup;

/// Kills every task of the agent's cgroup subtree. Returns a description for the alert.
pub(crate) fn kill(cg: &Cgroup) -> Result<String> {
    let n = cg.kill_all(Duration::from_secs(2))?;
    Ok(format!("killed {n} process(es) in {}", cg.rel))
}
