//! Finds agent cgroups: walks the cgroup2 tree, matches each cgroup against the configured agents
//! (path, container, Kubernetes metadata, systemd unit), and reports agents that appear or go away.
//!
//! New cgroups are picked up by rescanning every `discovery.rescan_interval` (1 s by default):
//! cgroupfs is an in-memory filesystem, and unlike inotify a rescan needs no watch per directory
//! and cannot miss a cgroup created between `mkdir` and adding its watch. (A 2,054-directory tree
//! scans in ~63 ms in a debug build; `RUST_LOG=agentmon::discovery=trace` logs each scan's time.)
//!
//! A container's name, image and labels come from its runtime ([`runtime`]): a new container cgroup
//! that some entry could match is looked up once, and its agent is named when the answer is in
//! (discovery rescans as soon as it arrives; the wait is bounded by `runtimes.timeout`).
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use serde::Serialize;
use tokio::{sync::mpsc, task::JoinHandle};

pub mod identity;
pub mod k8s;
pub mod runtime;

use self::{
    identity::{Identity, identify},
    k8s::{PodMeta, PodStore},
    runtime::{ContainerMeta, ContainerStore, Lookup},
};
use crate::{
    cgroup::Cgroup,
    config::{AgentSpec, LABEL_VAR_PREFIX},
    rules::Action,
};

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
    /// The Kubernetes container name, else the runtime's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// Image the container runs, as its runtime names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Container labels from the runtime.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
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
    /// The Kubernetes container name (from the pod).
    k8s_name: Option<String>,
    /// What the container's runtime says.
    container: Option<Arc<ContainerMeta>>,
}

impl Candidate<'_> {
    /// The Kubernetes container name, else the runtime's.
    fn container_name(&self) -> Option<&str> {
        self.k8s_name
            .as_deref()
            .or_else(|| self.container.as_ref().map(|m| m.name.as_str()))
            .filter(|n| !n.is_empty())
    }

    fn image(&self) -> Option<&str> {
        self.container
            .as_ref()
            .map(|m| m.image.as_str())
            .filter(|i| !i.is_empty())
    }

    /// A container label, else a pod label.
    fn label(&self, key: &str) -> Option<&str> {
        self.container
            .as_ref()
            .and_then(|m| m.labels.get(key))
            .or_else(|| self.pod.as_ref().and_then(|p| p.labels.get(key)))
            .map(String::as_str)
    }
}

/// How `matches` treats the criteria only the runtime can answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RuntimeFacts {
    /// Not asked yet: assume they hold (is the cgroup worth asking about?).
    Assumed,
    /// As the candidate has them (none: they do not hold).
    Known,
}

