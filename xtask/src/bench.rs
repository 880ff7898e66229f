//! `cargo xtask bench`: overhead of agentmon on an open/close storm, in one run, as ratios.
//!
//! (a) no monitor; (b) agentmon loaded, storm in an unwatched cgroup; (c) storm inside the watched
//! cgroup. Repetitions are interleaved so machine noise hits every case alike; medians are reported.
//! Then the CPU an idle monitor uses, rule matching, action latency and replay (`--only` picks parts).
//! `AGENTMON_BIN=PATH` measures another agentmon binary (e.g. an older build) instead of
//! `target/release/agentmon`. Rule matching and the replay benchmark's logs come from this tree's
//! `target/release/agentmon-bench` (`bench/`: it links agentmon's library, so it measures this
//! tree's rule engine whatever `AGENTMON_BIN` says).
use std::{
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::workspace_root;

#[derive(clap::Args)]
pub(crate) struct BenchArgs {
    /// open+close pairs per storm (each pair is two syscalls; the open is an event when watched).
    #[arg(long, default_value_t = 1_000_000)]
    pub iterations: u64,
    /// Interleaved repetitions of each case.
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Events in the generated log for the replay benchmark (0 skips it).
    #[arg(long, default_value_t = 5_000_000)]
    pub replay_events: u64,
    /// Ring buffer size for agentmon, bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    pub ringbuf_size: u32,
    /// Seconds over which the idle monitor's CPU use is measured.
    #[arg(long, default_value_t = 20)]
    pub idle_secs: u64,
    /// Runs of the sandbox workload's build + test + script per measurement.
    #[arg(long, default_value_t = 10)]
    pub sandbox_iterations: u32,
    /// Run only these parts (comma-separated); default: all.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Part>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Part {
    /// Overhead and drops on the open/close storm.
    Storm,
    /// CPU used by a monitor with nothing to do.
    Idle,
    /// Rule-matching throughput.
    Rules,
    /// Action latency (kill, quarantine).
    Latency,
    /// Replay of a generated log (also skipped by `--replay-events 0`).
    Replay,
    /// The sandbox's overhead on a benign workload (a C build, its test, a script run).
    Sandbox,
}

/// The agentmon binary under measurement.
fn agentmon_release() -> PathBuf {
    std::env::var_os("AGENTMON_BIN").map_or_else(crate::agentmon_release, PathBuf::from)
}

/// The benchmark tool (`bench/`), built by `cargo xtask bench`.
fn agentmon_bench() -> PathBuf {
    workspace_root().join("target/release/agentmon-bench")
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
        // Whatever is left inside (a bench that failed half-way) is killed first.
        let _ = fs::write(self.0.join("cgroup.freeze"), "0");
        let _ = fs::write(self.0.join("cgroup.kill"), "1");
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
            stats.clone_from(&line);
        }
        line.clear();
    }
    m.child.wait()?;
    Ok(stats)
}

use libc::kill as libc_kill;

