//! The frame layout of agentmon logs (format version 3). `docs/RECORDING.md` is the prose version.
//!
//! A log file is a sequence of frames: a header frame, batch frames (each holding several records,
//! `batch.rs`), and a trailer frame when the file was closed or rotated. Every frame is a fixed
//! 60-byte frame header followed by `payload_len` bytes of payload. Integers are little-endian.
//!
//! | offset | size | field                                                               |
//! |-------:|-----:|---------------------------------------------------------------------|
//! |      0 |    4 | magic `"AMLF"`                                                      |
//! |      4 |    4 | `payload_len` (u32, ≤ [`MAX_PAYLOAD_LEN`])                          |
//! |      8 |    8 | `seq` (u64): position in the chain, +1 per frame, across rotations  |
//! |     16 |    1 | `kind` ([`FrameKind`])                                              |
//! |     17 |    3 | reserved, zero                                                      |
//! |     20 |    4 | `payload_crc` = CRC32C(payload)                                     |
//! |     24 |   32 | `chain` = H(prev chain ‖ bytes 4..24 ‖ payload), H: [`chain_hash`]   |
//! |     56 |    4 | `header_crc` = CRC32C(bytes 0..56)                                  |
//! |     60 |    N | payload                                                             |
//!
//! The header CRC is checked before `payload_len` is trusted, so a damaged length reads as corruption,
//! never as a truncated file. The chain covers the length, sequence number, kind and payload of every
//! frame before, so a removed, reordered, replaced or inserted frame breaks it.
use thiserror::Error;

pub(crate) const FRAME_MAGIC: [u8; 4] = *b"AMLF";
pub const FRAME_HEADER_LEN: usize = 60;
/// Largest payload accepted (writer and reader).
pub(crate) const MAX_PAYLOAD_LEN: usize = 16 << 20;
/// `LogHeader.magic`.
pub(crate) const LOG_MAGIC: &str = "agentmon-log";
/// The format version written, and the only one read.
pub(crate) const FORMAT_VERSION: u32 = 3;
/// Context ids are slots `1..=MAX_CONTEXTS` (bounds the reader's memory).
pub(crate) const MAX_CONTEXTS: u32 = 4096;
/// A writer redefines a context it keeps using after this many records, so a damaged frame that
/// defined it costs the context of a bounded number of events.
pub(crate) const CONTEXT_REFRESH_RECORDS: u64 = 1024;

pub(crate) type ChainHash = [u8; 32];
/// The chain's starting value for file 0.
pub(crate) const ZERO_HASH: ChainHash = [0; 32];

/// What a frame's payload is. (The numbers are shared with [`EntryKind`], so a kind byte never
/// means two things.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// `LogHeader`: first frame of every file.
    Header = 1,
    /// `Trailer`: last frame of a cleanly closed or rotated file.
    Trailer = 5,
    /// Records: context, event, alert and drops entries (see `batch.rs`).
    Batch = 7,
}

impl FrameKind {
    const ALL: [Self; 3] = [Self::Header, Self::Trailer, Self::Batch];

    pub(crate) fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u8 == v)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Trailer => "trailer",
            Self::Batch => "batch",
        }
    }
}

/// What a record (an entry of a batch frame) is: the protobuf message its bytes hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum EntryKind {
    /// One enriched event.
    Event = 2,
    /// One verdict.
    Alert = 3,
    /// Events lost in the ring buffer.
    Drops = 4,
    /// Process fields shared by the events that follow.
    Context = 6,
    /// Records the recorder could not write (their ids are missing from the log).
    Lost = 8,
}

impl EntryKind {
    const ALL: [Self; 5] = [Self::Event, Self::Alert, Self::Drops, Self::Context, Self::Lost];

    pub(crate) fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| *k as u8 == v)
    }
}

