//! Batch frames: the records of a log (contexts, events, alerts, drop notices), several to a frame.
//!
//! A frame costs a 60-byte header, two CRCs and one hash finalisation; records of a busy agent are
//! ~80 bytes each. So the recorder gathers the records of one ring-buffer drain (at most
//! [`super::writer::RecorderOptions::batch_bytes`]) into one Batch frame. Payload layout:
//!
//! ```text
//! varint first_id                    id of the first entry; the next ones count up by one
//! entry*:  kind (1 byte, an EntryKind: context, event, alert or drops)
//!          varint len
//!          len bytes: the protobuf message of that kind (Context, Event, Alert, Drops)
//! ```
//!
//! Entry ids number the records of a log (across its rotated files) from 1 up; an alert names its
//! event by id.
use super::{
    format::{EntryKind, FRAME_HEADER_LEN, FrameError, FrameKind, Problem},
    reader::Frame,
};

/// Largest varint (u64) in bytes.
const MAX_VARINT: usize = 10;

/// Writer side: the payload of the batch being built, after room for the frame header.
#[derive(Default)]
pub(crate) struct BatchBuilder {
    /// Frame header space, `first_id`, entries.
    buf: Vec<u8>,
    entries: u64,
    next_id: u64,
}

impl BatchBuilder {
    /// An empty batch whose first entry will get id `next_id`.
    pub(crate) fn new(next_id: u64) -> Self {
        Self {
            buf: Vec::with_capacity(FRAME_HEADER_LEN + 64 * 1024 + 4096),
            entries: 0,
            next_id,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Entries so far.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }

    /// Size of the frame this batch makes, with an entry of `extra` payload bytes more.
    pub(crate) fn frame_len_with(&self, extra: usize) -> usize {
        let now = if self.is_empty() {
            FRAME_HEADER_LEN + MAX_VARINT
        } else {
            self.buf.len()
        };
        now + 1 + MAX_VARINT + extra
    }

    /// Payload bytes so far.
    pub(crate) fn payload_len(&self) -> usize {
        self.buf.len().saturating_sub(FRAME_HEADER_LEN)
    }

    /// The id the next entry gets.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The id of the batch's first entry (the next id if it is empty).
    pub(crate) fn first_id(&self) -> u64 {
        self.next_id - self.entries
    }

    /// Takes the next id for a record written elsewhere (the batch must be empty).
    pub(crate) fn reserve_id(&mut self) -> u64 {
        debug_assert!(self.is_empty());
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Appends an entry; returns its id.
    pub(crate) fn push(&mut self, kind: EntryKind, msg: &impl prost::Message) -> u64 {
        self.push_sized(kind, msg, msg.encoded_len())
    }

    /// [`Self::push`] of a message whose `encoded_len` the caller has already computed: on the live
    /// recorder's path that walk of the whole event is a tenth of the encoding's cost.
    pub(crate) fn push_sized(&mut self, kind: EntryKind, msg: &impl prost::Message, len: usize) -> u64 {
        debug_assert_eq!(len, msg.encoded_len());
        if self.entries == 0 {
            self.buf.clear();
            self.buf.resize(FRAME_HEADER_LEN, 0);
            prost::encoding::encode_varint(self.next_id, &mut self.buf);
        }
        self.buf.push(kind as u8);
        prost::encoding::encode_varint(len as u64, &mut self.buf);
        msg.encode_raw(&mut self.buf);
        self.entries += 1;
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The frame (header space + payload) to seal and write.
    pub(crate) fn frame_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Empties the batch once its frame was written (or could not be); its ids stay used.
    pub(crate) fn clear(&mut self) {
        self.entries = 0;
        self.buf.clear();
    }
}

/// One record of a batch frame.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// Byte offset of the record in its file: where the entry starts.
    pub offset: u64,
    /// The id alerts refer to it by (see the module doc).
    pub id: u64,
    pub kind: EntryKind,
    pub payload: &'a [u8],
}

/// The records of one batch frame, in order (none for a header or trailer frame). A malformed batch
/// yields an error (naming the entry's offset) and ends.
pub struct Entries<'a> {
    frame_offset: u64,
    payload: &'a [u8],
    /// Position in `payload`; `None` when finished.
    pos: Option<usize>,
    next_id: u64,
}

impl<'a> Entries<'a> {
    pub(crate) fn of(frame: &Frame<'a>) -> Self {
        Self {
            frame_offset: frame.offset,
            payload: frame.payload,
            pos: (frame.header.kind == FrameKind::Batch).then_some(0),
            next_id: 0,
        }
    }

