//! Credential changes → [`CredEvent`]: each of `setuid`, `setgid`, `setreuid`, `setregid`,
//! `setresuid`, `setresgid`, `setfsuid`, `setfsgid` and `capset` has an entry program that keeps
//! the caller's credentials (by thread, in [`CRED_BEFORE`]) and an exit program that emits them with
//! the credentials after the call and its result — failed attempts (`EPERM`) included.
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user},
    macros::{map, tracepoint},
    maps::LruHashMap,
    programs::TracePointContext,
};
use monitor_common::{
    EventKind, FLAG_READ_FAILED, counter,
    cred::{
        CRED_SYSCALL_CAPSET, CRED_SYSCALL_SETFSGID, CRED_SYSCALL_SETFSUID, CRED_SYSCALL_SETGID, CRED_SYSCALL_SETREGID,
        CRED_SYSCALL_SETRESGID, CRED_SYSCALL_SETRESUID, CRED_SYSCALL_SETREUID, CRED_SYSCALL_SETUID, CredEvent, Creds,
    },
    maps as names, programs,
    tracepoint::CapsetArgs,
};

use crate::{actor, args, maps, record::Record, scope, tracepoint};

/// The caller's credentials at a call's entry, by thread (`pid_tgid`), until its exit. LRU: an
/// entry left by a thread that never reached the exit is evicted, never blocks a later one.
#[map]
static CRED_BEFORE: LruHashMap<u64, Creds> = LruHashMap::with_max_entries(4096, 0);
named!(CRED_BEFORE = names::CRED_BEFORE);

#[tracepoint(category = "syscalls", name = "sys_enter_setuid")]
pub(crate) fn sys_enter_setuid(_ctx: TracePointContext) -> u32 {
    keep_before();
    0
}
named!(sys_enter_setuid = programs::SYS_ENTER_SETUID.name);

#[tracepoint(category = "syscalls", name = "sys_exit_setuid")]
pub(crate) fn sys_exit_setuid(ctx: TracePointContext) -> u32 {
    emit(&ctx, CRED_SYSCALL_SETUID);
    0
}
named!(sys_exit_setuid = programs::SYS_EXIT_SETUID.name);

#[tracepoint(category = "syscalls", name = "sys_enter_setgid")]
pub(crate) fn sys_enter_setgid(_ctx: TracePointContext) -> u32 {
    keep_before();
    0
}
named!(sys_enter_setgid = programs::SYS_ENTER_SETGID.name);

#[tracepoint(category = "syscalls", name = "sys_exit_setgid")]
pub(crate) fn sys_exit_setgid(ctx: TracePointContext) -> u32 {
    emit(&ctx, CRED_SYSCALL_SETGID);
    0
}
named!(sys_exit_setgid = programs::SYS_EXIT_SETGID.name);

#[tracepoint(category = "syscalls", name = "sys_enter_setreuid")]
pub(crate) fn sys_enter_setreuid(_ctx: TracePointContext) -> u32 {
    keep_before();
    0
}
named!(sys_enter_setreuid = programs::SYS_ENTER_SETREUID.name);

#[tracepoint(category = "syscalls", name = "sys_exit_setreuid")]
pub(crate) fn sys_exit_setreuid(ctx: TracePointContext) -> u32 {
    emit(&ctx, CRED_SYSCALL_SETREUID);
    0
}
named!(sys_exit_setreuid = programs::SYS_EXIT_SETREUID.name);

#[tracepoint(category = "syscalls", name = "sys_enter_setregid")]
pub(crate) fn sys_enter_setregid(_ctx: TracePointContext) -> u32 {
    keep_before();
    0
}
named!(sys_enter_setregid = programs::SYS_ENTER_SETREGID.name);

#[tracepoint(category = "syscalls", name = "sys_exit_setregid")]
pub(crate) fn sys_exit_setregid(ctx: TracePointContext) -> u32 {
    emit(&ctx, CRED_SYSCALL_SETREGID);
    0
}
named!(sys_exit_setregid = programs::SYS_EXIT_SETREGID.name);

#[tracepoint(category = "syscalls", name = "sys_enter_setresuid")]
pub(crate) fn sys_enter_setresuid(_ctx: TracePointContext) -> u32 {
    keep_before();
    0
}
named!(sys_enter_setresuid = programs::SYS_ENTER_SETRESUID.name);

#[tracepoint(category = "syscalls", name = "sys_exit_setresuid")]
pub(crate) fn sys_exit_setresuid(ctx: TracePointContext) -> u32 {
    emit(&ctx, CRED_SYSCALL_SETRESUID);
    0
}
named!(sys_exit_setresuid = programs::SYS_EXIT_SETRESUID.name);

#[tracepoint(category = "syscalls", name = "sys_enter_setresgid")]
pub(crate) fn sys_enter_setresgid(_ctx: TracePointContext) -> u32 {
    keep_before();
    0
}
named!(sys_enter_setresgid = programs::SYS_ENTER_SETRESGID.name);

