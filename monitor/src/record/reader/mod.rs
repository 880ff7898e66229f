//! Streaming log reader: frames with their byte offsets, checked one by one, in memory that does not
//! grow with the log (one buffer of 256 KiB, or of the largest frame).
//!
//! - End of the file inside a frame: a [`Problem::Truncated`] error (a warning for callers: every
//!   complete frame before it was yielded), then the end.
//! - A damaged frame: an error naming its offset, then the end — or, with
//!   [`ReaderOptions::resync`], a scan for the next intact frame, from which reading continues.
//! - An intact frame that does not continue the chain (a frame removed, reordered or inserted): an
//!   error, then the end — or, with `resync`, that frame is accepted and the chain goes on from it.
//!
//! No input makes it panic; sizes are bounded by [`MAX_PAYLOAD_LEN`]. A frame's claimed length is
//! checked against what the file holds before anything is read for it, and the search for the next
//! intact frame after damage checks every candidate's payload checksum from one pass of running
//! CRCs over the bytes (see [`FrameReader::scan`]), so reading costs time linear in the bytes
//! present, whatever lengths crafted frame headers claim.
use std::{fs::File, io::Read, path::Path};

use prost::Message;

use super::{
    batch::Entries,
    format::{
        self, ChainHash, FORMAT_VERSION, FRAME_HEADER_LEN, FRAME_MAGIC, FrameError, FrameHeader, FrameKind, LOG_MAGIC,
        MAX_PAYLOAD_LEN, Problem,
    },
    proto,
};

mod records;
mod source;

pub use records::{Located, Record, RecordReader, decode_entry};
use source::Source;

const CHUNK: usize = 256 * 1024;

#[derive(Clone, Copy, Debug, Default)]
pub struct ReaderOptions {
    /// After a damaged or out-of-chain frame, go on with the next intact frame instead of stopping.
    pub resync: bool,
    /// Check checksums and sequence numbers only, not the hash chain: damage, truncation and
    /// missing or reordered frames are still found, a forgery with fixed-up checksums is not (that is
    /// what `log verify` is for). Replay of an already verified log uses it.
    pub skip_chain: bool,
}

/// One intact frame, borrowed from the reader until the next call.
#[derive(Debug)]
pub struct Frame<'a> {
    /// Byte offset of the frame in its file.
    pub offset: u64,
    pub header: FrameHeader,
    pub(crate) payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// The records the frame holds: the entries of a batch (none for a header or trailer).
    pub fn entries(&self) -> Entries<'a> {
        Entries::of(self)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Frames,
    /// Looking for the next intact frame after damage.
    Scanning,
    Done,
}

/// Frame-level reader: checksums, sequence and chain.
pub struct FrameReader<R> {
    src: Source<R>,
    opts: ReaderOptions,
    mode: Mode,
    pending_consume: usize,
    /// Take the next frame without sequence/chain/position checks (resynchronising).
    accept_unlinked: bool,
    expect_seq: u64,
    prev_chain: ChainHash,
    after_trailer: bool,
    header: Option<proto::LogHeader>,
    frames: u64,
    /// A frame claiming more than the input holds was reported (cut-off frames after it are not).
    tail_reported: bool,
}

impl FrameReader<File> {
    pub fn open(path: &Path, opts: ReaderOptions) -> std::io::Result<Self> {
        let f = File::open(path)?;
        let len = f.metadata()?.len();
        Ok(Self::with_len(f.try_clone()?, opts, Some((len, f))))
    }
}

impl<R: Read> FrameReader<R> {
    /// A reader of a stream whose length is not known (claimed lengths are then checked as the
    /// bytes arrive).
    pub fn new(r: R, opts: ReaderOptions) -> Self {
        Self::with_len(r, opts, None)
    }

    fn with_len(r: R, opts: ReaderOptions, len: Option<(u64, File)>) -> Self {
        Self {
            src: Source::new(r, len),
            opts,
            mode: Mode::Frames,
            pending_consume: 0,
            accept_unlinked: false,
            expect_seq: 0,
            prev_chain: format::ZERO_HASH,
            after_trailer: false,
            header: None,
            frames: 0,
            tail_reported: false,
        }
    }

