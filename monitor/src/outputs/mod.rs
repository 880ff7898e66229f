//! The last stage: where events and alerts go. Standard output as text or JSON lines ([`stdout`],
//! formatted by [`format`]), and the alert destinations besides it ([`sinks`]): a JSON-lines file
//! ([`file`]) and an HTTP webhook in Falco's JSON format ([`webhook`], [`falco`]), e.g. for
//! falcosidekick.
pub mod falco;
pub mod file;
pub mod format;
pub mod sinks;
pub mod stdout;
pub mod webhook;

pub use falco::FalcoPayload;
pub use file::JsonLines;
pub use sinks::AlertSinks;
pub use stdout::Printer;
pub use webhook::{Webhook, WebhookOptions};
