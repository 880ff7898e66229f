//! Namespace changes at the syscall's exit → [`NamespaceEvent`]: `unshare(2)` (every call),
//! `setns(2)` (every call, with what the descriptor is: for a namespace file its inode number and
//! the kernel's name of its type), and `clone(2)`/`clone3(2)` when they ask for a new namespace
//! (clone3's flags are read from its `struct clone_args` in user memory, which the kernel copied at
//! entry, so it is faulted in). A clone's child also leaves the syscall (returning 0): only the
//! parent's return is an event.
use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind, FLAG_READ_FAILED,
    config::KernelConfig,
    counter,
    namespace::{
        CLONE_NEW_MASK, CSIGNAL, NS_FD_NSFS, NS_FD_PIDFD, NS_FD_UNKNOWN, NS_SYSCALL_CLONE, NS_SYSCALL_CLONE3,
        NS_SYSCALL_SETNS, NS_SYSCALL_UNSHARE, NSFS_MAGIC, NamespaceEvent, PIDFS_MAGIC,
    },
    programs,
    record::Tail,
    tracepoint::{Clone3Args, CloneArgs, SetnsArgs, UnshareArgs},
};

use crate::{actor, args, maps, path, record::Record, scope, task, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_unshare")]
pub(crate) fn sys_exit_unshare(ctx: TracePointContext) -> u32 {
    emit(&ctx, NS_SYSCALL_UNSHARE);
    0
}
named!(sys_exit_unshare = programs::SYS_EXIT_UNSHARE.name);

#[tracepoint(category = "syscalls", name = "sys_exit_setns")]
pub(crate) fn sys_exit_setns(ctx: TracePointContext) -> u32 {
    emit(&ctx, NS_SYSCALL_SETNS);
    0
}
named!(sys_exit_setns = programs::SYS_EXIT_SETNS.name);

#[tracepoint(category = "syscalls", name = "sys_exit_clone")]
pub(crate) fn sys_exit_clone(ctx: TracePointContext) -> u32 {
    emit(&ctx, NS_SYSCALL_CLONE);
    0
}
named!(sys_exit_clone = programs::SYS_EXIT_CLONE.name);

#[tracepoint(category = "syscalls", name = "sys_exit_clone3")]
pub(crate) fn sys_exit_clone3(ctx: TracePointContext) -> u32 {
    emit(&ctx, NS_SYSCALL_CLONE3);
    0
}
named!(sys_exit_clone3 = programs::SYS_EXIT_CLONE3.name);

/// What a setns descriptor is: (kind, inode number, namespace-type name pointer).
#[inline(always)]
fn setns_target(cfg: &KernelConfig, fd: i64) -> (u8, u64, *const u8) {
    let po = &cfg.offsets.process;
    let none = (NS_FD_UNKNOWN, 0, core::ptr::null());
    let Some(file) = path::fd_file(&cfg.offsets.path, task::current_task(), fd) else {
        return none;
    };
    let Some(inode) = task::read_field::<*const u8>(file, po.file_inode) else {
        return none;
    };
    let ino: u64 = task::read_field(inode, po.inode_ino).unwrap_or(0);
    let sb: *const u8 = task::read_field(inode, po.inode_sb).unwrap_or(core::ptr::null());
    // `s_magic` is an `unsigned long`.
    let magic: u64 = task::read_field(sb, po.sb_magic).unwrap_or(0);
    match magic {
        NSFS_MAGIC => {
            // nsfs keeps the namespace's `ns_common` in `i_private`; its ops name the type.
            let name = task::read_field::<*const u8>(inode, po.inode_private)
                .and_then(|ns| task::read_field::<*const u8>(ns, po.ns_common_ops))
                .and_then(|ops| task::read_field::<*const u8>(ops, po.ns_ops_name))
                .unwrap_or(core::ptr::null());
            (NS_FD_NSFS, ino, name)
        }
        PIDFS_MAGIC => (NS_FD_PIDFD, ino, core::ptr::null()),
        _ => (NS_FD_UNKNOWN, ino, core::ptr::null()),
    }
}

#[inline(always)]
fn emit(ctx: &TracePointContext, syscall: u8) -> Option<()> {
    let cfg = scope::watched()?;
    let result = tracepoint::sys_exit_ret(ctx)?;
    let regs = &cfg.offsets.regs;
    let mut hdr_flags = 0;
    let mut fd = -1i64;
    let flags = match syscall {
        NS_SYSCALL_UNSHARE => args::current_as::<UnshareArgs>(regs)?.flags,
        NS_SYSCALL_SETNS => {
            let a: SetnsArgs = args::current_as(regs)?;
            // `int` arguments: only the registers' low 32 bits are the values.
            fd = i64::from(a.fd as i32);
            u64::from(a.nstype as u32)
        }
        NS_SYSCALL_CLONE => {
            // The child's return (0) is not the call.
            if result == 0 {
                return None;
            }
            let flags = args::current_as::<CloneArgs>(regs)?.flags;
            if flags & CLONE_NEW_MASK & !CSIGNAL == 0 {
                return None;
            }
            flags
        }
        _ => {
            if result == 0 {
                return None;
            }
            let a: Clone3Args = args::current_as(regs)?;
            // SAFETY: user memory read through the helper, which fails cleanly. `flags` is the
            // first field of `struct clone_args`.
            match unsafe { bpf_probe_read_user(a.uargs as *const u64) } {
                Ok(flags) if flags & CLONE_NEW_MASK == 0 => return None,
                Ok(flags) => flags,
                Err(_) => {
                    // Unknown flags: reported, flagged, rather than dropped.
                    maps::count(counter::READ_FAILURES);
                    hdr_flags = FLAG_READ_FAILED;
                    0
                }
            }
        }
    };
    let (fd_kind, ns_inode, ns_name) = if syscall == NS_SYSCALL_SETNS {
        setns_target(cfg, fd)
    } else {
        (NS_FD_UNKNOWN, 0, core::ptr::null())
    };
    let mut rec = Record::<NamespaceEvent>::start(EventKind::Namespace, &cfg.offsets)?;
    let ns_type = if ns_name.is_null() {
        Tail::ABSENT
    } else {
        rec.kernel_str(ns_name, 16)
    };
    let exe = actor::exe(&mut rec, cfg);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).flags = flags;
        (*ev).ns_inode = ns_inode;
        (*ev).fd = fd as i32;
        (*ev).syscall = syscall;
        (*ev).fd_kind = fd_kind;
        (*ev).ns_type = ns_type;
        (*ev).exe = exe;
        (*ev).header.flags |= hdr_flags;
    }
    rec.submit(false);
    Some(())
}
