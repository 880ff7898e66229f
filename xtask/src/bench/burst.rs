//! `--only burst` (issue 13 (c)): an agent's work burst — git, a C build with its test and a script
//! (the sandbox fixture, `tests/fixtures/sandbox-workload`), byte-compiling a Python source tree
//! (if python3 exists), tar, `grep -r`, many short processes — in a fresh cgroup, watched by
//! `agentmon run --json --cgroup W` (default rules) or not watched at all.
//!
//! Each repetition is a pair, watched and not, its order alternating. Reported: the workload's wall
//! time ratio (median of the pairs' ratios) and agentmon's CPU as a share of the workload's:
//! the workload's from its cgroup's `cpu.stat` `usage_usec`, agentmon's from its threads'
//! `schedstat` over the same window (from the workload's start until agentmon is idle again after
//! it; agentmon's own start-up is before the window).
use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use super::{
    BenchArgs, TempDir,
    cgroup::{TempCgroup, cgroup2_root},
    field, median,
    monitor::{cpu_ns, start_monitor_with, stop_monitor_stats, wait_quiet},
    range,
};
use crate::workspace_root;

/// The burst: `burst.sh DIR FIXTURE ROUNDS [PYTHON PYSRC…]`, everything written below DIR.
const SCRIPT: &str = r#"#!/bin/sh
# An agent's work burst (cargo xtask bench --only burst): git, a C build + test + script, Python
# byte-compilation, tar, grep, many short processes; ROUNDS times.
set -e
dir=$1 fixture=$2 rounds=$3 py=${4:-}
[ $# -ge 4 ] && shift 4 || shift 3
round=0
while [ "$round" -lt "$rounds" ]; do
    w="$dir/w$round"
    rm -rf "$w"; mkdir -p "$w"; cd "$w"
    # git: a repository, two commits, log, diff, status
    git init -q repo; cd repo
    git config user.email bench@example.invalid; git config user.name bench
    i=0; while [ $i -lt 40 ]; do printf 'line %s\nline %s\n' $i $i >f$i.txt; i=$((i + 1)); done
    git add -A; git commit -qm one
    i=0; while [ $i -lt 40 ]; do echo more >>f$i.txt; i=$((i + 1)); done
    git diff >/dev/null; git commit -qam two; git log --oneline >/dev/null; git log -p >/dev/null
    git status --short >/dev/null
    cd "$w"
    # build, test, script: the sandbox fixture
    cp -r "$fixture" sb; ./sb/run.sh
    # byte-compile a copy of a source tree
    if [ -n "$py" ]; then
        mkdir pysrc; for s in "$@"; do cp -r "$s" pysrc/; done
        "$py" -m compileall -q -f pysrc >/dev/null
    fi
    # archive, unpack, search
    tar cf "$dir/t$round.tar" repo sb ${py:+pysrc}; mkdir x; tar xf "$dir/t$round.tar" -C x
    grep -r "def \|int " x >/dev/null || true
    # many short processes
    i=0; while [ $i -lt 300 ]; do /bin/true; i=$((i + 1)); done
    i=0; while [ $i -lt 100 ]; do echo $i | cat >/dev/null; i=$((i + 1)); done
    cd "$dir"; rm -rf "$w" "$dir/t$round.tar"
    round=$((round + 1))
done
"#;

/// python3 (the interpreter itself, not a version manager's shim) and a few stdlib packages to
/// byte-compile; `None` when there is no python3.
fn python() -> Option<(String, Vec<String>)> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, sysconfig, os\nprint(sys.executable)\nfor d in ('json', 'email', 'http', 'asyncio', 'xml'):\n    p = os.path.join(sysconfig.get_paths()['stdlib'], d)\n    if os.path.isdir(p): print(p)",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines().map(str::to_string);
    let exe = lines.next()?;
    let dirs: Vec<String> = lines.collect();
    (!dirs.is_empty()).then_some((exe, dirs))
}

struct Run {
    wall: f64,
    workload_cpu: f64,
    agentmon_cpu: f64,
    records: u64,
}

