//! State kept across restarts: the quarantined (frozen) agent cgroups, in
//! `/var/lib/agentmon/quarantine.json`, so a restarted agentmon lists them and leaves them frozen.
use std::{
    io,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::cgroup::Cgroup;

pub const DEFAULT_PATH: &str = "/var/lib/agentmon/quarantine.json";

#[derive(Debug, Error)]
pub enum StateError {
    #[error("{op} {path}: {error}")]
    Io {
        op: &'static str,
        path: PathBuf,
        error: io::Error,
    },
    #[error("{path} is corrupt: {error}")]
    Corrupt { path: PathBuf, error: serde_json::Error },
}

/// One quarantined agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// cgroup path relative to the cgroup2 root.
    pub cgroup: String,
    pub agent: String,
    /// The rule that quarantined it.
    pub rule: String,
    /// When (RFC 3339).
    pub since: String,
}

/// The persisted list; every change is written atomically (temporary file + rename).
#[derive(Debug)]
pub struct QuarantineState {
    path: PathBuf,
    entries: Vec<Quarantined>,
}

impl QuarantineState {
    /// Reads `path`; a missing file is an empty list.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        let entries = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| StateError::Corrupt {
                path: path.to_path_buf(),
                error,
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(error) => {
                return Err(StateError::Io {
                    op: "reading",
                    path: path.to_path_buf(),
                    error,
                });
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            entries,
        })
    }

    pub fn entries(&self) -> &[Quarantined] {
        &self.entries
    }

    /// Records a quarantine (replacing an older entry for the same cgroup).
    pub fn add(&mut self, q: Quarantined) -> Result<(), StateError> {
        self.entries.retain(|e| e.cgroup != q.cgroup);
        self.entries.push(q);
        self.save()
    }

    /// Forgets a cgroup (released or gone); returns whether it was listed.
    pub fn remove(&mut self, cgroup: &str) -> Result<bool, StateError> {
        let before = self.entries.len();
        self.entries.retain(|e| e.cgroup != cgroup);
        let removed = self.entries.len() != before;
        if removed {
            self.save()?;
        }
        Ok(removed)
    }

    /// Entries whose cgroup still exists below `root` and is frozen.
    pub fn still_frozen(&self, root: &Path) -> Vec<&Quarantined> {
        self.entries
            .iter()
            .filter(|e| Cgroup::open(root, Path::new(&e.cgroup)).is_ok_and(|c| c.is_frozen()))
            .collect()
    }

    fn save(&self) -> Result<(), StateError> {
        let io_err = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |error| StateError::Io { op, path, error }
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err("creating", dir))?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(&self.entries).map_err(|error| StateError::Corrupt {
            path: self.path.clone(),
            error,
        })?;
        std::fs::write(&tmp, text).map_err(io_err("writing", &tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io_err("renaming into", &self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(cg: &str) -> Quarantined {
        Quarantined {
            cgroup: cg.into(),
            agent: "a".into(),
            rule: "r".into(),
            since: "2026-11-26T19:00:00Z".into(),
        }
    }

    #[test]
    fn persists_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/quarantine.json");
        let mut s = QuarantineState::load(&path).unwrap();
        assert!(s.entries().is_empty());
        s.add(q("/a")).unwrap();
        s.add(q("/b")).unwrap();
        s.add(q("/a")).unwrap();
        let mut s = QuarantineState::load(&path).unwrap();
        assert_eq!(s.entries(), &[q("/b"), q("/a")]);
        assert!(s.remove("/b").unwrap());
        assert!(!s.remove("/b").unwrap());
        assert_eq!(QuarantineState::load(&path).unwrap().entries(), &[q("/a")]);
        // Nothing named /a exists in this machine's cgroup tree.
        if let Ok(root) = crate::cgroup::cgroup2_root() {
            assert!(s.still_frozen(&root).is_empty());
        }
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(QuarantineState::load(&path), Err(StateError::Corrupt { .. })));
    }

    #[test]
    fn lists_frozen_cgroups() {
        let root = crate::cgroup::cgroup2_root().expect("cgroup2 mounted");
        let name = format!("agentmon-test-state-{}", std::process::id());
        let cg = Cgroup::create(&root, &root, &name).expect("creating a cgroup (needs root)");
        struct Rm(Cgroup);
        impl Drop for Rm {
            fn drop(&mut self) {
                let _ = self.0.set_frozen(false);
                let _ = self.0.remove();
            }
        }
        let cg = Rm(cg);
        let dir = tempfile::tempdir().unwrap();
        let mut s = QuarantineState::load(&dir.path().join("q.json")).unwrap();
        s.add(q(&cg.0.rel)).unwrap();
        assert!(s.still_frozen(&root).is_empty(), "not frozen yet");
        cg.0.set_frozen(true).unwrap();
        for _ in 0..100 {
            if cg.0.is_frozen() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(s.still_frozen(&root), vec![&q(&cg.0.rel)]);
    }
}
