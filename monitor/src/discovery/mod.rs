//! Finds agent cgroups: walks the cgroup2 tree, matches each cgroup against the configured agents
//! (path, container, Kubernetes metadata, systemd unit), and reports agents that appear or go away.
//!
//! New cgroups are picked up by rescanning every `discovery.rescan_interval` (1 s by default):
//! cgroupfs is an in-memory filesystem, and unlike inotify a rescan needs no watch per directory
//! and cannot miss a cgroup created between `mkdir` and adding its watch. (A 2,054-directory tree
//! scans in ~63 ms in a debug build; `RUST_LOG=agentmon::discovery=trace` logs each scan's time.)
use std::{
    collections::HashMap,
    fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Serialize;
use tokio::{sync::mpsc, task::JoinHandle};

pub mod identity;
pub mod k8s;

use self::{
    identity::{Identity, identify},
    k8s::{PodMeta, PodStore},
};
use crate::{cgroup::Cgroup, config::AgentSpec, rules::Action};

/// Who an agent cgroup is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentIdentity {
    /// Rendered name (alerts, rules, metrics).
    pub name: String,
    /// Index of the matching entry in the config's `agents`.
    pub(crate) spec: usize,
    #[serde(flatten)]
    pub identity: Identity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) pod_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Directories drift rules protect.
    pub(crate) protect: Vec<PathBuf>,
    /// Action override for every rule matched by this agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) action: Option<Action>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// Start watching `cgroup` (and its subtree) as `agent`.
    Added { cgroup: Cgroup, agent: Box<AgentIdentity> },
    /// The cgroup with this id went away (or stopped matching): stop watching it.
    Removed { id: u64, path: String, agent: String },
}

/// What a cgroup looks like to the selectors.
struct Candidate<'a> {
    rel: &'a str,
    identity: Identity,
    pod: Option<PodMeta>,
    container_name: Option<String>,
}

pub struct Discovery {
    root: PathBuf,
    /// Subtree walked (default: the whole hierarchy).
    scope: PathBuf,
    agents: Vec<AgentSpec>,
    pods: Option<PodStore>,
    known: HashMap<u64, (Cgroup, AgentIdentity)>,
}

impl Discovery {
    /// `root` is the cgroup2 mount; `pods` the Kubernetes metadata, when enabled.
    pub fn new(root: PathBuf, agents: Vec<AgentSpec>, pods: Option<PodStore>) -> Self {
        Self {
            scope: root.clone(),
            root,
            agents,
            pods,
            known: HashMap::new(),
        }
    }

    /// Walks only below `dir` (absolute, inside the hierarchy). Selectors still see full paths.
    #[must_use]
    pub fn with_scope(mut self, dir: PathBuf) -> Self {
        self.scope = dir;
        self
    }

    /// Walks the tree once and returns what changed since the previous scan: removals first.
    pub fn scan(&mut self) -> Vec<DiscoveryEvent> {
        let mut found: HashMap<u64, (Cgroup, AgentIdentity)> = HashMap::new();
        let scope = self.scope.clone();
        self.walk(&scope, &mut found);
        let mut events = Vec::new();
        let gone: Vec<u64> = self
            .known
            .keys()
            .filter(|id| !found.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            if let Some((cg, agent)) = self.known.remove(&id) {
                events.push(DiscoveryEvent::Removed {
                    id,
                    path: cg.rel,
                    agent: agent.name,
                });
            }
        }
        let mut added: Vec<_> = found
            .into_iter()
            .filter(|(id, _)| !self.known.contains_key(id))
            .collect();
        added.sort_by(|a, b| a.1.0.rel.cmp(&b.1.0.rel));
        for (id, (cg, agent)) in added {
            self.known.insert(id, (cg.clone(), agent.clone()));
            events.push(DiscoveryEvent::Added {
                cgroup: cg,
                agent: Box::new(agent),
            });
        }
        events
    }

