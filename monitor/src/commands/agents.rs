//! The config-driven side of `agentmon run`: load the config, start the metrics server, the
//! Kubernetes pod watcher, the container runtime lookups and discovery, and apply discovery events
//! to the session. `/readyz` says whether anything is watched.
use std::{net::SocketAddr, path::Path, path::PathBuf, time::Duration};

use anyhow::{Context, Result};
use tokio::{sync::mpsc, task::JoinHandle};

use crate::{
    config::{self, Config, MetricsAddr, Toggle},
    discovery::k8s::{KubeClient, PodStore, spawn_pod_watcher},
    discovery::runtime::{self, ContainerStore},
    discovery::{AgentIdentity, Discovery, DiscoveryEvent},
    enrich::ContainerInfo,
    event::Esc,
    metrics::{self, Access, Metrics, Readiness},
    outputs::AlertSinks,
    session::Session,
};

#[derive(Clone, Debug, Default, clap::Args)]
pub(crate) struct AgentArgs {
    /// Config file naming the agents to watch (default /etc/agentmon/config.yaml when no --cgroup
    /// is given). See docs/DEPLOY.md.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address of /metrics, /healthz and /readyz [default: config's metrics.addr, else
    /// 127.0.0.1:9464]; `off` disables the server.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,
    /// Append alerts as JSON lines to this file [default: config's outputs.file].
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
}

