//! The benchmark's workload: a tight open/close loop on /dev/null, optionally from inside a cgroup.
use std::{path::PathBuf, time::Instant};

use anyhow::{Context, Result};

#[derive(clap::Args)]
pub(crate) struct StormArgs {
    /// open+close pairs to run.
    #[arg(long, default_value_t = 1_000_000)]
    pub iterations: u64,
    /// Move into this cgroup (absolute path of its directory) first.
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
}

pub(crate) fn storm(a: StormArgs) -> Result<()> {
    if let Some(cg) = &a.cgroup {
        std::fs::write(cg.join("cgroup.procs"), "0").with_context(|| format!("joining {}", cg.display()))?;
    }
    let start = Instant::now();
    for _ in 0..a.iterations {
        let f = std::fs::File::open("/dev/null")?;
        drop(f);
    }
    let ns = start.elapsed().as_nanos();
    println!("{ns}");
    Ok(())
}
