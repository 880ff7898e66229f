//! `--only latency`: action latency (kill, quarantine) as agentmon reports it in its alerts.
use std::{
    fs,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, bail};

use super::{
    agentmon_release,
    cgroup::{TempCgroup, cgroup2_root},
    median,
};
use libc::kill as libc_kill;

/// Action latency: offending syscall (kernel timestamp) → processes killed / cgroup frozen, as
/// reported by agentmon in each alert's `action_latency_us`.
pub(super) fn action_latency(reps: usize) -> Result<()> {
    let root = cgroup2_root()?;
    let rules = std::env::temp_dir().join(format!("agentmon-bench-rules-{}", std::process::id()));
    fs::create_dir_all(&rules)?;
    // The marker files exist: opens that fail with ENOENT are not events (since the visibility
    // work, opens are seen at exit and "not found" probes are skipped in the kernel).
    let markers = super::TempDir::new("latency-markers")?;
    let trigger = |what: &str| format!("{}/{what}", markers.0.display());
    for what in ["kill", "quarantine"] {
        fs::write(trigger(what), "").with_context(|| format!("writing {}", trigger(what)))?;
    }
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