#[tracepoint(category = "syscalls", name = "sys_exit_setresgid")]
pub(crate) fn sys_exit_setresgid(ctx: TracePointContext) -> u32 {
    emit(&ctx, CRED_SYSCALL_SETRESGID);
    0
}
named!(sys_exit_setresgid = programs::SYS_EXIT_SETRESGID.name);

#[tracepoint(category = "syscalls", name = "sys_enter_setfsuid")]
pub(crate) fn sys_enter_setfsuid(_ctx: TracePointContext) -> u32 {
    keep_before();
    0
}
named!(sys_enter_setfsuid = programs::SYS_ENTER_SETFSUID.name);

#[tracepoint(category = "syscalls", name = "sys_exit_setfsuid")]
pub(crate) fn sys_exit_setfsuid(ctx: TracePointContext) -> u32 {
    emit(&ctx, CRED_SYSCALL_SETFSUID);
    0
}
named!(sys_exit_setfsuid = programs::SYS_EXIT_SETFSUID.name);

#[tracepoint(category = "syscalls", name = "sys_enter_setfsgid")]
pub(crate) fn sys_enter_setfsgid(_ctx: TracePointContext) -> u32 {
    keep_before();
    0
}
named!(sys_enter_setfsgid = programs::SYS_ENTER_SETFSGID.name);

#[tracepoint(category = "syscalls", name = "sys_exit_setfsgid")]
pub(crate) fn sys_exit_setfsgid(ctx: TracePointContext) -> u32 {
    emit(&ctx, CRED_SYSCALL_SETFSGID);
    0
}
named!(sys_exit_setfsgid = programs::SYS_EXIT_SETFSGID.name);

#[tracepoint(category = "syscalls", name = "sys_enter_capset")]
pub(crate) fn sys_enter_capset(_ctx: TracePointContext) -> u32 {
    keep_before();
    0
}
named!(sys_enter_capset = programs::SYS_ENTER_CAPSET.name);

#[tracepoint(category = "syscalls", name = "sys_exit_capset")]
pub(crate) fn sys_exit_capset(ctx: TracePointContext) -> u32 {
    emit(&ctx, CRED_SYSCALL_CAPSET);
    0
}
named!(sys_exit_capset = programs::SYS_EXIT_CAPSET.name);

/// Entry: keeps the caller's credentials. A failure loses no event, only its "before" half (the
/// event then has no `old` credentials, which userspace shows): not counted as a lost event.
#[inline(always)]
fn keep_before() -> Option<()> {
    let cfg = scope::watched()?;
    let before = actor::creds(&cfg.offsets.process)?;
    CRED_BEFORE.insert(bpf_get_current_pid_tgid(), before, 0).ok()?;
    Some(())
}

/// `struct __user_cap_data_struct`, two of which make a 64-bit set (capset version 2 and 3).
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

#[inline(always)]
fn emit(ctx: &TracePointContext, syscall: u8) -> Option<()> {
    let cfg = scope::watched()?;
    let result = tracepoint::sys_exit_ret(ctx)?;
    let raw = args::current(&cfg.offsets.regs)?;
    let key = bpf_get_current_pid_tgid();
    // SAFETY: a value of this map, copied out at once.
    let before = unsafe { CRED_BEFORE.get(key) }.copied();
    let _ = CRED_BEFORE.remove(key);
    let after = actor::creds(&cfg.offsets.process);
    let mut hdr_flags = 0;
    let mut call_args = [raw[0], raw[1], raw[2]];
    if syscall == CRED_SYSCALL_CAPSET {
        let a = CapsetArgs {
            header: raw[0],
            data: raw[1],
        };
        // SAFETY: user memory read through the helper, which fails cleanly.
        match unsafe { bpf_probe_read_user(a.data as *const [CapData; 2]) } {
            Ok(d) => {
                let set = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
                call_args = [
                    set(d[0].effective, d[1].effective),
                    set(d[0].permitted, d[1].permitted),
                    set(d[0].inheritable, d[1].inheritable),
                ];
            }
            Err(_) => {
                maps::count(counter::READ_FAILURES);
                hdr_flags = FLAG_READ_FAILED;
                call_args = [0; 3];
            }
        }
    }
    let mut rec = Record::<CredEvent>::start(EventKind::Cred, &cfg.offsets)?;
    let exe = actor::exe(&mut rec, cfg);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).args = call_args;
        if let Some(b) = before {
            (*ev).old = b;
            (*ev).has_old = 1;
        }
        match after {
            Some(a) => (*ev).new = a,
            None => hdr_flags |= FLAG_READ_FAILED,
        }
        (*ev).syscall = syscall;
        (*ev).exe = exe;
        (*ev).header.flags |= hdr_flags;
    }
    rec.submit(false);
    Some(())
}
