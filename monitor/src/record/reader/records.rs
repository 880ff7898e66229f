//! Record-level reading: frames decoded into headers, events, alerts and trailers (a batch frame
//! into its entries).
use std::{collections::VecDeque, fs::File, io::Read, path::Path};

use prost::Message;

use super::{Frame, FrameReader, ReaderOptions};
use crate::{
    enrich::Enriched,
    record::{
        context::ContextTable,
        convert,
        format::{EntryKind, FrameError, FrameKind, Problem},
        proto,
    },
};

/// A decoded record: a header or trailer frame, or an entry of a batch frame.
#[derive(Clone, Debug)]
pub enum Record {
    Header(proto::LogHeader),
    Event(Box<Enriched>),
    /// Kept in its recorded form: rebuilding an [`crate::rules::Alert`] needs the triggering event
    /// (see [`convert::alert_from_proto`]).
    Alert(Box<proto::Alert>),
    Drops(proto::Drops),
    /// Records the recorder could not write.
    Lost(proto::Lost),
    Trailer(proto::Trailer),
    /// Process fields the following events refer to (already applied to them).
    Context(Box<proto::Context>),
}

/// A decoded record with where it was.
#[derive(Clone, Debug)]
pub struct Located {
    /// Byte offset in its file (of a header or trailer frame, or of the entry in a batch).
    pub(crate) offset: u64,
    /// A batch entry's id, which alerts name their event by (`batch.rs`); a header's or trailer's
    /// frame sequence number.
    pub(crate) seq: u64,
    pub record: Record,
}

fn payload_err(kind: &'static str, reason: impl ToString) -> Problem {
    Problem::Payload {
        kind,
        reason: reason.to_string(),
    }
}

/// Decodes one batch entry (see [`Frame::entries`]). Contexts also define an entry of `contexts`;
/// events are completed from `contexts`.
pub fn decode_entry(kind: EntryKind, payload: &[u8], contexts: &mut ContextTable) -> Result<Record, Problem> {
    Ok(match kind {
        EntryKind::Context => {
            let c = proto::Context::decode(payload).map_err(|e| payload_err("context", e))?;
            contexts.define(c.clone()).map_err(|e| payload_err("context", e))?;
            Record::Context(Box::new(c))
        }
        EntryKind::Event => {
            let p = proto::Event::decode(payload).map_err(|e| payload_err("event", e))?;
            Record::Event(Box::new(
                convert::event_from_proto(p, contexts).map_err(|e| payload_err("event", e))?,
            ))
        }
        EntryKind::Alert => Record::Alert(Box::new(
            proto::Alert::decode(payload).map_err(|e| payload_err("alert", e))?,
        )),
        EntryKind::Drops => Record::Drops(proto::Drops::decode(payload).map_err(|e| payload_err("drops", e))?),
        EntryKind::Lost => Record::Lost(proto::Lost::decode(payload).map_err(|e| payload_err("lost", e))?),
    })
}

/// Decodes a header or trailer frame (`None` for a batch: its records are its entries).
fn decode_frame(f: &Frame<'_>) -> Option<Result<Record, Problem>> {
    Some(match f.header.kind {
        FrameKind::Header => proto::LogHeader::decode(f.payload)
            .map(Record::Header)
            .map_err(|e| payload_err("header", e)),
        FrameKind::Trailer => proto::Trailer::decode(f.payload)
            .map(Record::Trailer)
            .map_err(|e| payload_err("trailer", e)),
        FrameKind::Batch => return None,
    })
}

/// Record-level reader: frames decoded into [`Record`]s (a batch frame into its entries). An iterator
/// of `Result`s; a truncated tail is an `Err` with [`FrameError::is_truncation`], after every
/// complete record.
pub struct RecordReader<R> {
    frames: FrameReader<R>,
    contexts: ContextTable,
    /// The rest of the current frame's records.
    pending: VecDeque<Result<Located, FrameError>>,
}

impl RecordReader<File> {
    pub fn open(path: &Path, opts: ReaderOptions) -> std::io::Result<Self> {
        Ok(Self::of(FrameReader::open(path, opts)?))
    }
}

impl<R: Read> RecordReader<R> {
    /// A reader of a stream (see [`FrameReader::new`]).
    pub fn new(r: R, opts: ReaderOptions) -> Self {
        Self::of(FrameReader::new(r, opts))
    }

    fn of(frames: FrameReader<R>) -> Self {
        Self {
            frames,
            contexts: ContextTable::default(),
            pending: VecDeque::default(),
        }
    }
}

impl<R: Read> Iterator for RecordReader<R> {
    type Item = Result<Located, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            let f = match self.frames.next_frame()? {
                Ok(f) => f,
                Err(e) => {
                    self.contexts.after_damage(&e);
                    return Some(Err(e));
                }
            };
            if let Some(record) = decode_frame(&f) {
                let (offset, seq) = (f.offset, f.header.seq);
                let item = record
                    .map(|record| Located { offset, seq, record })
                    .map_err(|problem| FrameError { offset, problem });
                self.pending.push_back(item);
            }
            for entry in f.entries() {
                let item = match entry {
                    Ok(e) => decode_entry(e.kind, e.payload, &mut self.contexts)
                        .map(|record| Located {
                            offset: e.offset,
                            seq: e.id,
                            record,
                        })
                        .map_err(|problem| FrameError {
                            offset: e.offset,
                            problem,
                        }),
                    // A malformed batch: the rest of it (which may define contexts) is lost.
                    Err(e) => {
                        self.contexts.after_damage(&e);
                        Err(e)
                    }
                };
                self.pending.push_back(item);
            }
        }
    }
}
