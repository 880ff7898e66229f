//! Kubernetes pod metadata for the pods of this node: name, namespace, labels and container names,
//! kept current by list + watch against the API server (`fieldSelector=spec.nodeName=…`).
//!
//! A small client on reqwest + rustls instead of kube-rs: agentmon needs one read-only resource,
//! and kube-rs + k8s-openapi would add several minutes of build and megabytes of binary.
use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::Duration,
};

use serde::Deserialize;
use thiserror::Error;
use tokio::task::JoinHandle;

pub(crate) const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

#[derive(Debug, Error)]
pub enum K8sError {
    #[error("not running in a Kubernetes pod: {0} is not set")]
    NotInCluster(&'static str),
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("API server answered {status} to {what}: {body}")]
    Status {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("decoding {what}: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The watch's resourceVersion is too old (HTTP 410 / ERROR event): relist.
    #[error("watch expired: {0}")]
    Gone(String),
}

/// What agentmon needs to know of a pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodMeta {
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// Container ID (runtime prefix removed) → container name, init and ephemeral containers included.
    pub containers: BTreeMap<String, String>,
}

/// Pods of this node by UID, shared between the watcher and discovery.
#[derive(Clone, Debug, Default)]
pub struct PodStore {
    pods: Arc<RwLock<HashMap<String, PodMeta>>>,
}

impl PodStore {
    pub fn get(&self, uid: &str) -> Option<PodMeta> {
        self.pods.read().ok()?.get(uid).cloned()
    }

