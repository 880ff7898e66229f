//! The cgroup-wide responses: kill the agent, or quarantine it (connects refused in the kernel,
//! every task frozen, kept for forensics) and release it later. Quarantines are written to a state
//! file so they survive agentmon restarts and `agentmon release` can find them.
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use aya::maps::{HashMap, MapData};
use serde::{Deserialize, Serialize};

use crate::{cgroup::Cgroup, probes::PIN_DIR};

/// Default directory for agentmon's state (`AGENTMON_STATE_DIR` overrides it).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/agentmon";

pub fn state_dir() -> PathBuf {
    std::env::var_os("AGENTMON_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

/// One quarantined agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
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
pub fn load_quarantined() -> Result<Vec<Quarantined>> {
    let f = state_file();
    match std::fs::read(&f) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", f.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", f.display())),
    }
}

fn save_quarantined(list: &[Quarantined]) -> Result<()> {
    let f = state_file();
    if let Some(dir) = f.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Write-then-rename so a crash never leaves a half-written list.
    let tmp = f.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(list)?).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &f).with_context(|| format!("replacing {}", f.display()))?;
    Ok(())
}

/// Kills every task of the agent's cgroup subtree. Returns a description for the alert.
pub fn kill(cg: &Cgroup) -> Result<String> {
    let n = cg.kill_all(Duration::from_secs(2))?;
    Ok(format!("killed {n} process(es) in {}", cg.rel))
}

/// The pinned quarantine set, shared by every agentmon process on the host.
fn quarantine_map() -> Result<HashMap<MapData, u64, u32>> {
    let path = Path::new(PIN_DIR).join("QUARANTINE");
    let data = MapData::from_pin(&path).with_context(|| format!("opening pinned map {}", path.display()))?;
    Ok(HashMap::try_from(aya::maps::Map::HashMap(data))?)
}

/// Quarantines the agent: connects from its cgroup are refused in the kernel, then every task is
/// frozen (`cgroup.freeze`), and the quarantine is recorded.
pub fn quarantine(cg: &Cgroup, agent: &str, rule: &str) -> Result<String> {
    quarantine_map()?
        .insert(cg.id, 1, 0)
        .context("adding the cgroup to the kernel quarantine set")?;
    cg.set_frozen(true)?;
    let deadline = Instant::now() + Duration::from_secs(2);
    while !cg.is_frozen() {
        if Instant::now() > deadline {
            bail!("{} did not report frozen within 2 s", cg.path.display());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut pids = Vec::new();
    for dir in cg.subtree() {
        if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
        }
    }
    let mut list = load_quarantined()?;
    list.retain(|q| q.cgroup_id != cg.id);
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let n = pids.len();
    list.push(Quarantined {
        agent: agent.to_string(),
        cgroup: cg.path.clone(),
        cgroup_id: cg.id,
        rule: rule.to_string(),
        since,
        pids,
    });
    save_quarantined(&list)?;
    Ok(format!(
        "quarantined: {n} process(es) frozen in {}, network connects refused",
        cg.rel
    ))
}

/// Releases a quarantined agent (by agent name, cgroup path or cgroup id): thaws it and lets it
/// connect again. With `kill`, ends it instead.
pub fn release(which: &str, kill_it: bool) -> Result<Quarantined> {
    let mut list = load_quarantined()?;
    let pos = list
        .iter()
        .position(|q| q.agent == which || q.cgroup == Path::new(which) || q.cgroup_id.to_string() == which)
        .with_context(|| format!("no quarantined agent named {which:?} (see `agentmon release --list`)"))?;
    let q = list.remove(pos);
    if q.cgroup.exists() {
        let root = crate::cgroup::cgroup2_root()?;
        let cg = Cgroup::open(&root, &q.cgroup)?;
        if kill_it {
            // cgroup.kill works on frozen tasks; thaw afterwards so the cgroup can be removed.
            cg.kill_all(Duration::from_secs(2))?;
        }
        cg.set_frozen(false)?;
    }
    if let Ok(mut map) = quarantine_map() {
        let _ = map.remove(&q.cgroup_id);
    }
    save_quarantined(&list)?;
    Ok(q)
}
