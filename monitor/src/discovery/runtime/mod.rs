//! Container identity from the runtime itself: the name an operator gave a container, its image
//! and labels, which its cgroup path does not carry.
//!
//! Each runtime is a [`ContainerSource`] read through its own interface: the Docker Engine API on
//! `/var/run/docker.sock` and Podman's Docker-compatible API socket ([`api`]), Podman's storage
//! state when its socket is not running, containerd's and CRI-O's OCI bundles ([`state`]).
//!
//! Answers are kept in a [`ContainerStore`], asked once per container: when discovery meets a new
//! container cgroup (a container start) it requests the lookup and waits for the answer (bounded
//! by `runtimes.timeout`) before naming the agent, so an agent's name, which must not change under
//! the rules, is its container name from the start. The resolver task answers requests one after
//! the other and wakes discovery for a rescan at once; entries are forgotten when their cgroup
//! goes away.
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    pin::Pin,
    sync::{Arc, RwLock},
    time::Duration,
};

use serde::Serialize;
use thiserror::Error;
use tokio::{
    sync::{Notify, mpsc},
    task::JoinHandle,
};

use super::identity::Runtime;
use crate::config::RuntimesConfig;

pub mod api;
pub mod state;

#[derive(Debug, Error)]
pub enum RuntimeError {
    #[error("connecting to {socket}: {source}")]
    Connect {
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP to {socket}: {source}")]
    Http {
        socket: PathBuf,
        #[source]
        source: hyper::Error,
    },
    #[error("{socket} answered {status} to {path}: {body}")]
    Status {
        socket: PathBuf,
        path: String,
        status: u16,
        body: String,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("decoding {what}: {source}")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// What a runtime says about one container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ContainerMeta {
    /// The runtime's container name (`docker ps`'s NAMES, without Docker's leading `/`; the
    /// Kubernetes container name for CRI runtimes).
    pub name: String,
    /// Image as the container was started from (`repo:tag`, `registry/repo@sha256:…`).
    pub image: String,
    pub labels: BTreeMap<String, String>,
}

/// A boxed future, so that sources can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One runtime's view of its containers.
pub trait ContainerSource: Send + Sync {
    /// The runtime this source speaks for.
    fn runtime(&self) -> Runtime;
    /// What it reads, for logs (`Docker API at /var/run/docker.sock`).
    fn describe(&self) -> String;
    /// Whether it can answer at all (its socket or state exists); checked at start.
    fn available(&self) -> bool;
    /// The container with this full ID; `Ok(None)` when the runtime does not know it.
    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<ContainerMeta>, RuntimeError>>;
}

/// The sources a config names, those that exist on this host.
pub fn sources(cfg: &RuntimesConfig) -> Vec<Arc<dyn ContainerSource>> {
    let on = |p: &PathBuf| !(p.as_os_str().is_empty() || p.as_os_str() == "off");
    let mut all: Vec<Arc<dyn ContainerSource>> = Vec::new();
    if on(&cfg.docker_socket) {
        all.push(Arc::new(api::EngineApi::new(
            Runtime::Docker,
            cfg.docker_socket.clone(),
        )));
    }
    if on(&cfg.podman_socket) {
        all.push(Arc::new(api::EngineApi::new(
            Runtime::Podman,
            cfg.podman_socket.clone(),
        )));
    }
    if on(&cfg.podman_storage) {
        all.push(Arc::new(state::PodmanStorage::new(cfg.podman_storage.clone())));
    }
    if on(&cfg.containerd_state) {
        all.push(Arc::new(state::ContainerdState::new(cfg.containerd_state.clone())));
    }
    if on(&cfg.crio_state) {
        all.push(Arc::new(state::CrioState::new(cfg.crio_state.clone())));
    }
    all.retain(|s| s.available());
    all
}

/// The answer for one container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// No source can be asked for this container (none configured for its runtime).
    NoSource,
    /// Asked; the answer has not come yet.
    Pending,
    Known(Arc<ContainerMeta>),
    /// Asked; the runtime does not know it, or did not answer.
    Unknown,
}

#[derive(Default)]
struct Inner {
    answers: HashMap<String, Option<Arc<ContainerMeta>>>,
    pending: HashSet<String>,
}

/// Container metadata by full container ID, shared by the resolver and discovery.
#[derive(Clone)]
pub struct ContainerStore {
    inner: Arc<RwLock<Inner>>,
    /// Runtimes some source speaks for (a container of another runtime is [`Lookup::NoSource`]).
    runtimes: Arc<[Runtime]>,
    requests: Option<mpsc::UnboundedSender<(String, Option<Runtime>)>>,
    /// Woken when an answer arrives (discovery rescans at once).
    answered: Arc<Notify>,
}

impl ContainerStore {
    /// A store nobody answers (no sources): every lookup is [`Lookup::NoSource`].
    pub fn none() -> Self {
        Self {
            inner: Arc::default(),
            runtimes: Arc::from([]),
            requests: None,
            answered: Arc::default(),
        }
    }

    /// Starts the resolver task for `sources`, each lookup bounded by `timeout`.
    pub fn spawn(sources: Vec<Arc<dyn ContainerSource>>, timeout: Duration) -> (Self, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, Option<Runtime>)>();
        let mut runtimes: Vec<Runtime> = Vec::new();
        for s in &sources {
            if !runtimes.contains(&s.runtime()) {
                runtimes.push(s.runtime());
            }
        }
        let store = Self {
            inner: Arc::default(),
            runtimes: Arc::from(runtimes),
            requests: Some(tx),
            answered: Arc::default(),
        };
        let s = store.clone();
        let task = tokio::spawn(async move {
            while let Some((id, rt)) = rx.recv().await {
                let meta = resolve(&sources, &id, rt, timeout).await;
                s.answer(&id, meta);
            }
        });
        (store, task)
    }

