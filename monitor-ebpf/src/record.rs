//! Building a variable-length record (`monitor_common::record`): the fixed part at the start of a
//! per-CPU scratch buffer, strings appended to its tail, then exactly its length copied into the
//! ring buffer ([`Record::submit`]). Every append bounds its offset by a mask, so the verifier can
//! prove each write inside the buffer; a string that no longer fits is marked `TAIL_NO_ROOM`, never
//! written past the end.
use core::ffi::c_void;

use aya_ebpf::{helpers::generated as gen_, macros::map, maps::PerCpuArray};
use monitor_common::{
    EventHeader, EventKind,
    config::KernelOffsets,
    counter, maps as names,
    record::{RECORD_MAX, RECORD_SLACK, TAIL_ABSENT, TAIL_NO_ROOM, TAIL_READ_FAILED, TAIL_TRUNCATED, Tail},
};

use crate::{
    header,
    maps::{OrCount, count},
    path::{KPath, Walked, copy_walked, walk},
    strings, submit,
};

/// The record and how much of it is used. The length lives in map memory, not on a program's
/// stack, so a `bpf_loop` step (e.g. the environment scan) can append too ([`Record::resume`]).
#[repr(C)]
pub(crate) struct Scratch {
    len: u64,
    pub(crate) bytes: [u8; RECORD_MAX + RECORD_SLACK],
}

/// One record under construction per CPU.
#[map]
pub(crate) static RECORD_SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);
named!(RECORD_SCRATCH = names::RECORD_SCRATCH);

/// A record being built. `T` is the kind's fixed part (an `EventHeader` first).
pub(crate) struct Record<T> {
    scratch: *mut Scratch,
    base: *mut u8,
    _kind: core::marker::PhantomData<T>,
}

impl<T> Record<T> {
    /// Starts a record of `kind` with its header filled (parent included) and the fixed part zeroed.
    /// `None` (counted `NO_SCRATCH`) if the scratch buffer is missing.
    #[inline(always)]
    pub(crate) fn start(kind: EventKind, off: &KernelOffsets) -> Option<Self> {
        let scratch = RECORD_SCRATCH.get_ptr_mut(0).or_count(counter::NO_SCRATCH)?;
        // SAFETY: the scratch entry is this CPU's, valid for the program run; the fixed part is far
        // smaller than the buffer.
        let base = unsafe { (*scratch).bytes.as_mut_ptr() };
        // SAFETY: as above; zeroing the fixed part keeps no stale bytes of an earlier record.
        unsafe {
            core::ptr::write_bytes(base, 0, size_of::<T>());
            (*scratch).len = size_of::<T>() as u64;
        }
        header::fill(header_of(base), kind, size_of::<T>(), off);
        Some(Self {
            scratch,
            base,
            _kind: core::marker::PhantomData,
        })
    }

    /// The record this CPU is building, from inside a `bpf_loop` step of the program that started
    /// it.
    #[inline(always)]
    pub(crate) fn resume() -> Option<Self> {
        let scratch = RECORD_SCRATCH.get_ptr_mut(0)?;
        // SAFETY: as in `start`.
        let base = unsafe { (*scratch).bytes.as_mut_ptr() };
        Some(Self {
            scratch,
            base,
            _kind: core::marker::PhantomData,
        })
    }

    /// Bytes used so far (fixed part and tail), bounded for the verifier.
    #[inline(always)]
    fn len(&self) -> usize {
        // SAFETY: this CPU's scratch entry.
        (unsafe { (*self.scratch).len } as usize).min(RECORD_MAX)
    }

    #[inline(always)]
    fn grow(&mut self, n: usize) {
        // SAFETY: as above.
        unsafe { (*self.scratch).len = (self.len() + n) as u64 };
    }

    /// Bytes used so far: where the next appended string goes (see [`Record::since`]).
    #[inline(always)]
    pub(crate) fn used(&self) -> usize {
        self.len()
    }

    /// The area appended since [`Record::used`] returned `from`, as one tail (several
    /// NUL-terminated strings: an argv-like list).
    #[inline(always)]
    pub(crate) fn since(&self, from: usize) -> Tail {
        let to = self.len();
        if to <= from {
            return absent(TAIL_ABSENT);
        }
        Tail {
            off: from as u16,
            len: (to - from) as u16,
            flags: 0,
            _pad: 0,
        }
    }

    /// The fixed part, to fill in.
    #[inline(always)]
    pub(crate) fn fixed(&mut self) -> *mut T {
        self.base.cast::<T>()
    }

