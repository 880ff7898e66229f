//! The agentmon configuration file (YAML, default `/etc/agentmon/config.yaml`): which workloads
//! are agents and what they are called, plus discovery, Kubernetes, metrics and output settings.
//! See `deploy/config.example.yaml` and `docs/DEPLOY.md`.
use std::{
    collections::BTreeMap,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;
use thiserror::Error;

use crate::{discovery::identity::Runtime, rules::Action};

pub(crate) const DEFAULT_PATH: &str = "/etc/agentmon/config.yaml";

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("reading {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    /// YAML syntax or schema error, with the position the parser reports.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Largest config file read: a real one is a few KiB.
pub(crate) const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The whole file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which workloads are agents. Checked in order; the first match names the cgroup.
    #[serde(default)]
    pub agents: Vec<AgentSpec>,
    #[serde(default)]
    pub(crate) discovery: DiscoveryConfig,
    #[serde(default)]
    pub(crate) kubernetes: KubernetesConfig,
    /// Where container runtimes are asked for names, images and labels.
    #[serde(default)]
    pub(crate) runtimes: RuntimesConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub outputs: OutputsConfig,
    /// Directory of rule files, used when `--rules` is not given (default: `$AGENTMON_RULES`,
    /// `/etc/agentmon/rules`, …).
    #[serde(default)]
    pub(crate) rules_dir: Option<PathBuf>,
    /// Rule maturity level to run (`stable` when absent; `incubating` adds the incubating rules,
    /// `sandbox` every rule); `--rules-maturity` overrides it.
    #[serde(default)]
    pub(crate) rules_maturity: Option<crate::rules::Maturity>,
}

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
    fn is_empty(&self) -> bool {
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

/// Variables a name template may use (besides `{label:KEY}`).
pub(crate) const TEMPLATE_VARS: &[&str] = &[
    "pod",
    "namespace",
    "container",
    "container_id",
    "image",
    "pod_uid",
    "unit",
    "cgroup",
    "runtime",
];

/// `{label:KEY}`: the value of a container label (else a pod label).
pub const LABEL_VAR_PREFIX: &str = "label:";

/// An agent-name template such as `{namespace}/{pod}`; `{{`/`}}` are literal braces.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct Template(String);

#[derive(Debug, Error, PartialEq, Eq)]
#[error("template variable {{{0}}} has no value for this cgroup")]
pub(crate) struct MissingVar(pub String);

enum Piece<'a> {
    Lit(&'a str),
    Var(&'a str),
}

fn pieces(t: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("{{") {
            out.push(Piece::Lit("{"));
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}") {
            out.push(Piece::Lit("}"));
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| format!("unclosed '{{' in name template {t:?}"))?;
            let var = &r[..end];
            let label_ok = var.strip_prefix(LABEL_VAR_PREFIX).is_some_and(|k| !k.is_empty());
            if !TEMPLATE_VARS.contains(&var) && !label_ok {
                return Err(format!(
                    "unknown variable {{{var}}} in name template {t:?} (known: {}, label:KEY)",
                    TEMPLATE_VARS.join(", ")
                ));
            }
            out.push(Piece::Var(var));
            rest = &r[end + 1..];
        } else if rest.starts_with('}') {
            return Err(format!("unmatched '}}' in name template {t:?}"));
        } else {
            let end = rest.find(['{', '}']).unwrap_or(rest.len());
            out.push(Piece::Lit(&rest[..end]));
            rest = &rest[end..];
        }
    }
    Ok(out)
}

impl Template {
    pub(crate) fn new(s: &str) -> Result<Self, String> {
        if s.trim().is_empty() {
            return Err("agent name must not be empty".into());
        }
        pieces(s)?;
        Ok(Self(s.to_string()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Substitutes variables; `lookup` returns `None` for a variable without a value (or an empty one).
    pub(crate) fn render<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> Result<String, MissingVar> {
        let mut out = String::new();
        // Validated in `new`, so this cannot fail.
        for p in pieces(&self.0).unwrap_or_default() {
            match p {
                Piece::Lit(l) => out.push_str(l),
                Piece::Var(v) => match lookup(v).filter(|s| !s.is_empty()) {
                    Some(val) => out.push_str(val),
                    None => return Err(MissingVar(v.to_string())),
                },
            }
        }
        Ok(out)
    }
}

impl TryFrom<String> for Template {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::new(&s)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiscoveryConfig {
    /// How often the cgroup tree is rescanned for new and removed agents (e.g. `1s`, `500ms`).
    #[serde(default = "default_rescan", with = "humantime_serde_lite")]
    pub rescan_interval: Duration,
}

fn default_rescan() -> Duration {
    Duration::from_secs(1)
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            rescan_interval: default_rescan(),
        }
    }
}

/// `humantime` durations in serde, without another dependency.
mod humantime_serde_lite {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, de::Error};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        let dur = humantime::parse_duration(&s).map_err(|e| D::Error::custom(format!("duration {s:?}: {e}")))?;
        if dur.is_zero() {
            return Err(D::Error::custom("duration must be positive"));
        }
        Ok(dur)
    }
}