    pub fn len(&self) -> usize {
        self.pods.read().map_or(0, |p| p.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn upsert(&self, pod: PodMeta) {
        if let Ok(mut p) = self.pods.write() {
            p.insert(pod.uid.clone(), pod);
        }
    }

    pub(crate) fn remove(&self, uid: &str) {
        if let Ok(mut p) = self.pods.write() {
            p.remove(uid);
        }
    }

    pub fn replace_all(&self, pods: Vec<PodMeta>) {
        if let Ok(mut p) = self.pods.write() {
            *p = pods.into_iter().map(|x| (x.uid.clone(), x)).collect();
        }
    }
}

// --- wire format (only the fields used) ---

#[derive(Deserialize, Default)]
#[serde(default)]
struct ObjectMeta {
    name: String,
    namespace: String,
    uid: String,
    labels: BTreeMap<String, String>,
    #[serde(rename = "resourceVersion")]
    resource_version: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ContainerStatus {
    name: String,
    #[serde(rename = "containerID")]
    container_id: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
#[expect(
    clippy::struct_field_names,
    reason = "the fields are named as the Kubernetes API names them"
)]
struct PodStatus {
    container_statuses: Vec<ContainerStatus>,
    init_container_statuses: Vec<ContainerStatus>,
    ephemeral_container_statuses: Vec<ContainerStatus>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Pod {
    metadata: ObjectMeta,
    status: PodStatus,
}

#[derive(Deserialize)]
struct ListMeta {
    #[serde(rename = "resourceVersion", default)]
    resource_version: String,
}

#[derive(Deserialize)]
struct PodList {
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<Pod>,
}

#[derive(Deserialize)]
struct WatchEvent {
    #[serde(rename = "type")]
    kind: String,
    object: serde_json::Value,
}

impl From<Pod> for PodMeta {
    fn from(p: Pod) -> Self {
        let s = p.status;
        let containers = s
            .container_statuses
            .into_iter()
            .chain(s.init_container_statuses)
            .chain(s.ephemeral_container_statuses)
            .filter_map(|c| {
                // `containerd://<id>`, `cri-o://<id>`, `docker://<id>`; empty until started.
                let id = c.container_id.rsplit_once("://").map(|(_, id)| id)?;
                (!id.is_empty()).then(|| (id.to_ascii_lowercase(), c.name))
            })
            .collect();
        PodMeta {
            uid: p.metadata.uid,
            name: p.metadata.name,
            namespace: p.metadata.namespace,
            labels: p.metadata.labels,
            containers,
        }
    }
}

/// How requests authenticate.
#[derive(Clone, Debug)]
enum Token {
    None,
    Static(String),
    /// Re-read on every request: projected service-account tokens are rotated by the kubelet.
    File(PathBuf),
}

/// A read-only client for `/api/v1/pods`.
#[derive(Clone, Debug)]
pub struct KubeClient {
    http: reqwest::Client,
    base: String,
    token: Token,
}

impl KubeClient {
    /// A client for `base` (e.g. `https://10.96.0.1:443`), trusting only `ca_pem` when given.
    pub fn new(base: &str, token: Option<String>, ca_pem: Option<&[u8]>) -> Result<Self, K8sError> {
        Self::build(base, token.map_or(Token::None, Token::Static), ca_pem)
    }

    fn build(base: &str, token: Token, ca_pem: Option<&[u8]>) -> Result<Self, K8sError> {
        let mut b = reqwest::Client::builder().connect_timeout(Duration::from_secs(10));
        if let Some(pem) = ca_pem {
            b = b
                .tls_built_in_root_certs(false)
                .add_root_certificate(reqwest::Certificate::from_pem(pem)?);
        }
        Ok(Self {
            http: b.build()?,
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// The in-cluster client: `KUBERNETES_SERVICE_HOST`/`PORT`, the service-account token and CA
    /// (or `api_server` when given).
    pub(crate) fn in_cluster(api_server: Option<&str>) -> Result<Self, K8sError> {
        let base = match api_server {
            Some(s) => s.to_string(),
            None => {
                let host = std::env::var("KUBERNETES_SERVICE_HOST")
                    .map_err(|_| K8sError::NotInCluster("KUBERNETES_SERVICE_HOST"))?;
                let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
                if host.contains(':') {
                    format!("https://[{host}]:{port}")
                } else {
                    format!("https://{host}:{port}")
                }
            }
        };
        let dir = Path::new(SERVICE_ACCOUNT_DIR);
        let ca_path = dir.join("ca.crt");
        let ca = std::fs::read(&ca_path).map_err(|source| K8sError::Read { path: ca_path, source })?;
        Self::build(&base, Token::File(dir.join("token")), Some(&ca))
    }

    fn pods_url(&self, node: &str) -> String {
        let selector = percent_encode(&format!("spec.nodeName={node}"));
        format!("{}/api/v1/pods?fieldSelector={selector}", self.base)
    }

    fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, K8sError> {
        let req = self.http.get(url).header("Accept", "application/json");
        Ok(match &self.token {
            Token::None => req,
            Token::Static(t) => req.bearer_auth(t),
            Token::File(p) => {
                let t = std::fs::read_to_string(p).map_err(|source| K8sError::Read {
                    path: p.clone(),
                    source,
                })?;
                req.bearer_auth(t.trim())
            }
        })
    }

    /// Lists the pods of `node`; returns them and the list's resourceVersion.
    pub async fn list_pods(&self, node: &str) -> Result<(Vec<PodMeta>, String), K8sError> {
        let resp = self
            .get(&self.pods_url(node))?
            .timeout(Duration::from_secs(30))
            .send()
            .await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            return Err(K8sError::Status {
                what: "list pods",
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        let list: PodList = serde_json::from_slice(&body).map_err(|source| K8sError::Decode {
            what: "pod list",
            source,
        })?;
        let pods = list.items.into_iter().map(PodMeta::from).collect();
        Ok((pods, list.metadata.resource_version))
    }

    /// Watches the pods of `node` from `rv`, applying changes to `store`, until the server ends the
    /// watch (returns the last resourceVersion seen) or it fails.
    pub(crate) async fn watch_pods(&self, node: &str, rv: &str, store: &PodStore) -> Result<String, K8sError> {
        let url = format!(
            "{}&watch=true&allowWatchBookmarks=true&timeoutSeconds=290&resourceVersion={}",
            self.pods_url(node),
            percent_encode(rv)
        );
        let mut resp = self.get(&url)?.send().await?;
        let status = resp.status();
        if status.as_u16() == 410 {
            return Err(K8sError::Gone("HTTP 410".into()));
        }
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(K8sError::Status {
                what: "watch pods",
                status: status.as_u16(),
                body: body.chars().take(300).collect(),
            });
        }
        let mut last_rv = rv.to_string();
        let mut buf: Vec<u8> = Vec::new();
        // The server ends the watch after timeoutSeconds and sends bookmarks meanwhile; silence well
        // beyond that means a dead connection: watch again.
        loop {
            let chunk = match tokio::time::timeout(Duration::from_secs(330), resp.chunk()).await {
                Ok(c) => c?,
                Err(_) => {
                    tracing::debug!("pod watch silent for 330 s; re-watching");
                    break;
                }
            };
            let Some(chunk) = chunk else { break };
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                if let Some(rv) = apply_watch_line(&line, store)? {
                    last_rv = rv;
                }
            }
        }
        Ok(last_rv)
    }
}

/// Applies one watch event; returns its resourceVersion.
fn apply_watch_line(line: &[u8], store: &PodStore) -> Result<Option<String>, K8sError> {
    let ev: WatchEvent = serde_json::from_slice(line).map_err(|source| K8sError::Decode {
        what: "watch event",
        source,
    })?;
    if ev.kind == "ERROR" {
        let code = ev.object.get("code").and_then(serde_json::Value::as_u64).unwrap_or(0);
        let msg = ev
            .object
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_string();
        return Err(if code == 410 {
            K8sError::Gone(msg)
        } else {
            K8sError::Status {
                what: "watch pods",
                status: code as u16,
                body: msg,
            }
        });
    }
    let pod: Pod = serde_json::from_value(ev.object).map_err(|source| K8sError::Decode {
        what: "watched pod",
        source,
    })?;
    let rv = pod.metadata.resource_version.clone();
    match ev.kind.as_str() {
        "ADDED" | "MODIFIED" => store.upsert(pod.into()),
        "DELETED" => store.remove(&pod.metadata.uid),
        // BOOKMARK: only the resourceVersion.
        _ => {}
    }
    Ok((!rv.is_empty()).then_some(rv))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Keeps `store` in sync with the pods of `node`: list, then watch, relisting when the watch
/// expires and backing off (up to 30 s) on errors. `ready` is sent `true` after the first list.
pub fn spawn_pod_watcher(
    client: KubeClient,
    node: String,
    store: PodStore,
    ready: Option<tokio::sync::watch::Sender<bool>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(500);
        loop {
            let rv = match client.list_pods(&node).await {
                Ok((pods, rv)) => {
                    tracing::info!(node = %node, pods = pods.len(), "listed pods");
                    store.replace_all(pods);
                    if let Some(r) = &ready {
                        let _ = r.send(true);
                    }
                    backoff = Duration::from_millis(500);
                    rv
                }
                Err(e) => {
                    tracing::warn!("listing pods of node {node}: {e}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            let mut rv = rv;
            loop {
                match client.watch_pods(&node, &rv, &store).await {
                    Ok(next) => rv = next,
                    Err(K8sError::Gone(m)) => {
                        tracing::debug!("pod watch expired ({m}); relisting");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("watching pods of node {node}: {e}; relisting in {backoff:?}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                        break;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_field_selector() {
        assert_eq!(percent_encode("spec.nodeName=node-1"), "spec.nodeName%3Dnode-1");
    }

    #[test]
    fn applies_watch_events() {
        let store = PodStore::default();
        let add = br#"{"type":"ADDED","object":{"metadata":{"name":"a","namespace":"n","uid":"u1","resourceVersion":"5","labels":{"app":"x"}},"status":{"containerStatuses":[{"name":"c","containerID":"containerd://ABC"}]}}}"#;
        assert_eq!(apply_watch_line(add, &store).unwrap().as_deref(), Some("5"));
        let p = store.get("u1").unwrap();
        assert_eq!(p.containers["abc"], "c");
        assert_eq!(p.labels["app"], "x");
        let bm = br#"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"9"}}}"#;
        assert_eq!(apply_watch_line(bm, &store).unwrap().as_deref(), Some("9"));
        let del = br#"{"type":"DELETED","object":{"metadata":{"uid":"u1","resourceVersion":"10"}}}"#;
        apply_watch_line(del, &store).unwrap();
        assert!(store.get("u1").is_none());
        let gone = br#"{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old resource version"}}"#;
        assert!(matches!(apply_watch_line(gone, &store), Err(K8sError::Gone(_))));
    }
}
