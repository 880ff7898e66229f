//! The last stage: where events and alerts go. Standard output as text or JSON lines ([`stdout`],
//! formatted by [`format`]), and the alert destinations besides it ([`sinks`]): a JSON-lines file
//! ([`file`]) and an HTTP webhook in Falco's JSON format ([`webhook`], [`falco`]), e.g. for
//! falcosidekick.
pub(crate) mod falco;
pub(crate) mod file;
pub(crate) mod format;
pub(crate) mod sinks;
pub(crate) mod stdout;
pub(crate) mod webhook;

pub use file::{JsonLines, OpenError};
pub use sinks::{AlertSinks, SinkError};
pub(crate) use stdout::Printer;
pub use webhook::{Webhook, WebhookError, WebhookOptions, WebhookStats};