/// Kubernetes metadata (pod name, namespace, labels, container names).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KubernetesConfig {
    /// `auto` (default): on when running in a pod (`KUBERNETES_SERVICE_HOST` is set); `true`; `false`.
    #[serde(default)]
    pub enabled: Toggle,
    /// Node whose pods are watched; default `$NODE_NAME`.
    pub node_name: Option<String>,
    /// API server URL; default from `KUBERNETES_SERVICE_HOST`/`_PORT`.
    pub api_server: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Toggle {
    #[default]
    Auto,
    #[serde(alias = "on", alias = "yes")]
    True,
    #[serde(alias = "off", alias = "no")]
    False,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of `/metrics`, `/healthz`, `/readyz` (default `127.0.0.1:9464`), or `off`;
    /// `--metrics-addr` overrides it.
    pub addr: Option<MetricsAddr>,
    /// A second address serving only `/healthz` and `/readyz` (kubelet probes on the pod's address
    /// while `/metrics` stays on loopback).
    pub health_addr: Option<SocketAddr>,
    /// `/metrics` requires `Authorization: Bearer <the token in this file>`.
    pub bearer_token_file: Option<PathBuf>,
}

/// Where the metrics server listens, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum MetricsAddr {
    Off,
    At(SocketAddr),
}

impl MetricsAddr {
    /// The address to bind, `None` when off.
    pub fn socket(self) -> Option<SocketAddr> {
        match self {
            MetricsAddr::Off => None,
            MetricsAddr::At(a) => Some(a),
        }
    }
}

impl std::str::FromStr for MetricsAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(MetricsAddr::Off);
        }
        s.parse()
            .map(MetricsAddr::At)
            .map_err(|e| format!("metrics address {s:?}: {e}; expected IP:PORT or `off`"))
    }
}

impl TryFrom<String> for MetricsAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// Container runtimes asked for the name, image and labels of a container (see
/// [`crate::discovery::runtime`]). Each is used when its socket or state exists; a path set to `off`
/// (or `""`) disables that source.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimesConfig {
    /// Docker Engine API socket.
    #[serde(default = "default_docker_socket")]
    pub docker_socket: PathBuf,
    /// Podman's API socket (`podman system service`, or systemd's `podman.socket`); asked first.
    #[serde(default = "default_podman_socket")]
    pub podman_socket: PathBuf,
    /// Podman's storage root (`containers.json`: name and image, no labels), when its socket is
    /// not there.
    #[serde(default = "default_podman_storage")]
    pub podman_storage: PathBuf,
    /// containerd's runtime v2 task state (one OCI bundle per container: CRI annotations).
    #[serde(default = "default_containerd_state")]
    pub containerd_state: PathBuf,
    /// CRI-O's run root (one OCI bundle per container: CRI-O annotations, labels included).
    #[serde(default = "default_crio_state")]
    pub crio_state: PathBuf,
    /// How long discovery waits for a runtime's answer before naming a new container without it.
    #[serde(default = "default_runtime_timeout", with = "humantime_serde_lite")]
    pub timeout: Duration,
}

fn default_docker_socket() -> PathBuf {
    "/var/run/docker.sock".into()
}
fn default_podman_socket() -> PathBuf {
    "/run/podman/podman.sock".into()
}
fn default_podman_storage() -> PathBuf {
    "/var/lib/containers/storage".into()
}
fn default_containerd_state() -> PathBuf {
    "/run/containerd/io.containerd.runtime.v2.task".into()
}
fn default_crio_state() -> PathBuf {
    "/run/containers/storage".into()
}
fn default_runtime_timeout() -> Duration {
    Duration::from_secs(2)
}