    /// The file's header, once its first frame was read.
    pub(crate) fn log_header(&self) -> Option<&proto::LogHeader> {
        self.header.as_ref()
    }

    /// Bytes consumed so far (for progress reporting).
    pub(crate) fn position(&self) -> u64 {
        self.src.pos + self.pending_consume as u64
    }

    fn fail(&mut self, offset: u64, problem: Problem, resumable: bool) -> FrameError {
        self.mode = if self.opts.resync && resumable {
            // Start looking one byte further on.
            self.pending_consume = 1;
            Mode::Scanning
        } else {
            Mode::Done
        };
        FrameError { offset, problem }
    }

    /// The next intact frame, or the next problem; `None` at the end.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, FrameError>> {
        loop {
            if self.mode == Mode::Done {
                return None;
            }
            let n = std::mem::take(&mut self.pending_consume);
            self.src.consume(n);
            if self.mode == Mode::Scanning {
                match self.scan() {
                    Ok(true) => {
                        self.mode = Mode::Frames;
                        self.accept_unlinked = true;
                    }
                    Ok(false) => {
                        self.mode = Mode::Done;
                        return None;
                    }
                    Err(e) => {
                        let offset = self.src.pos;
                        return Some(Err(self.fail(offset, Problem::Io(e.to_string()), false)));
                    }
                }
            }
            match self.step() {
                Step::Frame(header) => {
                    let len = header.frame_len();
                    self.pending_consume = len;
                    self.frames += 1;
                    let offset = self.src.pos;
                    // step() made sure the whole frame is buffered.
                    let payload = self.src.bytes().get(FRAME_HEADER_LEN..len)?;
                    return Some(Ok(Frame {
                        offset,
                        header,
                        payload,
                    }));
                }
                Step::Skip(len) => {
                    self.pending_consume = len;
                }
                Step::End => {
                    self.mode = Mode::Done;
                    return None;
                }
                Step::Error(e) => return Some(Err(e)),
            }
        }
    }

    /// Moves to the next offset that starts an intact frame (magic, header checksum, a length the
    /// input can hold, payload checksum), or to a frame cut off by the end of the input; false at the
    /// end.
    ///
    /// Crafted headers may each claim up to 16 MiB, overlapping one another; checking each claimed
    /// payload on its own would cost their lengths times their number. Instead the candidates that
    /// start within the next [`CHUNK`] bytes are checked together: one pass of a running CRC32C over
    /// the bytes up to the farthest claimed end records the CRC at each payload's start and end, and a
    /// payload's own CRC follows from those two (CRC32C is linear:
    /// `crc(B) = crc(A‖B) ⊕ combine(crc(A), 0, |B|)`). Each step costs at most one frame's length
    /// and moves on by [`CHUNK`] bytes (or stops at a frame), so a scan costs at most
    /// `MAX_PAYLOAD_LEN / CHUNK` (64) passes over the bytes it skips: linear in the bytes present.
    fn scan(&mut self) -> std::io::Result<bool> {
        loop {
            let avail = self.src.fill(CHUNK + FRAME_HEADER_LEN)?;
            if avail < FRAME_MAGIC.len() {
                return Ok(false);
            }
            // Candidates start before `zone`; a header needs all of its 60 bytes.
            let zone = if avail >= CHUNK + FRAME_HEADER_LEN {
                CHUNK
            } else {
                avail
            };
            let mut cands: Vec<(usize, usize, u32)> = Vec::new();
            let mut tail = None;
            let mut reach = 0;
            let magics: Vec<usize> =
                memchr::memmem::find_iter(&self.src.bytes()[..(zone + 3).min(avail)], &FRAME_MAGIC)
                    .take_while(|&i| i < zone)
                    .collect();
            for i in magics {
                let Some(raw) = self.src.bytes().get(i..i + FRAME_HEADER_LEN) else {
                    // A header cut off by the end of the input.
                    tail.get_or_insert(i);
                    continue;
                };
                let mut head = [0u8; FRAME_HEADER_LEN];
                head.copy_from_slice(raw);
                let Ok(h) = format::parse_header(&head) else {
                    continue;
                };
                let end = i + h.frame_len();
                if !self.src.can_hold(end) {
                    tail.get_or_insert(i);
                    continue;
                }
                reach = reach.max(end);
                cands.push((i, end, h.payload_crc));
            }
            let avail = self.src.fill(reach)?;
            let bytes = self.src.bytes();
            // The CRC of bytes[..p] at every payload start and end, in one pass.
            let mut points: Vec<usize> = cands
                .iter()
                .filter(|&&(_, end, _)| end <= avail)
                .flat_map(|&(i, end, _)| [i + FRAME_HEADER_LEN, end])
                .collect();
            points.sort_unstable();
            points.dedup();
            let mut at = Vec::with_capacity(points.len());
            let (mut crc, mut done) = (0u32, 0usize);
            for p in points {
                crc = crc32c::crc32c_append(crc, &bytes[done..p]);
                done = p;
                at.push((p, crc));
            }
            let crc_at = |p: usize| at.binary_search_by_key(&p, |&(q, _)| q).ok().map(|k| at[k].1);
            for &(i, end, stored) in &cands {
                if end > avail {
                    // A stream that ended inside the claimed frame.
                    tail.get_or_insert(i);
                    continue;
                }
                let start = i + FRAME_HEADER_LEN;
                if let (Some(a), Some(b)) = (crc_at(start), crc_at(end))
                    && b ^ crc32c::crc32c_combine(a, 0, end - start) == stored
                {
                    self.src.consume(i);
                    return Ok(true);
                }
            }
            if zone < CHUNK {
                // The end of the input: a cut-off frame there is reported as such.
                // One such report is enough: after a frame that claims more than the input holds,
                // the frames cut off further on are the same damage.
                return Ok(match tail.filter(|_| !self.tail_reported) {
                    Some(i) => {
                        self.src.consume(i);
                        true
                    }
                    None => false,
                });
            }
            self.src.consume(zone);
        }
    }

    fn step(&mut self) -> Step {
        let offset = self.src.pos;
        let avail = match self.src.fill(FRAME_HEADER_LEN) {
            Ok(a) => a,
            Err(e) => return Step::Error(self.fail(offset, Problem::Io(e.to_string()), false)),
        };
        if avail == 0 {
            if offset == 0 {
                return Step::Error(self.fail(offset, Problem::NotALog("empty file".into()), false));
            }
            return Step::End;
        }
        if avail < FRAME_HEADER_LEN {
            let bytes = self.src.bytes();
            let k = bytes.len().min(4);
            let problem = if bytes[..k] == FRAME_MAGIC[..k] {
                Problem::Truncated {
                    have: avail as u64,
                    need: FRAME_HEADER_LEN as u64,
                }
            } else {
                let mut found = [0u8; 4];
                found[..k].copy_from_slice(&bytes[..k]);
                Problem::BadMagic { found }
            };
            return Step::Error(self.fail(offset, problem, false));
        }
        let mut raw = [0u8; FRAME_HEADER_LEN];
        raw.copy_from_slice(&self.src.bytes()[..FRAME_HEADER_LEN]);
        let h = match format::parse_header(&raw) {
            Ok(h) => h,
            Err(p) => {
                let p = if offset == 0 && matches!(p, Problem::BadMagic { .. }) {
                    Problem::NotALog("no frame magic at byte 0".into())
                } else {
                    p
                };
                let resumable = offset != 0 || !matches!(p, Problem::NotALog(_));
                return Step::Error(self.fail(offset, p, resumable));
            }
        };
        let need = h.frame_len();
        // What the file cannot hold is not read (nor buffered): a cut-off tail, or a crafted length
        // in the middle of the file — which is why the search goes on after it (with `resync`).
        if !self.src.can_hold(need) {
            let have = self.src.remaining().unwrap_or(0);
            let p = Problem::Truncated {
                have,
                need: need as u64,
            };
            self.tail_reported = true;
            return Step::Error(self.fail(offset, p, true));
        }
        let avail = match self.src.fill(need) {
            Ok(a) => a,
            Err(e) => return Step::Error(self.fail(offset, Problem::Io(e.to_string()), false)),
        };
        if avail < need {
            let p = Problem::Truncated {
                have: avail as u64,
                need: need as u64,
            };
            self.tail_reported = true;
            return Step::Error(self.fail(offset, p, true));
        }
        // The usual case first: a frame that continues the chain. The chain's hash covers the
        // payload, so its CRC is then redundant; it is checked only to tell damage from the other
        // problems.
        let linked = offset != 0
            && !self.accept_unlinked
            && h.kind != FrameKind::Header
            && !self.after_trailer
            && h.seq == self.expect_seq
            && (self.opts.skip_chain
                || format::check_chain(&self.prev_chain, &raw, &h, &self.src.bytes()[FRAME_HEADER_LEN..need]).is_ok());
        if (!linked || self.opts.skip_chain)
            && let Err(p) = format::check_payload(&h, &self.src.bytes()[FRAME_HEADER_LEN..need])
        {
            return Step::Error(self.fail(offset, p, true));
        }
        if offset == 0 {
            if let Err(p) = self.accept_log_header(&h, &raw, need) {
                return Step::Error(self.fail(offset, p, false));
            }
        } else if !self.accept_unlinked {
            let problem = if linked {
                None
            } else if h.kind == FrameKind::Header {
                Some(Problem::Misplaced("header frame in the middle of a file"))
            } else if self.after_trailer {
                Some(Problem::Misplaced("frame after the trailer (file was closed)"))
            } else if h.seq != self.expect_seq {
                Some(Problem::Sequence {
                    expected: self.expect_seq,
                    found: h.seq,
                })
            } else {
                Some(Problem::Chain)
            };
            if let Some(problem) = problem {
                if !self.opts.resync {
                    return Step::Error(self.fail(offset, problem, false));
                }
                // Report, then accept this same frame on the next call and go on from it.
                self.accept_unlinked = true;
                return Step::Error(FrameError { offset, problem });
            }
        } else if h.kind == FrameKind::Header {
            // A header somewhere in the middle is never a continuation point.
            self.accept_unlinked = false;
            return Step::Skip(need);
        }
        self.accept_unlinked = false;
        self.after_trailer = h.kind == FrameKind::Trailer;
        self.expect_seq = h.seq.wrapping_add(1);
        self.prev_chain = h.chain;
        Step::Frame(h)
    }

    fn accept_log_header(&mut self, h: &FrameHeader, raw: &[u8; FRAME_HEADER_LEN], need: usize) -> Result<(), Problem> {
        if h.kind != FrameKind::Header {
            return Err(Problem::NotALog(format!(
                "first frame is a {} frame, not a header",
                h.kind.name()
            )));
        }
        let payload = &self.src.bytes()[FRAME_HEADER_LEN..need];
        let lh = proto::LogHeader::decode(payload).map_err(|e| Problem::Payload {
            kind: "header",
            reason: e.to_string(),
        })?;
        if lh.magic != LOG_MAGIC {
            return Err(Problem::NotALog(format!("header magic {:?}", lh.magic)));
        }
        if lh.format_version != FORMAT_VERSION {
            return Err(Problem::Unsupported(format!(
                "format version {} (this agentmon reads format {FORMAT_VERSION})",
                lh.format_version
            )));
        }
        let prev: ChainHash = lh
            .prev_chain_hash
            .as_slice()
            .try_into()
            .map_err(|_| Problem::NotALog(format!("prev_chain_hash of {} bytes", lh.prev_chain_hash.len())))?;
        format::check_chain(&prev, raw, h, payload)?;
        self.header = Some(lh);
        Ok(())
    }
}

enum Step {
    Frame(FrameHeader),
    Skip(usize),
    End,
    Error(FrameError),
}

// Keep the limit visible to readers of this module: the reader never buffers more than one frame.
const _: () = assert!(MAX_PAYLOAD_LEN + FRAME_HEADER_LEN < u32::MAX as usize);
