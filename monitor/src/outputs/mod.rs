//! Where alerts go besides the event stream: JSON lines ([`jsonl`]) and an HTTP webhook in Falco's
//! JSON format ([`webhook`], [`falco`]), e.g. for falcosidekick.
pub mod falco;
pub mod jsonl;
pub mod sinks;
pub mod webhook;

pub use falco::FalcoPayload;
pub use jsonl::JsonLines;
pub use sinks::AlertSinks;
pub use webhook::{Webhook, WebhookOptions};
