//! `cargo xtask bench`: overhead of agentmon on an open/close storm, in one run, as ratios.
//!
//! (a) no monitor; (b) agentmon loaded, storm in an unwatched cgroup; (c) storm inside the watched
//! cgroup. Repetitions are interleaved so machine noise hits every case alike; medians are reported.
use std::{
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{agentmon_release, workspace_root};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// open+close pairs per storm (each pair is two syscalls; the open is an event when watched).
    #[arg(long, default_value_t = 1_000_000)]
    pub iterations: u64,
    /// Interleaved repetitions of each case.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Ring buffer size for agentmon, bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub ringbuf_size: u32,
}

struct TempCgroup(PathBuf);

impl TempCgroup {
    fn new(root: &Path, name: &str) -> Result<Self> {
        let p = root.join(format!("{name}-{}", std::process::id()));
        fs::create_dir(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(Self(p))
    }
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            if fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn cgroup2_root() -> Result<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    info.lines()
        .find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount = pre.split_whitespace().nth(4)?;
            (post.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mount))
        })
        .context("no cgroup2 mount")
}

fn storm(iterations: u64, cgroup: &Path) -> Result<f64> {
    let xtask = workspace_root().join("target/release/xtask");
    let out = Command::new(xtask)
        .args(["storm", "--iterations", &iterations.to_string(), "--cgroup"])
        .arg(cgroup)
        .output()
        .context("running the storm")?;
    if !out.status.success() {
        bail!("storm failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let ns: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("storm output")?;
    Ok(ns / iterations as f64)
}

struct Monitor {
    child: Child,
    stderr: BufReader<std::process::ChildStderr>,
}

fn start_monitor(cgroup: &Path, ringbuf: u32) -> Result<Monitor> {
    let mut child = Command::new(agentmon_release())
        .args(["run", "--json", "--ringbuf-size", &ringbuf.to_string(), "--cgroup"])
        .arg(cgroup)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("RUST_LOG", "info")
        .spawn()
        .context("starting agentmon")?;
    let mut stderr = BufReader::new(child.stderr.take().context("stderr")?);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
    loop {
        line.clear();
        if stderr.read_line(&mut line)? == 0 || Instant::now() > deadline {
            bail!("agentmon did not start watching");
        }
        if line.contains("watching") {
            return Ok(Monitor { child, stderr });
        }
    }
}

/// Stops agentmon with SIGTERM and returns its final stats line (`key=value` pairs).
fn stop_monitor(mut m: Monitor) -> Result<String> {
    // SAFETY: signalling our own child.
    unsafe { libc_kill(m.child.id() as i32, 15) };
    let mut stats = String::new();
    let mut line = String::new();
    while m.stderr.read_line(&mut line)? > 0 {
        if line.contains("final stats") {
            stats = line.clone();
        }
        line.clear();
    }
    m.child.wait()?;
    Ok(stats)
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

fn field(stats: &str, key: &str) -> u64 {
    stats
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn bench(a: BenchArgs) -> Result<()> {
    let root = cgroup2_root()?;
    let watched = TempCgroup::new(&root, "agentmon-bench-watched")?;
    let other = TempCgroup::new(&root, "agentmon-bench-other")?;
    let (mut base, mut unwatched, mut inside) = (Vec::new(), Vec::new(), Vec::new());
    let mut c_events = 0u64;
    let mut c_drops = 0u64;
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
        "(c) events reaching userspace: {c_events} of {sent} opens ({:.0} events/s during the storms); drops: {c_drops}",
        c_events as f64 / c_wall.as_secs_f64()
    );
    Ok(())
}
