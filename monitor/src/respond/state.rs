//! The quarantine state file (`$AGENTMON_STATE_DIR/quarantine.json`): which agents are frozen, so
//! quarantines survive agentmon restarts and `agentmon release` can find them.
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Default directory for agentmon's state (`AGENTMON_STATE_DIR` overrides it).
pub(crate) const DEFAULT_STATE_DIR: &str = "/var/lib/agentmon";

pub(crate) fn state_dir() -> PathBuf {
    std::env::var_os("AGENTMON_STATE_DIR").map_or_else(|| PathBuf::from(DEFAULT_STATE_DIR), PathBuf::from)
}

/// One quarantined agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Quarantined {
    pub agent: String,
    pub cgroup: PathBuf,
    pub cgroup_id: u64,
    /// Rule that triggered the quarantine.
    pub rule: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
    /// Processes frozen at the time.
    pub pids: Vec<u32>,
}

fn state_file() -> PathBuf {
    state_dir().join("quarantine.json")
}

/// The quarantine list (empty if there is no state file yet).
pub(crate) fn load_quarantined() -> Result<Vec<Quarantined>> {
    let f = state_file();
    match std::fs::read(&f) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", f.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", f.display())),
    }
}

/// Changes the quarantine list under a lock: one writer at a time in this process (responses run
/// on worker threads) and across processes (`agentmon release` beside a running monitor), so no
/// update is lost. The list is written back (write-then-rename) when `change` succeeds.
pub(crate) fn update_quarantined<R>(change: impl FnOnce(&mut Vec<Quarantined>) -> Result<R>) -> Result<R> {
    static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = IN_PROCESS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let f = state_file();
    if let Some(dir) = f.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let lock_path = f.with_extension("lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    // SAFETY: flock(2) on a descriptor we own; released when `lock` is closed.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("locking {}", lock_path.display()));
    }
    let mut list = load_quarantined()?;
    let r = change(&mut list)?;
    // Write-then-rename so a crash never leaves a half-written list.
    let tmp = f.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&list)?).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &f).with_context(|| format!("replacing {}", f.display()))?;
    Ok(r)
}
