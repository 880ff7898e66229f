//! `sys_enter_openat` / `sys_enter_openat2` → [`OpenEvent`].
use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind, FLAG_DENIED, FLAG_READ_FAILED,
    config::KernelConfig,
    counter,
    deny::DENY_OPEN,
    enforce::DENY_KIND_OPEN,
    open::{OPEN_SYSCALL_OPENAT, OPEN_SYSCALL_OPENAT2, OpenEvent},
    programs,
    tracepoint::{Openat2Args, OpenatArgs},
};

use crate::{enforce, header, maps, scope, strings, submit, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_enter_openat")]
pub(crate) fn sys_enter_openat(ctx: TracePointContext) -> u32 {
    emit(&ctx, OPEN_SYSCALL_OPENAT);
    0
}
named!(sys_enter_openat = programs::SYS_ENTER_OPENAT.name);

#[tracepoint(category = "syscalls", name = "sys_enter_openat2")]
pub(crate) fn sys_enter_openat2(ctx: TracePointContext) -> u32 {
    emit(&ctx, OPEN_SYSCALL_OPENAT2);
    0
}
named!(sys_enter_openat2 = programs::SYS_ENTER_OPENAT2.name);

/// `struct open_how` (openat2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

#[inline(always)]
fn emit(ctx: &TracePointContext, syscall: u8) -> Option<()> {
    let cfg = scope::watched()?;
    // `how_flags`: FLAG_READ_FAILED when openat2's `struct open_how` could not be read (flags and mode
    // are then 0).
    let (dfd, filename, flags, mode, how_flags) = if syscall == OPEN_SYSCALL_OPENAT {
        let a: OpenatArgs = tracepoint::sys_enter(ctx)?;
        (a.dfd, a.filename, a.flags, a.mode, 0)
    } else {
        let a: Openat2Args = tracepoint::sys_enter(ctx)?;
        // SAFETY: user memory, read through the helper (which fails cleanly).
        match unsafe { bpf_probe_read_user(a.how as *const OpenHow) } {
            Ok(h) => (a.dfd, a.filename, h.flags, h.mode, 0),
            Err(_) => {
                maps::count(counter::READ_FAILURES);
                (a.dfd, a.filename, 0, 0, FLAG_READ_FAILED)
            }
        }
    };

    if cfg.deny_kinds & DENY_KIND_OPEN == 0 {
        // Hot path (no open deny rules): read the path straight into the event.
        let mut entry = submit::reserve::<OpenEvent>()?;
        let ev = entry.as_mut_ptr();
        // SAFETY: `ev` is the reserved record, written only here before submit.
        unsafe {
            fill_open(ev, cfg, dfd, flags, mode, syscall);
            (*ev).header.flags |= how_flags | strings::read_user_str(filename as *const u8, &mut (*ev).path);
        }
        submit::submit_batched(entry);
        return Some(());
    }
    // Deny rules exist: read the path once into the per-CPU lookup key, then copy it into the event.
    let key = enforce::path_scratch()?;
    // SAFETY: `key` is this CPU's scratch entry, valid for the whole program run.
    let (str_flags, len) = unsafe { strings::read_user_str_len(filename as *const u8, &mut (*key).data.data) };
    let mut denied = None;
    if len > 0
        && let Some(rule) = enforce::lookup_path(&enforce::DENY_OPEN, key, len)
        && enforce::open_matches(&rule, flags as u32)
    {
        denied = Some(rule.rule_id);
    }
    if let Some(mut entry) = submit::reserve::<OpenEvent>() {
        let ev = entry.as_mut_ptr();
        // SAFETY: `ev` is the reserved record, written only here before submit.
        unsafe {
            fill_open(ev, cfg, dfd, flags, mode, syscall);
            enforce::copy_path(key, &mut (*ev).path);
            (*ev).header.flags |= how_flags | str_flags;
            if denied.is_some() {
                (*ev).header.flags |= FLAG_DENIED;
            }
        }
        submit::submit(entry);
    }
    if let Some(rule_id) = denied {
        enforce::kill_current(DENY_OPEN, rule_id);
    }
    Some(())
}

/// Fills everything but the path.
///
/// # Safety
/// `ev` points to a reserved, not yet submitted record.
#[inline(always)]
unsafe fn fill_open(ev: *mut OpenEvent, cfg: &KernelConfig, dfd: u64, flags: u64, mode: u64, syscall: u8) {
    // SAFETY: the caller's contract.
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
