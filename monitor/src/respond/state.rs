//! The quarantine state file (`$AGENTMON_STATE_DIR/quarantine.json`): which agents are frozen, so
//! quarantines survive agentmon restarts and `agentmon release` can find them. It names agents,
//! cgroups and pids, so it lives in a directory only agentmon's user (root) can enter, mode 0700,
//! and is written 0600 ([`crate::files::PrivateDir`]).
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::files::PrivateDir;

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

const STATE_FILE: &str = "quarantine.json";
const LOCK_FILE: &str = "quarantine.lock";
/// Largest state file read (a list of agents; a real one is a few KiB).
const MAX_STATE_BYTES: u64 = 16 << 20;

/// The state directory, held open (see [`PrivateDir`]: 0700, owned by agentmon's user, symlinks not
/// followed); `None` if it does not exist and `create` is false.
fn open_dir(create: bool) -> Result<Option<PrivateDir>> {
    let dir = state_dir();
    PrivateDir::open(&dir, create).with_context(|| format!("state directory {}", dir.display()))
}

fn load_from(dir: &PrivateDir) -> Result<Vec<Quarantined>> {
    let f = dir.join(STATE_FILE);
    match dir.read(STATE_FILE, MAX_STATE_BYTES) {
        Ok(Some(bytes)) => serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", f.display())),
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", f.display())),
    }
}

/// The quarantine list (empty if there is no state file yet).
pub(crate) fn load_quarantined() -> Result<Vec<Quarantined>> {
    match open_dir(false)? {
        Some(dir) => load_from(&dir),
        None => Ok(Vec::new()),
    }
}

/// Changes the quarantine list under a lock: one writer at a time in this process (responses run
/// on worker threads) and across processes (`agentmon release` beside a running monitor), so no
/// update is lost. The list is written back (a new temporary file in the state directory, renamed
/// over the old list) when `change` succeeds.
pub(crate) fn update_quarantined<R>(change: impl FnOnce(&mut Vec<Quarantined>) -> Result<R>) -> Result<R> {
    static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = IN_PROCESS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = open_dir(true)?.ok_or_else(|| anyhow::anyhow!("state directory {} is missing", state_dir().display()))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = dir
        .open_lock(LOCK_FILE)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    // SAFETY: flock(2) on a descriptor we own; released when `lock` is closed.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("locking {}", lock_path.display()));
    }
    let mut list = load_from(&dir)?;
    let r = change(&mut list)?;
    dir.write_atomic(STATE_FILE, &serde_json::to_vec_pretty(&list)?)
        .with_context(|| format!("writing {}", dir.join(STATE_FILE).display()))?;
    Ok(r)
}
