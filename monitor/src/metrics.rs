//! Prometheus metrics and the small HTTP server that exposes them with `/healthz` and `/readyz`.
//!
//! [`Metrics`] is a cheap-to-clone handle; every method is a few atomic operations.
//!
//! Who may scrape ([`Access`]): the server binds `127.0.0.1:9464` unless told otherwise, and
//! `/metrics` can require a bearer token (`Authorization: Bearer …`, compared in constant time, as
//! Prometheus sends it with `authorization: {credentials_file: …}`). `/healthz` and `/readyz` say
//! only "ok"/"ready" and need none; a second listener can serve only them ([`Access::health_only`]),
//! for kubelet probes on the pod's address while `/metrics` stays on loopback.
use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode, body::Incoming, header, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use thiserror::Error;
use tokio::{net::TcpListener, task::JoinHandle};

use crate::rules::Alert;

pub(crate) const DEFAULT_ADDR: &str = "127.0.0.1:9464";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    rule: String,
    priority: String,
    agent: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CapabilityLabel {
    capability: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutputLabel {
    output: String,
}

struct Inner {
    registry: Registry,
    events: Family<KindLabel, Counter>,
    drops: Counter,
    kernel_lost: Family<ReasonLabel, Counter>,
    alerts: Family<AlertLabels, Counter>,
    actions: Family<KindLabel, Counter>,
    output_dropped: Family<OutputLabel, Counter>,
    output_failed: Family<OutputLabel, Counter>,
    ringbuf_fill: Gauge,
    record_lost: Counter,
    filtered_opens: Counter,
    rule_eval: Histogram,
    watched: Gauge,
    capabilities: Family<CapabilityLabel, Gauge>,
    readiness: AtomicU8,
}

/// What `/readyz` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Readiness {
    /// Probes not attached or the first discovery scan not applied yet (503).
    Starting = 0,
    /// Watching at least one agent (200).
    Ready = 1,
    /// The config names no agents (and no `--cgroup` was given): nothing can ever be watched (503).
    NoAgentsConfigured = 2,
    /// The config's agents match no cgroup of this host yet (200: agentmon is up and will watch
    /// one as soon as it appears; a DaemonSet node without agents must not hold a rollout back).
    NoAgentMatched = 3,
}

impl Readiness {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => Readiness::Ready,
            2 => Readiness::NoAgentsConfigured,
            3 => Readiness::NoAgentMatched,
            _ => Readiness::Starting,
        }
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(self) -> bool {
        matches!(self, Readiness::Ready | Readiness::NoAgentMatched)
    }

    /// The `/readyz` body.
    pub fn text(self) -> &'static str {
        match self {
            Readiness::Starting => "not ready: starting\n",
            Readiness::Ready => "ready\n",
            Readiness::NoAgentsConfigured => "not ready: the config names no agents, nothing is watched\n",
            Readiness::NoAgentMatched => "ready: no cgroup matches the config's agents yet, nothing is watched\n",
        }
    }
}

