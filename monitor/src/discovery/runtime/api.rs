//! The Docker Engine API over its unix socket, as Docker serves it on `/var/run/docker.sock` and
//! Podman on its API socket (Podman's Docker-compatible endpoints): `GET /containers/{id}/json`.
//!
//! A few lines of hyper (already a dependency, for the metrics server) instead of a client crate:
//! bollard 0.21, the maintained Docker client, brings its generated API models (`bollard-stubs`),
//! `hyperlocal`, `hyper-named-pipe`, `tokio-util`, `url`, `serde_urlencoded` and more by default for
//! the one read-only call agentmon makes. One connection per lookup, HTTP/1.1, unversioned path (the
//! daemon's own API version), 64 KiB body limit.
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use super::{BoxFuture, ContainerMeta, ContainerSource, RuntimeError};
use crate::discovery::identity::Runtime;

/// Largest inspect answer read (Docker's is ~5 KiB; labels can add some).
const MAX_BODY: usize = 1 << 20;

/// A Docker-compatible engine API on a unix socket.
pub struct EngineApi {
    runtime: Runtime,
    socket: PathBuf,
}

impl EngineApi {
    pub fn new(runtime: Runtime, socket: PathBuf) -> Self {
        Self { runtime, socket }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Inspect {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Config")]
    config: InspectConfig,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct InspectConfig {
    #[serde(rename = "Image")]
    image: String,
    #[serde(rename = "Labels")]
    labels: Option<std::collections::BTreeMap<String, String>>,
}

/// `GET path` on the unix socket; the status and the body.
pub async fn get(socket: &Path, path: &str) -> Result<(StatusCode, Bytes), RuntimeError> {
    let http = |source| RuntimeError::Http {
        socket: socket.to_path_buf(),
        source,
    };
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|source| RuntimeError::Connect {
            socket: socket.to_path_buf(),
            source,
        })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    let conn = tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("runtime API connection: {e}");
        }
    });
    let req = Request::get(path)
        .header(header::HOST, "localhost")
        .header(header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new());
    let req = match req {
        Ok(r) => r,
        // Only a path with characters a URI cannot hold gets here; container IDs are hex.
        Err(e) => {
            conn.abort();
            return Err(RuntimeError::Status {
                socket: socket.to_path_buf(),
                path: path.to_string(),
                status: 0,
                body: e.to_string(),
            });
        }
    };
    let result = async {
        let resp = sender.send_request(req).await.map_err(http)?;
        let status = resp.status();
        let body = Limited::new(resp.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| RuntimeError::Status {
                socket: socket.to_path_buf(),
                path: path.to_string(),
                status: status.as_u16(),
                body: format!("reading the body: {e}"),
            })?
            .to_bytes();
        Ok((status, body))
    }
    .await;
    conn.abort();
    result
}

/// Parses an inspect answer.
fn parse_inspect(body: &[u8]) -> Result<ContainerMeta, serde_json::Error> {
    let i: Inspect = serde_json::from_slice(body)?;
    Ok(ContainerMeta {
        name: i.name.trim_start_matches('/').to_string(),
        image: i.config.image,
        labels: i.config.labels.unwrap_or_default(),
    })
}

impl ContainerSource for EngineApi {
    fn runtime(&self) -> Runtime {
        self.runtime
    }

    fn describe(&self) -> String {
        format!("{} API at {}", self.runtime.as_str(), self.socket.display())
    }

    fn available(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(&self.socket).is_ok_and(|m| m.file_type().is_socket())
    }

    fn inspect<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<ContainerMeta>, RuntimeError>> {
        Box::pin(async move {
            if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(None);
            }
            let path = format!("/containers/{id}/json");
            let (status, body) = get(&self.socket, &path).await?;
            if status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(RuntimeError::Status {
                    socket: self.socket.clone(),
                    path,
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&body).chars().take(300).collect(),
                });
            }
            parse_inspect(&body).map(Some).map_err(|source| RuntimeError::Decode {
                what: format!("{} container {id}", self.describe()),
                source,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_and_podman_inspect() {
        // Trimmed answers of dockerd 20.10 and Podman 4.3's compat API.
        let docker = br#"{"Id":"cbb6","Name":"/exp1","Config":{"Image":"agentmon-test-busybox:1","Labels":{"team":"ai"}},"State":{"Pid":1}}"#;
        let m = parse_inspect(docker).unwrap();
        assert_eq!((m.name.as_str(), m.image.as_str()), ("exp1", "agentmon-test-busybox:1"));
        assert_eq!(m.labels["team"], "ai");
        let podman =
            br#"{"Id":"ece0","Name":"pexp1","Config":{"Image":"localhost/agentmon-test-busybox:1","Labels":null}}"#;
        let m = parse_inspect(podman).unwrap();
        assert_eq!(m.name, "pexp1");
        assert!(m.labels.is_empty());
    }
}