    /// Where the next tail string starts, if at least `room` more bytes fit.
    #[inline(always)]
    fn next(&self, room: usize) -> Option<usize> {
        // Strictly below: the length then always fits `RECORD_MAX - 1` (see `submit`).
        if self.len() + room >= RECORD_MAX {
            return None;
        }
        // Read the length again (volatile) and mask that: LLVM would otherwise drop the mask (it
        // knows the checked value is below RECORD_MAX) and index with a spilled copy of the
        // unchecked load, which verifiers before ~6.8 cannot bound ("math between map_value pointer
        // and register with unbounded min value" on 6.1).
        // SAFETY: this CPU's scratch entry.
        let len = unsafe { core::ptr::read_volatile(&raw const (*self.scratch).len) } as usize;
        Some(len & (RECORD_MAX - 1))
    }

    /// Appends a NUL-terminated string read with `read` (a probe-read-str helper), at most `max`
    /// bytes NUL included (`max` ≤ `RECORD_SLACK`).
    #[inline(always)]
    fn push_str_with(&mut self, max: usize, read: impl FnOnce(*mut c_void, u32) -> i64) -> Tail {
        let Some(at) = self.next(max) else {
            return absent(TAIL_NO_ROOM);
        };
        // SAFETY: `at < RECORD_MAX` and `max ≤ RECORD_SLACK`, so the helper writes inside the buffer.
        let n = read(unsafe { self.base.add(at) }.cast(), max as u32);
        if n <= 0 {
            count(counter::READ_FAILURES);
            return absent(TAIL_READ_FAILED);
        }
        let n = (n as usize).min(max);
        self.grow(n);
        Tail {
            off: at as u16,
            // Without the NUL.
            len: (n - 1) as u16,
            flags: if n >= max { TAIL_TRUNCATED } else { 0 },
            _pad: 0,
        }
    }

    /// Appends a user string (a null pointer gives an empty, absent tail).
    #[inline(always)]
    pub(crate) fn user_str(&mut self, src: u64, max: usize) -> Tail {
        if src == 0 {
            return absent(TAIL_ABSENT);
        }
        // SAFETY: the helper checks `src` and writes at most `size` (≥ 1) bytes to `dst`.
        self.push_str_with(max, |dst, size| unsafe {
            strings::probe_read_user_str(dst.cast(), size, src as *const c_void)
        })
    }

    /// Appends a kernel string.
    #[inline(always)]
    pub(crate) fn kernel_str(&mut self, src: *const u8, max: usize) -> Tail {
        if src.is_null() {
            return absent(TAIL_ABSENT);
        }
        // SAFETY: as in `user_str`.
        self.push_str_with(max, |dst, size| unsafe {
            gen_::bpf_probe_read_kernel_str(dst, size, src.cast())
        })
    }

    /// Appends `len` bytes of user memory (a NUL-separated area such as argv), at most `max`.
    #[inline(always)]
    pub(crate) fn user_bytes(&mut self, src: u64, len: u64, max: usize) -> Tail {
        // SAFETY: the helper checks `src` and writes at most `size` bytes to `dst`.
        self.push_bytes_with(len, max, |dst, size| unsafe {
            gen_::bpf_probe_read_user(dst, size, src as *const c_void)
        })
    }

    // network
    /// Appends `len` bytes of kernel memory (a unix socket's name, which may hold NULs), at most
    /// `max` (≤ `RECORD_SLACK`).
    #[inline(always)]
    pub(crate) fn kernel_bytes(&mut self, src: *const u8, len: u64, max: usize) -> Tail {
        // SAFETY: as in `user_bytes`.
        self.push_bytes_with(len, max, |dst, size| unsafe {
            gen_::bpf_probe_read_kernel(dst, size, src.cast())
        })
    }

    /// Appends `len` bytes read with `read` (a probe-read helper), at most `max` (≤ `RECORD_SLACK`).
    #[inline(always)]
    fn push_bytes_with(&mut self, len: u64, max: usize, read: impl FnOnce(*mut c_void, u32) -> i64) -> Tail {
        let Some(at) = self.next(max) else {
            return absent(TAIL_NO_ROOM);
        };
        let (n, flags) = if len > max as u64 {
            (max, TAIL_TRUNCATED)
        } else {
            (len as usize, 0)
        };
        if n == 0 {
            return absent(TAIL_ABSENT);
        }
        // SAFETY: `at < RECORD_MAX` and `n ≤ max ≤ RECORD_SLACK`, so the helper writes inside the
        // buffer.
        let rc = read(unsafe { self.base.add(at) }.cast(), (n & (RECORD_SLACK - 1)) as u32);
        if rc != 0 {
            count(counter::READ_FAILURES);
            return absent(TAIL_READ_FAILED);
        }
        self.appended(at, n, flags)
    }

    /// Takes the `n` bytes written at `at` into the record: their tail.
    #[inline(always)]
    fn appended(&mut self, at: usize, n: usize, flags: u16) -> Tail {
        self.grow(n);
        Tail {
            off: at as u16,
            len: n as u16,
            flags,
            _pad: 0,
        }
    }

