//! Mounts → [`MountEvent`], through either API:
//! - `sys_enter_mount`: classic `mount(2)`, everything in one call;
//! - the new API (used by util-linux ≥ 2.39): `fsopen(fstype)` and `fsconfig(source)` are remembered
//!   per process, and `move_mount(to_path)`, the call that attaches the mount, emits the event.
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{map, tracepoint},
    maps::LruHashMap,
    programs::TracePointContext,
};
use monitor_common::{
    EventKind, FLAG_DENIED,
    config::KernelConfig,
    counter,
    deny::DENY_MOUNT,
    enforce::DENY_KIND_MOUNT,
    maps as names,
    mount::{MOUNT_SYSCALL_MOUNT, MOUNT_SYSCALL_MOVE_MOUNT, MountEvent, MountPending},
    programs,
    tracepoint::{FsconfigArgs, FsopenArgs, MountArgs, MoveMountArgs},
};

use crate::{enforce, header, maps::OrCount, scope, strings, submit, tracepoint};

/// tgid → fstype/source given to `fsopen`/`fsconfig`, consumed by `move_mount`.
#[map]
static MOUNT_PENDING: LruHashMap<u32, MountPending> = LruHashMap::with_max_entries(1024, 0);
named!(MOUNT_PENDING = names::MOUNT_PENDING);

/// `FSCONFIG_SET_STRING`.
const FSCONFIG_SET_STRING: u64 = 1;
/// The `fsconfig` key that names the source, as read into an 8-byte buffer (NUL padded).
const SOURCE_KEY: [u8; 8] = *b"source\0\0";

#[tracepoint(category = "syscalls", name = "sys_enter_mount")]
pub(crate) fn sys_enter_mount(ctx: TracePointContext) -> u32 {
    emit_mount(&ctx);
    0
}
named!(sys_enter_mount = programs::SYS_ENTER_MOUNT.name);

#[tracepoint(category = "syscalls", name = "sys_enter_fsopen")]
pub(crate) fn sys_enter_fsopen(ctx: TracePointContext) -> u32 {
    remember_fsopen(&ctx);
    0
}
named!(sys_enter_fsopen = programs::SYS_ENTER_FSOPEN.name);

#[tracepoint(category = "syscalls", name = "sys_enter_fsconfig")]
pub(crate) fn sys_enter_fsconfig(ctx: TracePointContext) -> u32 {
    remember_fsconfig(&ctx);
    0
}
named!(sys_enter_fsconfig = programs::SYS_ENTER_FSCONFIG.name);

#[tracepoint(category = "syscalls", name = "sys_enter_move_mount")]
pub(crate) fn sys_enter_move_mount(ctx: TracePointContext) -> u32 {
    emit_move_mount(&ctx);
    0
}
named!(sys_enter_move_mount = programs::SYS_ENTER_MOVE_MOUNT.name);

#[inline(always)]
fn tgid() -> u32 {
    (bpf_get_current_pid_tgid() >> 32) as u32
}

#[inline(always)]
fn emit_mount(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let args: MountArgs = tracepoint::sys_enter(ctx)?;

    let mut entry = submit::reserve::<MountEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit.
    unsafe {
        fill_mount(ev, cfg, args.flags, MOUNT_SYSCALL_MOUNT);
        (*ev).fstype = [0; 32];
        let mut f = strings::read_user_str(args.source as *const u8, &mut (*ev).source);
        f |= strings::read_user_str(args.target as *const u8, &mut (*ev).target);
        f |= strings::read_user_str(args.fstype as *const u8, &mut (*ev).fstype);
        let denied = deny_rule(cfg, &(*ev).fstype);
        if denied.is_some() {
            f |= FLAG_DENIED;
        }
        (*ev).header.flags |= f;
        submit::submit(entry);
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

/// Remembers the fstype; a failed insert loses the coming mount event's fstype and source, so it is
/// counted (`MAP_INSERT_FAILED`; the LRU map evicts rather than fills, so this is rare).
#[inline(always)]
#[expect(
    clippy::needless_borrows_for_generic_args,
    reason = "the 160-byte value goes by reference: a by-value copy would cost BPF stack"
)]
fn remember_fsopen(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let args: FsopenArgs = tracepoint::sys_enter(ctx)?;
    let tgid = tgid();
    // Insert a zeroed entry, then fill it in place (the value is too large for the BPF stack).
    let zero = MountPending {
        source: [0; 128],
        fstype: [0; 32],
    };
    MOUNT_PENDING
        .insert(tgid, &zero, 0)
        .or_count(counter::MAP_INSERT_FAILED)?;
    let p = MOUNT_PENDING.get_ptr_mut(tgid).or_count(counter::MAP_INSERT_FAILED)?;
    // SAFETY: `p` is a valid map value of this process (only its own syscalls write it).
    unsafe { strings::read_user_str(args.fs_name as *const u8, &mut (*p).fstype) };
    // Deny at fsopen: the filesystem context is never created.
    // SAFETY: as above.
    if let Some(rule_id) = deny_rule(cfg, unsafe { &(*p).fstype }) {
        enforce::kill_current(DENY_MOUNT, rule_id);
    }
    Some(())
}

/// Remembers the source given by `fsconfig(FSCONFIG_SET_STRING, "source", …)`; other commands and
/// keys, and processes without an `fsopen` in flight, are none of its business.
#[inline(always)]
fn remember_fsconfig(ctx: &TracePointContext) -> Option<()> {
    scope::watched()?;
    let args: FsconfigArgs = tracepoint::sys_enter(ctx)?;
    if args.cmd != FSCONFIG_SET_STRING {
        return None;
    }
    let p = MOUNT_PENDING.get_ptr_mut(tgid())?;
    let mut key = [0u8; 8];
    // A failed read is counted (`READ_FAILURES`); the mount is then reported without its source.
    strings::read_user_str(args.key as *const u8, &mut key);
    if key != SOURCE_KEY {
        return None;
    }
    // SAFETY: `p` is a valid map value of this process (only its own syscalls write it).
    unsafe { strings::read_user_str(args.value as *const u8, &mut (*p).source) };
    Some(())
}

#[inline(always)]
fn emit_move_mount(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let args: MoveMountArgs = tracepoint::sys_enter(ctx)?;
    let tgid = tgid();

    let mut entry = submit::reserve::<MountEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit; the pending entry is a
    // valid map value.
    unsafe {
        fill_mount(ev, cfg, args.flags, MOUNT_SYSCALL_MOVE_MOUNT);
        match MOUNT_PENDING.get(tgid) {
            Some(p) => {
                (*ev).source = p.source;
                (*ev).fstype = p.fstype;
            }
            None => {
                (*ev).source[0] = 0;
                (*ev).fstype = [0; 32];
            }
        }
        (*ev).header.flags |= strings::read_user_str(args.to_pathname as *const u8, &mut (*ev).target);
        let denied = deny_rule(cfg, &(*ev).fstype);
        if denied.is_some() {
            (*ev).header.flags |= FLAG_DENIED;
        }
        let _ = MOUNT_PENDING.remove(tgid);
        submit::submit(entry);
        if let Some(rule_id) = denied {
            enforce::kill_current(DENY_MOUNT, rule_id);
        }
    }
    Some(())
}

/// Fills the header and the scalar fields shared by both mount APIs (strings are the caller's).
///
/// # Safety
/// `ev` points to a reserved, not yet submitted record.
#[inline(always)]
unsafe fn fill_mount(ev: *mut MountEvent, cfg: &KernelConfig, flags: u64, syscall: u8) {
    // SAFETY: the caller's contract.
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
