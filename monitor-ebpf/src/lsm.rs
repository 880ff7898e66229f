//! BPF LSM hooks, loaded only where the kernel allows BPF LSM (userspace's capability probe):
//! the same deny tables as the tracepoint programs, checked on the kernel's own objects *before*
//! the operation has any effect, and refused with `-EPERM` instead of a SIGKILL after the fact.
//!
//! `lsm_file_open` (`security_file_open(struct file *)`): the file's `f_path` is walked from kernel
//! memory (`crate::path`: no user string, so nothing is unreadable) and looked up in `DENY_OPEN` with
//! the file's open flags. It runs before `O_TRUNC` truncates (`do_open` → `handle_truncate` comes
//! after `vfs_open`); an `O_CREAT` of a file that did not exist has already created it (the LSM
//! hook sees an opened file), which is the one effect it cannot undo. A refusal is counted
//! `DENIED`, reported as a deny event, and noted in [`LSM_DENIED`] so the open tracepoint at the
//! syscall's exit flags its open event denied (and does not kill: `DENY_VIA_LSM_OPEN`).
//!
//! `lsm_bprm_check_security` (`security_bprm_check(struct linux_binprm *)`, called for the file
//! asked for and again for each interpreter): the name as passed (`bprm->filename`, the kernel's
//! copy) and the kernel path of `bprm->file` are looked up in `DENY_EXEC`; a match fails the
//! `execve` with EPERM before the new program is loaded, the caller lives on, and the failed exec's
//! event at `sys_exit_execve` is flagged denied.
//!
//! `lsm_sb_mount` (`security_sb_mount(dev_name, path, type, flags, data)`, every `mount(2)`: new
//! mounts, binds, moves, remounts) and `lsm_move_mount` (`security_move_mount(from, to)`, the new
//! API's attach step) look the filesystem type up in `DENY_MOUNT` (by name, or the any-mount entry):
//! `mount(2)`'s type is the kernel's copy of the string passed (the key the tracepoint builds from
//! the same string), `move_mount`'s the moved mount's own (`from->mnt->mnt_sb->s_type->name`). Both
//! run before the mount tree changes, so a refused mount never appears in `/proc/self/mountinfo`;
//! the `sys_exit_mount`/`sys_exit_move_mount` events are flagged denied and nobody is killed
//! (`DENY_VIA_LSM_MOUNT`). The new API's earlier steps (`fsopen`, `fsmount`, `open_tree` clones,
//! `fspick`, `mount_setattr`) have no hook here and keep the tracepoint's kill at their exit, which
//! also lands before anything is attached.
//!
//! `lsm_socket_connect` (`security_socket_connect(sock, address, addrlen)`, every connect that goes
//! through `__sys_connect_file`: the `connect` syscall and `io_uring` `IORING_OP_CONNECT`) asks the
//! connect deny tables and the quarantine set about the kernel's copy of the address, as the cgroup
//! `connect4`/`connect6` hooks do (`crate::connect::lsm_refusal`), but on the *calling task*'s
//! scope, not the socket's cgroup: a socket made outside the watched cgroup and carried in (a
//! process that moved in after `socket()`, a descriptor passed with `SCM_RIGHTS`), which no watched
//! cgroup's hook checks, is refused too, before the connection is attempted. The refusal's connect
//! event is reported here, flagged denied, so nobody is killed from userspace for it. TCP Fast Open
//! (`sendto`/`sendmsg` with `MSG_FASTOPEN`) does not pass this hook: for it the cgroup hooks stay the
//! only check.
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{lsm, map},
    maps::LruHashMap,
    programs::LsmContext,
};
use monitor_common::{
    config::KernelConfig,
    counter,
    deny::{DENY_CONNECT, DENY_EXEC, DENY_MOUNT, DENY_OPEN},
    enforce::{
        DENY_FSTYPE_LEN, DENY_KIND_EXEC, DENY_KIND_MOUNT, DENY_KIND_OPEN, DENY_PATH_LEN, DENY_VIA_LSM_EXEC,
        DENY_VIA_LSM_MOUNT, DENY_VIA_LSM_OPEN,
    },
    maps as names, programs,
};

