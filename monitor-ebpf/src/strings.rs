//! Reads of NUL-terminated user and kernel strings, and of user bytes, into fixed buffers. They
//! never lose the event:
//! they return `FLAG_*` bits for it instead — truncated when the string filled the buffer,
//! read-failed (and counted, `counter::READ_FAILURES`) when the memory could not be read, the buffer
//! then holding an empty string.
use core::ffi::c_void;

use aya_ebpf::helpers::generated as gen_;
use monitor_common::{FLAG_READ_FAILED, FLAG_TRUNCATED, counter};

use crate::maps::count;

/// `bpf_probe_read_user_str` with one answer for the empty string on every kernel: the length read,
/// NUL included (1 for `""`), or a negative error. The helper is documented so, but older kernels'
/// `strncpy_from_user_nofault` answers 0 for `""` (measured on Debian's 6.1; 6.12 and 6.18 answer 1)
/// and need not have written the NUL: 0 is that empty string (no error is 0), so the NUL is written
/// here and 1 returned. Every user-string read goes through this, so an empty string is never
/// taken for a failed read (an absent field, a stopped scan).
///
/// # Safety
/// `dst` is valid for `size` ≥ 1 bytes.
#[inline(always)]
pub(crate) unsafe fn probe_read_user_str(dst: *mut u8, size: u32, src: *const c_void) -> i64 {
    // SAFETY: the caller's contract; the helper checks `src` and writes at most `size` bytes.
    let n = unsafe { gen_::bpf_probe_read_user_str(dst.cast::<c_void>(), size, src) };
    if n == 0 {
        // SAFETY: `size` ≥ 1: `dst` holds at least this byte.
        unsafe { *dst = 0 };
        return 1;
    }
    n
}

/// Reads a NUL-terminated user string into `buf`. Returns `FLAG_*` bits. A null `src` reads as an
/// empty string without failure.
#[inline(always)]
pub(crate) fn read_user_str(src: *const u8, buf: &mut [u8]) -> u16 {
    read_user_str_len(src, buf).0
}

/// [`read_user_str`] that also returns the length read, NUL included (0 on failure).
#[inline(always)]
pub(crate) fn read_user_str_len(src: *const u8, buf: &mut [u8]) -> (u16, usize) {
    let dst = buf.as_mut_ptr();
    if src.is_null() {
        // SAFETY: `buf` is a valid, non-empty buffer (every caller's is a fixed array).
        unsafe { *dst = 0 };
        return (0, 0);
    }
    // SAFETY: `buf` is a valid, non-empty buffer; the helper writes at most `buf.len()` bytes into
    // it and checks `src` itself.
    let n = unsafe { probe_read_user_str(dst, buf.len() as u32, src.cast()) };
    (str_result(n, buf), if n > 0 { n as usize } else { 0 })
}

/// Reads a NUL-terminated kernel string into `buf` (like [`read_user_str`]; a null `src` reads as
/// an empty string without failure). Returns `FLAG_*` bits.
#[inline(always)]
pub(crate) fn read_kernel_str(src: *const u8, buf: &mut [u8]) -> u16 {
    let dst = buf.as_mut_ptr();
    if src.is_null() {
        // SAFETY: `buf` is a valid, non-empty buffer (every caller's is a fixed array).
        unsafe { *dst = 0 };
        return 0;
    }
    // SAFETY: the helper writes at most `buf.len()` bytes into `buf` and checks `src` itself.
    let n = unsafe { gen_::bpf_probe_read_kernel_str(dst.cast::<c_void>(), buf.len() as u32, src.cast()) };
    str_result(n, buf)
}

/// Copies `len` bytes of user memory at `src` into `buf`, at most `buf.len()` of them (more:
/// truncated). Returns `FLAG_*` bits and the bytes copied (0 when nothing was to be read, or the
/// read failed).
#[inline(always)]
pub(crate) fn read_user_bytes(src: *const u8, len: u64, buf: &mut [u8]) -> (u16, u32) {
    let cap = buf.len() as u32;
    let mut len = u32::try_from(len).unwrap_or(u32::MAX);
    let mut flags = 0;
    if len > cap {
        len = cap;
        flags = FLAG_TRUNCATED;
    }
    if len == 0 {
        return (flags, 0);
    }
    // SAFETY: the helper writes at most `len` ≤ `buf.len()` bytes into `buf` and checks `src` itself.
    if unsafe { gen_::bpf_probe_read_user(buf.as_mut_ptr().cast::<c_void>(), len, src.cast()) } == 0 {
        (flags, len)
    } else {
        count(counter::READ_FAILURES);
        (flags | FLAG_READ_FAILED, 0)
    }
}

#[inline(always)]
fn str_result(n: i64, buf: &mut [u8]) -> u16 {
    if n < 0 {
        // SAFETY: `buf` is a valid, non-empty buffer.
        unsafe { *buf.as_mut_ptr() = 0 };
        count(counter::READ_FAILURES);
        return FLAG_READ_FAILED;
    }
    // `n` includes the NUL; a string that filled the buffer was (probably) cut.
    if n as usize >= buf.len() { FLAG_TRUNCATED } else { 0 }
}