fn one(script: &Path, args: &[String], watched: bool) -> Result<Run> {
    let root = cgroup2_root()?;
    let cg = TempCgroup::new(&root, "agentmon-bench-burst")?;
    let work = TempDir::new("burst-work")?;
    let m = if watched {
        let m = start_monitor_with(&[&cg.0], &[])?;
        std::thread::sleep(Duration::from_secs(1));
        Some(m)
    } else {
        None
    };
    let cpu0 = m.as_ref().map(|m| cpu_ns(m.pid())).transpose()?;
    let usage0 = cg.usage_usec()?;
    let t = Instant::now();
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"echo $$ > "$1/cgroup.procs" && shift && exec /bin/sh "$@""#)
        .arg("sh")
        .arg(&cg.0)
        .arg(script)
        .arg(&work.0)
        .args(args)
        .stdout(Stdio::null())
        .output()
        .context("running the burst")?;
    let wall = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "the burst failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let workload_cpu = cg.usage_usec()?.saturating_sub(usage0) as f64 / 1e6;
    let (agentmon_cpu, records) = match (m, cpu0) {
        (Some(m), Some(cpu0)) => {
            let cpu1 = wait_quiet(m.pid())?;
            let stats = stop_monitor_stats(m)?;
            ((cpu1 - cpu0) as f64 / 1e9, field(&stats, "records"))
        }
        _ => (0.0, 0),
    };
    Ok(Run {
        wall,
        workload_cpu,
        agentmon_cpu,
        records,
    })
}

pub(super) fn burst(a: &BenchArgs) -> Result<()> {
    for tool in ["git", "cc", "make", "tar", "grep"] {
        if !Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            bail!("the work burst needs {tool}");
        }
    }
    let dir = TempDir::new("burst")?;
    let script = dir.0.join("burst.sh");
    fs::write(&script, SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    let fixture = workspace_root().join("tests/fixtures/sandbox-workload");
    let mut args = vec![fixture.display().to_string(), a.burst_rounds.to_string()];
    let py = python();
    match &py {
        Some((exe, dirs)) => {
            args.push(exe.clone());
            args.extend(dirs.iter().cloned());
        }
        None => eprintln!("burst: no python3, the byte-compilation step is skipped"),
    }
    let reps = a.reps.max(1);
    let (mut alone, mut watched) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        for k in 0..2 {
            let w = (rep + k) % 2 == 1;
            std::thread::sleep(Duration::from_secs(2));
            let r = one(&script, &args, w)?;
            eprintln!(
                "rep {rep}: {}: {:.3} s wall, workload {:.2} s CPU, agentmon {:.3} s CPU, {} events",
                if w { "watched" } else { "alone" },
                r.wall,
                r.workload_cpu,
                r.agentmon_cpu,
                r.records
            );
            if w { &mut watched } else { &mut alone }.push(r);
        }
    }
    let wall_ratio: Vec<f64> = watched.iter().zip(&alone).map(|(w, b)| w.wall / b.wall).collect();
    let cpu_ratio: Vec<f64> = watched
        .iter()
        .zip(&alone)
        .map(|(w, b)| w.workload_cpu / b.workload_cpu)
        .collect();
    let share: Vec<f64> = watched
        .iter()
        .map(|w| w.agentmon_cpu / w.workload_cpu * 100.0)
        .collect();
    println!();
    println!(
        "Agent work burst ({} round(s) of git + C build/test/script + {}tar + grep + 400 short processes; {reps} interleaved pairs, medians):",
        a.burst_rounds,
        if py.is_some() { "python3 -m compileall + " } else { "" }
    );
    println!();
    println!("| case | wall s | workload CPU s | agentmon CPU s | events delivered |");
    println!("|---|---|---|---|---|");
    for (what, runs) in [
        ("not watched", &alone),
        ("watched (agentmon run, default rules)", &watched),
    ] {
        println!(
            "| {what} | {:.3} | {:.2} | {:.3} | {:.0} |",
            median(runs.iter().map(|r| r.wall).collect()),
            median(runs.iter().map(|r| r.workload_cpu).collect()),
            median(runs.iter().map(|r| r.agentmon_cpu).collect()),
            median(runs.iter().map(|r| r.records as f64).collect()),
        );
    }
    println!();
    println!(
        "Watched / not watched: wall {:.3}× (pairs {}), workload CPU {:.3}× (pairs {}); agentmon's CPU = {:.1} % of the workload's ({} %).",
        median(wall_ratio.clone()),
        range(&wall_ratio, 3),
        median(cpu_ratio.clone()),
        range(&cpu_ratio, 3),
        median(share.clone()),
        range(&share, 1)
    );
    Ok(())
}
