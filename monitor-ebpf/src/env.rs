//! The environment scan of an exec: every `NAME=value` string of the new image's environment area
//! (`mm->env_start..env_end`, up to `ARG_MAX`) is looked at, and the ones that change what runs
//! (`monitor_common::exec::env_is_selected`: `LD_*`, `*_PROXY`, `GLIBC_TUNABLES`, …) are appended
//! to the record, wherever they are: padding the environment cannot push them out of view.
//!
//! One `bpf_loop` step per string (or per 4 KiB of a longer one); the scan's state is in map memory
//! for the same reason as the path walk's (`crate::path`).
use core::ffi::c_void;

use aya_ebpf::{helpers::generated as gen_, macros::map, maps::PerCpuArray};
use monitor_common::{
    exec::{ENV_NAME_HASHES, ExecEvent},
    maps as names,
    record::PATH_MAX,
};

use crate::{path::PATH_WALK, record::Record, strings};

/// Bytes of a string's start looked at for its name.
const NAME_BUF: usize = 64;
/// A selected string is kept up to this many bytes.
const VALUE_MAX: usize = 1024;
/// Steps at most: enough for `ARG_MAX` (2 MiB) of environment in 4 KiB pieces or in short strings.
const MAX_STEPS: u32 = 1 << 20;

#[repr(C)]
pub(crate) struct EnvScan {
    cursor: u64,
    end: u64,
    /// 1 while the cursor is inside a string longer than one step read (not at a name).
    inside: u64,
    name: [u8; NAME_BUF],
}

#[map]
pub(crate) static ENV_SCAN: PerCpuArray<EnvScan> = PerCpuArray::with_max_entries(1, 0);
named!(ENV_SCAN = names::ENV_SCAN);

const GO_ON: i64 = 0;
const STOP: i64 = 1;

/// Whether the name at the start of `buf` (its first `n` bytes read, NUL included) is selected.
#[inline(always)]
fn selected(buf: &[u8; NAME_BUF], n: usize) -> bool {
    if n >= 4 && buf[0] == b'L' && buf[1] == b'D' && buf[2] == b'_' {
        return true;
    }
    // The name ends at the first '='.
    let mut eq = NAME_BUF;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < NAME_BUF {
        if i >= n || buf[i] == 0 {
            break;
        }
        if buf[i] == b'=' {
            eq = i;
            break;
        }
        h ^= u64::from(buf[i]);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    if eq == NAME_BUF {
        return false;
    }
    if eq >= 6 {
        let s = &buf[(eq - 6) & (NAME_BUF - 1)..];
        if s.len() >= 6 && s[0] == b'_' && (&s[1..6] == b"PROXY" || &s[1..6] == b"proxy") {
            return true;
        }
    }
    let mut k = 0;
    while k < ENV_NAME_HASHES.len() {
        if ENV_NAME_HASHES[k] == h {
            return true;
        }
        k += 1;
    }
    false
}

extern "C" fn env_step(_index: u64, _ctx: *mut c_void) -> i64 {
    step().unwrap_or(STOP)
}

#[inline(always)]
fn step() -> Option<i64> {
    let st = ENV_SCAN.get_ptr_mut(0)?;
    // SAFETY: this CPU's map value, valid for the program run.
    let st = unsafe { &mut *st };
    if st.cursor >= st.end {
        return Some(STOP);
    }
    let at = st.cursor as *const c_void;
    if st.inside == 0 {
        // SAFETY: the helper writes at most NAME_BUF bytes into the buffer and checks `at`.
        let n = unsafe { strings::probe_read_user_str(st.name.as_mut_ptr(), NAME_BUF as u32, at) };
        if n <= 0 {
            return Some(STOP);
        }
        if selected(&st.name, n as usize) {
            let mut rec = Record::<ExecEvent>::resume()?;
            rec.user_str(st.cursor, VALUE_MAX);
        }
    }
    // The string's length: read it (up to PATH_MAX at a time) into the walk buffer, unused now.
    let buf = PATH_WALK.get_ptr_mut(0)?;
    // SAFETY: the walk buffer holds more than PATH_MAX bytes; the helper checks `at`.
    let n = unsafe { strings::probe_read_user_str((*buf).bytes.as_mut_ptr(), PATH_MAX as u32, at) };
    if n <= 0 {
        return Some(STOP);
    }
    if n as usize >= PATH_MAX {
        // No NUL in this piece: the string goes on.
        st.cursor += (PATH_MAX - 1) as u64;
        st.inside = 1;
    } else {
        st.cursor += n as u64;
        st.inside = 0;
    }
    Some(GO_ON)
}

/// Scans the environment area `start..end`, appending the selected strings to the record being
/// built on this CPU.
#[inline(always)]
pub(crate) fn scan(start: u64, end: u64) -> Option<()> {
    let st = ENV_SCAN.get_ptr_mut(0)?;
    // SAFETY: this CPU's map value.
    unsafe {
        (*st).cursor = start;
        (*st).end = end;
        (*st).inside = 0;
    }
    // SAFETY: the callback takes no context; bpf_loop stops after MAX_STEPS.
    unsafe { gen_::bpf_loop(MAX_STEPS, env_step as *mut c_void, core::ptr::null_mut(), 0) };
    Some(())
}
