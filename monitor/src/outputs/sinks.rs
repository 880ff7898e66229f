//! Every configured alert destination behind one call: the JSON-lines file and the webhook.
//! (Alert metrics are counted by the pipeline.)
use std::{path::Path, time::Duration};

use thiserror::Error;

use super::{JsonLines, Webhook, WebhookOptions, file::OpenError, webhook::WebhookError};
use crate::{config::OutputsConfig, metrics::Metrics, rules::Alert};

#[derive(Debug, Error)]
pub enum SinkError {
    #[error(transparent)]
    File(#[from] OpenError),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
}

pub struct AlertSinks {
    file: Option<JsonLines>,
    webhook: Option<Webhook>,
}

impl AlertSinks {
    /// No destinations (alerts still go wherever the caller prints them).
    pub(crate) fn none() -> Self {
        Self {
            file: None,
            webhook: None,
        }
    }

    /// `file` (`--output-file`) overrides `outputs.file`. Needs a Tokio runtime for the webhook;
    /// `metrics` counts its failed attempts and drops.
    pub fn new(file: Option<&Path>, cfg: Option<&OutputsConfig>, metrics: Option<Metrics>) -> Result<Self, SinkError> {
        let file = file.or_else(|| cfg.and_then(|c| c.file.as_deref()));
        let file = file.map(JsonLines::file).transpose()?;
        let webhook = cfg
            .and_then(|c| c.webhook.as_ref())
            .map(|w| Webhook::spawn(WebhookOptions::from_config(w), metrics.clone()))
            .transpose()?;
        Ok(Self { file, webhook })
    }

    /// Records one alert everywhere; never blocks on the network.
    pub fn alert(&mut self, a: &Alert) {
        if let Some(f) = &mut self.file
            && let Err(e) = f.alert(a)
        {
            tracing::error!("writing alert to the output file: {e}");
        }
        if let Some(w) = &self.webhook {
            w.send(a);
        }
    }

    /// Flushes the file and gives the webhook queue up to `grace` to drain.
    pub async fn shutdown(mut self, grace: Duration) {
        if let Some(f) = &mut self.file {
            let _ = f.flush();
        }
        if let Some(w) = self.webhook.take() {
            w.shutdown(grace).await;
        }
    }
}