/// Handle to agentmon's metrics; clone freely.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("agentmon");
        let events = Family::<KindLabel, Counter>::default();
        registry.register("events", "Events received from the kernel, by kind", events.clone());
        let drops = Counter::default();
        registry.register(
            "ringbuf_drops",
            "Events lost because the ring buffer was full",
            drops.clone(),
        );
        let kernel_lost = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "kernel_lost_events",
            "Events the kernel side could not deliver, by reason (ringbuf_full, arg_read_failed, …)",
            kernel_lost.clone(),
        );
        let alerts = Family::<AlertLabels, Counter>::default();
        registry.register("alerts", "Rule matches, by rule, priority and agent", alerts.clone());
        let actions = Family::<KindLabel, Counter>::default();
        registry.register(
            "actions",
            "Responses taken (kill, quarantine, deny…), by kind",
            actions.clone(),
        );
        let output_dropped = Family::<OutputLabel, Counter>::default();
        registry.register(
            "output_dropped",
            "Alerts an output dropped (queue full or retries exhausted)",
            output_dropped.clone(),
        );
        let output_failed = Family::<OutputLabel, Counter>::default();
        registry.register(
            "output_failed_attempts",
            "Failed delivery attempts, by output",
            output_failed.clone(),
        );
        let ringbuf_fill = Gauge::default();
        registry.register(
            "ringbuf_fill_bytes",
            "Bytes waiting in the ring buffer at the last sample",
            ringbuf_fill.clone(),
        );
        let record_lost = Counter::default();
        registry.register(
            "record_lost_records",
            "Records (events, alerts, notices) the recording could not write (--record)",
            record_lost.clone(),
        );
        let filtered_opens = Counter::default();
        registry.register(
            "kernel_filtered_opens",
            "Opens the kernel left out because no loaded rule can match them (the open filter; not lost)",
            filtered_opens.clone(),
        );
        // 1 µs … ~16 ms.
        let rule_eval = Histogram::new(exponential_buckets(1e-6, 2.0, 15));
        registry.register(
            "rule_eval_seconds",
            "Time to evaluate the rules against one event (sampled: the first event, then one in 16)",
            rule_eval.clone(),
        );
        let watched = Gauge::default();
        registry.register("watched_agents", "Agent cgroups currently watched", watched.clone());
        let capabilities = Family::<CapabilityLabel, Gauge>::default();
        registry.register(
            "kernel_capability",
            "1 if this kernel offers the capability (bpf_lsm, fentry, …; see `agentmon doctor`), else 0",
            capabilities.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                events,
                drops,
                kernel_lost,
                alerts,
                actions,
                output_dropped,
                output_failed,
                ringbuf_fill,
                record_lost,
                filtered_opens,
                rule_eval,
                watched,
                capabilities,
                readiness: AtomicU8::new(Readiness::Starting as u8),
            }),
        }
    }

    /// One kernel event of this kind (`exec`, `open`, `connect`, …).
    pub fn event(&self, kind: &str) {
        self.event_counter(kind).inc();
    }

    /// The counter of this kind's events, for a caller that counts many (an increment is then one
    /// relaxed atomic add, with no label lookup).
    pub(crate) fn event_counter(&self, kind: &str) -> Counter {
        self.inner
            .events
            .get_or_create(&KindLabel { kind: kind.to_string() })
            .clone()
    }

    /// `n` more events lost in the ring buffer.
    pub fn drops(&self, n: u64) {
        self.inner.drops.inc_by(n);
    }

    /// The kernel's running total of events lost for `reason` (`monitor_common::counter::LOST`);
    /// the counter follows it (totals only grow while the probes stay loaded).
    pub(crate) fn kernel_lost(&self, reason: &str, total: u64) {
        let c = self.inner.kernel_lost.get_or_create(&ReasonLabel {
            reason: reason.to_string(),
        });
        let seen = c.get();
        if total > seen {
            c.inc_by(total - seen);
        }
    }

    /// The kernel's running total of opens its open filter left out; the counter follows it.
    pub(crate) fn filtered_opens(&self, total: u64) {
        let seen = self.inner.filtered_opens.get();
        if total > seen {
            self.inner.filtered_opens.inc_by(total - seen);
        }
    }

    /// The recording's running total of records it could not write; the counter follows it.
    pub(crate) fn record_lost(&self, total: u64) {
        let seen = self.inner.record_lost.get();
        if total > seen {
            self.inner.record_lost.inc_by(total - seen);
        }
    }

    pub fn alert(&self, alert: &Alert) {
        self.inner
            .alerts
            .get_or_create(&AlertLabels {
                rule: alert.rule.clone(),
                priority: alert.priority.as_str().to_string(),
                agent: alert.event.agent.clone(),
            })
            .inc();
    }

    /// A response of this kind was taken (`kill`, `quarantine`, `deny`, …).
    pub fn action(&self, kind: &str) {
        self.inner
            .actions
            .get_or_create(&KindLabel { kind: kind.to_string() })
            .inc();
    }

    pub(crate) fn output_dropped(&self, output: &str, n: u64) {
        self.inner
            .output_dropped
            .get_or_create(&OutputLabel {
                output: output.to_string(),
            })
            .inc_by(n);
    }

    pub(crate) fn output_failed(&self, output: &str) {
        self.inner
            .output_failed
            .get_or_create(&OutputLabel {
                output: output.to_string(),
            })
            .inc();
    }

    pub fn rule_eval(&self, d: Duration) {
        self.inner.rule_eval.observe(d.as_secs_f64());
    }

    /// One gauge per kernel capability (`agentmon_kernel_capability{capability="bpf_lsm"}`).
    pub fn set_capabilities(&self, caps: &crate::capabilities::Capabilities) {
        for p in &caps.probed {
            self.inner
                .capabilities
                .get_or_create(&CapabilityLabel {
                    capability: p.cap.name().to_string(),
                })
                .set(i64::from(p.present));
        }
    }

    pub fn set_watched(&self, n: usize) {
        self.inner.watched.set(n as i64);
    }

    pub fn set_ringbuf_fill(&self, bytes: u64) {
        self.inner.ringbuf_fill.set(bytes.min(i64::MAX as u64) as i64);
    }

    /// `/readyz` answers 200 when probes are attached and discovery applied ([`Readiness::Ready`],
    /// or [`Readiness::NoAgentMatched`] with that said in the body), 503 with the reason otherwise.
    pub fn set_readiness(&self, r: Readiness) {
        self.inner.readiness.store(r as u8, Ordering::Relaxed);
    }

    pub fn readiness(&self) -> Readiness {
        Readiness::from_u8(self.inner.readiness.load(Ordering::Relaxed))
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.inner.registry);
        out
    }
}

