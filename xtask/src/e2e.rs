//! The end-to-end tests (crate `agentmon-e2e`, one test binary per file) run a few binaries side by
//! side. Each spends most of its time waiting — for the kernel's events, for the processes and
//! containers it drives — so running them one after the other, as `cargo test` does, leaves the
//! machine mostly idle. The tests are written to run in parallel (uniquely named cgroups, files and
//! containers), as they already do within a binary. A binary's output is printed whole when it ends,
//! so the log reads as if they had run in turn.
use std::{
    collections::VecDeque,
    ffi::OsString,
    path::PathBuf,
    process::{Command, Stdio},
    sync::Mutex,
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::{cargo, workspace_root};

/// How many test binaries run at once (on the 2-core machines CI uses).
pub(crate) const JOBS: usize = 2;

/// Held while a binary's output is printed, so two binaries' logs never interleave.
static PRINTING: Mutex<()> = Mutex::new(());

/// Builds the e2e test binaries, then runs them `jobs` at a time with `envs` set; fails if any
/// binary fails (after all of them ran).
pub(crate) fn run(jobs: usize, envs: &[(&str, OsString)]) -> Result<()> {
    let binaries = build()?;
    let started = Instant::now();
    let queue = Mutex::new(binaries.into_iter().collect::<VecDeque<_>>());
    let failed = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                while let Some((name, exe)) = queue.lock().ok().and_then(|mut q| q.pop_front()) {
                    if let Err(e) = run_one(&name, &exe, envs) {
                        eprintln!("xtask: e2e {name}: {e:#}");
                        if let Ok(mut f) = failed.lock() {
                            f.push(name);
                        }
                    }
                }
            });
        }
    });
    let failed = failed.lock().map(|f| f.clone()).unwrap_or_default();
    eprintln!(
        "xtask: e2e test binaries ran {jobs} at a time in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        bail!("e2e test binaries failed: {}", failed.join(", "));
    }
    Ok(())
}

/// `cargo test -p agentmon-e2e --no-run`: the (name, executable) of every test binary.
fn build() -> Result<Vec<(String, PathBuf)>> {
    let out = cargo()
        .args([
            "test",
            "-p",
            "agentmon-e2e",
            "--no-run",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .context("building the e2e tests")?;
    if !out.status.success() {
        bail!("building the e2e tests failed with {}", out.status);
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" || msg["profile"]["test"] != true {
            continue;
        }
        if let (Some(name), Some(exe)) = (msg["target"]["name"].as_str(), msg["executable"].as_str()) {
            binaries.push((name.to_string(), PathBuf::from(exe)));
        }
    }
    if binaries.is_empty() {
        bail!("cargo listed no e2e test binaries");
    }
    // The longest first (by the last run's order would be better; the container tests are long).
    binaries.sort_by_key(|(name, _)| !name.contains("container"));
    Ok(binaries)
}

/// Runs one test binary in the test crate's directory (as `cargo test` does), output captured and
/// printed at the end.
fn run_one(name: &str, exe: &PathBuf, envs: &[(&str, OsString)]) -> Result<()> {
    let t = Instant::now();
    let out = Command::new(exe)
        .current_dir(workspace_root().join("tests"))
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {}", exe.display()))?;
    let _printing = PRINTING.lock();
    eprintln!(
        "\n     Running {name} ({}) — {:.1} s",
        exe.display(),
        t.elapsed().as_secs_f64()
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("exited with {}", out.status);
    }
    Ok(())
}
