//! Reading a ring-buffer record safely: a wire struct at its start (length checked), the tail
//! strings it names (bounds checked against the record, cut or unreadable ones noted), text from
//! bytes (lossy UTF-8), into new strings or refilled buffers.
use monitor_common::record::{TAIL_ABSENT, TAIL_NO_ROOM, TAIL_PARTIAL, TAIL_READ_FAILED, TAIL_TRUNCATED, Tail};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub(crate) enum DecodeError {
    #[error("record of {len} bytes is shorter than the {need}-byte {what}")]
    Short {
        len: usize,
        need: usize,
        what: &'static str,
    },
    #[error("unknown event kind {0}")]
    UnknownKind(u16),
    #[error("a {what} string at {off}+{len} lies outside the {record}-byte record")]
    BadTail {
        what: &'static str,
        off: usize,
        len: usize,
        record: usize,
    },
}

/// What decoding a record's tail strings noticed, merged into the event header's flags.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Notes {
    /// A string was cut (or a kernel path walked only part of the way).
    pub truncated: bool,
    /// A string could not be read.
    pub read_failed: bool,
}

/// The string a record's [`Tail`] names: `None` when it was not captured or could not be read (the
/// latter noted). Lossy UTF-8; bounds are checked against the record.
pub(crate) fn tail_string(
    record: &[u8],
    t: Tail,
    what: &'static str,
    notes: &mut Notes,
) -> Result<Option<String>, DecodeError> {
    Ok(tail_bytes(record, t, what, notes)?.map(lossy_string))
}

/// The bytes a record's [`Tail`] names, as for [`tail_string`].
fn tail_bytes<'a>(
    record: &'a [u8],
    t: Tail,
    what: &'static str,
    notes: &mut Notes,
) -> Result<Option<&'a [u8]>, DecodeError> {
    if t.flags & (TAIL_TRUNCATED | TAIL_NO_ROOM | TAIL_PARTIAL) != 0 {
        notes.truncated = true;
    }
    if t.flags & TAIL_READ_FAILED != 0 {
        notes.read_failed = true;
        return Ok(None);
    }
    if t.flags & (TAIL_ABSENT | TAIL_NO_ROOM) != 0 {
        return Ok(None);
    }
    let (off, len) = (usize::from(t.off), usize::from(t.len));
    let bytes = record.get(off..off + len).ok_or(DecodeError::BadTail {
        what,
        off,
        len,
        record: record.len(),
    })?;
    Ok(Some(bytes))
}

/// [`tail_string`] into `out`, reusing the buffer it holds.
pub(crate) fn tail_string_into(
    record: &[u8],
    t: Tail,
    what: &'static str,
    notes: &mut Notes,
    out: &mut Option<String>,
) -> Result<(), DecodeError> {
    match tail_bytes(record, t, what, notes)? {
        Some(bytes) => match out {
            Some(s) => lossy_into(bytes, s),
            None => *out = Some(lossy_string(bytes)),
        },
        None => *out = None,
    }
    Ok(())
}

/// `bytes` as text, invalid UTF-8 replaced by U+FFFD. Valid text (nearly all of it) takes the
/// vectorised check and one copy, not the lossy path's chunk-by-chunk walk.
pub(crate) fn lossy_string(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// [`lossy_string`] into `out`'s buffer. Bytes equal to what `out` holds (the same process's
/// `comm`, a loop over one path) are kept after one comparison, not validated and copied again.
pub(crate) fn lossy_into(bytes: &[u8], out: &mut String) {
    if out.as_bytes() == bytes {
        return;
    }
    out.clear();
    match std::str::from_utf8(bytes) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
    }
}

/// Reads a `T` from the start of `bytes`, checking the length.
pub(crate) fn read_record<T: Copy>(bytes: &[u8], what: &'static str) -> Result<T, DecodeError> {
    let need = size_of::<T>();
    if bytes.len() < need {
        return Err(DecodeError::Short {
            len: bytes.len(),
            need,
            what,
        });
    }
    // SAFETY: length checked above; T is a plain-old-data #[repr(C)] wire struct (any bit pattern is
    // valid) and read_unaligned has no alignment requirement.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// The bytes of a NUL-terminated string in a fixed buffer, lossily as UTF-8.
pub(crate) fn c_string(buf: &[u8]) -> String {
    let n = monitor_common::c_str_len(buf);
    lossy_string(&buf[..n])
}
