//! Loss accounting: records that could not be written, counted and explained by a `Lost` record
//! written as soon as writes succeed again.
use super::{Recorder, now_ns};
use crate::record::{
    RecordError,
    batch::BatchBuilder,
    format::{EntryKind, FrameKind},
    proto,
};

/// Records that could not be written, waiting for their `Lost` record to be.
#[derive(Clone, Debug)]
pub(super) struct PendingLoss {
    first_id: u64,
    last_id: u64,
    events: u64,
    alerts: u64,
    error: String,
    /// The id of the `Lost` record itself.
    marker_id: u64,
}

/// Lost id ranges remembered for [`Recorder::was_lost`].
const LOST_RANGES_KEPT: usize = 256;

impl Recorder {
    /// Counts records `first_id..=last_id` as lost and reserves the id of the `Lost` record that
    /// accounts for them (merged with a loss not yet written, whose reserved id is then lost too).
    pub(super) fn lose(&mut self, first_id: u64, last_id: u64, events: u64, alerts: u64, e: &RecordError) {
        let n = last_id + 1 - first_id;
        self.lost_total += n;
        self.file_lost += n;
        if self.lost_ranges.len() == LOST_RANGES_KEPT {
            self.lost_ranges.pop_front();
        }
        self.lost_ranges.push_back((first_id, last_id));
        let loss = match self.loss.take() {
            Some(mut l) => {
                // Its reserved id was never written either; the ids run on without a hole.
                self.lost_total += 1;
                self.file_lost += 1;
                l.last_id = last_id;
                l.events += events;
                l.alerts += alerts;
                l
            }
            None => PendingLoss {
                first_id,
                last_id,
                events,
                alerts,
                error: e.to_string(),
                marker_id: 0,
            },
        };
        let marker_id = self.batch.reserve_id();
        self.loss = Some(PendingLoss { marker_id, ..loss });
    }

    /// Writes the pending `Lost` record, if any, in a frame of its own.
    pub(super) fn write_loss(&mut self) -> Result<(), RecordError> {
        let Some(l) = &self.loss else { return Ok(()) };
        let msg = proto::Lost {
            first_id: l.first_id,
            last_id: l.last_id,
            events: l.events,
            alerts: l.alerts,
            error: l.error.clone(),
            total: self.lost_total,
            time_unix_ns: now_ns(),
        };
        let mut frame = BatchBuilder::new(l.marker_id);
        frame.push(EntryKind::Lost, &msg);
        self.append(FrameKind::Batch, frame.frame_mut())?;
        self.loss = None;
        Ok(())
    }
}