use crate::{connect, enforce, maps, mount, path, scope, strings, task::read_field};

const EPERM: i32 = 1;

/// (what << 56 | thread) → rule id of the open or exec refused last (read and removed by the
/// tracepoint at that syscall's exit). A tgid fits in 22 bits, so `what` never collides with it.
#[map]
pub(crate) static LSM_DENIED: LruHashMap<u64, u32> = LruHashMap::with_max_entries(4096, 0);
named!(LSM_DENIED = names::LSM_DENIED);

#[lsm(hook = "file_open")]
pub(crate) fn lsm_file_open(ctx: LsmContext) -> i32 {
    let file: *const u8 = ctx.arg(0);
    // The verdict of an LSM program that ran before this one: keep a refusal.
    let earlier: i32 = ctx.arg(1);
    if earlier != 0 {
        return earlier;
    }
    let Some(cfg) = maps::config() else { return 0 };
    match open_rule(cfg, file) {
        Some(rule_id) => refuse(cfg, DENY_OPEN, rule_id),
        None => 0,
    }
}
named!(lsm_file_open = programs::LSM_FILE_OPEN.name);

#[lsm(hook = "bprm_check_security")]
pub(crate) fn lsm_bprm_check_security(ctx: LsmContext) -> i32 {
    let bprm: *const u8 = ctx.arg(0);
    let earlier: i32 = ctx.arg(1);
    if earlier != 0 {
        return earlier;
    }
    let Some(cfg) = maps::config() else { return 0 };
    match exec_rule(cfg, bprm) {
        Some(rule_id) => refuse(cfg, DENY_EXEC, rule_id),
        None => 0,
    }
}
named!(lsm_bprm_check_security = programs::LSM_BPRM_CHECK_SECURITY.name);

#[lsm(hook = "sb_mount")]
pub(crate) fn lsm_sb_mount(ctx: LsmContext) -> i32 {
    // (dev_name, path, type, flags, data, verdict so far)
    let earlier: i32 = ctx.arg(5);
    if earlier != 0 {
        return earlier;
    }
    let Some(cfg) = mount_deny_config() else { return 0 };
    let mut key = [0u8; DENY_FSTYPE_LEN];
    // Null for a bind, move or remount without one: the all-zero key, as the tracepoint reads it.
    strings::read_kernel_str(ctx.arg(2), &mut key);
    match enforce::mount_rule(&key) {
        Some(rule_id) => refuse(cfg, DENY_MOUNT, rule_id),
        None => 0,
    }
}
named!(lsm_sb_mount = programs::LSM_SB_MOUNT.name);

#[lsm(hook = "move_mount")]
pub(crate) fn lsm_move_mount(ctx: LsmContext) -> i32 {
    // (from_path, to_path, verdict so far)
    let earlier: i32 = ctx.arg(2);
    if earlier != 0 {
        return earlier;
    }
    let Some(cfg) = mount_deny_config() else { return 0 };
    let from: *const u8 = ctx.arg(0);
    let mut key = [0u8; DENY_FSTYPE_LEN];
    if let Some(mnt) = read_field::<*const u8>(from, cfg.offsets.path.path_mnt) {
        strings::read_kernel_str(mount::fstype_name(cfg, mnt), &mut key);
    }
    match enforce::mount_rule(&key) {
        Some(rule_id) => refuse(cfg, DENY_MOUNT, rule_id),
        None => 0,
    }
}
named!(lsm_move_mount = programs::LSM_MOVE_MOUNT.name);

#[lsm(hook = "socket_connect")]
pub(crate) fn lsm_socket_connect(ctx: LsmContext) -> i32 {
    // (sock, address, addrlen, verdict so far)
    let earlier: i32 = ctx.arg(3);
    if earlier != 0 {
        return earlier;
    }
    // No `DENY_KIND_CONNECT` test first: a quarantined agent is refused without any deny rule.
    let Some(cfg) = scope::watched() else { return 0 };
    match connect::lsm_refusal(cfg, ctx.arg(0), ctx.arg(1), ctx.arg(2)) {
        Some(rule_id) => {
            // Its connect event is out already (no `LSM_DENIED` note: no tracepoint reports it).
            maps::count(counter::DENIED);
            enforce::emit_deny(cfg, DENY_CONNECT, rule_id);
            -EPERM
        }
        None => 0,
    }
}
named!(lsm_socket_connect = programs::LSM_SOCKET_CONNECT.name);

