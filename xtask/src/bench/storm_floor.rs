//! `--only storm-floor` (issue 13 (b)): the open/close storm's ratios with the empty-program floor
//! beside them, and the kernel side alone.
//!
//! - (a) no monitor;
//! - (floor) `agentmon-bench floor`: a program that returns at once at every attach point of
//!   agentmon's program table (cgroup hooks on the storm's cgroup) — what the attach points cost
//!   before any of agentmon's code runs;
//! - (b) agentmon loaded, the storm in an unwatched cgroup;
//! - (c) the storm in the watched cgroup, as deployed: the open filter leaves out the storm's opens
//!   once the rules have judged them quiet (no default rule can match them);
//! - (c-all) the same with `--no-open-filter`: every open sent and consumed;
//! - (c-kernel) (c-all) with agentmon stopped (SIGSTOP) during the storm and a 512 MiB ring buffer,
//!   so nothing is dropped and nothing is consumed until SIGCONT: the kernel side of sending every
//!   open, with the wakeups the programs' batching asks for while the reader is behind
//!   (docs/BENCHMARKS.md);
//! - (c-progs) and (c-progs-all): (c) and (c-all) with `kernel.bpf_stats_enabled = 1`: the kernel's
//!   own timing of agentmon's programs (`run_time_ns` in `/proc/PID/fdinfo`), reported per
//!   open+close — the programs' share without the tracepoint machinery around them.
//!
//! Each case starts its own monitor (outside the timed storm); the order of the cases rotates from
//! one repetition to the next; medians are reported, and ratios are the median of each
//! repetition's own ratio to (a).
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, bail};

use super::{
    BenchArgs, agentmon_bench,
    cgroup::{TempCgroup, cgroup2_root},
    field, median,
    monitor::{
        BpfStats, Monitor, prog_run_time, start_monitor, start_monitor_with, stop_monitor_stats, storm, wait_quiet,
    },
    range,
};

/// The kernel-side case's ring buffer: large enough for a 1 M storm's records with nothing read.
const KERNEL_RINGBUF: u32 = 512 * 1024 * 1024;

/// A running `agentmon-bench floor`; killed on drop (its programs go with its descriptors).
struct Floor(Child);

impl Floor {
    fn start(cgroup: &Path) -> Result<Self> {
        let mut child = Command::new(agentmon_bench())
            .arg("floor")
            .arg("--cgroup")
            .arg(cgroup)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting agentmon-bench floor")?;
        let stdout = child.stdout.take().context("floor's stdout")?;
        let f = Self(child);
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading agentmon-bench floor")?;
        if !line.starts_with("attached ") {
            bail!(
                "agentmon-bench floor did not attach its programs (said `{}`)",
                line.trim()
            );
        }
        Ok(f)
    }

