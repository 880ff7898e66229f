//! `--only cpu-per-event` (issue 13 (a)): agentmon's own CPU per event while a watched open/close
//! storm runs, as deployed (`agentmon run --json --cgroup W`, default rules, stdout to /dev/null),
//! with and without `--record FILE`.
//!
//! The window starts once agentmon is watching and has settled (its start-up, ≈ 2 s of CPU loading
//! programs, is not counted) and ends when it has drained the ring buffer after the storm (its CPU
//! time stops rising, [`wait_quiet`]). CPU is the sum of its threads' `schedstat` on-CPU time;
//! events are the `records=` of its final stats line. Both cases alternate in every repetition (the
//! first case changes from one repetition to the next); medians are reported.
use std::{ffi::OsStr, time::Duration};

use anyhow::{Result, bail};

use super::{
    BenchArgs, TempDir,
    cgroup::{TempCgroup, cgroup2_root},
    field, median,
    monitor::{cpu_ns, cpu_ticks_secs, start_monitor_with, stop_monitor_stats, storm, wait_quiet},
    range,
};

/// One measurement: (µs of agentmon CPU per event, events, drops, µs per event from clock ticks).
struct Run {
    us_per_event: f64,
    records: u64,
    drops: u64,
    ticks_us_per_event: f64,
}

fn one(a: &BenchArgs, record: bool) -> Result<Run> {
    let root = cgroup2_root()?;
    let cg = TempCgroup::new(&root, "agentmon-bench-cpu")?;
    let dir = TempDir::new("cpu-record")?;
    let log = dir.0.join("storm.agentlog");
    let ringbuf = a.ringbuf_size.to_string();
    let mut extra: Vec<&OsStr> = vec!["--ringbuf-size".as_ref(), ringbuf.as_ref()];
    if record {
        extra.extend(["--record".as_ref(), log.as_os_str()]);
    }
    let m = start_monitor_with(&[&cg.0], &extra)?;
    let pid = m.pid();
    std::thread::sleep(Duration::from_secs(1));
    let (cpu0, ticks0) = (cpu_ns(pid)?, cpu_ticks_secs(pid)?);
    storm(a.iterations, &cg.0)?;
    let cpu1 = wait_quiet(pid)?;
    let ticks1 = cpu_ticks_secs(pid)?;
    let stats = stop_monitor_stats(m)?;
    let records = field(&stats, "records");
    if records == 0 {
        bail!("agentmon delivered no events during the storm: {stats}");
    }
    Ok(Run {
        us_per_event: (cpu1 - cpu0) as f64 / 1e3 / records as f64,
        records,
        drops: field(&stats, "drops"),
        ticks_us_per_event: (ticks1 - ticks0) * 1e6 / records as f64,
    })
}

pub(super) fn cpu_per_event(a: &BenchArgs) -> Result<()> {
    let cases = [("default rules", false), ("default rules, --record FILE", true)];
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(), Vec::new()];
    for rep in 0..a.reps.max(1) {
        for k in 0..cases.len() {
            let i = (rep + k) % cases.len();
            let r = one(a, cases[i].1)?;
            eprintln!(
                "rep {rep}: {}: {:.3} µs/event ({:.3} from clock ticks), {} events, {} drops",
                cases[i].0, r.us_per_event, r.ticks_us_per_event, r.records, r.drops
            );
            runs[i].push(r);
        }
    }
    println!();
    println!(
        "agentmon CPU per event, watched open/close storm ({} pairs, `agentmon run --json --cgroup W`, stdout to /dev/null; {} interleaved repetitions, medians):",
        a.iterations,
        a.reps.max(1)
    );
    println!();
    println!("| case | µs of agentmon CPU per event | range | events delivered (median) | drops (total) |");
    println!("|---|---|---|---|---|");
    for (i, (what, _)) in cases.iter().enumerate() {
        let us: Vec<f64> = runs[i].iter().map(|r| r.us_per_event).collect();
        println!(
            "| {what} | {:.3} | {} | {:.0} | {} |",
            median(us.clone()),
            range(&us, 3),
            median(runs[i].iter().map(|r| r.records as f64).collect()),
            runs[i].iter().map(|r| r.drops).sum::<u64>()
        );
    }
    let ratio = median(
        runs[1]
            .iter()
            .zip(&runs[0])
            .map(|(r, b)| r.us_per_event / b.us_per_event)
            .collect(),
    );
    println!();
    println!("--record costs {ratio:.2}× the CPU per event of rules alone (median of each repetition's ratio).");
    Ok(())
}
