//! The `outputs:` section: the alert file and webhooks, their URL checks and the redaction of
//! secrets in URLs.
use std::{collections::BTreeMap, fmt, path::PathBuf};

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputsConfig {
    /// Append alerts as JSON lines to this file (`--output-file` overrides it).
    pub(crate) file: Option<PathBuf>,
    pub(crate) webhook: Option<WebhookConfig>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookConfig {
    /// e.g. `https://falcosidekick.falco:2801/`.
    pub url: String,
    /// Accept an `http://` URL: alerts (command lines, paths) and the headers (tokens) then cross
    /// the network in clear text.
    #[serde(default)]
    pub allow_http: bool,
    /// Alerts waiting to be sent; more are dropped (and counted).
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Attempts per alert, the first included.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Extra HTTP headers (e.g. an authorization token).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for WebhookConfig {
    /// Without secrets: the URL redacted ([`redact_url`]), header names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &redact_url(&self.url))
            .field("allow_http", &self.allow_http)
            .field("queue", &self.queue)
            .field("max_attempts", &self.max_attempts)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `url` with its secrets replaced by `REDACTED`: the user name and password, and every query value
/// (tokens are often passed as `?token=…`); the fragment is dropped. Text that is not a URL is
/// redacted whole.
pub(crate) fn redact_url(url: &str) -> String {
    let Ok(mut u) = reqwest::Url::parse(url) else {
        return "<not a URL: REDACTED>".into();
    };
    if !u.username().is_empty() {
        let _ = u.set_username("REDACTED");
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("REDACTED"));
    }
    if u.query().is_some() {
        let keys: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let mut q = u.query_pairs_mut();
        q.clear();
        for k in keys {
            q.append_pair(&k, "REDACTED");
        }
    }
    u.set_fragment(None);
    u.to_string()
}

/// Whether the URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`): plain HTTP to it does
/// not cross a network.
fn is_loopback(u: &reqwest::Url) -> bool {
    let host = u.host_str().unwrap_or("");
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// Checks a webhook URL: absolute, with a host, `https://` — or `http://` to a loopback address or
/// with `allow_http`.
pub(super) fn check_webhook_url(url: &str, allow_http: bool) -> Result<(), String> {
    let u = reqwest::Url::parse(url)
        .map_err(|e| format!("outputs.webhook.url is not a valid URL ({e}): {}", redact_url(url)))?;
    match u.scheme() {
        "https" => {}
        "http" if allow_http || is_loopback(&u) => {}
        "http" => {
            return Err(format!(
                "outputs.webhook.url {} is http:// to another host: alerts and headers would cross the network in clear text; use https:// or set outputs.webhook.allow_http: true",
                redact_url(url)
            ));
        }
        other => {
            return Err(format!(
                "outputs.webhook.url must be https:// (or http:// with allow_http), not {other}://"
            ));
        }
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("outputs.webhook.url {} has no host", redact_url(url)));
    }
    Ok(())
}

fn default_queue() -> usize {
    1024
}
fn default_attempts() -> u32 {
    5
}
