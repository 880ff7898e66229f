//! The reader's input buffer: bytes of the log with the file offset of the first, refilled in
//! chunks, and the file's length when there is one.
use std::{fs::File, io::Read};

use super::CHUNK;

/// A read buffer over `R` that knows the file offset of its first byte, and the file's length
/// when there is one.
pub(super) struct Source<R> {
    r: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    pub(super) pos: u64,
    eof: bool,
    /// The file's length when last looked at, and the file to look at again (a log being written
    /// grows); `None` for a stream.
    len: Option<(u64, File)>,
}

impl<R: Read> Source<R> {
    pub(super) fn new(r: R, len: Option<(u64, File)>) -> Self {
        Self {
            r,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            pos: 0,
            eof: false,
            len,
        }
    }

    /// Whether the input can hold `n` bytes from the current position: false only when it is a file
    /// that is shorter (looked at again before saying so).
    pub(super) fn can_hold(&mut self, n: usize) -> bool {
        let Some((len, file)) = &mut self.len else { return true };
        let want = self.pos.saturating_add(n as u64);
        if want <= *len {
            return true;
        }
        if let Ok(m) = file.metadata() {
            *len = m.len();
        }
        want <= *len
    }

    /// Bytes the file holds from the current position (`None` for a stream).
    pub(super) fn remaining(&self) -> Option<u64> {
        self.len.as_ref().map(|(len, _)| len.saturating_sub(self.pos))
    }

    /// Tries to have `n` bytes buffered; returns how many are (fewer only at end of file).
    pub(super) fn fill(&mut self, n: usize) -> std::io::Result<usize> {
        while self.end - self.start < n && !self.eof {
            if self.buf.len() - self.start < n.max(CHUNK) {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                // Grow as bytes arrive (doubling, up to `n`), not to `n` at once: a length a crafted
                // header claims costs only the bytes a stream really holds. (`n` > the length here.)
                let len = (self.buf.len() * 2).min(n);
                self.buf.resize(len, 0);
            }
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(super) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.pos += n as u64;
    }
}
