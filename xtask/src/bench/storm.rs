//! `--only storm`: overhead and drops on the open/close storm — (a) no monitor, (b) agentmon loaded
//! with the storm unwatched, (c) the storm in the watched cgroup, as deployed (the open filter on:
//! once judged quiet, the storm's opens are counted in the kernel, not sent).
use std::time::{Duration, Instant};

use anyhow::Result;

use super::{
    BenchArgs,
    cgroup::{TempCgroup, cgroup2_root},
    field, median,
    monitor::{start_monitor, stop_monitor, storm},
};

pub(super) fn storm_overhead(a: &BenchArgs) -> Result<()> {
    let root = cgroup2_root()?;
    let watched = TempCgroup::new(&root, "agentmon-bench-watched")?;
    let other = TempCgroup::new(&root, "agentmon-bench-other")?;
    let (mut base, mut unwatched, mut inside) = (Vec::new(), Vec::new(), Vec::new());
    let mut c_events = 0u64;
    let mut c_drops = 0u64;
    let mut c_filtered = 0u64;
    let mut c_wall = Duration::ZERO;
    for rep in 0..a.reps {
        base.push(storm(a.iterations, &other.0)?);
        let m = start_monitor(&watched.0, a.ringbuf_size)?;
        unwatched.push(storm(a.iterations, &other.0)?);
        let t = Instant::now();
        inside.push(storm(a.iterations, &watched.0)?);
        let storm_wall = t.elapsed();
        let stats = stop_monitor(m)?;
        c_events += field(&stats, "records");
        c_drops += field(&stats, "drops");
        c_filtered += field(&stats, "filtered_opens");
        c_wall += storm_wall;
        eprintln!(
            "rep {rep}: a={:.0} ns b={:.0} ns c={:.0} ns; {}",
            base[rep],
            unwatched[rep],
            inside[rep],
            stats.trim()
        );
    }
    let (a_ns, b_ns, c_ns) = (median(base), median(unwatched), median(inside));
    let sent = a.iterations * a.reps as u64;
    println!("| case | ns per open+close (median of {}) | ratio to (a) |", a.reps);
    println!("|---|---|---|");
    println!("| (a) no monitor | {a_ns:.0} | 1.00× |");
    println!(
        "| (b) agentmon loaded, storm unwatched | {b_ns:.0} | {:.3}× |",
        b_ns / a_ns
    );
    println!("| (c) storm inside watched cgroup | {c_ns:.0} | {:.3}× |", c_ns / a_ns);
    println!();
    println!(
        "(c) events reaching userspace: {c_events} of {sent} opens ({:.0} events/s during the storms), {c_filtered} left out by the open filter; drops: {c_drops}",
        c_events as f64 / c_wall.as_secs_f64()
    );
    Ok(())
}
