//! The recorder as the live pipeline uses it: a recording failure is logged (loudly, but not on
//! every event) and counted; it never stops monitoring by itself. The records it loses are counted
//! by the recorder and marked in the log (`Lost` records); the start of each spell of failures is
//! handed to the pipeline ([`LiveRecorder::take_failure`]), which alerts or stops the agents as
//! `--on-record-failure` says.
use super::{RecordError, Recorder};
use crate::{enrich::Enriched, rules::Alert};

/// What to do when the recording cannot be written (`--on-record-failure`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OnFailure {
    /// Keep monitoring and raise an alert for every watched agent (the default).
    #[default]
    Alert,
    /// Quarantine (freeze) every watched agent: nothing they do goes unrecorded.
    Stop,
}

/// The start of a spell of recording failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The first error.
    pub error: String,
    /// Records lost since the recording began.
    pub lost: u64,
}

pub(crate) struct LiveRecorder {
    rec: Recorder,
    /// Recorder calls that failed.
    pub failures: u64,
    /// Whether the recording is failing now (writes fail, or a loss is not marked yet).
    failing: bool,
    /// A spell of failures began and the pipeline has not taken it yet.
    failure: Option<Failure>,
}

impl LiveRecorder {
    pub(crate) fn new(rec: Recorder) -> Self {
        Self {
            rec,
            failures: 0,
            failing: false,
            failure: None,
        }
    }

    /// Records lost since the recording began.
    pub(crate) fn lost(&self) -> u64 {
        self.rec.lost_total()
    }

    /// The start of a spell of failures, once.
    pub(crate) fn take_failure(&mut self) -> Option<Failure> {
        self.failure.take()
    }

    /// Notes the outcome of a recorder call: errors are logged (the 1st, 2nd, 4th … time), a spell
    /// of failures begins with the first loss and ends when the loss is marked in the log.
    fn after(&mut self, what: &str, r: Result<(), RecordError>) {
        let err = r.err();
        if let Some(e) = &err {
            self.failures += 1;
            if self.failures.is_power_of_two() {
                tracing::error!(
                    failures = self.failures,
                    lost = self.rec.lost_total(),
                    path = %self.rec.path().display(),
                    "recording {what}: {e}"
                );
            }
        }
        let lost = self.rec.loss_pending();
        if lost && !self.failing {
            self.failing = true;
            self.failure = Some(Failure {
                error: err.map_or_else(|| "a write failed".to_string(), |e| e.to_string()),
                lost: self.rec.lost_total(),
            });
        } else if self.failing && !lost {
            self.failing = false;
            tracing::warn!(
                lost = self.rec.lost_total(),
                path = %self.rec.path().display(),
                "recording resumed; the records it lost are marked in the log"
            );
        }
    }

    /// Records the event (in the current batch); returns its id, 0 if it could not be recorded.
    pub(crate) fn event(&mut self, ev: &Enriched) -> u64 {
        match self.rec.record_event(ev) {
            Ok(seq) => {
                self.after("an event", Ok(()));
                seq
            }
            Err(e) => {
                self.after("an event", Err(e));
                0
            }
        }
    }

    /// Records an alert and writes it at once; `event_seq` is what [`LiveRecorder::event`] returned
    /// for its event. With `embed_event` — or when its event's record was lost — the alert also
    /// carries a copy of its event.
    pub(crate) fn alert(&mut self, alert: &Alert, event_seq: u64, embed_event: bool) {
        // 0: "its event is not in the log" (the alert then holds it whole).
        let event_seq = if self.rec.was_lost(event_seq) { 0 } else { event_seq };
        let r = if embed_event || event_seq == 0 {
            self.rec.record_alert_with_event(alert, event_seq)
        } else {
            self.rec.record_alert(alert, event_seq)
        };
        self.after("an alert", r);
    }

    pub(crate) fn drops(&mut self, lost: u64, total: u64) {
        let r = self.rec.record_drops(lost, total);
        self.after("a drop notice", r);
    }

    /// Writes the records of the batch (the live pipeline calls it after every ring-buffer drain).
    pub(crate) fn end_batch(&mut self) {
        let r = self.rec.end_batch();
        self.after("a batch", r);
    }
}