    fn stop(mut self) -> Result<()> {
        // SAFETY: signalling our own child, not yet reaped.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let st = self.0.wait().context("waiting for agentmon-bench floor")?;
        if !st.success() {
            bail!("agentmon-bench floor failed ({st})");
        }
        Ok(())
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    None,
    Floor,
    Unwatched,
    Watched,
    WatchedAll,
    KernelOnly,
    ProgStats,
    ProgStatsAll,
}

/// `--no-open-filter`: every open sent.
const ALL_OPENS: &str = "--no-open-filter";

const CASES: [(Case, &str); 8] = [
    (Case::None, "(a) no monitor"),
    (Case::Floor, "(floor) empty programs at agentmon's attach points"),
    (Case::Unwatched, "(b) agentmon loaded, storm unwatched"),
    (Case::Watched, "(c) storm watched"),
    (
        Case::WatchedAll,
        "(c-all) storm watched, every open sent (--no-open-filter)",
    ),
    (Case::KernelOnly, "(c-kernel) (c-all) with the consumer stopped"),
    (Case::ProgStats, "(c-progs) (c) with bpf_stats on"),
    (Case::ProgStatsAll, "(c-progs-all) (c-all) with bpf_stats on"),
];

/// One storm of `case`: (ns per open+close, the final stats line if agentmon ran, ns of agentmon's
/// programs per open+close for (c-progs)).
/// agentmon watching `cgroup` with this ring buffer, every open sent (`--no-open-filter`) or not.
fn start_watching(cgroup: &Path, ringbuf: u32, all_opens: bool) -> Result<Monitor> {
    if !all_opens {
        return start_monitor(cgroup, ringbuf);
    }
    let size = ringbuf.to_string();
    start_monitor_with(
        &[cgroup],
        &[ALL_OPENS.as_ref(), "--ringbuf-size".as_ref(), size.as_ref()],
    )
}

fn one(a: &BenchArgs, case: Case, watched: &TempCgroup, other: &TempCgroup) -> Result<(f64, String, f64)> {
    let (ns, stats) = match case {
        Case::None => (storm(a.iterations, &other.0)?, String::new()),
        Case::Floor => {
            let f = Floor::start(&watched.0)?;
            let ns = storm(a.iterations, &watched.0)?;
            f.stop()?;
            (ns, String::new())
        }
        Case::Unwatched | Case::Watched | Case::WatchedAll => {
            let m = start_watching(&watched.0, a.ringbuf_size, case == Case::WatchedAll)?;
            let cg = if case == Case::Unwatched { &other.0 } else { &watched.0 };
            let ns = storm(a.iterations, cg)?;
            wait_quiet(m.pid())?;
            (ns, stop_monitor_stats(m)?)
        }
        Case::KernelOnly => {
            let m = start_watching(&watched.0, KERNEL_RINGBUF, true)?;
            std::thread::sleep(Duration::from_millis(500));
            m.signal(libc::SIGSTOP)?;
            let ns = storm(a.iterations, &watched.0);
            m.signal(libc::SIGCONT)?;
            let ns = ns?;
            wait_quiet(m.pid())?;
            let stats = stop_monitor_stats(m)?;
            if field(&stats, "drops") > 0 || field(&stats, "records") < a.iterations {
                bail!(
                    "(c-kernel): the stopped consumer lost events ({stats}); the ring buffer must hold the whole storm"
                );
            }
            (ns, stats)
        }
        Case::ProgStats | Case::ProgStatsAll => {
            let m = start_watching(&watched.0, a.ringbuf_size, case == Case::ProgStatsAll)?;
            let stats_on = BpfStats::enable()?;
            let (t0, _) = prog_run_time(m.pid())?;
            let ns = storm(a.iterations, &watched.0)?;
            let (t1, _) = prog_run_time(m.pid())?;
            drop(stats_on);
            wait_quiet(m.pid())?;
            let stats = stop_monitor_stats(m)?;
            return Ok((ns, stats, (t1 - t0) as f64 / a.iterations as f64));
        }
    };
    Ok((ns, stats, 0.0))
}

pub(super) fn storm_floor(a: &BenchArgs) -> Result<()> {
    let root = cgroup2_root()?;
    let watched = TempCgroup::new(&root, "agentmon-bench-floor-watched")?;
    let other = TempCgroup::new(&root, "agentmon-bench-floor-other")?;
    let reps = a.reps.max(1);
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); CASES.len()];
    let (mut prog_ns, mut prog_ns_all) = (Vec::new(), Vec::new());
    let (mut events, mut drops) = (vec![0u64; CASES.len()], vec![0u64; CASES.len()]);
    let mut filtered = vec![0u64; CASES.len()];
    for rep in 0..reps {
        for k in 0..CASES.len() {
            let i = (rep + k) % CASES.len();
            let (case, what) = CASES[i];
            let (v, stats, progs) = one(a, case, &watched, &other)?;
            match case {
                Case::ProgStats => prog_ns.push(progs),
                Case::ProgStatsAll => prog_ns_all.push(progs),
                _ => {}
            }
            events[i] += field(&stats, "records");
            filtered[i] += field(&stats, "filtered_opens");
            drops[i] += field(&stats, "drops");
            eprintln!("rep {rep}: {what}: {v:.0} ns {}", stats.trim());
            ns[i].push(v);
        }
    }
    let ratio = |i: usize| median(ns[i].iter().zip(&ns[0]).map(|(x, b)| x / b).collect());
    println!();
    println!(
        "Open/close storm with the empty-program floor ({} pairs per storm; {reps} interleaved repetitions, medians; ratios: median of each repetition's ratio to (a)):",
        a.iterations
    );
    println!();
    println!("| case | ns per open+close | range | ratio to (a) | events delivered | opens filtered | drops |");
    println!("|---|---|---|---|---|---|---|");
    for (i, (case, what)) in CASES.iter().enumerate() {
        let counted = !matches!(case, Case::None | Case::Floor);
        let (ev, fi, dr) = if counted {
            (events[i].to_string(), filtered[i].to_string(), drops[i].to_string())
        } else {
            ("—".to_string(), "—".to_string(), "—".to_string())
        };
        println!(
            "| {what} | {:.0} | {} | {:.3}× | {ev} | {fi} | {dr} |",
            median(ns[i].clone()),
            range(&ns[i], 0),
            ratio(i)
        );
    }
    println!();
    let at = |c: Case| CASES.iter().position(|(k, _)| *k == c).unwrap_or(0);
    println!(
        "(c) − floor = {:.3}×: agentmon's own cost per open+close as deployed; (c-all) − floor = {:.3}× with every open sent (kernel and consumer); (c-kernel) − floor = {:.3}×: its kernel side with the consumer stopped (including the wakeups of a reader left behind, see docs/BENCHMARKS.md).",
        ratio(at(Case::Watched)) - ratio(at(Case::Floor)),
        ratio(at(Case::WatchedAll)) - ratio(at(Case::Floor)),
        ratio(at(Case::KernelOnly)) - ratio(at(Case::Floor))
    );
    for (what, v) in [("(c-progs)", &prog_ns), ("(c-progs-all)", &prog_ns_all)] {
        println!(
            "{what}: agentmon's programs ran {:.0} ns per open+close (kernel.bpf_stats_enabled, median; range {}) = {:.3}× of (a).",
            median(v.clone()),
            range(v, 0),
            median(v.clone()) / median(ns[0].clone())
        );
    }
    Ok(())
}