/// Discovered agents and the tasks that find them.
pub(crate) struct Agents {
    pub config: Option<Config>,
    pub metrics: Metrics,
    /// Where alerts go besides stdout (file, webhook); see [`Agents::take_sinks`].
    sinks: AlertSinks,
    initial: Vec<DiscoveryEvent>,
    rx: Option<mpsc::Receiver<DiscoveryEvent>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Agents {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Agents {
    /// Loads the config (when given, or by default when `cgroups_given` is false) and starts the
    /// metrics server, pod watcher and discovery.
    pub(crate) async fn start(args: &AgentArgs, root: &Path, cgroups_given: bool) -> Result<Self> {
        let path = match (&args.config, cgroups_given) {
            (Some(p), _) => Some(p.clone()),
            (None, false) => Some(PathBuf::from(config::DEFAULT_PATH)),
            (None, true) => None,
        };
        let config = match &path {
            Some(p) => Some(Config::load(p).with_context(|| {
                if cgroups_given || args.config.is_some() {
                    "loading the config".to_string()
                } else {
                    "no --cgroup given, so the agents come from the config file".to_string()
                }
            })?),
            None => None,
        };
        let metrics = Metrics::new();
        let mut tasks = Vec::new();
        let mcfg = config.as_ref().map(|c| &c.metrics);
        // A token that cannot be read is fatal: better no monitor than metrics open to anyone.
        let access = match mcfg.and_then(|m| m.bearer_token_file.as_deref()) {
            Some(p) => Access::token_file(p).context("starting the metrics server")?,
            None => Access::open(),
        };
        if let Some(addr) = mcfg.and_then(|m| m.health_addr) {
            match metrics::serve(addr, metrics.clone(), Access::health_only()).await {
                Ok((_, task)) => tasks.push(task),
                Err(e) => tracing::error!("{e}; continuing without the health endpoints"),
            }
        }
        if let Some(addr) = metrics_addr(args, config.as_ref())? {
            match metrics::serve(addr, metrics.clone(), access).await {
                Ok((_, task)) => tasks.push(task),
                // Monitoring matters more than its metrics; /readyz failing makes this visible.
                Err(e) if args.metrics_addr.is_some() || config.is_some() => {
                    tracing::error!("{e}; continuing without /metrics");
                }
                // The default address on an ad-hoc run (another agentmon may hold it).
                Err(e) => tracing::warn!("{e}; continuing without /metrics"),
            }
        }
        let sinks = AlertSinks::new(
            args.output_file.as_deref(),
            config.as_ref().map(|c| &c.outputs),
            Some(metrics.clone()),
        )
        .context("starting the alert outputs")?;
        // Probed (and logged) once the outputs are up: a bad output file is a one-line error, not
        // one after the capability table.
        metrics.set_capabilities(crate::capabilities::Capabilities::current());
        let mut agents = Self {
            config: None,
            metrics,
            sinks,
            initial: Vec::new(),
            rx: None,
            tasks,
        };
        let Some(cfg) = config else { return Ok(agents) };
        if cfg.agents.is_empty() {
            tracing::warn!(
                config = %path.clone().unwrap_or_default().display(),
                "THE CONFIG NAMES NO AGENTS: nothing is discovered or watched{}; /readyz answers 503",
                if cgroups_given { " besides --cgroup" } else { "" }
            );
        }
        let pods = start_kubernetes(&cfg, &mut agents.tasks).await;
        let containers = start_runtimes(&cfg, &mut agents.tasks);
        let d = Discovery::new(root.to_path_buf(), cfg.agents.clone(), pods).with_containers(containers);
        let (initial, rx, task) = d.spawn(cfg.discovery.rescan_interval);
        tracing::info!(
            config = %path.unwrap_or_default().display(),
            agents = initial.len(),
            "discovery started"
        );
        agents.tasks.push(task);
        agents.initial = initial;
        agents.rx = Some(rx);
        agents.config = Some(cfg);
        Ok(agents)
    }

    /// The alert outputs (`--output-file`, `outputs:`), for the pipeline.
    pub(crate) fn take_sinks(&mut self) -> AlertSinks {
        std::mem::replace(&mut self.sinks, AlertSinks::none())
    }

    /// Watches the agents found by the first scan, then reports ready if anything is watched.
    pub(crate) fn apply_initial(&mut self, session: &mut Session) {
        for ev in std::mem::take(&mut self.initial) {
            self.apply(session, ev);
        }
        let r = self.readiness(session);
        if r == Readiness::NoAgentMatched {
            tracing::warn!(
                "NO AGENT FOUND: no cgroup of this host matches the config's agents; nothing is watched \
                 until one appears (/readyz says so, with 200: agentmon itself is up)"
            );
        }
        self.metrics.set_readiness(r);
    }

    fn readiness(&self, session: &Session) -> Readiness {
        if session.probes.watched().next().is_some() {
            Readiness::Ready
        } else if self.config.as_ref().is_some_and(|c| c.agents.is_empty()) {
            Readiness::NoAgentsConfigured
        } else {
            Readiness::NoAgentMatched
        }
    }

    /// The next discovery event; never resolves without a config.
    pub(crate) async fn recv(&mut self) -> Option<DiscoveryEvent> {
        match &mut self.rx {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Watches an added agent or unwatches a removed one. Failures are logged: one agent that
    /// cannot be watched must not stop the monitoring of the others.
    pub(crate) fn apply(&mut self, session: &mut Session, ev: DiscoveryEvent) {
        match ev {
            DiscoveryEvent::Added { cgroup, agent } => {
                match session.watch_container(&cgroup, &agent.name, container_info(&agent)) {
                    Ok(()) => {
                        if !agent.protect.is_empty() {
                            // As the agent sees them (inside its container, if any).
                            session.protect(&agent.name, agent.protect.clone());
                        }
                        session.pipeline.set_action_override(&agent.name, agent.action);
                        tracing::info!(
                            agent = %Esc(&agent.name),
                            cgroup = %Esc(&cgroup.rel),
                            id = cgroup.id,
                            container = agent.identity.container_id.as_deref().unwrap_or(""),
                            container_name = agent.container_name.as_deref().unwrap_or(""),
                            image = agent.image.as_deref().unwrap_or(""),
                            "watching agent"
                        );
                    }
                    Err(e) => {
                        tracing::error!(agent = %Esc(&agent.name), cgroup = %Esc(&cgroup.rel), "cannot watch agent: {:#}", Esc(&e));
                    }
                }
            }
            DiscoveryEvent::Removed { id, path, agent } => {
                if let Err(e) = session.unwatch(id, &agent) {
                    tracing::warn!(agent = %Esc(&agent), cgroup = %Esc(&path), "unwatching: {:#}", Esc(&e));
                }
                tracing::info!(agent = %Esc(&agent), cgroup = %Esc(&path), id, "agent gone");
            }
        }
        self.metrics.set_watched(session.probes.watched().count());
        // Once started (the first scan applied), readiness follows what is watched.
        if self.metrics.readiness() != Readiness::Starting {
            self.metrics.set_readiness(self.readiness(session));
        }
    }
}

/// What the events of a container agent carry about it.
fn container_info(agent: &AgentIdentity) -> Option<ContainerInfo> {
    let id = agent.identity.container_id.as_deref()?;
    Some(ContainerInfo::new(
        id,
        agent.container_name.as_deref(),
        agent.image.as_deref(),
    ))
}

/// Starts the lookups of container names, images and labels in the runtimes found on this host.
fn start_runtimes(cfg: &Config, tasks: &mut Vec<JoinHandle<()>>) -> ContainerStore {
    let sources = runtime::sources(&cfg.runtimes);
    if sources.is_empty() {
        if cfg.agents.iter().any(|a| a.selector.needs_runtime()) {
            tracing::warn!(
                "agents match on container names, images or labels but no container runtime answers here \
                 (runtimes: in the config); they will not be found"
            );
        }
        return ContainerStore::none();
    }
    let names: Vec<String> = sources.iter().map(|s| s.describe()).collect();
    tracing::info!(sources = %names.join(", "), "container identity from the runtimes");
    let (store, task) = ContainerStore::spawn(sources, cfg.runtimes.timeout);
    tasks.push(task);
    store
}

fn metrics_addr(args: &AgentArgs, cfg: Option<&Config>) -> Result<Option<SocketAddr>> {
    let addr = match (&args.metrics_addr, cfg.and_then(|c| c.metrics.addr)) {
        (Some(a), _) => a
            .parse::<MetricsAddr>()
            .map_err(anyhow::Error::msg)
            .context("--metrics-addr")?,
        (None, Some(a)) => a,
        (None, None) => metrics::DEFAULT_ADDR.parse().map_err(anyhow::Error::msg)?,
    };
    Ok(addr.socket())
}

/// Starts the pod watcher when the config enables Kubernetes (or `auto` and in a pod).
async fn start_kubernetes(cfg: &Config, tasks: &mut Vec<JoinHandle<()>>) -> Option<PodStore> {
    let k = &cfg.kubernetes;
    let in_pod = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let on = match k.enabled {
        Toggle::True => true,
        Toggle::False => false,
        Toggle::Auto => in_pod,
    };
    if !on {
        if cfg.needs_kubernetes() {
            tracing::warn!("agents match on Kubernetes metadata but Kubernetes is off; they will not be found");
        }
        return None;
    }
    let Some(node) = k.node_name.clone().or_else(|| std::env::var("NODE_NAME").ok()) else {
        tracing::error!("Kubernetes is on but neither kubernetes.node_name nor $NODE_NAME is set");
        return None;
    };
    let client = match KubeClient::in_cluster(k.api_server.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("Kubernetes client: {e}");
            return None;
        }
    };
    let store = PodStore::default();
    let (tx, mut ready) = tokio::sync::watch::channel(false);
    tasks.push(spawn_pod_watcher(client, node, store.clone(), Some(tx)));
    // Give the first list a moment so the initial scan can already name pods.
    if tokio::time::timeout(Duration::from_secs(5), ready.wait_for(|r| *r))
        .await
        .is_err()
    {
        tracing::warn!("no pod list from the API server yet; agents appear when it arrives");
    }
    Some(store)
}
