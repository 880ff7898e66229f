//! Runtimes read from the state they keep on disk, where no API socket answers:
//!
//! - **Podman** without its API service: `containers.json` of its storage (containers/storage's
//!   own index: names, and the image name in the entry's metadata). Labels live only in libpod's
//!   database, so this source has none.
//! - **containerd**: the OCI bundle of each task, `<state>/<namespace>/<id>/config.json`; the CRI
//!   plugin's annotations name the Kubernetes container, its image and its pod (`nerdctl/name` for
//!   nerdctl). Labels are in containerd's metadata database, not the bundle.
//! - **CRI-O**: the OCI bundle `<run root>/<driver>-containers/<id>/userdata/config.json`, whose
//!   annotations carry the container name, image and the CRI labels.
//!
//! The file layouts are the runtimes' own, not a stable API: each reader takes only a few keys
//! and treats anything missing as "unknown". Podman's reader is tested against a real Podman,
//! containerd's against a real containerd whose CRI annotations the test writes itself (no kubelet
//! runs where agentmon is tested), CRI-O's on recorded bundle files only.
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use super::{BoxFuture, ContainerMeta, ContainerSource, RuntimeError};
use crate::discovery::identity::Runtime;

/// `Ok(None)` for a file that does not exist; its bytes otherwise.
async fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, RuntimeError> {
    match tokio::fs::read(path).await {
        Ok(b) => Ok(Some(b)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(source) => Err(RuntimeError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Subdirectories of `dir` (sorted), none if it cannot be read.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `<driver>-containers` directories of a containers/storage root (`overlay-containers`, …).
fn storage_container_dirs(root: &Path) -> Vec<PathBuf> {
    subdirs(root)
        .into_iter()
        .filter(|d| {
            d.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("-containers"))
        })
        .collect()
}

fn is_hex(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())
}

// ---- Podman storage ----

/// Podman's containers/storage index.
pub struct PodmanStorage {
    root: PathBuf,
}

impl PodmanStorage {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }
}

#[derive(Deserialize)]
struct StorageEntry {
    id: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    metadata: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StorageMetadata {
    #[serde(rename = "image-name")]
    image_name: String,
    name: String,
}

/// The entry for `id` in a `containers.json`.
fn podman_entry(json: &[u8], id: &str) -> Result<Option<ContainerMeta>, serde_json::Error> {
    let entries: Vec<StorageEntry> = serde_json::from_slice(json)?;
    let Some(e) = entries.into_iter().find(|e| e.id.eq_ignore_ascii_case(id)) else {
        return Ok(None);
    };
    // Buildah's working containers are in the same index, without libpod metadata: fine, they are
    // containers too.
    let meta: StorageMetadata = serde_json::from_str(&e.metadata).unwrap_or_default();
    let name = if meta.name.is_empty() {
        e.names.into_iter().next().unwrap_or_default()
    } else {
        meta.name
    };
    Ok(Some(ContainerMeta {
        name,
        image: meta.image_name,
        labels: BTreeMap::new(),
    }))
}

impl ContainerSource for PodmanStorage {
    fn runtime(&self) -> Runtime {
        Runtime::Podman
    }

    fn describe(&self) -> String {
        format!("podman storage at {}", self.root.display())
    }

    fn available(&self) -> bool {
        storage_container_dirs(&self.root)
            .iter()
            .any(|d| d.join("containers.json").is_file())
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<ContainerMeta>, RuntimeError>> {
        Box::pin(async move {
            for dir in storage_container_dirs(&self.root) {
                let path = dir.join("containers.json");
                let Some(json) = read_if_exists(&path).await? else {
                    continue;
                };
                let found = podman_entry(&json, id).map_err(|source| RuntimeError::Decode {
                    what: path.display().to_string(),
                    source,
                })?;
                if found.is_some() {
                    return Ok(found);
                }
            }
            Ok(None)
        })
    }
}

// ---- OCI bundles (containerd, CRI-O) ----

#[derive(Deserialize, Default)]
#[serde(default)]
struct OciSpec {
    annotations: BTreeMap<String, String>,
}

fn annotations(json: &[u8]) -> Result<BTreeMap<String, String>, serde_json::Error> {
    serde_json::from_slice::<OciSpec>(json).map(|s| s.annotations)
}

/// The annotations of the first OCI bundle config among `paths` that exists (a runtime keeps one
/// per namespace or storage directory; the container is in at most one).
async fn first_bundle_annotations(
    paths: impl Iterator<Item = PathBuf>,
) -> Result<Option<BTreeMap<String, String>>, RuntimeError> {
    for path in paths {
        let Some(json) = read_if_exists(&path).await? else {
            continue;
        };
        return annotations(&json).map(Some).map_err(|source| RuntimeError::Decode {
            what: path.display().to_string(),
            source,
        });
    }
    Ok(None)
}

/// containerd's runtime v2 task state (`/run/containerd/io.containerd.runtime.v2.task`).
pub struct ContainerdState {
    root: PathBuf,
}

impl ContainerdState {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }
}

/// Identity from a containerd bundle's annotations (CRI plugin, or nerdctl).
fn containerd_meta(a: &BTreeMap<String, String>) -> Option<ContainerMeta> {
    let get = |k: &str| a.get(k).filter(|v| !v.is_empty()).cloned();
    let sandbox = a
        .get("io.kubernetes.cri.container-type")
        .is_some_and(|t| t == "sandbox");
    let name = if sandbox {
        // The pod's pause container: named as kubelet's docker integration named it.
        Some("POD".to_string())
    } else {
        get("io.kubernetes.cri.container-name").or_else(|| get("nerdctl/name"))
    };
    let image = get("io.kubernetes.cri.image-name");
    if name.is_none() && image.is_none() {
        return None;
    }
    let mut labels = BTreeMap::new();
    for (ann, label) in [
        ("io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"),
        ("io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"),
        ("io.kubernetes.cri.sandbox-uid", "io.kubernetes.pod.uid"),
    ] {
        if let Some(v) = get(ann) {
            labels.insert(label.to_string(), v);
        }
    }
    Some(ContainerMeta {
        name: name.unwrap_or_default(),
        image: image.unwrap_or_default(),
        labels,
    })
}

impl ContainerSource for ContainerdState {
    fn runtime(&self) -> Runtime {
        Runtime::Containerd
    }

    fn describe(&self) -> String {
        format!("containerd state at {}", self.root.display())
    }

    fn available(&self) -> bool {
        self.root.is_dir()
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<ContainerMeta>, RuntimeError>> {
        Box::pin(async move {
            if !is_hex(id) {
                return Ok(None);
            }
            // One directory per containerd namespace (k8s.io, moby, default, …).
            let bundles = subdirs(&self.root)
                .into_iter()
                .map(|ns| ns.join(id).join("config.json"));
            Ok(first_bundle_annotations(bundles)
                .await?
                .and_then(|a| containerd_meta(&a)))
        })
    }
}

/// CRI-O's run root (`/run/containers/storage`).
pub struct CrioState {
    root: PathBuf,
}

impl CrioState {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }
}

/// Identity from a CRI-O bundle's annotations; `None` for bundles CRI-O did not make (Podman
/// shares the storage layout and marks its own `io.container.manager: libpod`).
fn crio_meta(a: &BTreeMap<String, String>) -> Option<ContainerMeta> {
    if a.get("io.container.manager").is_some_and(|m| m == "libpod") {
        return None;
    }
    let get = |k: &str| a.get(k).filter(|v| !v.is_empty()).cloned();
    let sandbox = a
        .get("io.kubernetes.cri-o.ContainerType")
        .is_some_and(|t| t == "sandbox");
    let name = if sandbox {
        Some("POD".to_string())
    } else {
        get("io.kubernetes.container.name")
    };
    let image = get("io.kubernetes.cri-o.ImageName").or_else(|| get("io.kubernetes.cri-o.Image"));
    if name.is_none() && image.is_none() {
        return None;
    }
    let labels = get("io.kubernetes.cri-o.Labels")
        .and_then(|l| serde_json::from_str::<BTreeMap<String, String>>(&l).ok())
        .unwrap_or_default();
    Some(ContainerMeta {
        name: name.unwrap_or_default(),
        image: image.unwrap_or_default(),
        labels,
    })
}

impl ContainerSource for CrioState {
    fn runtime(&self) -> Runtime {
        Runtime::Crio
    }

    fn describe(&self) -> String {
        format!("CRI-O state at {}", self.root.display())
    }

    fn available(&self) -> bool {
        !storage_container_dirs(&self.root).is_empty()
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<ContainerMeta>, RuntimeError>> {
        Box::pin(async move {
            if !is_hex(id) {
                return Ok(None);
            }
            let bundles = storage_container_dirs(&self.root)
                .into_iter()
                .map(|dir| dir.join(id).join("userdata/config.json"));
            Ok(first_bundle_annotations(bundles).await?.and_then(|a| crio_meta(&a)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "ece0ee01ad2193663489d89ed82980f1070cb4ae8e1afab4f920ec7ad70fe324";

    #[tokio::test]
    async fn podman_storage_index() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("overlay-containers");
        std::fs::create_dir(&c).unwrap();
        // As Podman 4.3 writes it.
        let json = format!(
            r#"[{{"id":"{ID}","names":["pexp1"],"image":"f037","layer":"0c4e","metadata":"{{\"image-name\":\"localhost/agentmon-test-busybox:1\",\"image-id\":\"f037\",\"name\":\"pexp1\",\"created-at\":1796160343}}","created":"2026-12-01T21:25:43Z","flags":{{}}}}]"#
        );
        std::fs::write(c.join("containers.json"), json).unwrap();
        let s = PodmanStorage::new(dir.path().to_path_buf());
        assert!(s.available());
        let m = s.inspect(ID).await.unwrap().unwrap();
        assert_eq!(
            (m.name.as_str(), m.image.as_str()),
            ("pexp1", "localhost/agentmon-test-busybox:1")
        );
        assert_eq!(s.inspect("abcd").await.unwrap(), None);
    }

    #[tokio::test]
    async fn containerd_cri_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("k8s.io").join(ID);
        std::fs::create_dir_all(&b).unwrap();
        // The annotations containerd 1.6's CRI plugin writes (other spec fields trimmed).
        std::fs::write(
            b.join("config.json"),
            r#"{"ociVersion":"1.0.2","annotations":{"io.kubernetes.cri.container-name":"coder","io.kubernetes.cri.container-type":"container","io.kubernetes.cri.image-name":"registry.example/ai/coder:1.2","io.kubernetes.cri.sandbox-id":"77aa","io.kubernetes.cri.sandbox-name":"coder-7d9f","io.kubernetes.cri.sandbox-namespace":"ai-prod"}}"#,
        )
        .unwrap();
        let s = ContainerdState::new(dir.path().to_path_buf());
        let m = s.inspect(ID).await.unwrap().unwrap();
        assert_eq!(m.name, "coder");
        assert_eq!(m.image, "registry.example/ai/coder:1.2");
        assert_eq!(m.labels["io.kubernetes.pod.namespace"], "ai-prod");
        // Docker's own bundles (namespace moby) carry no annotations: unknown, not an error.
        let moby = dir.path().join("moby").join("aaaa");
        std::fs::create_dir_all(&moby).unwrap();
        std::fs::write(moby.join("config.json"), r#"{"ociVersion":"1.0.2"}"#).unwrap();
        assert_eq!(s.inspect("aaaa").await.unwrap(), None);
        assert_eq!(s.inspect("bbbb").await.unwrap(), None);
    }

    #[tokio::test]
    async fn crio_bundle_and_podman_lookalike() {
        let dir = tempfile::tempdir().unwrap();
        let u = dir.path().join("overlay-containers").join(ID).join("userdata");
        std::fs::create_dir_all(&u).unwrap();
        std::fs::write(
            u.join("config.json"),
            r#"{"annotations":{"io.kubernetes.container.name":"coder","io.kubernetes.cri-o.ContainerType":"container","io.kubernetes.cri-o.ImageName":"quay.io/ai/coder:2","io.kubernetes.cri-o.Labels":"{\"io.kubernetes.container.name\":\"coder\",\"io.kubernetes.pod.name\":\"coder-1\",\"team\":\"ai\"}"}}"#,
        )
        .unwrap();
        let s = CrioState::new(dir.path().to_path_buf());
        assert!(s.available());
        let m = s.inspect(ID).await.unwrap().unwrap();
        assert_eq!((m.name.as_str(), m.image.as_str()), ("coder", "quay.io/ai/coder:2"));
        assert_eq!(m.labels["team"], "ai");
        std::fs::write(
            u.join("config.json"),
            r#"{"annotations":{"io.container.manager":"libpod","io.kubernetes.cri-o.TTY":"false"}}"#,
        )
        .unwrap();
        assert_eq!(s.inspect(ID).await.unwrap(), None);
    }
}
