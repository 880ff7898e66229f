//! cgroup → agent naming: which watched agent a cgroup id belongs to, and its path.
use std::{collections::HashMap, fs, os::unix::fs::MetadataExt, path::PathBuf};

use crate::cgroup::Cgroup;

/// What the index knows of a cgroup id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CgroupName {
    /// Path relative to the cgroup2 root.
    pub path: String,
    /// Agent name of the watched cgroup it is (or is below).
    pub agent: String,
    /// Id of that watched cgroup (the agent's cgroup).
    pub root_id: u64,
}

/// Names cgroup ids (inode numbers) below the watched cgroups, rescanning their subtrees on a miss.
#[derive(Default)]
pub(crate) struct CgroupIndex {
    roots: Vec<(Cgroup, String)>,
    names: HashMap<u64, CgroupName>,
    root_path: PathBuf,
}

impl CgroupIndex {
    pub(crate) fn new(root_path: PathBuf) -> Self {
        Self {
            roots: Vec::new(),
            names: HashMap::default(),
            root_path,
        }
    }

    /// Registers a watched cgroup and the agent name its events carry.
    pub(crate) fn add_root(&mut self, cg: &Cgroup, agent: &str) {
        self.names.insert(
            cg.id,
            CgroupName {
                path: cg.rel.clone(),
                agent: agent.to_string(),
                root_id: cg.id,
            },
        );
        self.roots.push((cg.clone(), agent.to_string()));
    }

    pub(crate) fn remove_root(&mut self, id: u64) {
        self.roots.retain(|(c, _)| c.id != id);
    }

    /// The watched cgroups and their agents' names.
    pub(crate) fn roots(&self) -> impl Iterator<Item = (&Cgroup, &str)> {
        self.roots.iter().map(|(c, a)| (c, a.as_str()))
    }

    /// The watched cgroup with this id.
    pub(crate) fn root(&self, id: u64) -> Option<&Cgroup> {
        self.roots.iter().find(|(c, _)| c.id == id).map(|(c, _)| c)
    }

    /// The cgroup with this id, if it is (or was) below a watched cgroup.
    pub(crate) fn lookup(&mut self, id: u64) -> Option<&CgroupName> {
        if !self.names.contains_key(&id) {
            self.rescan();
        }
        self.names.get(&id)
    }

    fn rescan(&mut self) {
        for (root, agent) in &self.roots {
            for dir in root.subtree() {
                if let Ok(meta) = fs::metadata(&dir) {
                    let rel = dir
                        .strip_prefix(&self.root_path)
                        .map(|r| format!("/{}", r.display()))
                        .unwrap_or_default();
                    self.names.insert(
                        meta.ino(),
                        CgroupName {
                            path: rel,
                            agent: agent.clone(),
                            root_id: root.id,
                        },
                    );
                }
            }
        }
    }
}
