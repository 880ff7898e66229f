//! The recorder as the live pipeline uses it: a recording failure is logged (loudly, but not on
//! every event) and counted; it never stops monitoring.
use super::{RecordError, Recorder};
use crate::{enrich::Enriched, rules::Alert};

pub(crate) struct LiveRecorder {
    rec: Recorder,
    /// Records that could not be written.
    pub failures: u64,
}

impl LiveRecorder {
    pub(crate) fn new(rec: Recorder) -> Self {
        Self { rec, failures: 0 }
    }

    fn failed(&mut self, what: &str, e: &RecordError) {
        self.failures += 1;
        if self.failures.is_power_of_two() {
            tracing::error!(failures = self.failures, path = %self.rec.path().display(), "recording {what}: {e}");
        }
    }

    /// Records the event (in the current batch); returns its id, 0 if it could not be recorded.
    pub(crate) fn event(&mut self, ev: &Enriched) -> u64 {
        match self.rec.record_event(ev) {
            Ok(seq) => seq,
            Err(e) => {
                self.failed("an event", &e);
                0
            }
        }
    }

    /// Records an alert and writes it at once; `event_seq` is what [`LiveRecorder::event`] returned
    /// for its event. With `embed_event`, the alert also carries a copy of its event.
    pub(crate) fn alert(&mut self, alert: &Alert, event_seq: u64, embed_event: bool) {
        let r = if embed_event {
            self.rec.record_alert_with_event(alert, event_seq)
        } else {
            self.rec.record_alert(alert, event_seq)
        };
        if let Err(e) = r {
            self.failed("an alert", &e);
        }
    }

    pub(crate) fn drops(&mut self, lost: u64, total: u64) {
        if let Err(e) = self.rec.record_drops(lost, total) {
            self.failed("a drop notice", &e);
        }
    }

    /// Writes the records of the batch (the live pipeline calls it after every ring-buffer drain).
    pub(crate) fn end_batch(&mut self) {
        if let Err(e) = self.rec.end_batch() {
            self.failed("a batch", &e);
        }
    }
}
