//! One guest under QEMU (TCG): its console streamed and logged, its markers read.
use std::{
    fs,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
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

/// The guest's kernel reported a soft lockup or an RCU stall (and, with `softlockup_panic=1`,
/// panicked): the kernel under TCG stopped, not a test. The console log keeps its stack trace.
#[derive(Debug)]
pub(super) struct KernelLockup {
    pub(super) console: PathBuf,
}

impl std::fmt::Display for KernelLockup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the guest kernel locked up (soft lockup or RCU stall; trace in {})",
            self.console.display()
        )
    }
}

impl std::error::Error for KernelLockup {}

/// Console lines with which the kernel says a CPU stopped making progress.
const LOCKUP_MARKERS: &[&str] = &[
    "BUG: soft lockup",
    "self-detected stall on CPU",
    "detected stalls on CPUs",
];

/// Boots one kernel and streams its console, prefixed with the kernel's name; `attempt` names the
/// console log (`console-<name>.log`, then `console-<name>.<attempt>.log`).
pub(super) fn boot(
    name: &str,
    vmlinuz: &Path,
    initramfs: &Path,
    timeout: Duration,
    echo: bool,
    attempt: u32,
) -> Result<Outcome> {
    eprintln!("xtask: test-vm: booting {name} ({})", vmlinuz.display());
    let console = if attempt == 1 {
        initramfs.with_file_name(format!("console-{name}.log"))
    } else {
        initramfs.with_file_name(format!("console-{name}.{attempt}.log"))
    };
    let mut log = fs::File::create(&console).with_context(|| console.display().to_string())?;
    let result = read_console(name, vmlinuz, initramfs, timeout, echo, &mut log, &console);
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
    console: &Path,
) -> Result<Outcome> {
    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "3G"])
        .args(["-nographic", "-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initramfs)
        // A CPU that stops making progress panics the guest (and `-no-reboot` ends qemu) at once,
        // instead of the run waiting out its timeout; loglevel 5 puts the lockup's stack trace
        // (printed at the default level, 4) on the console beside it.
        .args([
            "-append",
            "console=ttyS0 lsm=lockdown,capability,landlock,bpf panic=-1 softlockup_panic=1 \
             sysctl.kernel.panic_on_rcu_stall=1 quiet loglevel=5 rdinit=/init",
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
    let mut lockup = false;
    let lockup_error = || {
        anyhow::Error::from(KernelLockup {
            console: console.to_path_buf(),
        })
    };
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        match rx.recv_timeout(left.max(Duration::from_millis(1))) {
            Ok(line) => {
                let line = line.trim_end_matches('\r');
                if echo {
                    eprintln!("[{name}] {line}");
                }
                let _ = writeln!(log, "{line}");
                lockup |= LOCKUP_MARKERS.iter().any(|m| line.contains(m));
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
                if lockup {
                    return Err(lockup_error());
                }
                bail!("guest hung: no result after {} s", timeout.as_secs());
            }
        }
    }
    let _ = child.wait();
    if !seen_result && lockup {
        return Err(lockup_error());
    }
    if !seen_result {
        bail!("guest ended without a result marker (kernel panic or init failure; console above)");
    }
    Ok(outcome)
}
