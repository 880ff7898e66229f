//! Opens at the syscall's exit → [`OpenEvent`]: `openat`, `openat2`, `open`, `creat`,
//! `open_by_handle_at`, failed attempts included. At exit the result is known, the path string has
//! been copied (so faulted in) by the kernel itself, and a successful open's file is in the
//! descriptor table: its path is walked from the kernel's objects (`crate::path`), which is what
//! rules and deny tables match. An open matching a deny table is killed before it returns, unless
//! the BPF LSM hook (`crate::lsm`) is attached: then it was refused with EPERM before it had any
//! effect, and its event here is only flagged denied.
use aya_ebpf::{
    helpers::{bpf_probe_read_user, generated::bpf_get_current_task},
    macros::{map, tracepoint},
    maps::{LruHashMap, PerCpuArray},
    programs::TracePointContext,
};
use monitor_common::{
    EventKind, FLAG_DENIED, FLAG_READ_FAILED,
    config::{FILTER_QUIET_OPENS, KernelConfig},
    counter,
    deny::{DENY_CHANGE, DENY_OPEN},
    enforce::{DENY_KIND_OPEN, DENY_VIA_LSM_CHANGE, DENY_VIA_LSM_OPEN},
    maps as names,
    open::{
        OPEN_SYSCALL_CREAT, OPEN_SYSCALL_OPEN, OPEN_SYSCALL_OPEN_BY_HANDLE_AT, OPEN_SYSCALL_OPENAT,
        OPEN_SYSCALL_OPENAT2, OpenEvent, QUIET_OPENS_MAX, QUIET_PATH_LEN, QuietOpenKey,
    },
    programs,
    record::{PATH_MAX, Tail},
    tracepoint::{CreatArgs, OpenArgs, OpenByHandleAtArgs, Openat2Args, OpenatArgs},
};

use crate::{args, enforce, maps, path, record::Record, scope, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_openat")]
pub(crate) fn sys_exit_openat(ctx: TracePointContext) -> u32 {
    emit(&ctx, OPEN_SYSCALL_OPENAT);
    0
}
named!(sys_exit_openat = programs::SYS_EXIT_OPENAT.name);

#[tracepoint(category = "syscalls", name = "sys_exit_openat2")]
pub(crate) fn sys_exit_openat2(ctx: TracePointContext) -> u32 {
    emit(&ctx, OPEN_SYSCALL_OPENAT2);
    0
}
named!(sys_exit_openat2 = programs::SYS_EXIT_OPENAT2.name);

#[tracepoint(category = "syscalls", name = "sys_exit_open")]
pub(crate) fn sys_exit_open(ctx: TracePointContext) -> u32 {
    emit(&ctx, OPEN_SYSCALL_OPEN);
    0
}
named!(sys_exit_open = programs::SYS_EXIT_OPEN.name);

#[tracepoint(category = "syscalls", name = "sys_exit_creat")]
pub(crate) fn sys_exit_creat(ctx: TracePointContext) -> u32 {
    emit(&ctx, OPEN_SYSCALL_CREAT);
    0
}
named!(sys_exit_creat = programs::SYS_EXIT_CREAT.name);

#[tracepoint(category = "syscalls", name = "sys_exit_open_by_handle_at")]
pub(crate) fn sys_exit_open_by_handle_at(ctx: TracePointContext) -> u32 {
    emit(&ctx, OPEN_SYSCALL_OPEN_BY_HANDLE_AT);
    0
}
named!(sys_exit_open_by_handle_at = programs::SYS_EXIT_OPEN_BY_HANDLE_AT.name);

/// `struct open_how` (openat2).
#[repr(C)]
#[derive(Clone, Copy)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `O_CREAT | O_WRONLY | O_TRUNC`: what `creat` opens with.
const CREAT_FLAGS: u64 = 0o100 | 0o1 | 0o1000;
const AT_FDCWD: u64 = (-100i64) as u64;

/// What one of the syscalls asked for: (dirfd, path pointer, flags, mode, header flags).
#[inline(always)]
fn request(cfg: &KernelConfig, syscall: u8) -> Option<(u64, u64, u64, u64, u16)> {
    let regs = &cfg.offsets.regs;
    Some(match syscall {
        OPEN_SYSCALL_OPENAT => {
            let a: OpenatArgs = args::current_as(regs)?;
            (a.dfd, a.filename, a.flags, a.mode, 0)
        }
        OPEN_SYSCALL_OPENAT2 => {
            let a: Openat2Args = args::current_as(regs)?;
            // SAFETY: user memory, read through the helper (which fails cleanly).
            match unsafe { bpf_probe_read_user(a.how as *const OpenHow) } {
                Ok(h) => (a.dfd, a.filename, h.flags, h.mode, 0),
                Err(_) => {
                    maps::count(counter::READ_FAILURES);
                    (a.dfd, a.filename, 0, 0, FLAG_READ_FAILED)
                }
            }
        }
        OPEN_SYSCALL_OPEN => {
            let a: OpenArgs = args::current_as(regs)?;
            (AT_FDCWD, a.filename, a.flags, a.mode, 0)
        }
        OPEN_SYSCALL_CREAT => {
            let a: CreatArgs = args::current_as(regs)?;
            (AT_FDCWD, a.pathname, CREAT_FLAGS, a.mode, 0)
        }
        _ => {
            let a: OpenByHandleAtArgs = args::current_as(regs)?;
            (a.mount_fd, 0, a.flags, 0, 0)
        }
    })
}

#[inline(always)]
fn emit(ctx: &TracePointContext, syscall: u8) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let result = tracepoint::sys_exit_ret(ctx)?;
    // Probing for files that do not exist (library and config search paths) is the bulk of failed
    // opens and says nothing; refused ones (EACCES, EPERM, …) are events.
    if args::is_not_found(result) {
        return None;
    }
    let (dfd, filename, flags, mode, hdr_flags) = request(cfg, syscall)?;
    let off = &cfg.offsets.path;
    // SAFETY: the helper has no preconditions; the task is only read through bpf_probe_read_kernel.
    let task = unsafe { bpf_get_current_task() } as *const u8;
    // A successful open's file: walked first, so that an open the interest filter leaves out costs
    // no record.
    let file = if result >= 0 {
        path::fd_path(off, task, result)
    } else {
        None
    };
    let walked = file.and_then(|p| path::walk(off, p));
    // With the LSM hook attached it has already refused denied opens (-EPERM, no effect): report
    // its verdict, kill nothing. Without it, a completed open matching the table is killed here.
    let via_lsm = cfg.deny_kinds & DENY_VIA_LSM_OPEN != 0;
    let denied = match walked {
        Some(w) if cfg.deny_kinds & DENY_KIND_OPEN != 0 && !via_lsm => deny_rule(w, flags as u32),
        _ => None,
    };
    if denied.is_none()
        && hdr_flags == 0
        && cfg.filters & FILTER_QUIET_OPENS != 0
        && walked.is_some_and(|w| is_quiet(w, flags as u32, syscall))
    {
        maps::count(counter::FILTERED_OPENS);
        return None;
    }
    let mut rec = Record::<OpenEvent>::start(EventKind::Open, &cfg.offsets)?;
    let path = rec.user_str(filename, PATH_MAX);
    let kernel_path = if file.is_some() {
        rec.walked(walked)
    } else {
        Tail::ABSENT
    };
    let relative = rec.is_relative(path);
    // An `int` argument: only the register's low 32 bits are the value.
    let dfd = i64::from(dfd as i32);
    let dir_path = if result < 0 && relative {
        rec.path(off, path::dir_path(off, task, dfd))
    } else {
        Tail::ABSENT
    };
    // An `O_TRUNC` open of a path a change rule protects from truncation is refused by
    // `path_truncate` (before 6.2) or `file_truncate` (`crate::lsm_change`): a refused open too.
    let refused = result < 0
        && ((via_lsm && crate::lsm::take_denied(DENY_OPEN).is_some())
            || (cfg.deny_kinds & DENY_VIA_LSM_CHANGE != 0 && crate::lsm::take_denied(DENY_CHANGE).is_some()));
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).flags = flags as u32;
        (*ev).mode = mode as u32;
        (*ev).dfd = dfd as i32;
        (*ev).syscall = syscall;
        (*ev).path = path;
        (*ev).kernel_path = kernel_path;
        (*ev).dir_path = dir_path;
        (*ev).header.flags |= hdr_flags;
        if denied.is_some() || refused {
            (*ev).header.flags |= FLAG_DENIED;
        }
    }
    rec.submit(true);
    if let Some(rule_id) = denied {
        enforce::kill_current(DENY_OPEN, rule_id);
    }
    Some(())
}

