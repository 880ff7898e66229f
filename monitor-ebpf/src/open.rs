//! `sys_enter_openat` / `sys_enter_openat2` → [`OpenEvent`].
use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind, FLAG_DENIED,
    config::KernelConfig,
    enforce::DENY_KIND_OPEN,
    open::{OPEN_SYSCALL_OPENAT, OPEN_SYSCALL_OPENAT2, OpenEvent},
    process::DENY_OPEN,
};

use crate::{enforce, header, maps, scope};

#[tracepoint(category = "syscalls", name = "sys_enter_openat")]
pub fn sys_enter_openat(ctx: TracePointContext) -> u32 {
    emit(&ctx, OPEN_SYSCALL_OPENAT);
    0
}

#[tracepoint(category = "syscalls", name = "sys_enter_openat2")]
pub fn sys_enter_openat2(ctx: TracePointContext) -> u32 {
    emit(&ctx, OPEN_SYSCALL_OPENAT2);
    0
}

/// `struct open_how` (openat2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

#[inline(always)]
fn emit(ctx: &TracePointContext, syscall: u8) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let dfd: u64 = unsafe { ctx.read_at(16) }.ok()?;
    let filename: u64 = unsafe { ctx.read_at(24) }.ok()?;
    let (flags, mode) = if syscall == OPEN_SYSCALL_OPENAT {
        let flags: u64 = unsafe { ctx.read_at(32) }.ok()?;
        let mode: u64 = unsafe { ctx.read_at(40) }.ok()?;
        (flags, mode)
    } else {
        let how: u64 = unsafe { ctx.read_at(32) }.ok()?;
        match unsafe { bpf_probe_read_user(how as *const OpenHow) } {
            Ok(h) => (h.flags, h.mode),
            Err(_) => (0, 0),
        }
    };

    if cfg.deny_kinds & DENY_KIND_OPEN == 0 {
        // Hot path (no open deny rules): read the path straight into the event.
        let mut entry = header::reserve::<OpenEvent>()?;
        let ev = entry.as_mut_ptr();
        unsafe {
            fill_open(ev, cfg, dfd, flags, mode, syscall);
            (*ev).header.flags |= header::read_user_str(filename as *const u8, &mut (*ev).path);
        }
        header::submit_batched(entry);
        return Some(());
    }
    // Deny rules exist: read the path once into the per-CPU lookup key, then copy it into the event.
    let key = enforce::path_scratch()?;
    let (str_flags, len) = unsafe { header::read_user_str_len(filename as *const u8, &mut (*key).data.data) };
    let mut denied = None;
    if len > 0 {
        if let Some(rule) = enforce::lookup_path(&enforce::DENY_OPEN, key, len) {
            if enforce::open_matches(&rule, flags as u32) {
                denied = Some(rule.rule_id);
            }
        }
    }
    if let Some(mut entry) = header::reserve::<OpenEvent>() {
        let ev = entry.as_mut_ptr();
        unsafe {
            fill_open(ev, cfg, dfd, flags, mode, syscall);
            enforce::copy_path(key, &mut (*ev).path);
            (*ev).header.flags |= str_flags;
            if denied.is_some() {
                (*ev).header.flags |= FLAG_DENIED;
            }
        }
        header::submit(entry);
    }
    if let Some(rule_id) = denied {
        enforce::kill_current(DENY_OPEN, rule_id);
    }
    Some(())
}

/// Fills everything but the path.
#[inline(always)]
unsafe fn fill_open(ev: *mut OpenEvent, cfg: &KernelConfig, dfd: u64, flags: u64, mode: u64, syscall: u8) {
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::Open,
            size_of::<OpenEvent>(),
            &cfg.offsets,
        );
        (*ev).dfd = dfd as i32;
        (*ev).flags = flags as u32;
        (*ev).mode = mode as u32;
        (*ev).syscall = syscall;
        (*ev)._pad = [0; 3];
    }
}
