//! `--only rules`: rule-matching throughput, from `agentmon-bench rules` (this tree's rule engine).
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::agentmon_bench;
use crate::workspace_root;

/// Rule-matching throughput: the shipped rules plus 50 generated ones over a synthetic event mix.
pub(super) fn rule_throughput() -> Result<()> {
    let out = Command::new(agentmon_bench())
        .args(["rules", "--rules"])
        .arg(workspace_root().join("rules"))
        .args(["--extra", "50", "--events", "3000000"])
        .output()
        .context("running agentmon-bench rules")?;
    if !out.status.success() {
        bail!("agentmon-bench rules failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    println!();
    println!("Rule matching (default rules + 50 generated, 3 M synthetic events, one core): {line}");
    Ok(())
}
