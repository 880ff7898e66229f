//! Running what the benchmarks measure: agentmon (`agentmon run`, started until it watches,
//! stopped with SIGTERM for its final stats line), the storm (`xtask storm`), and a process's CPU
//! time from `/proc`.
use std::{
    ffi::OsStr,
    fs,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::agentmon_release;
use crate::workspace_root;

/// Runs `xtask storm` in `cgroup`: ns per open+close.
pub(super) fn storm(iterations: u64, cgroup: &Path) -> Result<f64> {
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

/// Runs `xtask storm --seconds SECS` in `cgroup` (not waited for): see [`storm_result`].
pub(super) fn spawn_storm_for(seconds: f64, cgroup: &Path) -> Result<Child> {
    Command::new(workspace_root().join("target/release/xtask"))
        .args(["storm", "--seconds", &seconds.to_string(), "--cgroup"])
        .arg(cgroup)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the storm")
}

/// What a timed storm ([`spawn_storm_for`]) printed: (nanoseconds, open+close pairs).
pub(super) fn storm_result(c: Child) -> Result<(u64, u64)> {
    let out = c.wait_with_output().context("waiting for the storm")?;
    if !out.status.success() {
        bail!("storm failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let parse = |s: Option<&str>| -> Result<u64> {
        s.and_then(|v| v.parse().ok())
            .with_context(|| format!("storm output `{}`: expected `NANOSECONDS ITERATIONS`", text.trim()))
    };
    let mut it = text.split_whitespace();
    Ok((parse(it.next())?, parse(it.next())?))
}

/// A running `agentmon run`; its log (stderr) is read by a thread that keeps the final stats line.
/// Dropped without [`stop_monitor`] (a bench failed half-way), it is killed.
pub(super) struct Monitor {
    pub(super) child: Child,
    log: Option<std::thread::JoinHandle<String>>,
}

impl Monitor {
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `sig` to agentmon.
    pub(super) fn signal(&self, sig: i32) -> Result<()> {
        // SAFETY: signalling our own child, not yet reaped (reaping happens in stop_monitor/drop).
        if unsafe { libc_kill(self.child.id() as i32, sig) } != 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| format!("kill({}, {sig})", self.child.id()));
        }
        Ok(())
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // A no-op once stop_monitor has reaped it (std does not signal a reaped child).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `agentmon run --json --ringbuf-size RINGBUF --cgroup CGROUP` (stdout discarded) and waits
/// until it is watching.
pub(super) fn start_monitor(cgroup: &Path, ringbuf: u32) -> Result<Monitor> {
    let ringbuf = ringbuf.to_string();
    start_monitor_with(&[cgroup], &["--ringbuf-size".as_ref(), ringbuf.as_ref()])
}

/// Starts `agentmon run --json EXTRA --cgroup CGROUP…` (default rules, stdout discarded) and waits
/// until it is watching (its start-up, loading the programs, is then over).
pub(super) fn start_monitor_with(cgroups: &[&Path], extra: &[&OsStr]) -> Result<Monitor> {
    let mut cmd = Command::new(agentmon_release());
    cmd.args(["run", "--json"]).args(extra);
    for cg in cgroups {
        cmd.arg("--cgroup").arg(cg);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("RUST_LOG", "info")
        .spawn()
        .with_context(|| format!("starting {}", agentmon_release().display()))?;
    let stderr = child.stderr.take().context("agentmon's stderr")?;
    let (tx, started) = std::sync::mpsc::channel::<Result<(), String>>();
    // The log is read to its end by this thread, so agentmon never blocks on a full pipe.
    let log = std::thread::spawn(move || {
        let mut stats = String::new();
        let mut tx = Some(tx);
        let mut last = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("watching")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(Ok(()));
            }
            if line.contains("final stats") {
                stats.clone_from(&line);
            }
            last = line;
        }
        if let Some(tx) = tx.take() {
            let _ = tx.send(Err(last));
        }
        stats
    });
    let m = Monitor { child, log: Some(log) };
    match started.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(())) => Ok(m),
        Ok(Err(last)) => bail!("agentmon exited before watching; its last log line: {last}"),
        Err(_) => bail!("agentmon did not start watching within 60 s"),
    }
}

/// Stops agentmon with SIGTERM and returns its final stats line (`key=value` pairs; empty if it
/// printed none).
pub(super) fn stop_monitor(mut m: Monitor) -> Result<String> {
    m.signal(libc::SIGTERM)?;
    let stats = m
        .log
        .take()
        .context("agentmon's log reader")?
        .join()
        .map_err(|_| anyhow::anyhow!("agentmon's log reader panicked"))?;
    m.child.wait().context("waiting for agentmon")?;
    Ok(stats)
}