pub struct Discovery {
    root: PathBuf,
    /// Subtree walked (default: the whole hierarchy).
    scope: PathBuf,
    agents: Vec<AgentSpec>,
    pods: Option<PodStore>,
    containers: ContainerStore,
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
            containers: ContainerStore::none(),
            known: HashMap::new(),
        }
    }

    /// Asks the container runtimes behind `store` for names, images and labels.
    #[must_use]
    pub fn with_containers(mut self, store: ContainerStore) -> Self {
        self.containers = store;
        self
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
        let mut containers = HashSet::new();
        self.walk(&scope, &mut found, &mut containers);
        // Answers about containers that are gone are not needed any more.
        self.containers.retain(&containers);
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

    fn walk(&self, dir: &Path, found: &mut HashMap<u64, (Cgroup, AgentIdentity)>, containers: &mut HashSet<String>) {
        let Ok(meta) = fs::metadata(dir) else { return };
        let Ok(rel_path) = dir.strip_prefix(&self.root) else {
            return;
        };
        let rel = format!("/{}", rel_path.display());
        let id = meta.ino();
        // A cgroup already known keeps its identity (its name must not change under the rules).
        if let Some((cg, agent)) = self.known.get(&id).filter(|(cg, _)| cg.path == dir) {
            if let Some(c) = &agent.identity.container_id {
                containers.insert(c.clone());
            }
            found.insert(id, (cg.clone(), agent.clone()));
            return;
        }
        if let Some(c) = container_id_of(&rel) {
            containers.insert(c);
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
                self.walk(&e.path(), found, containers);
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
        let k8s_name = match (&pod, &identity.container_id) {
            (Some(p), Some(id)) => p.containers.get(id).cloned(),
            _ => None,
        };
        let mut c = Candidate {
            rel,
            identity,
            pod,
            k8s_name,
            container: None,
        };
        // Only containers some entry could match are worth asking their runtime about.
        let first = self.agents.iter().position(|a| matches(a, &c, RuntimeFacts::Assumed))?;
        if let Some(cid) = &c.identity.container_id {
            match self.containers.lookup(cid, c.identity.runtime) {
                Lookup::Pending => {
                    tracing::debug!(cgroup = rel, "waiting for the container runtime's answer");
                    return None;
                }
                Lookup::Known(m) => c.container = Some(m),
                Lookup::NoSource | Lookup::Unknown => {}
            }
        }
        let (spec, a) = self
            .agents
            .iter()
            .enumerate()
            .skip(first)
            .find(|(_, a)| matches(a, &c, RuntimeFacts::Known))?;
        let name = self.render_name(a, &c)?;
        Some(AgentIdentity {
            name,
            spec,
            pod_name: c.pod.as_ref().map(|p| p.name.clone()),
            namespace: c.pod.as_ref().map(|p| p.namespace.clone()),
            container_name: c.container_name().map(String::from),
            image: c.image().map(String::from),
            labels: c.container.as_ref().map(|m| m.labels.clone()).unwrap_or_default(),
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
                "container" => c.container_name().or(short),
                "container_id" => short,
                "image" => c.image(),
                "pod_uid" => c.identity.pod_uid.as_deref(),
                "unit" => c.identity.systemd_unit.as_deref(),
                "cgroup" => Some(leaf),
                "runtime" => c.identity.runtime.map(identity::Runtime::as_str),
                _ => v.strip_prefix(LABEL_VAR_PREFIX).and_then(|k| c.label(k)),
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
            let containers = self.containers.clone();
            loop {
                // A runtime's answer names a waiting container: rescan at once rather than a tick later.
                tokio::select! {
                    _ = tick.tick() => {}
                    () = containers.answered() => {}
                }
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

/// The container ID a cgroup path names, if any.
fn container_id_of(rel: &str) -> Option<String> {
    // Cheap pre-check: most cgroups are not containers.
    if rel.len() < 64 {
        return None;
    }
    identify(rel).container_id
}

fn matches(a: &AgentSpec, c: &Candidate<'_>, facts: RuntimeFacts) -> bool {
    let s = &a.selector;
    let id = &c.identity;
    let glob_ok = |g: &Option<crate::config::PathGlob>, v: Option<&str>| match g {
        None => true,
        Some(g) => v.is_some_and(|v| g.matches(v)),
    };
    if !glob_ok(&s.cgroup, Some(c.rel)) || !glob_ok(&s.systemd_unit, id.systemd_unit.as_deref()) {
        return false;
    }
    // Criteria the runtime answers (a Kubernetes container name is known without it).
    let assumed = facts == RuntimeFacts::Assumed && id.container_id.is_some();
    let name_ok = match (&s.container_name, c.k8s_name.as_deref()) {
        (None, _) => true,
        (Some(g), Some(k8s)) => g.matches(k8s),
        (Some(g), None) => assumed || c.container_name().is_some_and(|n| g.matches(n)),
    };
    let image_ok = s.image.is_none() || assumed || glob_ok(&s.image, c.image());
    let labels_ok = s.labels.is_empty()
        || assumed
        || s.labels
            .iter()
            .all(|(k, v)| c.container.as_ref().is_some_and(|m| m.labels.get(k) == Some(v)));
    if !(name_ok && image_ok && labels_ok) {
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