#[derive(Debug, Error)]
pub enum ServeError {
    #[error("binding the metrics server to {addr}: {error}")]
    Bind { addr: SocketAddr, error: std::io::Error },
    #[error("metrics bearer token file {path}: {error}")]
    Token { path: String, error: std::io::Error },
}

/// Largest bearer token file read.
const MAX_TOKEN_BYTES: u64 = 4096;

/// What a listener serves, and to whom.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// `/metrics` requires `Authorization: Bearer <token>`.
    token: Option<Arc<[u8]>>,
    /// Only `/healthz` and `/readyz` (404 for `/metrics`).
    health_only: bool,
}

impl Access {
    /// Everything, to whoever reaches the address.
    pub fn open() -> Self {
        Self::default()
    }

    /// `/metrics` only with this bearer token.
    pub fn with_token(token: &str) -> Self {
        Self {
            token: Some(Arc::from(token.as_bytes())),
            health_only: false,
        }
    }

    /// The token read from `path` (surrounding whitespace trimmed; empty is an error).
    pub(crate) fn token_file(path: &std::path::Path) -> Result<Self, ServeError> {
        let err = |error| ServeError::Token {
            path: path.display().to_string(),
            error,
        };
        let bytes = crate::files::read_limited(path, MAX_TOKEN_BYTES, "token file").map_err(err)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text")))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(err(std::io::Error::new(std::io::ErrorKind::InvalidData, "empty")));
        }
        Ok(Self::with_token(token))
    }

    /// `/healthz` and `/readyz` only.
    pub fn health_only() -> Self {
        Self {
            token: None,
            health_only: true,
        }
    }

    fn authorized(&self, req: &Request<Incoming>) -> bool {
        let Some(token) = &self.token else { return true };
        let Some(given) = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        else {
            return false;
        };
        constant_time_eq(given, token)
    }
}

