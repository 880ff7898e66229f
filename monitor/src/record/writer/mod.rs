//! The recorder: appends frames to a log, rotating by size.
//!
//! Durability policy (see `docs/RECORDING.md`):
//! - records (contexts, events, alerts, drop notices) are gathered into a Batch frame (`batch.rs`),
//!   which is handed to the kernel with one `write(2)` on an `O_APPEND` descriptor when
//!   the caller ends the batch ([`Recorder::end_batch`]: the live pipeline does after every
//!   ring-buffer drain), when it reaches [`RecorderOptions::batch_bytes`], and right after an alert
//!   or a drop notice. No other user-space buffering: a crash or `kill -9` of agentmon loses at most
//!   the frame being built or written (a truncated tail the reader reports);
//! - `fdatasync(2)` every [`RecorderOptions::sync_every_frames`] frames or when a frame comes
//!   [`RecorderOptions::sync_interval`] after the last sync, on rotation, on [`Recorder::flush`] and on
//!   close: this bounds what a machine crash (power loss, kernel panic) can take.
//! - a failed write is cut back off the file (`ftruncate` to the last complete frame) and returned as
//!   an error, so a full disk never leaves a half frame in the middle of the log;
//! - loss is never silent: the records of a batch that could not be written are accounted for by a
//!   `Lost` record (their ids, how many events and alerts, the error), which takes the next id and is
//!   written in a frame of its own at once (a small write may still fit) or, failing that, before
//!   anything else as soon as writes succeed again. Until it is written nothing else is: ids in a
//!   log only increase, and every gap is followed by the record that explains it
//!   ([`Recorder::lost_total`] counts them; `log verify` reports the gap).
use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use prost::Message;

use super::{
    RecordError,
    batch::BatchBuilder,
    context::ContextCache,
    convert,
    format::{self, ChainHash, EntryKind, FRAME_HEADER_LEN, FrameKind, MAX_PAYLOAD_LEN, ZERO_HASH},
    proto,
};
use crate::{enrich::Enriched, rules::Alert};

mod files;
mod loss;

use files::{Ident, open_new};
pub(crate) use files::{now_ns, rotated_path};
use loss::PendingLoss;

/// Smallest accepted `max_bytes` (a header and a few frames must fit).
pub(crate) const MIN_MAX_BYTES: u64 = 1024;

#[derive(Clone, Debug)]
pub struct RecorderOptions {
    /// Continue in `FILE.1`, `FILE.2`, … when the current file would grow past this many bytes.
    /// `None`: one file, unbounded.
    pub max_bytes: Option<u64>,
    /// `fdatasync` after this many frames since the last sync; 0: not by count.
    pub sync_every_frames: u64,
    /// `fdatasync` when a frame is written at least this long after the last sync.
    pub sync_interval: Option<Duration>,
    /// A batch is written once its payload reaches this many bytes (at least one record per batch).
    pub batch_bytes: usize,
}

/// Default [`RecorderOptions::batch_bytes`].
pub(crate) const DEFAULT_BATCH_BYTES: usize = 64 * 1024;

impl Default for RecorderOptions {
    fn default() -> Self {
        Self {
            max_bytes: None,
            sync_every_frames: 4096,
            sync_interval: Some(Duration::from_secs(1)),
            batch_bytes: DEFAULT_BATCH_BYTES,
        }
    }
}