    /// Whether any source is configured.
    pub fn is_active(&self) -> bool {
        self.requests.is_some() && !self.runtimes.is_empty()
    }

    /// Whether a source can be asked about a container of `rt` (`None`: the path does not say, as
    /// with Kubernetes' cgroupfs driver; every source is then asked).
    pub fn covers(&self, rt: Option<Runtime>) -> bool {
        self.is_active() && rt.is_none_or(|r| self.runtimes.contains(&r))
    }

    /// What is known of container `id`, asking its runtime if nobody has yet.
    pub fn lookup(&self, id: &str, rt: Option<Runtime>) -> Lookup {
        if !self.covers(rt) {
            return Lookup::NoSource;
        }
        {
            let Ok(g) = self.inner.read() else {
                return Lookup::Unknown;
            };
            if let Some(a) = g.answers.get(id) {
                return a.clone().map_or(Lookup::Unknown, Lookup::Known);
            }
            if g.pending.contains(id) {
                return Lookup::Pending;
            }
        }
        let Ok(mut g) = self.inner.write() else {
            return Lookup::Unknown;
        };
        if g.pending.insert(id.to_string())
            && let Some(tx) = &self.requests
            && tx.send((id.to_string(), rt)).is_err()
        {
            g.pending.remove(id);
            return Lookup::Unknown;
        }
        Lookup::Pending
    }

    fn answer(&self, id: &str, meta: Option<ContainerMeta>) {
        if let Ok(mut g) = self.inner.write() {
            g.pending.remove(id);
            g.answers.insert(id.to_string(), meta.map(Arc::new));
        }
        self.answered.notify_one();
    }

    /// Forgets container `id` (its cgroup went away).
    pub fn forget(&self, id: &str) {
        if let Ok(mut g) = self.inner.write() {
            g.answers.remove(id);
        }
    }

    /// Keeps only the answers about containers in `alive` (the containers a scan saw).
    pub fn retain(&self, alive: &HashSet<String>) {
        if let Ok(mut g) = self.inner.write() {
            g.answers.retain(|id, _| alive.contains(id));
        }
    }

    /// Resolves when an answer has arrived since the last call.
    pub async fn answered(&self) {
        if self.requests.is_some() {
            self.answered.notified().await;
        } else {
            std::future::pending::<()>().await;
        }
    }

    /// Stores an answer directly (tests, and callers that learned it elsewhere).
    pub fn insert(&self, id: &str, meta: ContainerMeta) {
        self.answer(id, Some(meta));
    }
}

/// Asks the sources of `rt` (every source when the runtime is not known) in order; the first that
/// knows the container answers.
async fn resolve(
    sources: &[Arc<dyn ContainerSource>],
    id: &str,
    rt: Option<Runtime>,
    timeout: Duration,
) -> Option<ContainerMeta> {
    for s in sources.iter().filter(|s| rt.is_none_or(|r| s.runtime() == r)) {
        let r = match tokio::time::timeout(timeout, s.inspect(id)).await {
            Ok(r) => r,
            Err(_) => Err(RuntimeError::Timeout(timeout)),
        };
        match r {
            Ok(Some(meta)) => {
                tracing::debug!(container = id, source = %s.describe(), name = %meta.name, image = %meta.image, "container identified");
                return Some(meta);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(container = id, source = %s.describe(), "asking the runtime: {e}"),
        }
    }
    tracing::debug!(container = id, "no runtime knows this container");
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Runtime, Option<ContainerMeta>);

    impl ContainerSource for Fixed {
        fn runtime(&self) -> Runtime {
            self.0
        }
        fn describe(&self) -> String {
            "fixed".into()
        }
        fn available(&self) -> bool {
            true
        }
        fn inspect<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, Result<Option<ContainerMeta>, RuntimeError>> {
            Box::pin(async move { Ok(self.1.clone()) })
        }
    }

    #[tokio::test]
    async fn asks_once_and_answers() {
        let meta = ContainerMeta {
            name: "coder".into(),
            image: "ai/coder:1".into(),
            labels: BTreeMap::new(),
        };
        let (store, _task) = ContainerStore::spawn(
            vec![
                Arc::new(Fixed(Runtime::Podman, None)),
                Arc::new(Fixed(Runtime::Docker, Some(meta.clone()))),
            ],
            Duration::from_secs(1),
        );
        assert_eq!(store.lookup("abc", Some(Runtime::Containerd)), Lookup::NoSource);
        assert_eq!(store.lookup("abc", Some(Runtime::Docker)), Lookup::Pending);
        assert_eq!(store.lookup("abc", Some(Runtime::Docker)), Lookup::Pending);
        tokio::time::timeout(Duration::from_secs(5), store.answered())
            .await
            .unwrap();
        assert_eq!(
            store.lookup("abc", Some(Runtime::Docker)),
            Lookup::Known(Arc::new(meta))
        );
        assert_eq!(store.lookup("def", Some(Runtime::Podman)), Lookup::Pending);
        tokio::time::timeout(Duration::from_secs(5), store.answered())
            .await
            .unwrap();
        assert_eq!(store.lookup("def", Some(Runtime::Podman)), Lookup::Unknown);
        store.forget("def");
        assert_eq!(store.lookup("def", Some(Runtime::Podman)), Lookup::Pending);
        assert_eq!(ContainerStore::none().lookup("abc", None), Lookup::NoSource);
    }
}