/// The config when mount deny rules exist, this program's refusal is in force and the caller is a
/// watched agent.
#[inline(always)]
fn mount_deny_config() -> Option<&'static KernelConfig> {
    let cfg = maps::config()?;
    if cfg.deny_kinds & DENY_KIND_MOUNT == 0 || cfg.deny_kinds & DENY_VIA_LSM_MOUNT == 0 {
        return None;
    }
    scope::is_watched(cfg).then_some(cfg)
}

/// Notes, counts and reports a refusal; the hook's verdict.
#[inline(always)]
pub(crate) fn refuse(cfg: &KernelConfig, what: u8, rule_id: u32) -> i32 {
    let key = denied_key(what);
    let _ = LSM_DENIED.insert(key, rule_id, 0);
    maps::count(counter::DENIED);
    enforce::emit_deny(cfg, what, rule_id);
    -EPERM
}

#[inline(always)]
fn denied_key(what: u8) -> u64 {
    bpf_get_current_pid_tgid() | (u64::from(what) << 56)
}

/// The deny rule covering this exec of a watched agent (name as passed, or the file's path).
#[inline(always)]
fn exec_rule(cfg: &KernelConfig, bprm: *const u8) -> Option<u32> {
    if cfg.deny_kinds & DENY_KIND_EXEC == 0 || cfg.deny_kinds & DENY_VIA_LSM_EXEC == 0 {
        return None;
    }
    if !scope::is_watched(cfg) {
        return None;
    }
    let off = &cfg.offsets.path;
    let key = enforce::path_scratch()?;
    if let Some(name) = read_field::<*const u8>(bprm, off.bprm_filename) {
        // SAFETY: the key's data holds DENY_PATH_LEN bytes; the kernel string is read with the
        // helper, which fails cleanly and NUL-terminates.
        let n = unsafe {
            aya_ebpf::helpers::generated::bpf_probe_read_kernel_str(
                (&raw mut (*key).data.data).cast(),
                DENY_PATH_LEN as u32,
                name.cast(),
            )
        };
        if n > 0
            && let Some(rule) = enforce::lookup_path(&enforce::DENY_EXEC, key, n as usize)
        {
            return Some(rule.rule_id);
        }
    }
    let file: *const u8 = read_field(bprm, off.bprm_file)?;
    let walked = path::walk(off, path::path_at(off, file, off.file_path)?)?;
    let len = path::walked_to_key(walked, key)?;
    enforce::lookup_path(&enforce::DENY_EXEC, key, len).map(|r| r.rule_id)
}

/// The deny rule covering this open of a watched agent, if any.
#[inline(always)]
fn open_rule(cfg: &KernelConfig, file: *const u8) -> Option<u32> {
    if cfg.deny_kinds & DENY_KIND_OPEN == 0 || cfg.deny_kinds & DENY_VIA_LSM_OPEN == 0 {
        return None;
    }
    if !scope::is_watched(cfg) {
        return None;
    }
    let off = &cfg.offsets.path;
    let flags: u32 = read_field(file, cfg.offsets.file_flags)?;
    let walked = path::walk(off, path::path_at(off, file, off.file_path)?)?;
    let key = enforce::path_scratch()?;
    let len = path::walked_to_key(walked, key)?;
    let rule = enforce::lookup_path(&enforce::DENY_OPEN, key, len)?;
    enforce::open_matches(&rule, flags).then_some(rule.rule_id)
}

/// The rule id an LSM hook refused this thread's `what` (`DENY_OPEN`, `DENY_EXEC`, `DENY_MOUNT`,
/// `DENY_CHANGE`) with (consumed).
#[inline(always)]
pub(crate) fn take_denied(what: u8) -> Option<u32> {
    let key = denied_key(what);
    // SAFETY: map values are plain data; this thread is the only writer of its own key.
    let rule = unsafe { LSM_DENIED.get(key) }.copied()?;
    let _ = LSM_DENIED.remove(key);
    Some(rule)
}
