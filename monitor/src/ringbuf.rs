//! Async reader of the kernel's event ring buffer: sleeps on epoll until the kernel signals data,
//! then hands every available record to the caller (no busy polling).
use std::{
    os::fd::{AsFd, AsRawFd},
    sync::atomic::{AtomicUsize, Ordering},
};

use anyhow::{Context, Result};
use aya::maps::{MapData, RingBuf};
use tokio::io::{Interest, unix::AsyncFd};

pub(crate) struct EventReader {
    fd: AsyncFd<RingBuf<MapData>>,
    positions: Positions,
}

impl EventReader {
    pub(crate) fn new(ring: RingBuf<MapData>) -> Result<Self> {
        let positions = Positions::map(&ring)?;
        // SAFETY: the ring buffer owns its map fd for as long as the AsyncFd owns the ring buffer, and
        // `as_raw_fd` always returns that same fd.
        let fd = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| anyhow::anyhow!("registering the ring buffer with epoll: {e}"))?;
        Ok(Self { fd, positions })
    }

    /// Waits until records are available, then passes each to `f`. Returns how many were read.
    pub(crate) async fn read_batch(&mut self, mut f: impl FnMut(&[u8])) -> Result<usize> {
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
    pub(crate) fn drain(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let ring = self.fd.get_mut();
        let mut n = 0;
        while let Some(item) = ring.next() {
            f(&item);
            n += 1;
        }
        n
    }

    /// Whether nothing at all is in the ring: no record to read and none reserved by a program that
    /// has not committed it yet ([`drain`](Self::drain) stops silently at such a record).
    pub(crate) fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Bytes reserved in the ring and not yet read (records and their headers): its fill level.
    pub(crate) fn pending_bytes(&self) -> u64 {
        let (consumer, producer) = self.positions.load();
        producer.wrapping_sub(consumer) as u64
    }
}

/// A read-only mapping of the ring buffer's first two pages: the consumer position (advanced by
/// aya's reader) and the producer position (advanced by the kernel when a program *reserves* a
/// record, before it commits it).
struct Positions {
    base: *mut libc::c_void,
    page: usize,
}

// SAFETY: the mapping is read-only, lives as long as the value, and is only read with atomic loads.
unsafe impl Send for Positions {}
// SAFETY: as for Send: shared access only ever does atomic loads from the read-only mapping.
unsafe impl Sync for Positions {}

impl Positions {
    fn map(ring: &RingBuf<MapData>) -> Result<Self> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).context("page size")?;
        // SAFETY: a fresh shared read-only mapping of the map fd (the kernel allows read-only
        // mappings of the metadata pages); checked for failure below, unmapped on drop.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ,
                libc::MAP_SHARED,
                ring.as_fd().as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error()).context("mapping the ring buffer positions");
        }
        Ok(Self { base, page })
    }

    /// (consumer, producer) positions.
    #[expect(
        clippy::cast_ptr_alignment,
        reason = "the producer page follows the consumer page: page-aligned"
    )]
    fn load(&self) -> (usize, usize) {
        // SAFETY: both words lie inside the mapping, are page-aligned, and are only written
        // atomically (the consumer position by aya, the producer position by the kernel).
        unsafe {
            let c = &*self.base.cast::<AtomicUsize>();
            let p = &*self.base.cast::<u8>().add(self.page).cast::<AtomicUsize>();
            (c.load(Ordering::Acquire), p.load(Ordering::Acquire))
        }
    }

    fn is_empty(&self) -> bool {
        let (consumer, producer) = self.load();
        consumer == producer
    }
}

impl Drop for Positions {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`.
        unsafe { libc::munmap(self.base, 2 * self.page) };
    }
}
