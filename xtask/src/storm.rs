//! The benchmark's workload: a tight open/close loop on /dev/null, optionally from inside a cgroup.
//!
//! Prints the nanoseconds the loop took; with `--seconds` it runs for that long instead of a fixed
//! count and prints `NANOSECONDS ITERATIONS`.
use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};

#[derive(clap::Args)]
pub(crate) struct StormArgs {
    /// open+close pairs to run.
    #[arg(long, default_value_t = 1_000_000)]
    pub iterations: u64,
    /// Run for this many seconds instead (`--iterations` is then ignored).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Move into this cgroup (absolute path of its directory) first.
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
}

fn open_close() -> Result<()> {
    let f = std::fs::File::open("/dev/null").context("opening /dev/null")?;
    drop(f);
    Ok(())
}

pub(crate) fn storm(a: StormArgs) -> Result<()> {
    if let Some(cg) = &a.cgroup {
        std::fs::write(cg.join("cgroup.procs"), "0").with_context(|| format!("joining {}", cg.display()))?;
    }
    let start = Instant::now();
    if let Some(secs) = a.seconds {
        let until = Duration::try_from_secs_f64(secs).context("--seconds")?;
        let mut n = 0u64;
        // The clock is read once per 1024 pairs, so it costs nothing next to them.
        while start.elapsed() < until {
            for _ in 0..1024 {
                open_close()?;
            }
            n += 1024;
        }
        println!("{} {n}", start.elapsed().as_nanos());
        return Ok(());
    }
    for _ in 0..a.iterations {
        open_close()?;
    }
    let ns = start.elapsed().as_nanos();
    println!("{ns}");
    Ok(())
}
