//! The `runtimes:` section: the container runtime sockets and state directories asked for
//! container metadata, and their timeout.
use std::{path::PathBuf, time::Duration};

use serde::Deserialize;

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
    #[serde(default = "default_runtime_timeout", with = "super::humantime_serde_lite")]
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
