//! The Kubernetes pod watcher against recorded API responses (`tests/fixtures/k8s/`) served by a
//! local HTTP server: list, an expired watch (410) that forces a relist, a watch stream, and
//! re-watching from the last resourceVersion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use agentmon::discovery::k8s::{KubeClient, PodStore, spawn_pod_watcher};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const LIST: &str = include_str!("fixtures/k8s/pods-list.json");
const WATCH: &str = include_str!("fixtures/k8s/pods-watch.jsonl");
const EXPIRED: &str = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"too old resource version: 1000 (1003)\",\"reason\":\"Expired\",\"code\":410}}\n";
const CODER: &str = "8f3a2c1e-5b7d-4e9f-a0b1-c2d3e4f5a6b7";
const WEB: &str = "0d9f1e2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a";
const RESEARCHER: &str = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";

#[derive(Debug, Clone)]
struct Seen {
    query: String,
    auth: String,
}

async fn api_server(seen: Arc<Mutex<Vec<Seen>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    async move {
                        let query = req.uri().query().unwrap_or("").to_string();
                        let auth = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        let n_watches = {
                            let mut s = seen.lock().unwrap();
                            s.push(Seen {
                                query: query.clone(),
                                auth: auth.clone(),
                            });
                            s.iter().filter(|x| x.query.contains("watch=true")).count()
                        };
                        let mut status = StatusCode::OK;
                        let body = if auth != "Bearer test-token" {
                            status = StatusCode::UNAUTHORIZED;
                            String::new()
                        } else if req.uri().path() != "/api/v1/pods" {
                            status = StatusCode::NOT_FOUND;
                            String::new()
                        } else if !query.contains("watch=true") {
                            LIST.to_string()
                        } else {
                            match n_watches {
                                1 => EXPIRED.to_string(),
                                2 => WATCH.to_string(),
                                // Later watches stay open with nothing to say.
                                _ => std::future::pending::<String>().await,
                            }
                        };
                        let mut r = Response::new(Full::new(Bytes::from(body)));
                        *r.status_mut() = status;
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn lists_once_then_follows_the_watch() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = api_server(Arc::clone(&seen)).await;
    let client = KubeClient::new(&base, Some("test-token".into()), None).unwrap();

    // A plain list first.
    let (pods, rv) = client.list_pods("worker-1").await.unwrap();
    assert_eq!(rv, "1000");
    assert_eq!(pods.len(), 2);
    let coder = pods.iter().find(|p| p.uid == CODER).unwrap();
    assert_eq!(coder.name, "coder-7d9f8b6c5-x2k4p");
    assert_eq!(coder.namespace, "ai-agents");
    assert_eq!(coder.labels["app.kubernetes.io/component"], "agent");
    assert_eq!(
        coder.containers["4f1c9a0e2b7d6c5a8e3f1b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e"],
        "agent"
    );
    assert_eq!(coder.containers.len(), 3, "init container included");
    let web = pods.iter().find(|p| p.uid == WEB).unwrap();
    assert!(web.containers.is_empty(), "a container without an ID yet is skipped");

    let store = PodStore::default();
    let (tx, mut ready) = tokio::sync::watch::channel(false);
    let task = spawn_pod_watcher(client, "worker-1".into(), store.clone(), Some(tx));
    tokio::time::timeout(Duration::from_secs(5), ready.wait_for(|r| *r))
        .await
        .expect("first list")
        .unwrap();
    // After the watch stream: web-0 started (CRI-O), researcher-0 added, coder deleted.
    let mut ok = false;
    for _ in 0..500 {
        if store.get(CODER).is_none() && store.get(RESEARCHER).is_some() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ok, "watch events applied");
    let web = store.get(WEB).unwrap();
    assert_eq!(
        web.containers["3333333333333333333333333333333333333333333333333333333333333333"],
        "nginx"
    );
    assert_eq!(store.len(), 2);
    // Wait for the third watch to be issued, then check the request sequence.
    for _ in 0..500 {
        if seen.lock().unwrap().len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    task.abort();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|s| s.auth == "Bearer test-token"));
    assert!(
        seen.iter()
            .all(|s| s.query.contains("fieldSelector=spec.nodeName%3Dworker-1")),
        "{seen:?}"
    );
    let kinds: Vec<String> = seen
        .iter()
        .map(|s| {
            if let Some(i) = s.query.find("resourceVersion=") {
                format!("watch@{}", &s.query[i + 16..].split('&').next().unwrap_or(""))
            } else {
                "list".to_string()
            }
        })
        .collect();
    // Our own list, the watcher's list, expired watch, relist, watch, re-watch from the last event.
    assert_eq!(
        kinds,
        ["list", "list", "watch@1000", "list", "watch@1000", "watch@1006"],
        "{seen:?}"
    );
}

#[tokio::test]
async fn reports_http_errors() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = api_server(seen).await;
    let client = KubeClient::new(&base, Some("wrong".into()), None).unwrap();
    let err = client.list_pods("worker-1").await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}

/// Pod metadata from the recorded list names the real cgroup of its container.
#[tokio::test]
async fn discovery_names_a_container_from_the_recorded_pod_list() {
    use agentmon::{cgroup::Cgroup, config::Config, discovery::DiscoveryEvent};

    struct Rm(std::path::PathBuf, std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            if let Ok(cg) = Cgroup::open(&self.0, &self.1) {
                let _ = cg.remove();
            }
        }
    }
    let base = api_server(Arc::new(Mutex::new(Vec::new()))).await;
    let client = KubeClient::new(&base, Some("test-token".into()), None).unwrap();
    let (pods, _) = client.list_pods("worker-1").await.unwrap();
    let store = PodStore::default();
    store.replace_all(pods);

    let root = agentmon::cgroup::cgroup2_root().unwrap();
    let top = root.join(format!("agentmon-test-k8s-disc-{}", std::process::id()));
    std::fs::create_dir(&top).expect("needs root");
    let _rm = Rm(root.clone(), top.clone());
    let pod = format!(
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice",
        CODER.replace('-', "_")
    );
    let agent_cid = "4f1c9a0e2b7d6c5a8e3f1b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e";
    let tools_cid = "2222222222222222222222222222222222222222222222222222222222222222";
    for cid in [agent_cid, tools_cid] {
        std::fs::create_dir_all(top.join(&pod).join(format!("cri-containerd-{cid}.scope"))).unwrap();
    }
    let cfg = Config::parse(
        r#"
agents:
  - name: "{namespace}/{pod}/{container}"
    match:
      namespace: "ai-*"
      container_name: agent
      pod_labels: {app.kubernetes.io/component: agent}
"#,
        std::path::Path::new("t.yaml"),
    )
    .unwrap();
    let mut d = agentmon::discovery::Discovery::new(root, cfg.agents, Some(store)).with_scope(top);
    let events = d.scan();
    assert_eq!(events.len(), 1, "only the `agent` container: {events:?}");
    let DiscoveryEvent::Added { cgroup, agent } = &events[0] else {
        panic!()
    };
    assert_eq!(agent.name, "ai-agents/coder-7d9f8b6c5-x2k4p/agent");
    assert!(cgroup.rel.ends_with(&format!("cri-containerd-{agent_cid}.scope")));
    assert_eq!(agent.identity.pod_uid.as_deref(), Some(CODER));
}
