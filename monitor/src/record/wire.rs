//! A minimal protobuf wire reader for replay's hot path (see `decoder.rs`): fields are read in
//! place from the frame's bytes, without building prost messages. Anything unusual is reported as
//! `None`, and the caller then decodes with prost, which stays the reference for what a payload
//! means.

/// Wire types.
pub(super) const VARINT: u8 = 0;
pub(super) const FIXED64: u8 = 1;
pub(super) const LEN: u8 = 2;
pub(super) const FIXED32: u8 = 5;

/// A cursor over one message's bytes.
pub(super) struct Wire<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Wire<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(super) fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    #[inline]
    pub(super) fn varint(&mut self) -> Option<u64> {
        // Most keys and values fit in one byte.
        let b = *self.buf.get(self.pos)?;
        if b < 0x80 {
            self.pos += 1;
            return Some(u64::from(b));
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            // The 10th byte may only carry the top bit of a u64 (prost rejects more).
            if i == 9 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// Consumes the next key if it is `field` with wire type `wt` (fields 1‥15, whose keys are one
    /// byte). Decoders read the fields a writer emits, in the order it emits them, with these
    /// well-predicted tests before falling back to a general loop over whatever is left.
    #[inline]
    pub(super) fn take(&mut self, field: u32, wt: u8) -> bool {
        debug_assert!((1..16).contains(&field));
        if self.buf.get(self.pos) == Some(&(((field << 3) as u8) | wt)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// The next field's number and wire type.
    #[inline]
    pub(super) fn key(&mut self) -> Option<(u32, u8)> {
        let k = u32::try_from(self.varint()?).ok()?;
        let field = k >> 3;
        let wire = (k & 7) as u8;
        if field == 0 {
            return None;
        }
        Some((field, wire))
    }

    /// A length-delimited field's bytes.
    #[inline]
    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let b = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    /// Skips a field of an unknown number (groups are not accepted).
    pub(super) fn skip(&mut self, wire: u8) -> Option<()> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.advance(8),
            LEN => self.bytes().map(drop),
            FIXED32 => self.advance(4),
            _ => None,
        }
    }

    fn advance(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        if end > self.buf.len() {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// A varint field, checking its wire type.
    #[inline]
    pub(super) fn varint_field(&mut self, wire: u8) -> Option<u64> {
        if wire != VARINT {
            return None;
        }
        self.varint()
    }

    /// A length-delimited field, checking its wire type.
    #[inline]
    pub(super) fn len_field(&mut self, wire: u8) -> Option<&'a [u8]> {
        if wire != LEN {
            return None;
        }
        self.bytes()
    }

    #[inline]
    pub(super) fn str_field(&mut self, wire: u8) -> Option<&'a str> {
        utf8(self.len_field(wire)?)
    }

    /// A length-delimited field's bytes as text (its key already read).
    #[inline]
    pub(super) fn str(&mut self) -> Option<&'a str> {
        utf8(self.bytes()?)
    }
}

/// `b` as text if it is valid UTF-8. Recorded strings are paths and names, nearly always ASCII,
/// which is checked a word at a time; `std::str::from_utf8` takes the general road for the rest.
#[inline]
pub(super) fn utf8(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(b) });
    }
    std::str::from_utf8(b).ok()
}

pub(super) fn zigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub(super) fn zigzag32(v: u64) -> i32 {
    let v = v as u32;
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_match_prost() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX, (-100i64) as u64] {
            let mut buf = Vec::new();
            prost::encoding::encode_varint(v, &mut buf);
            assert_eq!(Wire::new(&buf).varint(), Some(v));
        }
        for v in [0i64, -1, 1, -100, i64::MIN, i64::MAX] {
            let mut buf = Vec::new();
            prost::encoding::sint64::encode(1, &v, &mut buf);
            let mut w = Wire::new(&buf);
            assert_eq!(w.key(), Some((1, VARINT)));
            assert_eq!(zigzag64(w.varint().unwrap()), v);
        }
        for v in [0i32, -1, -100, i32::MIN, i32::MAX] {
            let mut buf = Vec::new();
            prost::encoding::sint32::encode(1, &v, &mut buf);
            let mut w = Wire::new(&buf);
            w.key();
            assert_eq!(zigzag32(w.varint().unwrap()), v);
        }
        // Overlong and unterminated varints are refused.
        assert_eq!(Wire::new(&[0xff; 11]).varint(), None);
        assert_eq!(Wire::new(&[0x80]).varint(), None);
        assert_eq!(Wire::new(&[0x05, b'a']).bytes(), None);
    }

    proptest::proptest! {
        /// Varints, with whatever follows them, read as prost reads them (value and length); so do
        /// arbitrary bytes, valid or not.
        #[test]
        fn varints_read_as_prost_reads_them(v: u64, shift in 0u32..64, tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12)) {
            // Every length, 1 to 10 bytes.
            let v = v >> shift;
            let mut buf = Vec::new();
            prost::encoding::encode_varint(v, &mut buf);
            let len = buf.len();
            buf.extend_from_slice(&tail);
            let mut w = Wire::new(&buf);
            proptest::prop_assert_eq!(w.varint(), Some(v));
            proptest::prop_assert_eq!(w.pos, len);
        }

        #[test]
        fn arbitrary_bytes_read_as_prost_reads_them(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..16)) {
            let mut reference = &bytes[..];
            let want = prost::encoding::decode_varint(&mut reference).ok();
            let mut w = Wire::new(&bytes);
            let got = w.varint();
            proptest::prop_assert_eq!(got, want);
            if got.is_some() {
                proptest::prop_assert_eq!(w.pos, bytes.len() - reference.len());
            }
        }

        #[test]
        fn text_is_accepted_exactly_when_it_is_utf8(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40), ascii_prefix in 0usize..40) {
            let mut b: Vec<u8> = b"/usr/lib/python3.12/json/__init__.py/abc".iter().copied().take(ascii_prefix).collect();
            b.extend_from_slice(&bytes);
            proptest::prop_assert_eq!(utf8(&b), std::str::from_utf8(&b).ok());
        }
    }
}
