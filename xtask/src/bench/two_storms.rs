//! `--only two-storms` (issue 13 (d)): two open/close storms at once, one per core, each in its own
//! watched cgroup, for `--two-storms-secs` (10 s), under one `agentmon run --json --no-open-filter`
//! with agentmon's default ring buffer (no `--ringbuf-size`: 8 MiB). Every open is sent: with the
//! open filter on, the storms' opens would not reach the ring at all once judged, which says
//! nothing about delivery under load. Reported per repetition: the opens, the events
//! delivered (`records=` of the final stats line), the kernel's own counters (`kernel_events`,
//! `drops` = ring buffer full), events delivered per second, and agentmon's CPU per event.
use std::time::Duration;

use anyhow::Result;

use super::{
    BenchArgs,
    cgroup::{TempCgroup, cgroup2_root},
    field, median,
    monitor::{cpu_ns, spawn_storm_for, start_monitor_with, stop_monitor_stats, storm_result, wait_quiet},
};

struct Run {
    opens: u64,
    records: u64,
    kernel_events: u64,
    drops: u64,
    secs: f64,
    us_per_event: f64,
}

fn one(secs: f64) -> Result<Run> {
    let root = cgroup2_root()?;
    let cg1 = TempCgroup::new(&root, "agentmon-bench-two-1")?;
    let cg2 = TempCgroup::new(&root, "agentmon-bench-two-2")?;
    let m = start_monitor_with(&[&cg1.0, &cg2.0], &["--no-open-filter".as_ref()])?;
    std::thread::sleep(Duration::from_secs(1));
    let cpu0 = cpu_ns(m.pid())?;
    let s1 = spawn_storm_for(secs, &cg1.0)?;
    let s2 = spawn_storm_for(secs, &cg2.0);
    // The first storm is waited for even if the second did not start (its Child is not killed on drop).
    let r1 = storm_result(s1);
    let (ns1, n1) = r1?;
    let (ns2, n2) = storm_result(s2?)?;
    let cpu1 = wait_quiet(m.pid())?;
    let stats = stop_monitor_stats(m)?;
    let records = field(&stats, "records");
    Ok(Run {
        opens: n1 + n2,
        records,
        kernel_events: field(&stats, "kernel_events"),
        drops: field(&stats, "drops"),
        secs: ns1.max(ns2) as f64 / 1e9,
        us_per_event: (cpu1 - cpu0) as f64 / 1e3 / records.max(1) as f64,
    })
}

pub(super) fn two_storms(a: &BenchArgs) -> Result<()> {
    let reps = a.reps.max(1);
    let mut runs = Vec::new();
    for rep in 0..reps {
        let r = one(a.two_storms_secs)?;
        eprintln!(
            "rep {rep}: {} opens, {} delivered, kernel_events {}, drops {}, {:.2} s, {:.3} µs/event",
            r.opens, r.records, r.kernel_events, r.drops, r.secs, r.us_per_event
        );
        runs.push(r);
    }
    println!();
    println!(
        "Two storms at once, one per core, both watched, {} s, agentmon's default ring buffer, every open sent (--no-open-filter) ({reps} repetitions):",
        a.two_storms_secs
    );
    println!();
    println!("| rep | opens | events delivered | kernel events | drops | drops % | delivered/s | agentmon µs/event |");
    println!("|---|---|---|---|---|---|---|---|");
    for (i, r) in runs.iter().enumerate() {
        println!(
            "| {i} | {} | {} | {} | {} | {:.2} % | {:.0} | {:.3} |",
            r.opens,
            r.records,
            r.kernel_events,
            r.drops,
            r.drops as f64 / (r.records + r.drops).max(1) as f64 * 100.0,
            r.records as f64 / r.secs,
            r.us_per_event
        );
    }
    println!(
        "| median | {:.0} | {:.0} | {:.0} | {:.0} | | {:.0} | {:.3} |",
        median(runs.iter().map(|r| r.opens as f64).collect()),
        median(runs.iter().map(|r| r.records as f64).collect()),
        median(runs.iter().map(|r| r.kernel_events as f64).collect()),
        median(runs.iter().map(|r| r.drops as f64).collect()),
        median(runs.iter().map(|r| r.records as f64 / r.secs).collect()),
        median(runs.iter().map(|r| r.us_per_event).collect()),
    );
    Ok(())
}
