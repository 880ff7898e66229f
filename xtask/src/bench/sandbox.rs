//! `--only sandbox`: the sandbox's overhead on a benign workload (the fixture's C build, its test, a
//! script), alone, under `agentmon exec`, and sandboxed in audit and enforced modes.
use std::{
    fs,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, bail};

use super::{
    agentmon_release,
    cgroup::{TempCgroup, cgroup2_root},
    median,
};
use crate::workspace_root;

/// A fresh copy of the sandbox workload (`tests/fixtures/sandbox-workload`), removed on drop.
pub(super) struct Workload(pub(super) PathBuf);

impl Workload {
    pub(super) fn new() -> Result<Self> {
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
pub(super) fn sandbox_overhead(iterations: u32, reps: usize) -> Result<()> {
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
