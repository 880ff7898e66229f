//! The webhook output against a local HTTP receiver: Falco payload shape, retry after a 500,
//! bounded queue, and the metrics it moves (scraped over HTTP).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use agentmon::{
    enrich::Enriched,
    event::{Body, Event, ExecInfo, Header},
    metrics::{self, Metrics},
    outputs::{JsonLines, Webhook, WebhookOptions},
    rules::{Action, Alert, Priority},
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

fn alert(rule: &str) -> Alert {
    Alert {
        rule: rule.into(),
        priority: Priority::Critical,
        tags: vec!["agent".into(), "exfil".into()],
        action: Action::Kill,
        action_result: "killed 1 process".into(),
        action_latency_us: Some(120),
        output: format!("{rule} fired (proc=curl)"),
        event: Enriched {
            time: agentmon::enrich::WallTime::from_unix_ns(1_795_719_600_123_456_000),
            event: Event {
                header: Header {
                    ktime_ns: 1,
                    pid: 4242,
                    tid: 4242,
                    ppid: 1,
                    uid: 1000,
                    gid: 1000,
                    cgroup_id: 77,
                    comm: "curl".into(),
                    truncated: false,
                    read_failed: false,
                    denied: false,
                },
                body: Body::Exec(ExecInfo::new("/usr/bin/curl", vec!["curl".into(), "http://x".into()])),
            },
            exe: "/usr/bin/curl".into(),
            ancestors: vec![],
            cgroup: "/system.slice/agent.service".into(),
            agent: "coder".into(),
            container: None,
            resolved_path: Some("/usr/bin/curl".into()),
            facts: agentmon::enrich::AgentFacts::default(),
            context_id: 0,
        },
    }
}

/// A receiver that answers 500 to the first `failures` requests, then 200; records every body.
struct Receiver {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
}

async fn receiver(failures: usize) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let hits = Arc::new(AtomicUsize::new(0));
    let (b, h) = (Arc::clone(&bodies), Arc::clone(&hits));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (b, h) = (Arc::clone(&b), Arc::clone(&h));
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let (b, h) = (Arc::clone(&b), Arc::clone(&h));
                    async move {
                        assert_eq!(req.method(), hyper::Method::POST);
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        let n = h.fetch_add(1, Ordering::SeqCst);
                        b.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                        let status = if n < failures {
                            StatusCode::INTERNAL_SERVER_ERROR
                        } else {
                            StatusCode::OK
                        };
                        let mut r = Response::new(Full::new(Bytes::new()));
                        *r.status_mut() = status;
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Receiver { addr, bodies, hits }
}

