//! The alert record: what a rule match produces, printed as one JSON line, recorded, and sent to
//! outputs (webhook, metrics). Shared by the rule engine (which fills `rule`..`output`) and the
//! responder (which fills `action_result`).
use serde::{Deserialize, Serialize};

use crate::enrich::Enriched;

/// Falco's priority scale, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "emergency",
            Priority::Alert => "alert",
            Priority::Critical => "critical",
            Priority::Error => "error",
            Priority::Warning => "warning",
            Priority::Notice => "notice",
            Priority::Informational => "informational",
            Priority::Debug => "debug",
        }
    }
}

/// How far a rule is trusted, as Falco's `maturity_*` levels: `stable` rules are on by default,
/// `incubating` and `sandbox` ones only when the operator asks for that level (each level includes
/// the ones before it: `incubating` means stable and incubating).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Maturity {
    /// Low false-positive rate on normal agent work; on by default.
    #[default]
    Stable,
    /// Useful detections that need tuning to a site; opt-in.
    Incubating,
    /// Experimental or noisy; opt-in.
    Sandbox,
}

impl Maturity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Maturity::Stable => "stable",
            Maturity::Incubating => "incubating",
            Maturity::Sandbox => "sandbox",
        }
    }
}

impl std::str::FromStr for Maturity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stable" => Ok(Maturity::Stable),
            "incubating" => Ok(Maturity::Incubating),
            "sandbox" => Ok(Maturity::Sandbox),
            _ => Err(format!("expected stable, incubating or sandbox, found `{s}`")),
        }
    }
}

/// What a rule asks agentmon to do when it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Report only.
    #[default]
    Alert,
    /// Kill every process of the agent's cgroup.
    Kill,
    /// Freeze the agent's cgroup and cut its network, keeping it for forensics.
    Quarantine,
    /// Stop the action synchronously in the kernel (compiled into kernel maps).
    Deny,
}

impl Action {
    /// The action's name as rules write it (`alert`, `kill`, `quarantine`, `deny`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Kill => "kill",
            Action::Quarantine => "quarantine",
            Action::Deny => "deny",
        }
    }
}

/// One rule match.
#[derive(Clone, Debug, Serialize)]
pub struct Alert {
    pub rule: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    /// The action the rule asked for.
    pub action: Action,
    /// What actually happened: e.g. "alerted", "killed 3 processes", "quarantined", "denied in kernel
    /// (connect refused with EPERM)", or an error. Filled by the responder.
    pub action_result: String,
    /// Latency from the triggering event (kernel timestamp) to the action's completion, in µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_latency_us: Option<u64>,
    /// The rule's `output` with fields substituted.
    pub output: String,
    /// The triggering event, with its process context and ancestry.
    pub event: Enriched,
}

impl Alert {
    /// A made-up alert on `event` (a kill for a connect to the metadata service, done in 180 µs), as
    /// [`crate::enrich::synthetic`] makes up events: for tests and the benchmarks' logs.
    pub fn synthetic(event: &Enriched) -> Self {
        Self {
            rule: "Metadata service access".into(),
            priority: Priority::Critical,
            tags: vec!["network".into(), "credential_access".into()],
            action: Action::Kill,
            action_result: "killed 1 process".into(),
            action_latency_us: Some(180),
            output: format!("{} connected to the metadata service", event.event.header.comm),
            event: event.clone(),
        }
    }
}
