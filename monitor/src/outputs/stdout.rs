//! Standard output: events, alerts and drop notices, one JSON object per line (`--json`) or one
//! readable line each ([`super::format`]).
use std::io::Write;

use serde::Serialize;

use super::format;
use crate::{enrich::Enriched, rules::Alert};

/// Lost-event notice, also part of the JSON stream.
#[derive(Serialize)]
struct Drops {
    kind: &'static str,
    /// Events lost since the previous notice.
    lost: u64,
    /// Events lost since start.
    total: u64,
}

pub(crate) struct Printer {
    json: bool,
    out: Box<dyn Write + Send>,
}

impl Printer {
    pub(crate) fn new(json: bool, out: Box<dyn Write + Send>) -> Self {
        Self { json, out }
    }

    pub(crate) fn stdout(json: bool) -> Self {
        // Buffered: the session flushes after every ring-buffer batch, so output stays prompt.
        Self::new(
            json,
            Box::new(std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout())),
        )
    }

    pub(crate) fn event(&mut self, e: &Enriched) {
        if let Err(err) = format::write_event(&mut self.out, self.json, e) {
            tracing::error!("writing event: {err}");
        }
    }

    pub(crate) fn alert(&mut self, a: &Alert) {
        if let Err(err) = format::write_alert(&mut self.out, self.json, a) {
            tracing::error!("writing alert: {err}");
        }
    }

    pub(crate) fn drops(&mut self, lost: u64, total: u64) {
        tracing::warn!(lost, total, "ring buffer full: events were lost");
        if self.json {
            let _ = serde_json::to_writer(
                &mut self.out,
                &Drops {
                    kind: "drops",
                    lost,
                    total,
                },
            );
            let _ = self.out.write_all(b"\n");
        }
    }

    pub(crate) fn flush(&mut self) {
        let _ = self.out.flush();
    }
}