impl Default for RuntimesConfig {
    fn default() -> Self {
        Self {
            docker_socket: default_docker_socket(),
            podman_socket: default_podman_socket(),
            podman_storage: default_podman_storage(),
            containerd_state: default_containerd_state(),
            crio_state: default_crio_state(),
            timeout: default_runtime_timeout(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputsConfig {
    /// Append alerts as JSON lines to this file (`--output-file` overrides it).
    pub(crate) file: Option<PathBuf>,
    pub(crate) webhook: Option<WebhookConfig>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookConfig {
    /// e.g. `https://falcosidekick.falco:2801/`.
    pub url: String,
    /// Accept an `http://` URL: alerts (command lines, paths) and the headers (tokens) then cross
    /// the network in clear text.
    #[serde(default)]
    pub allow_http: bool,
    /// Alerts waiting to be sent; more are dropped (and counted).
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Attempts per alert, the first included.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Extra HTTP headers (e.g. an authorization token).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for WebhookConfig {
    /// Without secrets: the URL redacted ([`redact_url`]), header names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &redact_url(&self.url))
            .field("allow_http", &self.allow_http)
            .field("queue", &self.queue)
            .field("max_attempts", &self.max_attempts)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `url` with its secrets replaced by `REDACTED`: the user name and password, and every query value
/// (tokens are often passed as `?token=…`); the fragment is dropped. Text that is not a URL is
/// redacted whole.
pub(crate) fn redact_url(url: &str) -> String {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return "<not a URL: REDACTED>".into();
    };
    if !u.username().is_empty() {
        let _ = u.set_username("REDACTED");
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("REDACTED"));
    }
    if u.query().is_some() {
        let keys: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let mut q = u.query_pairs_mut();
        q.clear();
        for k in keys {
            q.append_pair(&k, "REDACTED");
        }
    }
    u.set_fragment(None);
    u.to_string()
}

/// Whether the URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`): plain HTTP to it does
/// not cross a network.
fn is_loopback(u: &reqwest::Url) -> bool {
    let host = u.host_str().unwrap_or("");
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// Checks a webhook URL: absolute, with a host, `https://` — or `http://` to a loopback address or
/// with `allow_http`.
fn check_webhook_url(url: &str, allow_http: bool) -> Result<(), String> {
    let u = reqwest::Url::parse(url)
        .map_err(|e| format!("outputs.webhook.url is not a valid URL ({e}): {}", redact_url(url)))?;
    match u.scheme() {
        "https" => {}
        "http" if allow_http || is_loopback(&u) => {}
        "http" => {
            return Err(format!(
                "outputs.webhook.url {} is http:// to another host: alerts and headers would cross the network in clear text; use https:// or set outputs.webhook.allow_http: true",
                redact_url(url)
            ));
        }
        other => {
            return Err(format!(
                "outputs.webhook.url must be https:// (or http:// with allow_http), not {other}://"
            ));
        }
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("outputs.webhook.url {} has no host", redact_url(url)));
    }
    Ok(())
}

fn default_queue() -> usize {
    1024
}
fn default_attempts() -> u32 {
    5
}

impl Config {
    /// Reads (at most [`MAX_CONFIG_BYTES`]; UTF-8, an invalid byte is an error at its position) and
    /// validates `path`.
    pub(crate) fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes =
            crate::files::read_limited(path, MAX_CONFIG_BYTES, "config file").map_err(|error| ConfigError::Read {
                path: path.to_path_buf(),
                error,
            })?;
        let text = crate::files::utf8_at(bytes).map_err(|(line, column)| ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: "invalid UTF-8: the config file must be UTF-8 text".into(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates `text`; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Config = serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            let msg = e.to_string();
            // The crate appends " at line L column C"; the prefix already says it.
            let message = match msg.find(" at line ") {
                Some(i) if line > 0 => msg[..i].to_string(),
                _ => msg,
            };
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message,
            }
        })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        for (i, a) in self.agents.iter().enumerate() {
            let which = format!("agents[{i}] ({})", a.name.as_str());
            if a.selector.is_empty() {
                return Err(invalid(format!(
                    "{which}: `match` needs at least one criterion (it would match every cgroup)"
                )));
            }
            if let Some(id) = &a.selector.container_id
                && (id.len() < 12 || !id.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(invalid(format!(
                    "{which}: match.container_id must be at least 12 hex digits, got {id:?}"
                )));
            }
            for p in &a.protect {
                if !p.is_absolute() {
                    return Err(invalid(format!(
                        "{which}: protect path {} is not absolute",
                        p.display()
                    )));
                }
            }
        }
        if let Some(w) = &self.outputs.webhook {
            check_webhook_url(&w.url, w.allow_http).map_err(invalid)?;
            if w.queue == 0 || w.max_attempts == 0 {
                return Err(invalid(
                    "outputs.webhook.queue and max_attempts must be positive".into(),
                ));
            }
        }
        Ok(())
    }

    /// Whether any agent needs Kubernetes metadata.
    pub fn needs_kubernetes(&self) -> bool {
        self.agents.iter().any(|a| a.selector.needs_kubernetes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("/etc/agentmon/config.yaml"))
    }

    #[test]
    fn parses_the_shipped_example() {
        let text = include_str!("../../deploy/config.example.yaml");
        let cfg = parse(text).expect("example parses");
        assert!(cfg.agents.len() >= 3);
        assert!(cfg.agents.iter().any(|a| a.selector.needs_kubernetes()));
        assert!(cfg.agents.iter().any(|a| a.selector.systemd_unit.is_some()));
    }

    #[test]
    fn full_agent() {
        let cfg = parse(
            r#"
agents:
  - name: "{namespace}/{pod}"
    match:
      namespace: "ai-*"
      pod_labels: { app: coder }
      container_name: agent
    protect: [/app, /etc/agent]
    action: quarantine
discovery:
  rescan_interval: 250ms
metrics:
  addr: 0.0.0.0:9464
outputs:
  file: /var/log/agentmon/alerts.jsonl
  webhook:
    url: http://falcosidekick:2801/
    allow_http: true
"#,
        )
        .unwrap();
        let a = &cfg.agents[0];
        assert_eq!(a.action, Some(Action::Quarantine));
        assert_eq!(a.protect, vec![PathBuf::from("/app"), PathBuf::from("/etc/agent")]);
        assert!(a.selector.namespace.as_ref().unwrap().matches("ai-prod"));
        assert_eq!(a.selector.pod_labels["app"], "coder");
        assert_eq!(cfg.discovery.rescan_interval, Duration::from_millis(250));
        assert_eq!(
            cfg.metrics.addr.and_then(MetricsAddr::socket),
            Some("0.0.0.0:9464".parse().unwrap())
        );
        assert!(cfg.needs_kubernetes());
        let w = cfg.outputs.webhook.unwrap();
        assert_eq!((w.queue, w.max_attempts), (1024, 5));
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let err = parse("agents:\n  - name: x\n    match:\n      cgroupz: /a\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/agentmon/config.yaml:4:"), "{msg}");
        assert!(msg.contains("cgroupz"), "{msg}");
        let err = parse("agents:\n  - name: \"{podd}\"\n    match: {cgroup: /a}\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/agentmon/config.yaml:2:"), "{msg}");
        assert!(msg.contains("unknown variable {podd}"), "{msg}");
        let err = parse("agents:\n  - name: a\n    match: {cgroup: \"/a/[\"}\n").unwrap_err();
        assert!(err.to_string().contains("invalid glob"), "{err}");
        let err = parse("discovery: {rescan_interval: soon}\n").unwrap_err();
        assert!(matches!(err, ConfigError::Parse { line: 1, .. }), "{err}");
    }

    #[test]
    fn semantic_errors() {
        let err = parse("agents:\n  - name: a\n    match: {}\n").unwrap_err();
        assert!(err.to_string().contains("at least one criterion"), "{err}");
        let err = parse("agents:\n  - name: a\n    match: {container_id: abc}\n").unwrap_err();
        assert!(err.to_string().contains("12 hex"), "{err}");
        let err = parse("agents:\n  - name: a\n    match: {cgroup: /a}\n    protect: [rel]\n").unwrap_err();
        assert!(err.to_string().contains("not absolute"), "{err}");
        assert!(parse("").unwrap().agents.is_empty());
    }

    #[test]
    fn webhook_urls_are_checked_and_redacted() {
        let hook = |url: &str, extra: &str| parse(&format!("outputs:\n  webhook:\n    url: \"{url}\"\n{extra}"));
        let err = hook("http://sidekick:2801/?token=s3cret", "").unwrap_err().to_string();
        assert!(err.contains("http:// to another host"), "{err}");
        assert!(!err.contains("s3cret") && err.contains("token=REDACTED"), "{err}");
        hook("http://sidekick:2801/", "    allow_http: true\n").unwrap();
        hook("http://127.0.0.1:2801/", "").unwrap();
        hook("http://[::1]:2801/", "").unwrap();
        hook("http://localhost/", "").unwrap();
        hook("https://sidekick/", "").unwrap();
        for bad in ["ftp://x/", "sidekick:2801", "https://", "file:///etc/passwd"] {
            assert!(hook(bad, "").is_err(), "{bad}");
        }
        assert_eq!(
            redact_url("https://user:pw@hook.example/path?token=abc&x=1#frag"),
            "https://REDACTED:REDACTED@hook.example/path?token=REDACTED&x=REDACTED"
        );
        assert_eq!(redact_url("not a url s3cret"), "<not a URL: REDACTED>");
        let cfg = hook(
            "https://hook/?t=s3cret",
            "    headers: {Authorization: \"Bearer s3cret\"}\n",
        )
        .unwrap();
        let shown = format!("{:?}", cfg.outputs.webhook.unwrap());
        assert!(!shown.contains("s3cret") && shown.contains("Authorization"), "{shown}");
    }

    #[test]
    fn config_files_are_read_with_a_limit() {
        let err = Config::load(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(err.contains("/dev/zero") && err.contains("limit"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.yaml");
        std::fs::write(&p, b"agents: []\nmetrics: {addr: \"127.0.0.1:1\"}\n# \xff\n").unwrap();
        let err = Config::load(&p).unwrap_err().to_string();
        assert!(err.contains("c.yaml:3:3: invalid UTF-8"), "{err}");
    }

    #[test]
    fn brace_globs_are_refused() {
        let err = parse("agents:\n  - name: x\n    match: {cgroup: \"/{a,b}/*\"}\n").unwrap_err();
        assert!(err.to_string().contains("not glob syntax"), "{err}");
        let err = parse("agents:\n  - name: x\n    match: {namespace: \"{a,b\"}\n").unwrap_err();
        assert!(err.to_string().contains("not glob syntax"), "{err}");
    }

    #[test]
    fn metrics_off_and_runtime_selectors() {
        let cfg = parse("metrics: {addr: off}\n").unwrap();
        assert_eq!(cfg.metrics.addr, Some(MetricsAddr::Off));
        let err = parse("metrics: {addr: nowhere}\n").unwrap_err();
        assert!(err.to_string().contains("expected IP:PORT or `off`"), "{err}");
        let cfg = parse(
            "agents:\n  - name: \"{label:app}-{image}\"\n    match: {runtime: docker, image: \"ai/*\", labels: {app: coder}}\n\
             runtimes: {docker_socket: /tmp/d.sock, timeout: 500ms}\n",
        )
        .unwrap();
        let s = &cfg.agents[0].selector;
        assert!(s.needs_runtime() && !s.needs_kubernetes());
        assert!(s.image.as_ref().unwrap().matches("ai/coder"));
        assert_eq!(s.labels["app"], "coder");
        assert_eq!(cfg.runtimes.docker_socket, PathBuf::from("/tmp/d.sock"));
        assert_eq!(cfg.runtimes.timeout, Duration::from_millis(500));
        assert_eq!(cfg.runtimes.podman_socket, PathBuf::from("/run/podman/podman.sock"));
        // A container name alone does not need Kubernetes any more (the runtime knows it).
        let cfg = parse("agents:\n  - name: a\n    match: {container_name: coder}\n").unwrap();
        assert!(!cfg.needs_kubernetes());
        let err = parse("agents:\n  - name: \"{label:}\"\n    match: {cgroup: /a}\n").unwrap_err();
        assert!(err.to_string().contains("unknown variable {label:}"), "{err}");
    }

    #[test]
    fn globs_keep_star_within_a_component() {
        let g = PathGlob::new("/system.slice/agent-*.service").unwrap();
        assert!(g.matches("/system.slice/agent-1.service"));
        assert!(!g.matches("/system.slice/x/agent-1.service"));
        let g = PathGlob::new("/kubepods.slice/**/cri-containerd-*.scope").unwrap();
        assert!(g.matches("/kubepods.slice/kubepods-burstable.slice/p.slice/cri-containerd-ab.scope"));
        assert!(!g.matches("/system.slice/cri-containerd-ab.scope"));
    }

    #[test]
    fn templates() {
        let t = Template::new("{namespace}/{pod}:{{x}}").unwrap();
        let vars = |v: &str| match v {
            "namespace" => Some("ns"),
            "pod" => Some("p-1"),
            _ => None,
        };
        assert_eq!(t.render(vars).unwrap(), "ns/p-1:{x}");
        let t = Template::new("{container}").unwrap();
        assert_eq!(t.render(vars), Err(MissingVar("container".into())));
        Template::new("{pod").unwrap_err();
        Template::new("a}").unwrap_err();
        Template::new(" ").unwrap_err();
        assert_eq!(Template::new("plain").unwrap().render(|_| None).unwrap(), "plain");
        let t = Template::new("{label:team}/{container}").unwrap();
        let vars = |v: &str| match v {
            "label:team" => Some("ai"),
            "container" => Some("coder"),
            _ => None,
        };
        assert_eq!(t.render(vars).unwrap(), "ai/coder");
    }
}
