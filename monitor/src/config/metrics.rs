//! The `metrics:` section: the metrics and health listen addresses and the bearer token.
use std::{net::SocketAddr, path::PathBuf};

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of `/metrics`, `/healthz`, `/readyz` (default `127.0.0.1:9464`), or `off`;
    /// `--metrics-addr` overrides it.
    pub addr: Option<MetricsAddr>,
    /// A second address serving only `/healthz` and `/readyz` (kubelet probes on the pod's address
    /// while `/metrics` stays on loopback).
    pub health_addr: Option<SocketAddr>,
    /// `/metrics` requires `Authorization: Bearer <the token in this file>`.
    pub bearer_token_file: Option<PathBuf>,
}

/// Where the metrics server listens, or `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum MetricsAddr {
    Off,
    At(SocketAddr),
}

impl MetricsAddr {
    /// The address to bind, `None` when off.
    pub fn socket(self) -> Option<SocketAddr> {
        match self {
            MetricsAddr::Off => None,
            MetricsAddr::At(a) => Some(a),
        }
    }
}

impl std::str::FromStr for MetricsAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(MetricsAddr::Off);
        }
        s.parse()
            .map(MetricsAddr::At)
            .map_err(|e| format!("metrics address {s:?}: {e}; expected IP:PORT or `off`"))
    }
}

impl TryFrom<String> for MetricsAddr {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}
