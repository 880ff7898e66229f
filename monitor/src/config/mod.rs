//! The agentmon configuration file (YAML, default `/etc/agentmon/config.yaml`): which workloads
//! are agents and what they are called, plus discovery, Kubernetes, metrics and output settings.
//! See `deploy/config.example.yaml` and `docs/DEPLOY.md`.
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;
use thiserror::Error;

mod agents;
mod metrics;
mod outputs;
mod runtimes;
mod template;

pub use agents::AgentSpec;
pub(crate) use agents::PathGlob;
pub use metrics::{MetricsAddr, MetricsConfig};
pub use outputs::OutputsConfig;
use outputs::check_webhook_url;
pub(crate) use outputs::{WebhookConfig, redact_url};
pub use runtimes::RuntimesConfig;
pub use template::LABEL_VAR_PREFIX;
use template::Template;

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
    use super::{template::MissingVar, *};
    use crate::rules::Action;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("/etc/agentmon/config.yaml"))
    }

    #[test]
    fn parses_the_shipped_example() {
        let text = include_str!("../../../deploy/config.example.yaml");
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
