//! Async reader of the kernel's event ring buffer: sleeps on epoll until the kernel signals data,
//! then hands every available record to the caller (no busy polling).
use anyhow::{Context, Result};
use aya::maps::{MapData, RingBuf};
use tokio::io::{Interest, unix::AsyncFd};

pub struct EventReader {
    fd: AsyncFd<RingBuf<MapData>>,
}

impl EventReader {
    pub fn new(ring: RingBuf<MapData>) -> Result<Self> {
        // SAFETY: the ring buffer owns its map fd for as long as the AsyncFd owns the ring buffer, and
        // `as_raw_fd` always returns that same fd.
        let fd = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| anyhow::anyhow!("registering the ring buffer with epoll: {e}"))?;
        Ok(Self { fd })
    }

    /// Waits until records are available, then passes each to `f`. Returns how many were read.
    pub async fn read_batch(&mut self, mut f: impl FnMut(&[u8])) -> Result<usize> {
        let mut guard = self.fd.readable_mut().await.context("waiting on the ring buffer")?;
        let ring = guard.get_inner_mut();
        let mut n = 0;
        while let Some(item) = ring.next() {
            f(&item);
            n += 1;
        }
        guard.clear_ready();
        Ok(n)
    }

    /// Reads whatever is available now without waiting.
    pub fn drain(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let ring = self.fd.get_mut();
        let mut n = 0;
        while let Some(item) = ring.next() {
            f(&item);
            n += 1;
        }
        n
    }
}