    fn walk(&self, dir: &Path, found: &mut HashMap<u64, (Cgroup, AgentIdentity)>) {
        let Ok(meta) = fs::metadata(dir) else { return };
        let Ok(rel_path) = dir.strip_prefix(&self.root) else {
            return;
        };
        let rel = format!("/{}", rel_path.display());
        let id = meta.ino();
        // A cgroup already known keeps its identity (its name must not change under the rules).
        if let Some((cg, agent)) = self.known.get(&id).filter(|(cg, _)| cg.path == dir) {
            found.insert(id, (cg.clone(), agent.clone()));
            return;
        }
        if dir != self.root
            && let Some(agent) = self.select(&rel)
        {
            if let Ok(cg) = Cgroup::open(&self.root, dir) {
                found.insert(cg.id, (cg, agent));
            }
            // The subtree is covered by watching this cgroup.
            return;
        }
        let Ok(entries) = fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                self.walk(&e.path(), found);
            }
        }
    }

    /// The agent the cgroup at `rel` (relative to the root) is, if any.
    pub(crate) fn select(&self, rel: &str) -> Option<AgentIdentity> {
        let identity = identify(rel);
        let pod = match (&self.pods, &identity.pod_uid) {
            (Some(store), Some(uid)) => store.get(uid),
            _ => None,
        };
        let container_name = match (&pod, &identity.container_id) {
            (Some(p), Some(id)) => p.containers.get(id).cloned(),
            _ => None,
        };
        let c = Candidate {
            rel,
            identity,
            pod,
            container_name,
        };
        let (spec, a) = self.agents.iter().enumerate().find(|(_, a)| matches(a, &c))?;
        let name = self.render_name(a, &c)?;
        Some(AgentIdentity {
            name,
            spec,
            pod_name: c.pod.as_ref().map(|p| p.name.clone()),
            namespace: c.pod.as_ref().map(|p| p.namespace.clone()),
            container_name: c.container_name,
            identity: c.identity,
            protect: a.protect.clone(),
            action: a.action,
        })
    }

    /// Renders the name; `None` defers the agent while its Kubernetes metadata is still on its way.
    fn render_name(&self, a: &AgentSpec, c: &Candidate<'_>) -> Option<String> {
        let leaf = c.rel.rsplit('/').next().unwrap_or(c.rel);
        let short = c.identity.short_id();
        let lookup = |v: &str| -> Option<&str> {
            match v {
                "pod" => c.pod.as_ref().map(|p| p.name.as_str()),
                "namespace" => c.pod.as_ref().map(|p| p.namespace.as_str()),
                "container" => c.container_name.as_deref().or(short),
                "container_id" => short,
                "pod_uid" => c.identity.pod_uid.as_deref(),
                "unit" => c.identity.systemd_unit.as_deref(),
                "cgroup" => Some(leaf),
                "runtime" => c.identity.runtime.map(identity::Runtime::as_str),
                _ => None,
            }
        };
        match a.name.render(lookup) {
            Ok(n) => Some(n),
            Err(missing) => {
                let waiting_for_pod = self.pods.is_some() && c.identity.pod_uid.is_some() && c.pod.is_none();
                if waiting_for_pod {
                    tracing::debug!(cgroup = c.rel, "{missing}; waiting for pod metadata");
                    None
                } else {
                    tracing::warn!(
                        cgroup = c.rel,
                        template = a.name.as_str(),
                        "{missing}; naming the agent {}",
                        crate::event::Esc(leaf)
                    );
                    Some(leaf.to_string())
                }
            }
        }
    }

    /// Scans now (the returned events are the initial agents), then every `interval` in a task that
    /// sends changes on the channel. The task ends when the receiver is dropped.
    pub fn spawn(
        mut self,
        interval: Duration,
    ) -> (Vec<DiscoveryEvent>, mpsc::Receiver<DiscoveryEvent>, JoinHandle<()>) {
        let initial = self.scan();
        let (tx, rx) = mpsc::channel(256);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let t = std::time::Instant::now();
                let events = self.scan();
                tracing::trace!(
                    elapsed_us = t.elapsed().as_micros() as u64,
                    changes = events.len(),
                    "rescan"
                );
                for ev in events {
                    if tx.send(ev).await.is_err() {
                        return;
                    }
                }
            }
        });
        (initial, rx, task)
    }
}

fn matches(a: &AgentSpec, c: &Candidate<'_>) -> bool {
    let s = &a.selector;
    let id = &c.identity;
    let glob_ok = |g: &Option<crate::config::PathGlob>, v: Option<&str>| match g {
        None => true,
        Some(g) => v.is_some_and(|v| g.matches(v)),
    };
    if !glob_ok(&s.cgroup, Some(c.rel))
        || !glob_ok(&s.systemd_unit, id.systemd_unit.as_deref())
        || !glob_ok(&s.container_name, c.container_name.as_deref())
    {
        return false;
    }
    if let Some(prefix) = &s.container_id
        && !id
            .container_id
            .as_deref()
            .is_some_and(|cid| cid.starts_with(&prefix.to_ascii_lowercase()))
    {
        return false;
    }
    if let Some(rt) = &s.runtime
        && !rt.matches(id.runtime)
    {
        return false;
    }
    if s.namespace.is_some() || s.pod.is_some() || !s.pod_labels.is_empty() {
        // Kubernetes criteria select the containers of matching pods, not the pod cgroup itself.
        let Some(p) = &c.pod else { return false };
        if id.container_id.is_none()
            || !glob_ok(&s.namespace, Some(&p.namespace))
            || !glob_ok(&s.pod, Some(&p.name))
            || !s.pod_labels.iter().all(|(k, v)| p.labels.get(k) == Some(v))
        {
            return false;
        }
    }
    true
}
