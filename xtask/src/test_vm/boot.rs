//! One guest under QEMU (TCG): its console streamed and logged, its markers read.
use std::{
    fs,
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

/// What one guest reported.
pub(super) struct Outcome {
    pub(super) rc: i32,
    pub(super) boot: Duration,
    pub(super) per_binary: Vec<String>,
}

/// Boots one kernel and streams its console, prefixed with the kernel's name.
pub(super) fn boot(name: &str, vmlinuz: &Path, initramfs: &Path, timeout: Duration, echo: bool) -> Result<Outcome> {
    eprintln!("xtask: test-vm: booting {name} ({})", vmlinuz.display());
    let console = initramfs.with_file_name(format!("console-{name}.log"));
    let mut log = fs::File::create(&console).with_context(|| console.display().to_string())?;
    let result = read_console(name, vmlinuz, initramfs, timeout, echo, &mut log);
    if result.as_ref().map_or(true, |o| o.rc != 0) && !echo {
        eprintln!("xtask: test-vm: {name} failed; its console ({}):", console.display());
        eprint!("{}", fs::read_to_string(&console).unwrap_or_default());
    }
    result
}

/// Runs the guest, its console written to `log` (and echoed), until its result marker.
fn read_console(
    name: &str,
    vmlinuz: &Path,
    initramfs: &Path,
    timeout: Duration,
    echo: bool,
    log: &mut fs::File,
) -> Result<Outcome> {
    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "3G"])
        .args(["-nographic", "-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initramfs)
        .args([
            "-append",
            "console=ttyS0 lsm=lockdown,capability,landlock,bpf panic=-1 quiet loglevel=4 rdinit=/init",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let stdout = child.stdout.take().context("qemu stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut outcome = Outcome {
        rc: -1,
        boot: Duration::ZERO,
        per_binary: Vec::new(),
    };
    let mut seen_result = false;
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        match rx.recv_timeout(left.max(Duration::from_millis(1))) {
            Ok(line) => {
                let line = line.trim_end_matches('\r');
                if echo {
                    eprintln!("[{name}] {line}");
                }
                let _ = writeln!(log, "{line}");
                if line.contains("AGENTMON-VM-INIT") {
                    outcome.boot = start.elapsed();
                } else if line.starts_with("AGENTMON-VM-PREFLIGHT") {
                    outcome
                        .per_binary
                        .push("agentmon does not load (see the console)".into());
                } else if let Some(rest) = line.strip_prefix("AGENTMON-VM-END ") {
                    outcome.per_binary.push(rest.to_string());
                } else if let Some(rc) = line.strip_prefix("AGENTMON-VM-RESULT rc=") {
                    outcome.rc = rc.trim().parse().unwrap_or(-1);
                    seen_result = true;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("guest hung: no result after {} s", timeout.as_secs());
            }
        }
    }
    let _ = child.wait();
    if !seen_result {
        bail!("guest ended without a result marker (kernel panic or init failure; console above)");
    }
    Ok(outcome)
}