    fn fail(&mut self, at: usize, reason: String) -> Result<Entry<'a>, FrameError> {
        self.pos = None;
        Err(FrameError {
            offset: self.frame_offset + (FRAME_HEADER_LEN + at) as u64,
            problem: Problem::Payload { kind: "batch", reason },
        })
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        let pos = self.pos?;
        let mut at = pos;
        if at == 0 {
            match varint(self.payload, &mut at) {
                Some(id) if id > 0 => self.next_id = id,
                _ => return Some(self.fail(0, "no first entry id".into())),
            }
        }
        if at == self.payload.len() {
            self.pos = None;
            return None;
        }
        let start = at;
        let Some(kind) = EntryKind::from_u8(self.payload[at]) else {
            return Some(self.fail(start, format!("entry kind {} cannot be in a batch", self.payload[at])));
        };
        at += 1;
        let Some(len) = varint(self.payload, &mut at) else {
            return Some(self.fail(start, "entry length cut off".into()));
        };
        let end = match usize::try_from(len).ok().and_then(|l| at.checked_add(l)) {
            Some(end) if end <= self.payload.len() => end,
            _ => return Some(self.fail(start, format!("entry of {len} bytes overruns the batch"))),
        };
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.pos = Some(end);
        Some(Ok(Entry {
            offset: self.frame_offset + (FRAME_HEADER_LEN + start) as u64,
            id,
            kind,
            payload: &self.payload[at..end],
        }))
    }
}

/// A protobuf varint at `*at`, advancing it; `None` if cut off or over 10 bytes.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..MAX_VARINT {
        let byte = *b.get(*at + i)?;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *at += i + 1;
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{
        format::{FrameHeader, ZERO_HASH},
        proto,
    };

    fn frame_of(kind: FrameKind, seq: u64, payload: &[u8]) -> Frame<'_> {
        Frame {
            offset: 1000,
            header: FrameHeader {
                payload_len: payload.len() as u32,
                seq,
                kind,
                payload_crc: 0,
                chain: ZERO_HASH,
            },
            payload,
        }
    }

    #[test]
    fn entries_come_back_with_ids_kinds_and_offsets() {
        let mut b = BatchBuilder::new(41);
        let drops = proto::Drops {
            lost: 3,
            total: 9,
            time_unix_ns: 5,
        };
        assert_eq!(b.push(EntryKind::Drops, &drops), 41);
        assert_eq!(b.push(EntryKind::Context, &proto::Context::default()), 42);
        assert_eq!(b.entries(), 2);
        let frame = b.frame_mut().to_vec();
        b.clear();
        assert!(b.is_empty());
        let payload = &frame[FRAME_HEADER_LEN..];
        let got: Vec<_> = Entries::of(&frame_of(FrameKind::Batch, 7, payload))
            .map(Result::unwrap)
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].id, got[0].kind), (41, EntryKind::Drops));
        assert_eq!(<proto::Drops as prost::Message>::decode(got[0].payload).unwrap(), drops);
        // 1000 (frame) + 60 (header) + 1 (varint 41).
        assert_eq!(got[0].offset, 1061);
        assert_eq!(
            (got[1].id, got[1].kind, got[1].payload.len()),
            (42, EntryKind::Context, 0)
        );
        // The next batch goes on counting.
        assert_eq!(b.push(EntryKind::Drops, &drops), 43);
    }

    #[test]
    fn header_and_trailer_frames_hold_no_entries() {
        for kind in [FrameKind::Header, FrameKind::Trailer] {
            assert_eq!(Entries::of(&frame_of(kind, 12, b"xyz")).count(), 0);
        }
    }

    #[test]
    fn malformed_batches_are_reported_where_they_break() {
        for (payload, at) in [
            (&[][..], 1060),
            (&[0x80][..], 1060),
            (&[0][..], 1060),             // id 0
            (&[5, 1, 0][..], 1061),       // a header inside a batch
            (&[5, 2][..], 1061),          // length missing
            (&[5, 2, 3, 0xaa][..], 1061), // 3 bytes announced, 1 present
            (&[5, 2, 0, 9, 0][..], 1063), // unknown kind after a good entry
        ] {
            let items: Vec<_> = Entries::of(&frame_of(FrameKind::Batch, 1, payload)).collect();
            let err = items.last().unwrap().as_ref().expect_err("malformed");
            assert_eq!(err.offset, at, "{payload:?}");
            assert!(items[..items.len() - 1].iter().all(Result::is_ok));
        }
    }
}
