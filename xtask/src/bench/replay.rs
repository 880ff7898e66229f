//! `--only replay`: replay of generated logs through the default rules, and `log verify`.
use std::{
    fs,
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Result, bail};

use super::{agentmon_bench, agentmon_release};
use crate::workspace_root;

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
pub(super) fn replay(n: u64, reps: usize) -> Result<()> {
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