/// An open log. Not shared between threads: the live pipeline owns it.
pub struct Recorder {
    base: PathBuf,
    path: PathBuf,
    file: File,
    file_index: u32,
    file_len: u64,
    file_frames: u64,
    file_events: u64,
    file_alerts: u64,
    /// Records put in batches of this file (the context cache's clock).
    file_records: u64,
    next_seq: u64,
    chain: ChainHash,
    opts: RecorderOptions,
    unsynced: u64,
    last_sync: Instant,
    ident: Ident,
    closed: bool,
    /// Process contexts defined in the current file.
    contexts: ContextCache,
    /// Records not written yet, and how many of them are events and alerts.
    batch: BatchBuilder,
    batch_events: u64,
    batch_alerts: u64,
    /// Id of the last record written to the file (0: none yet).
    written_id: u64,
    /// Records lost and not yet accounted for in the log, with the id reserved for their `Lost`
    /// record.
    loss: Option<PendingLoss>,
    /// Records lost since the recording began.
    lost_total: u64,
    /// Records lost while the current file was being written.
    file_lost: u64,
    /// Recent lost id ranges (for [`Recorder::was_lost`]).
    lost_ranges: std::collections::VecDeque<(u64, u64)>,
    /// The previous file's name, for the current file's header.
    prev_file: String,
    /// Rotations that failed (logged at the 1st, 2nd, 4th, …).
    rotation_failures: u64,
    /// The last event entry, kept for its buffers ([`convert::event_to_proto_into`]).
    event_scratch: proto::Event,
}
impl Recorder {
    /// Creates `path` (which must not exist) and writes its header frame.
    pub fn create(path: impl AsRef<Path>, opts: RecorderOptions) -> Result<Self, RecordError> {
        let base = path.as_ref().to_path_buf();
        if let Some(max) = opts.max_bytes
            && max < MIN_MAX_BYTES
        {
            return Err(RecordError::io(
                &base,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("--record-max-bytes {max} is below the minimum of {MIN_MAX_BYTES}"),
                ),
            ));
        }
        let file = open_new(&base)?;
        let mut r = Self {
            path: base.clone(),
            base,
            file,
            file_index: 0,
            file_len: 0,
            file_frames: 0,
            file_events: 0,
            file_alerts: 0,
            file_records: 0,
            next_seq: 0,
            chain: ZERO_HASH,
            opts,
            unsynced: 0,
            last_sync: Instant::now(),
            ident: Ident::current(),
            closed: false,
            contexts: ContextCache::default(),
            batch: BatchBuilder::new(1),
            batch_events: 0,
            batch_alerts: 0,
            written_id: 0,
            loss: None,
            lost_total: 0,
            file_lost: 0,
            lost_ranges: std::collections::VecDeque::new(),
            prev_file: String::new(),
            rotation_failures: 0,
            event_scratch: proto::Event::default(),
        };
        r.write_log_header(String::new())?;
        Ok(r)
    }

    /// The file being written.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records an enriched event in the current batch; returns its id (for
    /// [`Recorder::record_alert`]). The event's process fields go in a Context record just before it
    /// when they are new (see `context.rs`); both land in the same batch. An error means a batch
    /// that was due could not be written (its records are lost, this event is not recorded).
    pub fn record_event(&mut self, ev: &Enriched) -> Result<u64, RecordError> {
        let time_ns = convert::time_ns(ev);
        let mut ctx = self.contexts.context_for(ev, time_ns, self.file_records);
        let mut msg = std::mem::take(&mut self.event_scratch);
        convert::event_to_proto_into(ev, &ctx, time_ns, &mut msg);
        let mut msg_len = msg.encoded_len();
        let mut def_len = ctx.define.as_ref().map_or(0, Message::encoded_len);
        // Two entries' kind byte and length are within the room `make_room` adds for one.
        let rotated = match self.make_room(msg_len + def_len + 12) {
            Ok(rotated) => rotated,
            Err(e) => {
                self.event_scratch = msg;
                return Err(e);
            }
        };
        if rotated {
            // A new file: its contexts start afresh.
            ctx = self.contexts.context_for(ev, time_ns, self.file_records);
            convert::event_to_proto_into(ev, &ctx, time_ns, &mut msg);
            msg_len = msg.encoded_len();
            def_len = ctx.define.as_ref().map_or(0, Message::encoded_len);
        }
        if let Some(def) = &ctx.define {
            self.push(EntryKind::Context, def, def_len);
        }
        let id = self.push(EntryKind::Event, &msg, msg_len);
        self.event_scratch = msg;
        self.end_batch_if_full()?;
        Ok(id)
    }

    /// Records an alert and writes it (with the batch it ends) at once. `event_id` is what
    /// [`Recorder::record_event`] returned for the triggering event; 0 if it was not recorded (the
    /// event is then stored inside the alert).
    pub fn record_alert(&mut self, alert: &Alert, event_id: u64) -> Result<(), RecordError> {
        self.record_alert_as(convert::alert_to_proto(alert, event_id))
    }

    /// [`Recorder::record_alert`] for an alert recorded long after its event: it also carries a copy
    /// of the event, so it can be rebuilt however far back the event is.
    pub(crate) fn record_alert_with_event(&mut self, alert: &Alert, event_id: u64) -> Result<(), RecordError> {
        let mut msg = convert::alert_to_proto(alert, event_id);
        msg.event
            .get_or_insert_with(|| convert::embedded_event_to_proto(&alert.event));
        self.record_alert_as(msg)
    }

    fn record_alert_as(&mut self, msg: proto::Alert) -> Result<(), RecordError> {
        let len = msg.encoded_len();
        self.make_room(len)?;
        self.push(EntryKind::Alert, &msg, len);
        self.end_batch()
    }

    /// Records a ring-buffer drop notice (events lost before they reached agentmon) and writes it at
    /// once.
    pub(crate) fn record_drops(&mut self, lost: u64, total: u64) -> Result<(), RecordError> {
        let msg = proto::Drops {
            lost,
            total,
            time_unix_ns: now_ns(),
        };
        let len = msg.encoded_len();
        self.make_room(len)?;
        self.push(EntryKind::Drops, &msg, len);
        self.end_batch()
    }

    /// Adds a record to the batch and counts it; returns its id.
    fn push(&mut self, kind: EntryKind, msg: &impl Message, len: usize) -> u64 {
        self.file_records += 1;
        match kind {
            EntryKind::Event => self.batch_events += 1,
            EntryKind::Alert => self.batch_alerts += 1,
            EntryKind::Context | EntryKind::Drops | EntryKind::Lost => {}
        }
        self.batch.push_sized(kind, msg, len)
    }

    /// Before adding a record of about `len` bytes: writes the batch if the record would make it too
    /// large, and rotates if the file would outgrow its limit. Returns whether it rotated. A batch
    /// that cannot be written is lost (and accounted for, see [`Recorder::end_batch`]), a rotation
    /// that fails is tried again with the next record: the new record still goes in the next batch.
    fn make_room(&mut self, len: usize) -> Result<bool, RecordError> {
        if len > MAX_PAYLOAD_LEN - 32 {
            return Err(RecordError::TooLarge(len));
        }
        let frame_len = self.batch.frame_len_with(len);
        if !self.batch.is_empty()
            && (frame_len - FRAME_HEADER_LEN > self.opts.batch_bytes.max(1) || frame_len > MAX_PAYLOAD_LEN)
        {
            let _ = self.end_batch();
        }
        if self.needs_rotation(self.batch.frame_len_with(len)) {
            let _ = self.end_batch();
            match self.rotate() {
                Ok(()) => return Ok(true),
                Err(e) => {
                    self.rotation_failures += 1;
                    if self.rotation_failures.is_power_of_two() {
                        tracing::error!(
                            path = %self.path.display(),
                            failures = self.rotation_failures,
                            "rotating the recording failed, going on in the current file: {e}"
                        );
                    }
                }
            }
        }
        Ok(false)
    }

    /// A `Lost` record is waiting to be written (writes are failing).
    pub(crate) fn loss_pending(&self) -> bool {
        self.loss.is_some()
    }

    fn end_batch_if_full(&mut self) -> Result<(), RecordError> {
        if self.batch.payload_len() >= self.opts.batch_bytes {
            self.end_batch()?;
        }
        Ok(())
    }

    /// Writes the records gathered so far as one frame (nothing if there are none). The live
    /// pipeline calls this after every ring-buffer drain.
    pub fn end_batch(&mut self) -> Result<(), RecordError> {
        if self.batch.is_empty() {
            // A loss not marked yet is marked as soon as a write succeeds, records or not.
            return self.write_loss();
        }
        let (events, alerts) = (self.batch_events, self.batch_alerts);
        (self.batch_events, self.batch_alerts) = (0, 0);
        let last_id = self.batch.next_id() - 1;
        let first_id = self.batch.first_id();
        // A loss not yet in the log goes first; while it cannot be written, neither can this batch.
        let res = match self.write_loss() {
            Ok(()) => {
                let mut batch = std::mem::take(&mut self.batch);
                let res = self.append(FrameKind::Batch, batch.frame_mut());
                batch.clear();
                self.batch = batch;
                res.map(|_| ())
            }
            Err(e) => {
                self.batch.clear();
                Err(e)
            }
        };
        if let Err(e) = res {
            // Contexts defined in the lost batch are unknown to readers: define everything again.
            self.contexts.clear();
            self.lose(first_id, last_id, events, alerts, &e);
            // A small frame may still fit (the file's last block): say so at once if it does.
            let _ = self.write_loss();
            return Err(e);
        }
        self.file_events += events;
        self.file_alerts += alerts;
        self.written_id = last_id;
        self.maybe_sync()
    }

    /// Puts `file` where the recording is written and returns the file that was there (tests make
    /// writes fail with `/dev/full`).
    #[cfg(test)]
    pub(crate) fn replace_file(&mut self, file: File) -> File {
        std::mem::replace(&mut self.file, file)
    }

    /// Records lost since the recording began (write failures; each also accounted for by a `Lost`
    /// record in the log once a write succeeds again).
    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// Whether the record with this id was lost (among the recent losses).
    pub(crate) fn was_lost(&self, id: u64) -> bool {
        self.lost_ranges.iter().any(|&(a, b)| (a..=b).contains(&id))
    }

    /// Id of the last record handed to the kernel (0: none yet): what a crash of agentmon cannot
    /// take any more.
    pub fn written_id(&self) -> u64 {
        self.written_id
    }

    /// Writes the batch and makes everything written so far durable (`fdatasync`).
    pub(crate) fn flush(&mut self) -> Result<(), RecordError> {
        self.end_batch()?;
        self.sync()
    }

    fn sync(&mut self) -> Result<(), RecordError> {
        self.file.sync_data().map_err(|e| RecordError::io(&self.path, e))?;
        self.unsynced = 0;
        self.last_sync = Instant::now();
        Ok(())
    }

    /// Writes the trailer and syncs. Dropping a recorder does the same, logging errors.
    pub fn close(mut self) -> Result<(), RecordError> {
        self.close_inner()
    }

    fn close_inner(&mut self) -> Result<(), RecordError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let batch = self.end_batch();
        // The trailer counts what was lost even when its `Lost` record could not be written.
        let _ = self.write_loss();
        self.write_trailer(proto::trailer::Reason::Closed, String::new())?;
        batch?;
        self.sync()
    }

    /// Seals `buf` (frame header space + payload) with the next sequence number and writes it with
    /// one `write(2)`.
    fn append(&mut self, kind: FrameKind, buf: &mut [u8]) -> Result<u64, RecordError> {
        if kind != FrameKind::Header && self.file_frames == 0 {
            // A rotation could not write the new file's header: it goes first.
            self.write_log_header(self.prev_file.clone())?;
        }
        let seq = self.next_seq;
        let chain = format::seal(buf, kind, seq, &self.chain);
        if let Err(e) = (&self.file).write_all(buf) {
            // Never leave half a frame behind valid ones: cut the file back to its last whole frame.
            if let Err(t) = self.file.set_len(self.file_len) {
                tracing::error!(path = %self.path.display(), "could not cut a partial frame off: {t}");
            }
            return Err(RecordError::io(&self.path, e));
        }
        self.file_len += buf.len() as u64;
        self.file_frames += 1;
        self.unsynced += 1;
        self.next_seq += 1;
        self.chain = chain;
        Ok(seq)
    }

    fn maybe_sync(&mut self) -> Result<(), RecordError> {
        let by_count = self.opts.sync_every_frames > 0 && self.unsynced >= self.opts.sync_every_frames;
        let by_time = self.opts.sync_interval.is_some_and(|i| self.last_sync.elapsed() >= i);
        if by_count || by_time { self.flush() } else { Ok(()) }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Err(e) = self.close_inner() {
            tracing::error!(path = %self.path.display(), "closing the recording: {e}");
        }
    }
}

/// Frame header space, then the encoded message.
fn encode_into(buf: &mut Vec<u8>, msg: &impl Message) -> Result<(), RecordError> {
    let len = msg.encoded_len();
    if len > MAX_PAYLOAD_LEN {
        return Err(RecordError::TooLarge(len));
    }
    buf.clear();
    buf.reserve(FRAME_HEADER_LEN + len);
    buf.resize(FRAME_HEADER_LEN, 0);
    msg.encode_raw(buf);
    Ok(())
}