fn field(stats: &str, key: &str) -> u64 {
    stats
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Rule-matching throughput: the shipped rules plus 50 generated ones over a synthetic event mix.
fn rule_throughput() -> Result<()> {
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

/// Action latency: offending syscall (kernel timestamp) → processes killed / cgroup frozen, as
/// reported by agentmon in each alert's `action_latency_us`.
fn action_latency(reps: usize) -> Result<()> {
    let root = cgroup2_root()?;
    let rules = std::env::temp_dir().join(format!("agentmon-bench-rules-{}", std::process::id()));
    fs::create_dir_all(&rules)?;
    let trigger = |what: &str| format!("/nonexistent/agentmon-bench-{what}-{}", std::process::id());
    fs::write(
        rules.join("bench.yaml"),
        format!(
            "- rule: Bench kill\n  desc: b\n  condition: evt.kind = open and file.path = {}\n  output: k\n  priority: CRITICAL\n  action: kill\n\
             - rule: Bench quarantine\n  desc: b\n  condition: evt.kind = open and file.path = {}\n  output: q\n  priority: CRITICAL\n  action: quarantine\n",
            trigger("kill"),
            trigger("quarantine")
        ),
    )?;
    let state = std::env::temp_dir().join(format!("agentmon-bench-state-{}", std::process::id()));
    let cg = TempCgroup::new(&root, "agentmon-bench-latency")?;
    let mut child = Command::new(agentmon_release())
        .args(["run", "--json", "--rules"])
        .arg(&rules)
        .arg("--cgroup")
        .arg(&cg.0)
        .env("AGENTMON_STATE_DIR", &state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stderr = BufReader::new(child.stderr.take().context("stderr")?);
    let mut line = String::new();
    loop {
        line.clear();
        if stderr.read_line(&mut line)? == 0 {
            bail!("agentmon did not start");
        }
        if line.contains("watching") {
            break;
        }
    }
    std::thread::spawn(move || for _ in stderr.lines() {});
    // Alerts arrive on a channel so a missing one fails the bench instead of hanging it.
    let (tx, alerts) = std::sync::mpsc::channel::<String>();
    let stdout = BufReader::new(child.stdout.take().context("stdout")?);
    std::thread::spawn(move || {
        for l in stdout.lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let in_cg = |prog: &str, args: &[&str]| -> Result<Child> {
        let procs = cg.0.join("cgroup.procs");
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(format!(
            "echo $$ > {} && exec {prog} {}",
            procs.display(),
            args.join(" ")
        ));
        Ok(c.spawn()?)
    };
    let (mut kill_us, mut freeze_us) = (Vec::new(), Vec::new());
    let measured = (|| -> Result<()> {
        for _ in 0..reps {
            for (what, rule, sink) in [
                ("kill", "Bench kill", &mut kill_us),
                ("quarantine", "Bench quarantine", &mut freeze_us),
            ] {
                let mut sleeper = in_cg("/bin/sleep", &["30"])?;
                std::thread::sleep(Duration::from_millis(20));
                let mut t = in_cg("/bin/cat", &[&trigger(what)])?;
                let l = loop {
                    let l = alerts
                        .recv_timeout(Duration::from_secs(10))
                        .with_context(|| format!("no '{rule}' alert within 10 s"))?;
                    if l.contains(&format!("\"rule\":\"{rule}\"")) {
                        break l;
                    }
                };
                let alert: serde_json::Value = serde_json::from_str(&l).context("alert JSON")?;
                let v = alert["action_latency_us"]
                    .as_f64()
                    .context("action_latency_us missing")?;
                if !alert["action_result"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with(if what == "kill" { "killed" } else { "quarantined" })
                {
                    bail!("{what} did not succeed: {}", alert["action_result"]);
                }
                sink.push(v);
                if what == "quarantine" {
                    let _ = Command::new(agentmon_release())
                        .arg("release")
                        .arg("--kill")
                        .arg(&cg.0)
                        .env("AGENTMON_STATE_DIR", &state)
                        .output();
                }
                let _ = sleeper.kill();
                let _ = sleeper.wait();
                let _ = t.wait();
            }
        }
        Ok(())
    })();
    // SAFETY: signalling our own child; also on the error path, so no monitor is left behind.
    unsafe { libc_kill(child.id() as i32, 15) };
    let _ = child.wait();
    let _ = fs::remove_dir_all(&rules);
    let _ = fs::remove_dir_all(&state);
    measured?;
    println!();
    println!(
        "Action latency, offending open() → response complete (median of {reps}): kill {:.0} µs (max {:.0}), quarantine/freeze {:.0} µs (max {:.0})",
        median(kill_us.clone()),
        kill_us.iter().copied().fold(0.0, f64::max),
        median(freeze_us.clone()),
        freeze_us.iter().copied().fold(0.0, f64::max)
    );
    Ok(())
}

/// CPU seconds, peak RSS (MiB) and wall time of `agentmon ARGS` (output discarded); an error if it
/// fails.
fn measure_agentmon(args: &[&std::ffi::OsStr]) -> Result<(f64, f64, f64)> {
    let start = Instant::now();
    let child = Command::new(agentmon_release())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    // wait4 gives this child's own resource usage (peak RSS, CPU time).
    let mut status = 0i32;
    // SAFETY: rusage is plain integers: all zeroes is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: status and rusage are ours; the pid is our child, reaped here exactly once.
    let rc = unsafe { libc::wait4(child.id() as i32, &raw mut status, 0, &raw mut ru) };
    let wall = start.elapsed().as_secs_f64();
    if rc < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("agentmon {args:?} failed (wait status {status})");
    }
    let cpu = ru.ru_utime.tv_sec as f64
        + ru.ru_utime.tv_usec as f64 / 1e6
        + ru.ru_stime.tv_sec as f64
        + ru.ru_stime.tv_usec as f64 / 1e6;
    Ok((cpu, ru.ru_maxrss as f64 / 1024.0, wall))
}

/// Replay: generated logs of `n` events (the realistic agent-session mix as a busy recorder batches
/// it, the same with one event per batch as a quiet agent's recording has it, then the
/// every-kind-in-turn worst case) through the default rules; throughput per core and peak memory,
/// with and without the hash chain check, and `log verify`.
fn replay(n: u64, reps: usize) -> Result<()> {
    let rules = workspace_root().join("rules");
    for (mix, drain, what) in [
        ("session", 0, "batches of 64 KiB"),
        ("session", 1, "one event per batch"),
        ("uniform", 0, "batches of 64 KiB"),
    ] {
        let log = std::env::temp_dir().join(format!("agentmon-bench-{}-{mix}-{drain}.agentlog", std::process::id()));
        let _ = fs::remove_file(&log);
        let gen_ok = Command::new(agentmon_bench())
            .args(["log-gen", "--mix", mix, "--drain", &drain.to_string()])
            .arg(&log)
            .arg(n.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?
            .success();
        if !gen_ok {
            bail!("agentmon-bench log-gen failed");
        }
        let size = fs::metadata(&log)?.len();
        println!();
        println!(
            "Replay, {mix} mix, {what}: {n} events ({:.0} MB log, {:.0} bytes/event), default rules, best of {reps}:",
            size as f64 / 1e6,
            size as f64 / n as f64
        );
        let runs: [(&str, Vec<&std::ffi::OsStr>); 3] = [
            (
                "replay (checksums, sequence, chain)",
                vec![
                    "replay".as_ref(),
                    "--json".as_ref(),
                    "--rules".as_ref(),
                    rules.as_os_str(),
                    log.as_os_str(),
                ],
            ),
            (
                "replay --skip-chain",
                vec![
                    "replay".as_ref(),
                    "--skip-chain".as_ref(),
                    "--json".as_ref(),
                    "--rules".as_ref(),
                    rules.as_os_str(),
                    log.as_os_str(),
                ],
            ),
            (
                "log verify (chain only, no rules)",
                vec!["log".as_ref(), "verify".as_ref(), log.as_os_str()],
            ),
        ];
        for (what, args) in runs {
            let mut runs = Vec::new();
            for _ in 0..reps.max(1) {
                runs.push(measure_agentmon(&args)?);
            }
            runs.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (cpu, rss, wall) = runs[0];
            let median = runs[runs.len() / 2].0;
            let worst = runs[runs.len() - 1].0;
            println!(
                "  {what:<36} {:>5.2} M events/s per core (median {:.2}, worst {:.2}; {cpu:.2} s CPU, {wall:.2} s wall), peak RSS {rss:.0} MiB",
                n as f64 / cpu / 1e6,
                n as f64 / median / 1e6,
                n as f64 / worst / 1e6
            );
        }
        let _ = fs::remove_file(&log);
    }
    Ok(())
}

pub(crate) fn bench(a: BenchArgs) -> Result<()> {
    let run = |p: Part| a.only.is_empty() || a.only.contains(&p);
    if run(Part::Storm) {
        storm_overhead(&a)?;
    }
    if run(Part::Idle) {
        idle_cpu(a.idle_secs, a.ringbuf_size)?;
    }
    if run(Part::Rules) {
        rule_throughput()?;
    }
    if run(Part::Latency) {
        action_latency(10)?;
    }
    if run(Part::Replay) && a.replay_events > 0 {
        replay(a.replay_events, a.reps)?;
    }
    if run(Part::Sandbox) {
        sandbox_overhead(a.sandbox_iterations, a.reps)?;
    }
    Ok(())
}

/// A fresh copy of the sandbox workload (`tests/fixtures/sandbox-workload`), removed on drop.
struct Workload(PathBuf);

impl Workload {
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("agentmon-bench-sandbox-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let w = Self(dir);
        let from = workspace_root().join("tests/fixtures/sandbox-workload");
        for e in fs::read_dir(&from).with_context(|| format!("reading {}", from.display()))? {
            let e = e?;
            fs::copy(e.path(), w.0.join(e.file_name())).with_context(|| format!("copying {}", e.path().display()))?;
        }
        Ok(w)
    }

    /// The workload's own wall-clock and CPU (user + system) time for its last run, in seconds
    /// (`out/elapsed_ns`, `out/times`).
    fn measured(&self) -> Result<(f64, f64)> {
        let read = |name: &str| -> Result<String> {
            let p = self.0.join("out").join(name);
            let text = fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
            let _ = fs::remove_file(&p);
            Ok(text)
        };
        let ns: f64 = read("elapsed_ns")?.trim().parse().context("elapsed_ns: not a number")?;
        // `times`: the shell's user and system time, then its children's (`0m1.230000s 0m0.450000s`).
        let times = read("times")?;
        let children = times.lines().nth(1).context("times: no children's line")?;
        let mut cpu = 0.0;
        for t in children.split_whitespace() {
            let (m, s) = t
                .trim_end_matches('s')
                .split_once('m')
                .with_context(|| format!("times: `{t}`"))?;
            cpu += m.parse::<f64>()? * 60.0 + s.parse::<f64>()?;
        }
        Ok((ns / 1e9, cpu))
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The sandbox's overhead on a benign workload: `bench.sh N` (N runs of the fixture's C build, its
/// test and its script) timed inside the workload — (a) alone (in a fresh cgroup), (b) under `agentmon exec` (default
/// rules), (c) `exec --sandbox PROFILE --sandbox-mode audit`, (d) `exec --sandbox PROFILE`
/// (Landlock + seccomp enforced), the profile learned from `bench.sh 1`. Repetitions interleaved
/// (each starting with another case), medians reported; any sandbox alert fails the bench (the profile would not fit the workload).
fn sandbox_overhead(iterations: u32, reps: usize) -> Result<()> {
    for tool in ["cc", "make"] {
        if !Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            bail!("the sandbox workload needs {tool} (cargo xtask test installs gcc and make)");
        }
    }
    let w = Workload::new()?;
    let bench_sh = w.0.join("bench.sh");
    let profile = w.0.join("profile.yaml");
    let learn = Command::new(agentmon_release())
        .arg("learn")
        .arg("--output")
        .arg(&profile)
        .arg("--")
        .arg(&bench_sh)
        .arg("1")
        .output()
        .context("running agentmon learn")?;
    if !learn.status.success() {
        bail!("agentmon learn failed: {}", String::from_utf8_lossy(&learn.stderr));
    }
    let n = iterations.to_string();
    let rules = workspace_root().join("rules");
    // Each case: the agentmon arguments before `-- bench.sh N` (none: the workload alone).
    let exec: Vec<&std::ffi::OsStr> = vec!["exec".as_ref(), "--rules".as_ref(), rules.as_os_str()];
    let sandboxed = [&exec[..], &["--sandbox".as_ref(), profile.as_os_str()]].concat();
    let cases: [(&str, Vec<&std::ffi::OsStr>); 4] = [
        ("(a) workload alone", vec![]),
        ("(b) agentmon exec (default rules)", exec.clone()),
        (
            "(c) exec --sandbox, audit mode",
            [&sandboxed[..], &["--sandbox-mode".as_ref(), "audit".as_ref()]].concat(),
        ),
        ("(d) exec --sandbox, enforced (Landlock + seccomp)", sandboxed),
    ];
    // (a) runs in a fresh cgroup below the root too, as `agentmon exec` makes one: not in this
    // session's, whose CPU may be shared or limited.
    let root = cgroup2_root()?;
    let alone = TempCgroup::new(&root, "agentmon-bench-sandbox")?;
    // Per case and repetition: (wall, CPU) seconds.
    let mut times: Vec<Vec<(f64, f64)>> = vec![Vec::new(); cases.len()];
    for rep in 0..reps.max(1) {
        // Each repetition starts with another case, and each case waits for the machine to settle
        // after the one before: the kernel is busy for a while after an agentmon exits (its programs
        // and maps are freed), and a fixed order would charge that to one case.
        for k in 0..cases.len() {
            let i = (rep + k) % cases.len();
            let (what, args) = &cases[i];
            std::thread::sleep(Duration::from_secs(3));
            let out = if args.is_empty() {
                Command::new("/bin/sh")
                    .arg("-c")
                    .arg(r#"echo $$ > "$1/cgroup.procs" && exec "$2" "$3""#)
                    .arg("sh")
                    .arg(&alone.0)
                    .arg(&bench_sh)
                    .arg(&n)
                    .output()?
            } else {
                Command::new(agentmon_release())
                    .args(args)
                    .arg("--json")
                    .arg("--")
                    .arg(&bench_sh)
                    .arg(&n)
                    .output()?
            };
            if !out.status.success() {
                bail!(
                    "{what} failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let denials = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains("\"Profile deviation"))
                .count();
            if denials > 0 {
                bail!("{what}: {denials} sandbox alerts: the learned profile does not fit its workload");
            }
            let (wall, cpu) = w.measured()?;
            eprintln!("rep {rep}: {what}: {wall:.3} s wall, {cpu:.2} s CPU");
            times[i].push((wall, cpu));
        }
    }
    // Ratios are taken within each repetition (its cases ran back to back), then their median: the
    // machine's drift between repetitions cancels out.
    let ratio = |i: usize, base: usize, cpu: bool| -> f64 {
        let pick = |t: (f64, f64)| if cpu { t.1 } else { t.0 };
        median(
            times[i]
                .iter()
                .zip(&times[base])
                .map(|(&x, &b)| pick(x) / pick(b))
                .collect(),
        )
    };
    println!();
    println!(
        "Sandbox overhead on a benign workload ({iterations} × a C build of 2 files + its test + a script run, timed inside the workload; {reps} interleaved repetitions, medians; ratios are the median of each repetition's own ratio):"
    );
    println!();
    println!("| case | wall s | CPU s | wall ratio to (a) | CPU ratio to (a) | wall ratio to (b) | CPU ratio to (b) |");
    println!("|---|---|---|---|---|---|---|");
    for (i, (what, _)) in cases.iter().enumerate() {
        let to_b = |cpu: bool| {
            if i == 0 {
                "—".to_string()
            } else {
                format!("{:.3}×", ratio(i, 1, cpu))
            }
        };
        println!(
            "| {what} | {:.3} | {:.2} | {:.3}× | {:.3}× | {} | {} |",
            median(times[i].iter().map(|t| t.0).collect()),
            median(times[i].iter().map(|t| t.1).collect()),
            ratio(i, 0, false),
            ratio(i, 0, true),
            to_b(false),
            to_b(true),
        );
    }
    Ok(())
}

fn storm_overhead(a: &BenchArgs) -> Result<()> {
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

/// CPU time and context switches of `pid`, summed over its threads: (on-CPU ns from
/// `/proc/PID/task/*/schedstat`, utime+stime clock ticks from `/proc/PID/stat`, context switches).
fn cpu_usage(pid: u32) -> Result<(u64, u64, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the `(comm)`: state is field 3, utime 14, stime 15.
    let rest: Vec<&str> = stat
        .rsplit_once(')')
        .context("/proc/PID/stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks = rest[11].parse::<u64>()? + rest[12].parse::<u64>()?;
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

/// CPU used by `agentmon run` (as deployed: default rules, JSON) watching one empty cgroup, over
/// `secs` seconds once it has settled.
fn idle_cpu(secs: u64, ringbuf: u32) -> Result<()> {
    let root = cgroup2_root()?;
    let cg = TempCgroup::new(&root, "agentmon-bench-idle")?;
    let m = start_monitor(&cg.0, ringbuf)?;
    let pid = m.child.id();
    std::thread::sleep(Duration::from_secs(2));
    let measured = (|| -> Result<_> {
        let before = cpu_usage(pid)?;
        std::thread::sleep(Duration::from_secs(secs));
        Ok((before, cpu_usage(pid)?))
    })();
    let stats = stop_monitor(m)?;
    let ((ns0, t0, w0), (ns1, t1, w1)) = measured?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let secs_f = secs as f64;
    println!();
    println!(
        "Idle CPU (agentmon run, one watched empty cgroup, {secs} s): {:.1} ms on CPU = {:.3} % of a core ({} clock ticks of 1/{hz} s); {:.1} context switches/s; records {}",
        (ns1 - ns0) as f64 / 1e6,
        (ns1 - ns0) as f64 / 1e9 / secs_f * 100.0,
        t1 - t0,
        (w1 - w0) as f64 / secs_f,
        field(&stats, "records")
    );
    Ok(())
}
