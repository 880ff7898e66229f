//! Mounts → [`MountEvent`], through either API:
//! - `sys_enter_mount`: classic `mount(2)`, everything in one call;
//! - the new API (used by util-linux ≥ 2.39): `fsopen(fstype)` and `fsconfig(source)` are remembered
//!   per process, and `move_mount(to_path)`, the call that attaches the mount, emits the event.
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user_str_bytes},
    macros::{map, tracepoint},
    maps::LruHashMap,
    programs::TracePointContext,
};
use monitor_common::{
    EventKind, FLAG_DENIED,
    config::KernelConfig,
    enforce::DENY_KIND_MOUNT,
    mount::{MOUNT_SYSCALL_MOUNT, MOUNT_SYSCALL_MOVE_MOUNT, MountEvent, MountPending},
    process::DENY_MOUNT,
};

use crate::{enforce, header, maps, scope};

/// tgid → fstype/source given to `fsopen`/`fsconfig`, consumed by `move_mount`.
#[map]
static MOUNT_PENDING: LruHashMap<u32, MountPending> = LruHashMap::with_max_entries(1024, 0);

/// `FSCONFIG_SET_STRING`.
const FSCONFIG_SET_STRING: u64 = 1;

#[tracepoint(category = "syscalls", name = "sys_enter_mount")]
pub fn sys_enter_mount(ctx: TracePointContext) -> u32 {
    emit_mount(&ctx);
    0
}

#[tracepoint(category = "syscalls", name = "sys_enter_fsopen")]
pub fn sys_enter_fsopen(ctx: TracePointContext) -> u32 {
    remember_fsopen(&ctx);
    0
}

#[tracepoint(category = "syscalls", name = "sys_enter_fsconfig")]
pub fn sys_enter_fsconfig(ctx: TracePointContext) -> u32 {
    remember_fsconfig(&ctx);
    0
}

#[tracepoint(category = "syscalls", name = "sys_enter_move_mount")]
pub fn sys_enter_move_mount(ctx: TracePointContext) -> u32 {
    emit_move_mount(&ctx);
    0
}

#[inline(always)]
fn tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

#[inline(always)]
fn emit_mount(ctx: &TracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let source: u64 = unsafe { ctx.read_at(16) }.ok()?;
    let target: u64 = unsafe { ctx.read_at(24) }.ok()?;
    let fstype: u64 = unsafe { ctx.read_at(32) }.ok()?;
    let flags: u64 = unsafe { ctx.read_at(40) }.ok()?;

    let mut entry = header::reserve::<MountEvent>()?;
    let ev = entry.as_mut_ptr();
    unsafe {
        fill_mount(ev, cfg, flags, MOUNT_SYSCALL_MOUNT);
        (*ev).fstype = [0; 32];
        let mut f = header::read_user_str(source as *const u8, &mut (*ev).source);
        f |= header::read_user_str(target as *const u8, &mut (*ev).target);
        f |= header::read_user_str(fstype as *const u8, &mut (*ev).fstype);
        let denied = deny_rule(cfg, &(*ev).fstype);
        if denied.is_some() {
            f |= FLAG_DENIED;
        }
        (*ev).header.flags |= f;
        header::submit(entry);
        if let Some(rule_id) = denied {
            enforce::kill_current(DENY_MOUNT, rule_id);
        }
    }
    Some(())
}

/// The deny rule for a mount of this fstype (NUL padded), if deny rules for mounts exist.
#[inline(always)]
fn deny_rule(cfg: &KernelConfig, fstype: &[u8; 32]) -> Option<u32> {
    if cfg.deny_kinds & DENY_KIND_MOUNT == 0 {
        return None;
    }
    let key: [u8; 32] = *fstype;
    enforce::mount_rule(&key)
}

#[inline(always)]
fn remember_fsopen(ctx: &TracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let name: u64 = unsafe { ctx.read_at(16) }.ok()?;
    let tgid = tgid();
    // Insert a zeroed entry, then fill it in place (the value is too large for the BPF stack).
    let zero = MountPending {
        source: [0; 128],
        fstype: [0; 32],
    };
    MOUNT_PENDING.insert(&tgid, &zero, 0).ok()?;
    let p = MOUNT_PENDING.get_ptr_mut(&tgid)?;
    unsafe { header::read_user_str(name as *const u8, &mut (*p).fstype) };
    // Deny at fsopen: the filesystem context is never created.
    if let Some(rule_id) = deny_rule(cfg, unsafe { &(*p).fstype }) {
        enforce::kill_current(DENY_MOUNT, rule_id);
    }
    Some(())
}

#[inline(always)]
fn remember_fsconfig(ctx: &TracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let cmd: u64 = unsafe { ctx.read_at(24) }.ok()?;
    if cmd != FSCONFIG_SET_STRING {
        return None;
    }
    let p = MOUNT_PENDING.get_ptr_mut(&tgid())?;
    let key: u64 = unsafe { ctx.read_at(32) }.ok()?;
    let mut buf = [0u8; 8];
    let k = unsafe { bpf_probe_read_user_str_bytes(key as *const u8, &mut buf) }.ok()?;
    if k != b"source" {
        return None;
    }
    let value: u64 = unsafe { ctx.read_at(40) }.ok()?;
    unsafe { header::read_user_str(value as *const u8, &mut (*p).source) };
    Some(())
}

#[inline(always)]
fn emit_move_mount(ctx: &TracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let target: u64 = unsafe { ctx.read_at(40) }.ok()?;
    let flags: u64 = unsafe { ctx.read_at(48) }.ok()?;
    let tgid = tgid();

    let mut entry = header::reserve::<MountEvent>()?;
    let ev = entry.as_mut_ptr();
    unsafe {
        fill_mount(ev, cfg, flags, MOUNT_SYSCALL_MOVE_MOUNT);
        match MOUNT_PENDING.get(&tgid) {
            Some(p) => {
                (*ev).source = p.source;
                (*ev).fstype = p.fstype;
            }
            None => {
                (*ev).source[0] = 0;
                (*ev).fstype = [0; 32];
            }
        }
        (*ev).header.flags |= header::read_user_str(target as *const u8, &mut (*ev).target);
        let denied = deny_rule(cfg, &(*ev).fstype);
        if denied.is_some() {
            (*ev).header.flags |= FLAG_DENIED;
        }
        let _ = MOUNT_PENDING.remove(&tgid);
        header::submit(entry);
        if let Some(rule_id) = denied {
            enforce::kill_current(DENY_MOUNT, rule_id);
        }
    }
    Some(())
}

/// Fills the header and the scalar fields shared by both mount APIs (strings are the caller's).
#[inline(always)]
unsafe fn fill_mount(ev: *mut MountEvent, cfg: &KernelConfig, flags: u64, syscall: u8) {
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::Mount,
            size_of::<MountEvent>(),
            &cfg.offsets,
        );
        (*ev).flags = flags;
        (*ev).syscall = syscall;
        (*ev)._pad = [0; 7];
    }
}