/// Stops agentmon and returns its final stats line, an error if it printed none.
pub(super) fn stop_monitor_stats(m: Monitor) -> Result<String> {
    let stats = stop_monitor(m)?;
    if stats.is_empty() {
        bail!("agentmon printed no `final stats` line");
    }
    Ok(stats)
}

/// On-CPU nanoseconds of `pid`: the first field of `/proc/PID/task/*/schedstat`, summed over its
/// live threads (u64: the sum passes 2^32 within seconds).
pub(super) fn cpu_ns(pid: u32) -> Result<u64> {
    let mut ns = 0u64;
    let dir = format!("/proc/{pid}/task");
    for task in fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let path = task?.path().join("schedstat");
        // A thread may exit between the listing and the read: skip it.
        if let Ok(s) = fs::read_to_string(&path) {
            let first = s.split_whitespace().next().unwrap_or_default();
            ns += first
                .parse::<u64>()
                .with_context(|| format!("{}: `{}` is not a number", path.display(), s.trim()))?;
        }
    }
    Ok(ns)
}

/// utime + stime of `pid` in seconds (`/proc/PID/stat`, clock ticks; includes exited threads).
pub(super) fn cpu_ticks_secs(pid: u32) -> Result<f64> {
    let (_, ticks, _) = cpu_usage(pid)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    Ok(ticks as f64 / hz as f64)
}

/// Waits until agentmon has drained its ring buffer after a storm: until its CPU time grows by less
/// than 2 ms in 250 ms (it is idle). Returns its on-CPU nanoseconds then ([`cpu_ns`]).
pub(super) fn wait_quiet(pid: u32) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = cpu_ns(pid)?;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = cpu_ns(pid)?;
        if now.saturating_sub(last) < 2_000_000 {
            return Ok(now);
        }
        if Instant::now() > deadline {
            bail!("agentmon still busy 120 s after the workload ended");
        }
        last = now;
    }
}

use libc::kill as libc_kill;

/// CPU time and context switches of `pid`, summed over its threads: (on-CPU ns from
/// `/proc/PID/task/*/schedstat`, utime+stime clock ticks from `/proc/PID/stat`, context switches).
pub(super) fn cpu_usage(pid: u32) -> Result<(u64, u64, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .context("/proc/PID/stat")?
        .1
        .split_whitespace()
        .collect();
    let tick = |i: usize| -> Result<u64> {
        rest.get(i)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("/proc/{pid}/stat: no clock ticks in field {}", i + 3))
    };
    let ticks = tick(11)? + tick(12)?;
    let (mut ns, mut switches) = (0, 0);
    for task in fs::read_dir(format!("/proc/{pid}/task"))? {
        let dir = task?.path();
        // A thread may exit between the listing and the read: skip it.
        if let Ok(s) = fs::read_to_string(dir.join("schedstat")) {
            ns += s.split_whitespace().next().unwrap_or("0").parse::<u64>()?;
        }
        if let Ok(s) = fs::read_to_string(dir.join("status")) {
            for l in s.lines() {
                if let Some(v) = l
                    .strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                {
                    switches += v.trim().parse::<u64>()?;
                }
            }
        }
    }
    Ok((ns, ticks, switches))
}

/// `kernel.bpf_stats_enabled = 1` while this lives (the kernel then times every BPF program run,
/// which costs two clock reads per run); the previous value is restored on drop.
pub(super) struct BpfStats(String);

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";

impl BpfStats {
    pub(super) fn enable() -> Result<Self> {
        let before = fs::read_to_string(BPF_STATS).with_context(|| format!("reading {BPF_STATS}"))?;
        fs::write(BPF_STATS, "1").with_context(|| format!("writing {BPF_STATS}"))?;
        Ok(Self(before.trim().to_string()))
    }
}

impl Drop for BpfStats {
    fn drop(&mut self) {
        let _ = fs::write(BPF_STATS, &self.0);
    }
}

/// The kernel's run time of `pid`'s BPF programs (with [`BpfStats`] on): the sum of `run_time_ns`
/// and `run_cnt` over the program descriptors it holds (`/proc/PID/fdinfo`).
pub(super) fn prog_run_time(pid: u32) -> Result<(u64, u64)> {
    let dir = format!("/proc/{pid}/fdinfo");
    let (mut ns, mut runs, mut progs) = (0u64, 0u64, 0usize);
    for e in fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        // A descriptor may be closed between the listing and the read: skip it.
        let Ok(text) = fs::read_to_string(e?.path()) else {
            continue;
        };
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let (Some(_), Some(t), Some(c)) = (value("prog_type:"), value("run_time_ns:"), value("run_cnt:")) {
            ns += t;
            runs += c;
            progs += 1;
        }
    }
    if progs == 0 {
        bail!("{dir}: no BPF program descriptors with run_time_ns (kernel without bpf_stats?)");
    }
    Ok((ns, runs))
}
