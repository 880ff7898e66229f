//! cgroup → agent naming: which watched agent a cgroup id belongs to, its path, and the container
//! the agent is (held once per agent and shared by its events, so no event pays a lookup).
use std::{
    collections::{HashMap, HashSet},
    fs,
    os::unix::fs::MetadataExt,
    path::PathBuf,
    sync::Arc,
};

use serde::Serialize;

use crate::cgroup::Cgroup;

/// The container an agent is, as its events carry it (Falco's `container.*` fields).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContainerInfo {
    /// The first 12 hex digits of the ID (`docker ps`, Falco's `container.id`).
    pub id: String,
    /// The whole ID.
    pub full_id: String,
    /// The Kubernetes container name, else the runtime's; empty when unknown.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The image, as the runtime names it; empty when unknown.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
}

impl ContainerInfo {
    pub fn new(full_id: &str, name: Option<&str>, image: Option<&str>) -> Self {
        // IDs are hex, but one read back from a log is input: cut on a character boundary.
        let short = full_id.char_indices().nth(12).map_or(full_id, |(i, _)| &full_id[..i]);
        Self {
            id: short.to_string(),
            full_id: full_id.to_string(),
            name: name.unwrap_or_default().to_string(),
            image: image.unwrap_or_default().to_string(),
        }
    }
}

/// What the index knows of a cgroup id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CgroupName {
    /// Path relative to the cgroup2 root.
    pub path: String,
    /// Agent name of the watched cgroup it is (or is below).
    pub agent: String,
    /// Id of that watched cgroup (the agent's cgroup).
    pub root_id: u64,
    /// The container the agent is, if it is one.
    pub container: Option<Arc<ContainerInfo>>,
}

/// How many unknown cgroup ids are remembered as such (beyond it the memory starts afresh).
const MAX_MISSES: usize = 4096;

/// Names cgroup ids (inode numbers) below the watched cgroups, rescanning their subtrees on a miss.
#[derive(Default)]
pub(crate) struct CgroupIndex {
    roots: Vec<(Cgroup, String, Option<Arc<ContainerInfo>>)>,
    names: HashMap<u64, CgroupName, crate::FastHash>,
    /// Ids a rescan did not find (a process that left its agent's cgroup keeps sending events from
    /// one): not rescanned for again until the watched set changes or a rescan finds new cgroups,
    /// so such events cost a lookup, not a walk of the subtrees.
    misses: HashSet<u64, crate::FastHash>,
    /// Changes whenever a name may have changed (see [`CgroupIndex::generation`]).
    generation: u64,
    root_path: PathBuf,
}

impl CgroupIndex {
    pub(crate) fn new(root_path: PathBuf) -> Self {
        Self {
            roots: Vec::new(),
            names: HashMap::default(),
            misses: HashSet::default(),
            generation: 0,
            root_path,
        }
    }

    /// Registers a watched cgroup, the agent name its events carry and the container it is.
    pub(crate) fn add_root(&mut self, cg: &Cgroup, agent: &str, container: Option<ContainerInfo>) {
        let container = container.map(Arc::new);
        self.changed();
        self.names.insert(
            cg.id,
            CgroupName {
                path: cg.rel.clone(),
                agent: agent.to_string(),
                root_id: cg.id,
                container: container.clone(),
            },
        );
        self.roots.push((cg.clone(), agent.to_string(), container));
    }

    /// An index of agents whose cgroups do not exist (`(cgroup id, agent name)`, each at
    /// `/<name>` under a missing cgroup2 root), for tests of the stages after it.
    #[cfg(test)]
    pub(crate) fn of_test_agents(agents: &[(u64, &str)]) -> Self {
        let mut index = Self::new("/nonexistent-cgroup-root".into());
        for &(id, name) in agents {
            let cg = Cgroup {
                path: format!("/nonexistent-cgroup-root/{name}").into(),
                rel: format!("/{name}"),
                id,
                level: 1,
            };
            index.add_root(&cg, name, None);
        }
        index
    }

    /// The cgroup2 mount the index reads.
    pub(crate) fn root_path(&self) -> &std::path::Path {
        &self.root_path
    }

    pub(crate) fn remove_root(&mut self, id: u64) {
        self.roots.retain(|(c, _, _)| c.id != id);
        self.changed();
    }

    /// A counter that changes whenever what [`CgroupIndex::lookup`] answers for some id may have
    /// changed: an enriched event's cgroup fields can be reused while it stays the same.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    fn changed(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.misses.clear();
    }

    /// The watched cgroups and their agents' names.
    pub(crate) fn roots(&self) -> impl Iterator<Item = (&Cgroup, &str)> {
        self.roots.iter().map(|(c, a, _)| (c, a.as_str()))
    }

    /// The watched cgroup with this id.
    pub(crate) fn root(&self, id: u64) -> Option<&Cgroup> {
        self.roots.iter().find(|(c, _, _)| c.id == id).map(|(c, _, _)| c)
    }

    /// The cgroup with this id, if it is (or was) below a watched cgroup.
    pub(crate) fn lookup(&mut self, id: u64) -> Option<&CgroupName> {
        if !self.names.contains_key(&id) && !self.misses.contains(&id) {
            self.rescan();
            if !self.names.contains_key(&id) {
                if self.misses.len() >= MAX_MISSES {
                    self.misses.clear();
                }
                self.misses.insert(id);
            }
        }
        self.names.get(&id)
    }

    fn rescan(&mut self) {
        for (root, agent, container) in &self.roots {
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
                            container: container.clone(),
                        },
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ContainerInfo;

    /// A miss is remembered (an escaped process's cgroup is not rescanned for on every event), but
    /// a cgroup created below a watched one later is still found, and the answer for the miss stays.
    #[test]
    fn unknown_ids_are_remembered_without_hiding_new_cgroups() {
        use std::os::unix::fs::MetadataExt;
        let root = tempfile::tempdir().unwrap();
        let agent = root.path().join("agent");
        std::fs::create_dir(&agent).unwrap();
        let id = std::fs::metadata(&agent).unwrap().ino();
        let cg = crate::cgroup::Cgroup {
            path: agent.clone(),
            rel: "/agent".into(),
            id,
            level: 1,
        };
        let mut index = super::CgroupIndex::new(root.path().to_path_buf());
        index.add_root(&cg, "a", None);
        let outside = std::fs::metadata(root.path()).unwrap().ino();
        assert!(index.lookup(outside).is_none());
        assert!(index.misses.contains(&outside));
        let child = agent.join("worker");
        std::fs::create_dir(&child).unwrap();
        let child_id = std::fs::metadata(&child).unwrap().ino();
        let found = index.lookup(child_id).expect("a cgroup created after a miss");
        assert_eq!(
            (found.path.as_str(), found.agent.as_str(), found.root_id),
            ("/agent/worker", "a", id)
        );
        assert!(index.lookup(outside).is_none());
        // A change to the watched set forgets the misses.
        let generation = index.generation();
        index.remove_root(id);
        assert!(index.misses.is_empty() && index.generation() != generation);
    }

    #[test]
    fn short_ids_are_cut_on_characters() {
        let c = ContainerInfo::new("4f1c9a0e2b7d6c5a8e3f", Some("coder"), None);
        assert_eq!((c.id.as_str(), c.image.as_str()), ("4f1c9a0e2b7d", ""));
        assert_eq!(ContainerInfo::new("abc", None, None).id, "abc");
        // From a damaged or hostile log: no panic on a multi-byte character.
        assert_eq!(ContainerInfo::new("ééééééééééééé", None, None).id, "éééééééééééé");
    }
}