/// The deny rule covering the kernel's path of the opened file (the last walk), if any.
#[inline(always)]
fn deny_rule(walked: path::Walked, flags: u32) -> Option<u32> {
    let key = enforce::path_scratch()?;
    let len = path::walked_to_key(walked, key)?;
    let rule = enforce::lookup_path(&enforce::DENY_OPEN, key, len)?;
    enforce::open_matches(&rule, flags).then_some(rule.rule_id)
}

// interest filter
/// Successful opens that no loaded rule can match (`monitor_common::open::QuietOpenKey`), filled
/// by userspace.
#[map]
static OPEN_QUIET: LruHashMap<QuietOpenKey, u32> = LruHashMap::with_max_entries(QUIET_OPENS_MAX, 0);
named!(OPEN_QUIET = names::OPEN_QUIET);

/// This CPU's `OPEN_QUIET` lookup key (too large for the stack next to the walk's state).
#[map]
static QUIET_SCRATCH: PerCpuArray<QuietOpenKey> = PerCpuArray::with_max_entries(1, 0);
named!(QUIET_SCRATCH = names::QUIET_SCRATCH);

/// Whether userspace has judged a successful open of the walked path with these flags by this
/// syscall one that no rule can match. A partial walk or a path too long for the key is never
/// quiet.
#[inline(always)]
fn is_quiet(w: path::Walked, flags: u32, syscall: u8) -> bool {
    if w.flags != 0 || w.len >= QUIET_PATH_LEN {
        return false;
    }
    let Some(key) = QUIET_SCRATCH.get_ptr_mut(0) else {
        return false;
    };
    // SAFETY: this CPU's scratch entry, valid for the program run; the path is NUL-padded by the
    // zeroing (the copy writes fewer than QUIET_PATH_LEN bytes).
    unsafe {
        core::ptr::write_bytes(key.cast::<u8>(), 0, size_of::<QuietOpenKey>());
        (*key).flags = flags;
        (*key).syscall = syscall;
        if path::copy_walked::<QUIET_PATH_LEN>((&raw mut (*key).path).cast(), w.len).is_none() {
            return false;
        }
        #[expect(
            clippy::needless_borrows_for_generic_args,
            reason = "the 136-byte key by reference: a copy would not fit the BPF stack next to the walk"
        )]
        let hit = OPEN_QUIET.get(&*key).is_some();
        hit
    }
}
