//! `--only cpu-per-event` (issue 13 (a)): agentmon's own CPU per event while a watched open/close
//! storm runs, as deployed (`agentmon run --json --cgroup W`, default rules, stdout to /dev/null),
//! with `--no-open-filter` (every open sent), and with `--record FILE` (which sends every open too).
//!
//! The window starts once agentmon is watching and has settled (its start-up, ≈ 2 s of CPU loading
//! programs, is not counted) and ends when it has drained the ring buffer after the storm (its CPU
//! time stops rising, [`wait_quiet`]). CPU is the sum of its threads' `schedstat` on-CPU time;
//! events are those the programs handled: the `records=` of its final stats line plus the opens the
//! filter left out (`filtered_opens=`, counted in the kernel). Both cases alternate in every repetition (the
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

/// One measurement: (µs of agentmon CPU per event, events delivered, opens filtered, drops, µs per
/// event from clock ticks).
struct Run {
    us_per_event: f64,
    records: u64,
    filtered: u64,
    drops: u64,
    ticks_us_per_event: f64,
}

/// How agentmon runs in a case.
#[derive(Clone, Copy)]
enum Mode {
    Default,
    AllOpens,
    Record,
}

fn one(a: &BenchArgs, mode: Mode) -> Result<Run> {
    let root = cgroup2_root()?;
    let cg = TempCgroup::new(&root, "agentmon-bench-cpu")?;
    let dir = TempDir::new("cpu-record")?;
    let log = dir.0.join("storm.agentlog");
    let ringbuf = a.ringbuf_size.to_string();
    let mut extra: Vec<&OsStr> = vec!["--ringbuf-size".as_ref(), ringbuf.as_ref()];
    match mode {
        Mode::Default => {}
        Mode::AllOpens => extra.push("--no-open-filter".as_ref()),
        Mode::Record => extra.extend(["--record".as_ref(), log.as_os_str()]),
    }
    let m = start_monitor_with(&[&cg.0], &extra)?;
    let pid = m.pid();
    std::thread::sleep(Duration::from_secs(1));
    let (cpu0, ticks0) = (cpu_ns(pid)?, cpu_ticks_secs(pid)?);
    storm(a.iterations, &cg.0)?;
    let cpu1 = wait_quiet(pid)?;
    let ticks1 = cpu_ticks_secs(pid)?;
    let stats = stop_monitor_stats(m)?;
    let (records, filtered) = (field(&stats, "records"), field(&stats, "filtered_opens"));
    let seen = records + filtered;
    if records == 0 || seen < a.iterations {
        bail!("agentmon saw fewer events than the storm made: {stats}");
    }
    Ok(Run {
        us_per_event: (cpu1 - cpu0) as f64 / 1e3 / seen as f64,
        records,
        filtered,
        drops: field(&stats, "drops"),
        ticks_us_per_event: (ticks1 - ticks0) * 1e6 / seen as f64,
    })
}

pub(super) fn cpu_per_event(a: &BenchArgs) -> Result<()> {
    let cases = [
        ("default rules", Mode::Default),
        ("default rules, --no-open-filter", Mode::AllOpens),
        ("default rules, --record FILE", Mode::Record),
    ];
    let mut runs: Vec<Vec<Run>> = cases.iter().map(|_| Vec::new()).collect();
    for rep in 0..a.reps.max(1) {
        for k in 0..cases.len() {
            let i = (rep + k) % cases.len();
            let r = one(a, cases[i].1)?;
            eprintln!(
                "rep {rep}: {}: {:.3} µs/event ({:.3} from clock ticks), {} events delivered, {} filtered, {} drops",
                cases[i].0, r.us_per_event, r.ticks_us_per_event, r.records, r.filtered, r.drops
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
    println!(
        "| case | µs of agentmon CPU per event | range | events delivered (median) | opens filtered (median) | drops (total) |"
    );
    println!("|---|---|---|---|---|---|");
    for (i, (what, _)) in cases.iter().enumerate() {
        let us: Vec<f64> = runs[i].iter().map(|r| r.us_per_event).collect();
        println!(
            "| {what} | {:.3} | {} | {:.0} | {:.0} | {} |",
            median(us.clone()),
            range(&us, 3),
            median(runs[i].iter().map(|r| r.records as f64).collect()),
            median(runs[i].iter().map(|r| r.filtered as f64).collect()),
            runs[i].iter().map(|r| r.drops).sum::<u64>()
        );
    }
    let ratio = |i: usize| {
        median(
            runs[i]
                .iter()
                .zip(&runs[1])
                .map(|(r, b)| r.us_per_event / b.us_per_event)
                .collect(),
        )
    };
    println!();
    println!(
        "Per storm event, agentmon with the filter spends {:.3}× and with --record {:.2}× the CPU of rules with every open sent (median of each repetition's ratio).",
        ratio(0),
        ratio(2)
    );
    Ok(())
}