fn fast(url: String) -> WebhookOptions {
    WebhookOptions {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
        ..WebhookOptions::new(url)
    }
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn scrape(addr: SocketAddr, path: &str) -> (u16, String) {
    let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn posts_falco_json_and_retries_after_500() {
    let rx = receiver(1).await;
    let m = Metrics::new();
    let (maddr, server) = metrics::serve("127.0.0.1:0".parse().unwrap(), m.clone(), metrics::Access::open())
        .await
        .unwrap();
    let hook = Webhook::spawn(fast(format!("http://{}/", rx.addr)), Some(m.clone())).unwrap();
    assert!(hook.send(&alert("Agent exfiltration")));
    wait_for("the retried delivery", || rx.hits.load(Ordering::SeqCst) >= 2).await;
    wait_for("sent counter", || hook.stats().sent.load(Ordering::SeqCst) == 1).await;

    let bodies = rx.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "one failure then one success");
    assert_eq!(bodies[0], bodies[1], "the retry resends the same payload");
    let p = &bodies[1];
    assert_eq!(p["rule"], "Agent exfiltration");
    assert_eq!(p["priority"], "Critical");
    assert_eq!(p["output"], "Agent exfiltration fired (proc=curl)");
    assert_eq!(p["time"], "2026-11-26T19:00:00.123456Z");
    assert_eq!(p["source"], "syscall");
    assert_eq!(p["tags"], serde_json::json!(["agent", "exfil"]));
    assert!(p["hostname"].as_str().is_some_and(|h| !h.is_empty()));
    let f = &p["output_fields"];
    assert_eq!(f["proc.pid"], 4242);
    assert_eq!(f["proc.name"], "curl");
    assert_eq!(f["proc.cmdline"], "curl http://x");
    assert_eq!(f["agent.name"], "coder");
    assert_eq!(f["evt.type"], "exec");
    assert_eq!(f["agentmon.action"], "kill");

    let (code, text) = scrape(maddr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        text.contains("agentmon_output_failed_attempts_total{output=\"webhook\"} 1"),
        "{text}"
    );
    assert!(!text.contains("agentmon_output_dropped_total{"), "{text}");
    hook.shutdown(Duration::from_secs(1)).await;
    server.abort();
}

#[tokio::test]
async fn gives_up_after_max_attempts_and_counts_the_drop() {
    let rx = receiver(usize::MAX).await;
    let m = Metrics::new();
    let opts = WebhookOptions {
        max_attempts: 3,
        ..fast(format!("http://{}/", rx.addr))
    };
    let hook = Webhook::spawn(opts, Some(m.clone())).unwrap();
    hook.send(&alert("r"));
    wait_for("the drop", || hook.stats().dropped.load(Ordering::SeqCst) == 1).await;
    assert_eq!(rx.hits.load(Ordering::SeqCst), 3);
    assert!(
        m.render()
            .contains("agentmon_output_dropped_total{output=\"webhook\"} 1")
    );
}

#[tokio::test]
async fn full_queue_drops_and_counts() {
    // Nothing listens on this port: every attempt fails slowly enough for the queue to fill.
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let opts = WebhookOptions {
        queue: 2,
        max_attempts: 1000,
        initial_backoff: Duration::from_secs(60),
        ..fast(format!("http://{addr}/"))
    };
    let hook = Webhook::spawn(opts, None).unwrap();
    let accepted = (0..10).filter(|_| hook.send(&alert("r"))).count();
    // The worker holds at most one, the queue two.
    assert!((2..=3).contains(&accepted), "accepted {accepted}");
    assert_eq!(hook.stats().dropped.load(Ordering::SeqCst), 10 - accepted as u64);
    hook.shutdown(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn metrics_endpoint_moves_with_the_handle() {
    let m = Metrics::new();
    let (addr, server) = metrics::serve("127.0.0.1:0".parse().unwrap(), m.clone(), metrics::Access::open())
        .await
        .unwrap();
    assert_eq!(scrape(addr, "/healthz").await.0, 200);
    assert_eq!(scrape(addr, "/readyz").await.0, 503);
    assert_eq!(scrape(addr, "/nope").await.0, 404);
    m.set_readiness(metrics::Readiness::NoAgentMatched);
    let (code, body) = scrape(addr, "/readyz").await;
    assert_eq!((code, body.contains("no cgroup matches")), (200, true), "{body}");
    m.set_readiness(metrics::Readiness::Ready);
    assert_eq!(scrape(addr, "/readyz").await.0, 200);

    let before = scrape(addr, "/metrics").await.1;
    assert!(before.contains("agentmon_watched_agents 0"), "{before}");
    for _ in 0..3 {
        m.event("exec");
    }
    m.event("open");
    m.drops(7);
    m.alert(&alert("Agent exfiltration"));
    m.alert(&alert("Agent exfiltration"));
    m.action("kill");
    m.rule_eval(Duration::from_micros(3));
    m.rule_eval(Duration::from_millis(1));
    m.set_watched(4);
    m.set_ringbuf_fill(4096);
    let (code, text) = scrape(addr, "/metrics").await;
    assert_eq!(code, 200);
    for line in [
        "agentmon_events_total{kind=\"exec\"} 3",
        "agentmon_events_total{kind=\"open\"} 1",
        "agentmon_ringbuf_drops_total 7",
        "agentmon_alerts_total{rule=\"Agent exfiltration\",priority=\"critical\",agent=\"coder\"} 2",
        "agentmon_actions_total{kind=\"kill\"} 1",
        "agentmon_rule_eval_seconds_count 2",
        "agentmon_watched_agents 4",
        "agentmon_ringbuf_fill_bytes 4096",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
    m.event("exec");
    let text = scrape(addr, "/metrics").await.1;
    assert!(text.contains("agentmon_events_total{kind=\"exec\"} 4"), "{text}");
    server.abort();
}

#[test]
fn json_lines_file_appends_one_alert_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.jsonl");
    for _ in 0..2 {
        let mut out = JsonLines::file(&path).unwrap();
        out.alert(&alert("r")).unwrap();
        out.flush().unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["rule"], "r");
    assert_eq!(lines[0]["event"]["agent"], "coder");
}

#[tokio::test]
async fn alert_sinks_fan_out_to_file_and_webhook() {
    let rx = receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.jsonl");
    let yaml = format!("outputs:\n  webhook:\n    url: http://{}/\n", rx.addr);
    let cfg = agentmon::config::Config::parse(&yaml, std::path::Path::new("t.yaml")).unwrap();
    let m = Metrics::new();
    let mut sinks = agentmon::outputs::AlertSinks::new(Some(&file), Some(&cfg.outputs), Some(m.clone())).unwrap();
    sinks.alert(&alert("r1"));
    sinks.alert(&alert("r1"));
    wait_for("two posts", || rx.hits.load(Ordering::SeqCst) == 2).await;
    sinks.shutdown(Duration::from_secs(1)).await;
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 2);
    assert!(!m.render().contains("agentmon_output_dropped_total{"));
}

/// Who may scrape: with a token, `/metrics` answers 401 without it (or with a wrong one) and the
/// metrics with it; the probes need none; a health-only listener serves no metrics at all.
#[tokio::test]
async fn metrics_require_the_bearer_token_and_health_listeners_serve_no_metrics() {
    let m = Metrics::new();
    let (addr, server) = metrics::serve(
        "127.0.0.1:0".parse().unwrap(),
        m.clone(),
        metrics::Access::with_token("s3cret-token"),
    )
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let get = |auth: Option<&'static str>| {
        let mut req = client.get(format!("http://{addr}/metrics"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let www = r
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string());
            (status, www, r.text().await.unwrap())
        }
    };
    let (code, www, body) = get(None).await;
    assert_eq!((code, www.as_deref()), (401, Some("Bearer")), "{body}");
    assert!(!body.contains("agentmon_"), "{body}");
    for wrong in [
        "Bearer s3cret-tokeN",
        "Bearer s3cret",
        "Basic s3cret-token",
        "s3cret-token",
    ] {
        assert_eq!(get(Some(wrong)).await.0, 401, "{wrong}");
    }
    let (code, _, body) = get(Some("Bearer s3cret-token")).await;
    assert_eq!(code, 200);
    assert!(body.contains("agentmon_watched_agents"), "{body}");
    assert_eq!(scrape(addr, "/healthz").await.0, 200);
    server.abort();

    let (addr, server) = metrics::serve(
        "127.0.0.1:0".parse().unwrap(),
        m.clone(),
        metrics::Access::health_only(),
    )
    .await
    .unwrap();
    assert_eq!(scrape(addr, "/metrics").await.0, 404);
    assert_eq!(scrape(addr, "/healthz").await.0, 200);
    m.set_readiness(metrics::Readiness::Ready);
    assert_eq!(scrape(addr, "/readyz").await.0, 200);
    server.abort();
}
