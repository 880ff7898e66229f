//! HTTP webhook output: POSTs each alert as Falco JSON (falcosidekick's input), from a bounded
//! queue, retrying failures with exponential backoff. Alerts that do not fit in the queue or that
//! exhaust their attempts are dropped and counted, never silently.
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use thiserror::Error;
use tokio::{sync::mpsc, task::JoinHandle};

use super::falco::{FalcoPayload, hostname};
use crate::{config::WebhookConfig, event::Esc, metrics::Metrics, rules::Alert};

const OUTPUT_NAME: &str = "webhook";

#[derive(Clone)]
pub struct WebhookOptions {
    pub url: String,
    /// Alerts waiting to be sent.
    pub queue: usize,
    /// Attempts per alert, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled each time up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    pub headers: BTreeMap<String, String>,
}

impl std::fmt::Debug for WebhookOptions {
    /// Without secrets: the URL redacted, header names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookOptions")
            .field("url", &crate::config::redact_url(&self.url))
            .field("queue", &self.queue)
            .field("max_attempts", &self.max_attempts)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl WebhookOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            queue: 1024,
            max_attempts: 5,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            timeout: Duration::from_secs(5),
            headers: BTreeMap::new(),
        }
    }

    pub(crate) fn from_config(c: &WebhookConfig) -> Self {
        Self {
            queue: c.queue,
            max_attempts: c.max_attempts,
            headers: c.headers.clone(),
            ..Self::new(c.url.clone())
        }
    }
}

#[derive(Debug, Error)]
pub enum WebhookError {
    #[error("webhook client: {0}")]
    Client(reqwest::Error),
    #[error("webhook header {0:?} is invalid")]
    Header(String),
}

/// Counters of the webhook output.
#[derive(Debug, Default)]
pub struct WebhookStats {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub(crate) failed_attempts: AtomicU64,
}

pub struct Webhook {
    tx: mpsc::Sender<FalcoPayload>,
    stats: Arc<WebhookStats>,
    metrics: Option<Metrics>,
    hostname: String,
    task: JoinHandle<()>,
}

impl Webhook {
    /// Starts the sender task (needs a Tokio runtime).
    pub fn spawn(opts: WebhookOptions, metrics: Option<Metrics>) -> Result<Self, WebhookError> {
        let mut headers = reqwest::header::HeaderMap::new();
        for (k, v) in &opts.headers {
            let name =
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| WebhookError::Header(k.clone()))?;
            let value = reqwest::header::HeaderValue::from_str(v).map_err(|_| WebhookError::Header(k.clone()))?;
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .timeout(opts.timeout)
            .default_headers(headers)
            .user_agent(concat!("agentmon/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| WebhookError::Client(e.without_url()))?;
        let (tx, rx) = mpsc::channel(opts.queue.max(1));
        let stats = Arc::new(WebhookStats::default());
        let task = tokio::spawn(worker(client, opts, rx, Arc::clone(&stats), metrics.clone()));
        Ok(Self {
            tx,
            stats,
            metrics,
            hostname: hostname(),
            task,
        })
    }

    /// Queues an alert without waiting; returns false (and counts a drop) when the queue is full.
    pub fn send(&self, alert: &Alert) -> bool {
        let payload = FalcoPayload::from_alert(alert, &self.hostname);
        match self.tx.try_send(payload) {
            Ok(()) => true,
            Err(_) => {
                self.dropped(1);
                tracing::warn!(rule = %Esc(&alert.rule), "webhook queue full: alert dropped");
                false
            }
        }
    }

    fn dropped(&self, n: u64) {
        self.stats.dropped.fetch_add(n, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.output_dropped(OUTPUT_NAME, n);
        }
    }

    pub fn stats(&self) -> &WebhookStats {
        &self.stats
    }

    /// Stops accepting alerts and gives the queue up to `grace` to drain.
    pub async fn shutdown(self, grace: Duration) {
        let Self { tx, mut task, .. } = self;
        drop(tx);
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            task.abort();
            tracing::warn!("webhook: alerts still queued at shutdown were dropped");
        }
    }
}

async fn worker(
    client: reqwest::Client,
    opts: WebhookOptions,
    mut rx: mpsc::Receiver<FalcoPayload>,
    stats: Arc<WebhookStats>,
    metrics: Option<Metrics>,
) {
    while let Some(payload) = rx.recv().await {
        let mut backoff = opts.initial_backoff;
        let mut attempt = 1;
        loop {
            let res = client.post(&opts.url).json(&payload).send().await;
            let (retry, why) = match res {
                Ok(r) if r.status().is_success() => {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Ok(r) => {
                    let s = r.status();
                    (
                        s.is_server_error() || s.as_u16() == 429 || s.as_u16() == 408,
                        format!("HTTP {s}"),
                    )
                }
                // Without the URL, which may carry a token in its query or user part.
                Err(e) => (true, e.without_url().to_string()),
            };
            stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
            if let Some(m) = &metrics {
                m.output_failed(OUTPUT_NAME);
            }
            if !retry || attempt >= opts.max_attempts {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                if let Some(m) = &metrics {
                    m.output_dropped(OUTPUT_NAME, 1);
                }
                tracing::error!(rule = %Esc(&payload.rule), attempt, "webhook gave up on an alert: {}", Esc(&why));
                break;
            }
            tracing::warn!(rule = %Esc(&payload.rule), attempt, "webhook delivery failed, retrying in {backoff:?}: {}", Esc(&why));
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(opts.max_backoff);
            attempt += 1;
        }
    }
}