/// Equality whose time depends on the lengths only, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn respond(metrics: &Metrics, access: &Access, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let text = |status: StatusCode, body: &'static str| {
        let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
        *r.status_mut() = status;
        r
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    }
    match req.uri().path() {
        "/metrics" if access.health_only => text(StatusCode::NOT_FOUND, "not found\n"),
        "/metrics" if !access.authorized(req) => {
            let mut r = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            r
        }
        "/metrics" => {
            let mut r = Response::new(Full::new(Bytes::from(metrics.render())));
            if let Ok(v) = header::HeaderValue::from_str("application/openmetrics-text; version=1.0.0; charset=utf-8") {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" => {
            let r = metrics.readiness();
            let status = if r.is_ready() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            text(status, r.text())
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Binds `addr` and serves `/metrics` (as `access` allows), `/healthz` and `/readyz` until the task
/// is aborted. Returns the bound address (useful with port 0) and the server task.
pub async fn serve(
    addr: SocketAddr,
    metrics: Metrics,
    access: Access,
) -> Result<(SocketAddr, JoinHandle<()>), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|error| ServeError::Bind { addr, error })?;
    let local = listener.local_addr().unwrap_or(addr);
    if access.health_only {
        tracing::info!(addr = %local, "serving /healthz, /readyz");
    } else {
        tracing::info!(addr = %local, token = access.token.is_some(), "serving /metrics, /healthz, /readyz");
        if access.token.is_none() && !local.ip().is_loopback() {
            tracing::warn!(
                addr = %local,
                "/metrics is served without a token to whoever can reach this address; set metrics.bearer_token_file"
            );
        }
    }
    let task = tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("metrics server: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let metrics = metrics.clone();
            let access = access.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let r = respond(&metrics, &access, &req);
                    async move { Ok::<_, Infallible>(r) }
                });
                if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await {
                    tracing::debug!(%peer, "metrics connection: {e}");
                }
            });
        }
    });
    Ok((local, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_gauge_per_capability() {
        use crate::capabilities::{Cap, Capabilities, Probed};
        let caps = Capabilities {
            probed: Cap::ALL
                .iter()
                .map(|&cap| Probed {
                    cap,
                    present: cap != Cap::BpfLsm,
                    detail: String::new(),
                })
                .collect(),
        };
        let m = Metrics::new();
        m.set_capabilities(&caps);
        let text = m.render();
        assert!(
            text.contains("agentmon_kernel_capability{capability=\"bpf_lsm\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("agentmon_kernel_capability{capability=\"btf\"} 1"),
            "{text}"
        );
        assert_eq!(
            text.matches("agentmon_kernel_capability{").count(),
            Cap::ALL.len(),
            "{text}"
        );
    }

    #[test]
    fn renders_counters() {
        let m = Metrics::new();
        m.event("exec");
        m.event("exec");
        m.drops(3);
        m.kernel_lost("map_insert_failed", 4);
        m.kernel_lost("map_insert_failed", 6);
        m.kernel_lost("ringbuf_full", 0);
        m.filtered_opens(7);
        m.filtered_opens(9);
        m.set_watched(2);
        m.rule_eval(Duration::from_micros(5));
        let text = m.render();
        assert!(text.contains("agentmon_events_total{kind=\"exec\"} 2"), "{text}");
        assert!(text.contains("agentmon_ringbuf_drops_total 3"), "{text}");
        assert!(
            text.contains("agentmon_kernel_lost_events_total{reason=\"map_insert_failed\"} 6"),
            "{text}"
        );
        assert!(
            text.contains("agentmon_kernel_lost_events_total{reason=\"ringbuf_full\"} 0"),
            "{text}"
        );
        assert!(text.contains("agentmon_kernel_filtered_opens_total 9"), "{text}");
        assert!(text.contains("agentmon_watched_agents 2"), "{text}");
        assert!(text.contains("agentmon_rule_eval_seconds_count 1"), "{text}");
    }
}
