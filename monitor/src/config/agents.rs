//! Agent specs: the `agents:` entries, their `match:` selectors and the path globs they use.
use std::{collections::BTreeMap, fmt, path::PathBuf};

use serde::Deserialize;

use super::Template;
use crate::{discovery::identity::Runtime, rules::Action};

/// One kind of agent.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Name used in alerts, rules and metrics; may use `{pod}`, `{namespace}`, `{container}`,
    /// `{container_id}`, `{image}`, `{label:KEY}`, `{pod_uid}`, `{unit}`, `{cgroup}`, `{runtime}`.
    pub(crate) name: Template,
    /// Every criterion given must hold.
    #[serde(rename = "match")]
    pub(crate) selector: Selector,
    /// Code and configuration directories of the agent that drift rules protect.
    #[serde(default)]
    pub(crate) protect: Vec<PathBuf>,
    /// Overrides the action of every rule matched by this agent (e.g. `alert` for a dry run).
    #[serde(default)]
    pub(crate) action: Option<Action>,
}

/// Criteria selecting agent cgroups. Strings are globs (`*`, `?`, `[…]`; in `cgroup`, `*` stays
/// within one path component and `**` spans several) except `container_id` (prefix, ≥ 12 hex).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Selector {
    /// cgroup path relative to the cgroup2 root, e.g. `/system.slice/agent-*.service`.
    pub cgroup: Option<PathGlob>,
    pub container_id: Option<String>,
    /// Container name: the Kubernetes container name (from the API server), else the runtime's
    /// (what `docker ps` / `podman ps` show).
    pub container_name: Option<PathGlob>,
    /// Container image as the runtime names it (`registry/repo:tag`), from the runtime.
    pub image: Option<PathGlob>,
    /// Container labels (from the runtime); every label given must be present with this exact value.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub runtime: Option<RuntimeName>,
    pub namespace: Option<PathGlob>,
    pub pod: Option<PathGlob>,
    /// Every label given must be present with this exact value.
    #[serde(default)]
    pub pod_labels: BTreeMap<String, String>,
    /// systemd unit, e.g. `agent@*.service`.
    pub systemd_unit: Option<PathGlob>,
}

impl Selector {
    pub(super) fn is_empty(&self) -> bool {
        self.cgroup.is_none()
            && self.container_id.is_none()
            && self.container_name.is_none()
            && self.image.is_none()
            && self.labels.is_empty()
            && self.runtime.is_none()
            && self.namespace.is_none()
            && self.pod.is_none()
            && self.pod_labels.is_empty()
            && self.systemd_unit.is_none()
    }

    /// Whether the selector needs Kubernetes metadata.
    pub(crate) fn needs_kubernetes(&self) -> bool {
        self.namespace.is_some() || self.pod.is_some() || !self.pod_labels.is_empty()
    }

    /// Whether the selector needs what only the container runtime knows (name, image, labels).
    pub(crate) fn needs_runtime(&self) -> bool {
        self.container_name.is_some() || self.image.is_some() || !self.labels.is_empty()
    }
}

/// Runtime names accepted in `match.runtime`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RuntimeName {
    Containerd,
    Crio,
    Docker,
    Podman,
}

impl RuntimeName {
    pub(crate) fn matches(self, rt: Option<Runtime>) -> bool {
        matches!(
            (self, rt),
            (RuntimeName::Containerd, Some(Runtime::Containerd))
                | (RuntimeName::Crio, Some(Runtime::Crio))
                | (RuntimeName::Docker, Some(Runtime::Docker))
                | (RuntimeName::Podman, Some(Runtime::Podman))
        )
    }
}

/// A glob over a path, as the config's selectors use it (`cgroup`, `unit`, label values): `*` and `?`
/// stay within one `/`-separated segment, `[…]` classes work (the `glob` crate's syntax). Not the rule
/// language's `glob` operator, whose `*` crosses `/` ([`crate::rules`]).
#[derive(Clone, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct PathGlob {
    pattern: glob::Pattern,
}

impl PathGlob {
    pub(crate) fn new(s: &str) -> Result<Self, String> {
        // The glob crate takes braces literally; someone who writes them means alternatives.
        if let Some(c) = s.chars().find(|c| matches!(c, '{' | '}')) {
            return Err(format!(
                "invalid glob {s:?}: `{c}` is not glob syntax here (no `{{a,b}}` alternatives): write one `agents` entry per alternative, or use `[…]`, `*`, `?`"
            ));
        }
        glob::Pattern::new(s)
            .map(|pattern| Self { pattern })
            .map_err(|e| format!("invalid glob {s:?}: {e}"))
    }

    pub(crate) fn matches(&self, s: &str) -> bool {
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        self.pattern.matches_with(s, opts)
    }

    pub(crate) fn as_str(&self) -> &str {
        self.pattern.as_str()
    }
}

impl TryFrom<String> for PathGlob {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::new(&s)
    }
}

impl fmt::Debug for PathGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PathGlob({:?})", self.as_str())
    }
}