    /// Appends the kernel's path of `p` (walked from kernel objects; `None`: an absent tail).
    #[inline(always)]
    pub(crate) fn path(&mut self, off: &monitor_common::config::PathOffsets, p: Option<KPath>) -> Tail {
        match p {
            Some(p) => self.walked(walk(off, p)),
            None => absent(TAIL_ABSENT),
        }
    }

    /// Appends the path of the last walk (`None`: the walk could not start, a failed read).
    #[inline(always)]
    pub(crate) fn walked(&mut self, w: Option<Walked>) -> Tail {
        let Some(w) = w else {
            return absent(TAIL_READ_FAILED);
        };
        let Some(at) = self.next(w.len) else {
            return absent(TAIL_NO_ROOM);
        };
        // SAFETY: `at < RECORD_MAX`: RECORD_SLACK bytes follow it in the buffer.
        let dst = unsafe { self.base.add(at) };
        match copy_walked::<RECORD_SLACK>(dst, w.len) {
            Some(n) => self.appended(at, n, w.flags),
            None => absent(TAIL_READ_FAILED),
        }
    }

    /// Whether the string at `t` is a non-empty path that does not start with `/`.
    #[inline(always)]
    pub(crate) fn is_relative(&self, t: Tail) -> bool {
        t.len > 0 && self.byte_at(t.off as usize) != b'/'
    }

    /// The byte at `off` of the record.
    #[inline(always)]
    pub(crate) fn byte_at(&self, off: usize) -> u8 {
        // SAFETY: the offset is masked inside the buffer.
        unsafe { *self.base.add(off & (RECORD_MAX - 1)) }
    }

    /// Copies the string at `t` into a deny-table lookup key, NUL-terminated (cut to the key's
    /// size); returns its length with the NUL.
    #[inline(always)]
    pub(crate) fn copy_to_key(
        &self,
        t: Tail,
        key: *mut aya_ebpf::maps::lpm_trie::Key<monitor_common::enforce::PathKey>,
    ) -> Option<usize> {
        use monitor_common::enforce::DENY_PATH_LEN;
        let n = (t.len as usize).min(DENY_PATH_LEN - 1);
        // SAFETY: the source is inside the scratch buffer (masked offset, `n` < 256), the key's data
        // holds DENY_PATH_LEN bytes.
        unsafe {
            let dst = (&raw mut (*key).data.data).cast::<u8>();
            if gen_::bpf_probe_read_kernel(
                dst.cast(),
                (n & (DENY_PATH_LEN - 1)) as u32,
                self.base.add((t.off as usize) & (RECORD_MAX - 1)).cast(),
            ) != 0
            {
                return None;
            }
            *dst.add(n & (DENY_PATH_LEN - 1)) = 0;
        }
        Some(n + 1)
    }

    /// Copies the record into the ring buffer (a full ring counts a drop) and counts it; returns
    /// whether it is there. `batched`: the high-volume kinds' wakeup policy
    /// (`submit::output`).
    #[inline(always)]
    pub(crate) fn submit(self, batched: bool) -> bool {
        // Below RECORD_MAX (`next` keeps it so): masked after a volatile read, not bounded by a
        // comparison, so the bound cannot be lost to a spilled copy of the unbounded load (as in
        // `next`; on 6.1: "R3 min value is negative" at the ring buffer copy).
        // SAFETY: this CPU's scratch entry.
        let len = (unsafe { core::ptr::read_volatile(&raw const (*self.scratch).len) } as usize) & (RECORD_MAX - 1);
        // SAFETY: the header is at the start of the buffer.
        unsafe { (*header_of(self.base)).size = len as u32 };
        submit::output(self.base, len, batched)
    }
}

/// A tail read back (volatile) from the record's fixed part: the verifier sees any value, not the constant
/// of the path that wrote it.
///
/// # Safety
/// `t` points into this CPU's record scratch buffer.
#[inline(always)]
pub(crate) unsafe fn reread(t: *const Tail) -> Tail {
    // SAFETY: the caller's contract; `Tail` is plain data.
    unsafe { core::ptr::read_volatile(t) }
}

/// The header at the start of the scratch bytes.
#[inline(always)]
#[expect(
    clippy::cast_ptr_alignment,
    reason = "the bytes follow Scratch's u64 length in a repr(C) struct: they start 8-aligned"
)]
fn header_of(base: *mut u8) -> *mut EventHeader {
    base.cast::<EventHeader>()
}

#[inline(always)]
fn absent(flags: u16) -> Tail {
    Tail {
        off: 0,
        len: 0,
        flags,
        _pad: 0,
    }
}