/// What is wrong with a frame (or with the bytes where a frame should start).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum Problem {
    #[error("log ends inside a frame: {have} of its {need} bytes are present (crash while writing?)")]
    Truncated { have: u64, need: u64 },
    #[error("no frame magic (bytes {found:02x?})")]
    BadMagic { found: [u8; 4] },
    #[error("frame header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    HeaderChecksum { stored: u32, computed: u32 },
    #[error("payload checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    PayloadChecksum {
        stored: u32,
        computed: u32,
        kind: FrameKind,
    },
    #[error("unsupported frame: {0}")]
    Unsupported(String),
    #[error("sequence number {found} where {expected} was expected: {}", seq_hint(*expected, *found))]
    Sequence { expected: u64, found: u64 },
    #[error("hash chain broken: the frame does not follow the one before it (altered, replaced or inserted)")]
    Chain,
    #[error("not an agentmon log: {0}")]
    NotALog(String),
    #[error("{0}")]
    Misplaced(&'static str),
    #[error("undecodable {kind} payload: {reason}")]
    Payload { kind: &'static str, reason: String },
    #[error("read error: {0}")]
    Io(String),
    /// Record ids jump: the records between are not in the log. `why` is what the recorder's `Lost`
    /// record says about them, if one accounts for exactly this gap.
    #[error("{}", gap_text(*first, *last, why.as_deref()))]
    RecordsMissing { first: u64, last: u64, why: Option<String> },
}

fn gap_text(first: u64, last: u64, why: Option<&str>) -> String {
    let n = last.saturating_sub(first).saturating_add(1);
    let ids = if first == last {
        format!("record {first} is")
    } else {
        format!("records {first}..={last} ({n} records) are")
    };
    match why {
        Some(why) => format!(
            "{ids} missing: the recorder could not write them ({})",
            crate::event::escaped(why)
        ),
        None => format!(
            "{ids} missing: record ids jump from {} to {}",
            first.saturating_sub(1),
            last.saturating_add(1)
        ),
    }
}

fn seq_hint(expected: u64, found: u64) -> String {
    if found > expected {
        format!("{} frame(s) missing or reordered", found - expected)
    } else {
        "frames reordered or duplicated".to_string()
    }
}

/// A problem at a byte offset of a log file.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("byte {offset}: {problem}")]
pub struct FrameError {
    /// Offset of the frame (or of the bytes that should have been one) in its file.
    pub offset: u64,
    pub problem: Problem,
}

impl FrameError {
    /// Only the end of the log is missing: every frame before `offset` is intact.
    pub fn is_truncation(&self) -> bool {
        matches!(self.problem, Problem::Truncated { .. })
    }

    /// Whether what was lost here may have defined a process context (a batch), so that the
    /// contexts known so far can no longer be trusted. A damaged header or trailer cannot redefine
    /// one, and a frame that only breaks the chain is still read (nothing is lost).
    pub(crate) fn may_lose_context(&self) -> bool {
        match self.problem {
            Problem::PayloadChecksum { kind, .. } => kind == FrameKind::Batch,
            Problem::Chain => false,
            _ => true,
        }
    }
}

/// The fixed part of a frame, parsed and checked ([`parse_header`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    pub(crate) payload_len: u32,
    pub(crate) seq: u64,
    pub(crate) kind: FrameKind,
    pub(crate) payload_crc: u32,
    pub(crate) chain: ChainHash,
}

