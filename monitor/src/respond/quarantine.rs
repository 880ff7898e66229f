//! The `quarantine` response: connects from the agent's cgroup are refused in the kernel (the pinned
//! quarantine set), every task is frozen and kept for forensics, and the quarantine is recorded in
//! the state file; [`release`] undoes it (or ends the agent).
use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use aya::maps::{HashMap, MapData};

use super::state::{Quarantined, update_quarantined};
use crate::{cgroup::Cgroup, probes::PIN_DIR};

/// The pinned quarantine set, shared by every agentmon process on the host.
fn quarantine_map() -> Result<HashMap<MapData, u64, u32>> {
    let path = Path::new(PIN_DIR).join(monitor_common::maps::QUARANTINE);
    let data = MapData::from_pin(&path).with_context(|| format!("opening pinned map {}", path.display()))?;
    Ok(HashMap::try_from(aya::maps::Map::HashMap(data))?)
}

/// Quarantines the agent: connects from its cgroup are refused in the kernel, then every task is
/// frozen (`cgroup.freeze`), and the quarantine is recorded.
pub(crate) fn quarantine(cg: &Cgroup, agent: &str, rule: &str) -> Result<String> {
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
    let pids = cg.subtree_procs();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let n = pids.len();
    update_quarantined(|list| {
        list.retain(|q| q.cgroup_id != cg.id);
        list.push(Quarantined {
            agent: agent.to_string(),
            cgroup: cg.path.clone(),
            cgroup_id: cg.id,
            rule: rule.to_string(),
            since,
            pids,
        });
        Ok(())
    })?;
    Ok(format!(
        "quarantined: {n} process(es) frozen in {}, network connects refused",
        cg.rel
    ))
}

/// Releases a quarantined agent (by agent name, cgroup path or cgroup id): thaws it and lets it
/// connect again. With `kill`, ends it instead.
pub(crate) fn release(which: &str, kill_it: bool) -> Result<Quarantined> {
    update_quarantined(|list| {
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
        Ok(q)
    })
}