impl FrameHeader {
    pub fn frame_len(&self) -> usize {
        FRAME_HEADER_LEN + self.payload_len as usize
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// Checks the fixed part of a frame: magic, header checksum, kind, reserved bytes, length.
pub(crate) fn parse_header(b: &[u8; FRAME_HEADER_LEN]) -> Result<FrameHeader, Problem> {
    if b[0..4] != FRAME_MAGIC {
        let mut found = [0u8; 4];
        found.copy_from_slice(&b[0..4]);
        return Err(Problem::BadMagic { found });
    }
    let stored = le_u32(b, 56);
    let computed = crc32c::crc32c(&b[0..56]);
    if stored != computed {
        return Err(Problem::HeaderChecksum { stored, computed });
    }
    let kind = FrameKind::from_u8(b[16]).ok_or_else(|| Problem::Unsupported(format!("kind {}", b[16])))?;
    if b[17..20] != [0, 0, 0] {
        return Err(Problem::Unsupported("reserved bytes set".into()));
    }
    let payload_len = le_u32(b, 4);
    if payload_len as usize > MAX_PAYLOAD_LEN {
        return Err(Problem::Unsupported(format!("payload of {payload_len} bytes")));
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&b[8..16]);
    let mut chain = [0u8; 32];
    chain.copy_from_slice(&b[24..56]);
    Ok(FrameHeader {
        payload_len,
        seq: u64::from_le_bytes(seq),
        kind,
        payload_crc: le_u32(b, 20),
        chain,
    })
}

/// Checks a payload against its header's checksum.
pub(crate) fn check_payload(h: &FrameHeader, payload: &[u8]) -> Result<(), Problem> {
    let computed = crc32c::crc32c(payload);
    if computed != h.payload_crc {
        return Err(Problem::PayloadChecksum {
            stored: h.payload_crc,
            computed,
            kind: h.kind,
        });
    }
    Ok(())
}

/// Smallest payload chained with BLAKE3 instead of SHA-256: where BLAKE3 overtakes it
/// (`agentmon-bench log-read` prints both by size; docs/BENCHMARKS.md has the development VM's
/// figures).
pub(crate) const BLAKE3_FROM: usize = 2048;

/// The chain hash of a frame given the previous frame's: H(prev ‖ bytes 4..24 ‖ payload). H is
/// SHA-256 for payloads under [`BLAKE3_FROM`] bytes (a quiet agent's batch of one event), which the
/// SHA extensions of current x86 and ARM CPUs make fastest on small inputs, and BLAKE3 from there on
/// (a busy agent's batches of up to 64 KiB), where its SIMD parallelism makes it up to 2.5× faster.
/// The payload length is in the frame header, which its CRC and the chain cover, so reader and
/// writer always agree on the hash.
pub(crate) fn chain_hash(prev: &ChainHash, frame_head: &[u8], payload: &[u8]) -> ChainHash {
    use sha2::Digest as _;
    if payload.len() >= BLAKE3_FROM {
        let mut h = blake3::Hasher::new();
        h.update(prev);
        h.update(&frame_head[4..24]);
        h.update(payload);
        return *h.finalize().as_bytes();
    }
    let mut h = sha2::Sha256::new();
    h.update(prev);
    h.update(&frame_head[4..24]);
    h.update(payload);
    h.finalize().into()
}

/// Whether a parsed frame continues the chain ending in `prev`.
pub(crate) fn check_chain(
    prev: &ChainHash,
    raw_head: &[u8; FRAME_HEADER_LEN],
    h: &FrameHeader,
    payload: &[u8],
) -> Result<(), Problem> {
    if chain_hash(prev, raw_head, payload) == h.chain {
        Ok(())
    } else {
        Err(Problem::Chain)
    }
}

/// Fills in the frame header of `buf`, whose payload is already at `buf[FRAME_HEADER_LEN..]`, and
/// returns the frame's chain hash. The payload must not exceed [`MAX_PAYLOAD_LEN`] (checked by the
/// caller).
pub(crate) fn seal(buf: &mut [u8], kind: FrameKind, seq: u64, prev: &ChainHash) -> ChainHash {
    let payload_len = (buf.len() - FRAME_HEADER_LEN) as u32;
    let (head, payload) = buf.split_at_mut(FRAME_HEADER_LEN);
    head[0..4].copy_from_slice(&FRAME_MAGIC);
    head[4..8].copy_from_slice(&payload_len.to_le_bytes());
    head[8..16].copy_from_slice(&seq.to_le_bytes());
    head[16] = kind as u8;
    head[17..20].fill(0);
    head[20..24].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let chain = chain_hash(prev, head, payload);
    head[24..56].copy_from_slice(&chain);
    let crc = crc32c::crc32c(&head[0..56]);
    head[56..60].copy_from_slice(&crc.to_le_bytes());
    chain
}

/// One whole frame as bytes: header + payload (tests forge frames with it).
#[cfg(test)]
pub(crate) fn encode_frame(kind: FrameKind, seq: u64, prev: &ChainHash, payload: &[u8]) -> (Vec<u8>, ChainHash) {
    let mut buf = vec![0u8; FRAME_HEADER_LEN];
    buf.extend_from_slice(payload);
    let chain = seal(&mut buf, kind, seq, prev);
    (buf, chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(frame: &[u8]) -> [u8; FRAME_HEADER_LEN] {
        frame[..FRAME_HEADER_LEN].try_into().unwrap()
    }

    #[test]
    fn seal_then_parse() {
        let (f, chain) = encode_frame(FrameKind::Trailer, 9, &ZERO_HASH, b"payload");
        assert_eq!(f.len(), FRAME_HEADER_LEN + 7);
        assert_eq!(&f[0..4], b"AMLF");
        let h = parse_header(&head(&f)).unwrap();
        assert_eq!(
            (h.kind, h.seq, h.payload_len, h.chain),
            (FrameKind::Trailer, 9, 7, chain)
        );
        check_payload(&h, &f[FRAME_HEADER_LEN..]).unwrap();
        check_chain(&ZERO_HASH, &head(&f), &h, &f[FRAME_HEADER_LEN..]).unwrap();
        assert_eq!(
            check_chain(&[1; 32], &head(&f), &h, &f[FRAME_HEADER_LEN..]),
            Err(Problem::Chain)
        );
    }

    #[test]
    fn small_payloads_are_chained_with_sha256_large_ones_with_blake3() {
        use sha2::Digest;
        for (len, blake3) in [
            (0, false),
            (BLAKE3_FROM - 1, false),
            (BLAKE3_FROM, true),
            (65_536, true),
        ] {
            let payload = vec![7u8; len];
            let (f, chain) = encode_frame(FrameKind::Batch, 9, &[5; 32], &payload);
            let mut input = vec![5u8; 32];
            input.extend_from_slice(&f[4..24]);
            input.extend_from_slice(&payload);
            let want: ChainHash = if blake3 {
                *blake3::hash(&input).as_bytes()
            } else {
                sha2::Sha256::digest(&input).into()
            };
            assert_eq!(chain, want, "payload of {len} bytes");
        }
    }

    #[test]
    fn only_header_trailer_and_batch_frames_exist() {
        for kind in 0..=255u8 {
            let (mut f, _) = encode_frame(FrameKind::Batch, 1, &ZERO_HASH, b"x");
            f[16] = kind;
            let crc = crc32c::crc32c(&f[0..56]);
            f[56..60].copy_from_slice(&crc.to_le_bytes());
            let parsed = parse_header(&head(&f)).map(|h| h.kind as u8);
            match kind {
                1 | 5 | 7 => assert_eq!(parsed, Ok(kind)),
                // Records are batch entries, never frames of their own.
                _ => assert_eq!(parsed, Err(Problem::Unsupported(format!("kind {kind}")))),
            }
        }
    }

    #[test]
    fn every_header_byte_is_covered() {
        let (f, _) = encode_frame(FrameKind::Batch, 1, &ZERO_HASH, b"x");
        for i in 0..FRAME_HEADER_LEN {
            let mut g = f.clone();
            g[i] ^= 0x01;
            assert!(parse_header(&head(&g)).is_err(), "flip at {i} went unnoticed");
        }
        let mut g = f;
        g[FRAME_HEADER_LEN] ^= 0x80;
        let h = parse_header(&head(&g)).unwrap();
        assert!(matches!(
            check_payload(&h, &g[FRAME_HEADER_LEN..]),
            Err(Problem::PayloadChecksum { .. })
        ));
    }
}
