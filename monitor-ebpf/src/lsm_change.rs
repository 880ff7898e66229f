//! BPF LSM `path_*` hooks: deny rules on *changes* of paths (`DENY_CHANGE`: a rename onto, a hard
//! link or symlink at, an unlink or rmdir, a chmod, chown or truncate of a denied path), refused
//! with `-EPERM` before the name or the file changes. Loaded only where BPF LSM works and the
//! kernel has the `path_*` hooks (`CONFIG_SECURITY_PATH`); elsewhere nothing in the kernel checks
//! `DENY_CHANGE` and userspace kills the caller after the change (`respond`).
//!
//! Each hook gets the kernel's objects: the directory's `struct path` and the dentry of the name
//! (for rename and link the new name's, which is what the syscall's event reports as its `path`),
//! or the object's own `struct path` (chmod, chown, truncate). The name is walked from kernel memory
//! (`crate::path`), so a relative name, a dirfd, `..`, a symlinked directory or an `io_uring`
//! `IORING_OP_RENAMEAT`/`UNLINKAT`/`LINKAT`/`SYMLINKAT` reach the same check: the hooks sit in the
//! VFS calls every route takes (`do_renameat2`, `do_unlinkat`, `do_linkat`, `chmod_common`, …).
//! A `RENAME_EXCHANGE` moves both names, so both are checked.
//!
//! A refusal is noted in `LSM_DENIED` (as `crate::lsm` does for opens), so the syscall's event at
//! its exit (`crate::file_op`) is flagged denied, counted `DENIED` and reported as a deny event.
//!
//! `path_truncate` covers `truncate(2)` on every kernel, and `ftruncate` and an `O_TRUNC` open
//! before 6.2; from 6.2 those two call `file_truncate` with the open file, whose `f_path` is checked
//! the same way (`lsm_file_truncate`, loaded with the group where the kernel has the hook).
use aya_ebpf::{macros::lsm, programs::LsmContext};
use monitor_common::{
    config::{KernelConfig, PathOffsets},
    deny::DENY_CHANGE,
    enforce::{
        CHANGE_CHMOD, CHANGE_CHOWN, CHANGE_LINK, CHANGE_RENAME, CHANGE_SYMLINK, CHANGE_TRUNCATE, CHANGE_UNLINK,
        DENY_KIND_CHANGE, DENY_VIA_LSM_CHANGE,
    },
    programs,
};

use crate::{
    enforce, lsm, maps,
    path::{self, KPath},
    scope,
    task::read_field,
};

/// `renameat2`'s `RENAME_EXCHANGE`: both names change.
const RENAME_EXCHANGE: u32 = 1 << 1;

#[lsm(hook = "path_rename")]
pub(crate) fn lsm_path_rename(ctx: LsmContext) -> i32 {
    // (old_dir, old_dentry, new_dir, new_dentry, flags, verdict so far)
    let earlier: i32 = ctx.arg(5);
    if earlier != 0 {
        return earlier;
    }
    let Some(cfg) = change_config() else { return 0 };
    let flags: u32 = ctx.arg(4);
    let mut rule = in_dir(cfg, ctx.arg(2), ctx.arg(3), CHANGE_RENAME);
    if rule.is_none() && flags & RENAME_EXCHANGE != 0 {
        rule = in_dir(cfg, ctx.arg(0), ctx.arg(1), CHANGE_RENAME);
    }
    verdict(cfg, rule)
}
named!(lsm_path_rename = programs::LSM_PATH_RENAME.name);

#[lsm(hook = "path_link")]
pub(crate) fn lsm_path_link(ctx: LsmContext) -> i32 {
    // (old_dentry, new_dir, new_dentry, verdict so far)
    let earlier: i32 = ctx.arg(3);
    if earlier != 0 {
        return earlier;
    }
    let Some(cfg) = change_config() else { return 0 };
    verdict(cfg, in_dir(cfg, ctx.arg(1), ctx.arg(2), CHANGE_LINK))
}
named!(lsm_path_link = programs::LSM_PATH_LINK.name);

#[lsm(hook = "path_symlink")]
pub(crate) fn lsm_path_symlink(ctx: LsmContext) -> i32 {
    // (dir, dentry, old_name, verdict so far)
    let earlier: i32 = ctx.arg(3);
    if earlier != 0 {
        return earlier;
    }
    let Some(cfg) = change_config() else { return 0 };
    verdict(cfg, in_dir(cfg, ctx.arg(0), ctx.arg(1), CHANGE_SYMLINK))
}
named!(lsm_path_symlink = programs::LSM_PATH_SYMLINK.name);

#[lsm(hook = "path_unlink")]
pub(crate) fn lsm_path_unlink(ctx: LsmContext) -> i32 {
    // (dir, dentry, verdict so far)
    unlink_verdict(ctx.arg(0), ctx.arg(1), ctx.arg(2))
}
named!(lsm_path_unlink = programs::LSM_PATH_UNLINK.name);

#[lsm(hook = "path_rmdir")]
pub(crate) fn lsm_path_rmdir(ctx: LsmContext) -> i32 {
    // (dir, dentry, verdict so far)
    unlink_verdict(ctx.arg(0), ctx.arg(1), ctx.arg(2))
}
named!(lsm_path_rmdir = programs::LSM_PATH_RMDIR.name);

#[lsm(hook = "path_chmod")]
pub(crate) fn lsm_path_chmod(ctx: LsmContext) -> i32 {
    // (path, mode, verdict so far)
    object_verdict(ctx.arg(0), ctx.arg(2), CHANGE_CHMOD)
}
named!(lsm_path_chmod = programs::LSM_PATH_CHMOD.name);

#[lsm(hook = "path_chown")]
pub(crate) fn lsm_path_chown(ctx: LsmContext) -> i32 {
    // (path, uid, gid, verdict so far)
    object_verdict(ctx.arg(0), ctx.arg(3), CHANGE_CHOWN)
}
named!(lsm_path_chown = programs::LSM_PATH_CHOWN.name);

#[lsm(hook = "path_truncate")]
pub(crate) fn lsm_path_truncate(ctx: LsmContext) -> i32 {
    // (path, verdict so far)
    object_verdict(ctx.arg(0), ctx.arg(1), CHANGE_TRUNCATE)
}
named!(lsm_path_truncate = programs::LSM_PATH_TRUNCATE.name);

#[lsm(hook = "file_truncate")]
pub(crate) fn lsm_file_truncate(ctx: LsmContext) -> i32 {
    // (file, verdict so far): `ftruncate` and an `O_TRUNC` open on 6.2+; the file's `f_path`.
    path_verdict(ctx.arg(0), |off| off.file_path, ctx.arg(1), CHANGE_TRUNCATE)
}
named!(lsm_file_truncate = programs::LSM_FILE_TRUNCATE.name);

/// unlink and rmdir: the name `dentry` in `dir`.
#[inline(always)]
fn unlink_verdict(dir: *const u8, dentry: *const u8, earlier: i32) -> i32 {
    if earlier != 0 {
        return earlier;
    }
    let Some(cfg) = change_config() else { return 0 };
    verdict(cfg, in_dir(cfg, dir, dentry, CHANGE_UNLINK))
}

/// chmod, chown, truncate: the object's own `struct path`.
#[inline(always)]
fn object_verdict(p: *const u8, earlier: i32, op: u32) -> i32 {
    path_verdict(p, |_| 0, earlier, op)
}

/// The verdict on `op` for the `struct path` at `base + at(offsets)`, keeping an earlier refusal.
#[inline(always)]
fn path_verdict(base: *const u8, at: impl Fn(&PathOffsets) -> u32, earlier: i32, op: u32) -> i32 {
    if earlier != 0 {
        return earlier;
    }
    let Some(cfg) = change_config() else { return 0 };
    let off = &cfg.offsets.path;
    let rule = path::path_at(off, base, at(off)).and_then(|kp| rule_for(cfg, kp, op));
    verdict(cfg, rule)
}

/// The config when change deny rules exist, these hooks enforce them and the caller is watched.
#[inline(always)]
fn change_config() -> Option<&'static KernelConfig> {
    let cfg = maps::config()?;
    if cfg.deny_kinds & DENY_KIND_CHANGE == 0 || cfg.deny_kinds & DENY_VIA_LSM_CHANGE == 0 {
        return None;
    }
    scope::is_watched(cfg).then_some(cfg)
}

/// The rule refusing `op` on the name `dentry` in the directory `dir` (a `struct path *`): the name
/// lives on the directory's mount, so (dir's mount, dentry) is its path.
#[inline(always)]
fn in_dir(cfg: &KernelConfig, dir: *const u8, dentry: *const u8, op: u32) -> Option<u32> {
    let mnt = read_field(dir, cfg.offsets.path.path_mnt)?;
    rule_for(cfg, KPath { mnt, dentry }, op)
}

/// The `DENY_CHANGE` rule covering `p` that refuses `op`.
#[inline(always)]
fn rule_for(cfg: &KernelConfig, p: KPath, op: u32) -> Option<u32> {
    let off = &cfg.offsets.path;
    let walked = path::walk(off, p)?;
    let key = enforce::path_scratch()?;
    let len = path::walked_to_key(walked, key)?;
    let rule = enforce::lookup_path(&enforce::DENY_CHANGE, key, len)?;
    (rule.flags & op != 0).then_some(rule.rule_id)
}

#[inline(always)]
fn verdict(cfg: &KernelConfig, rule: Option<u32>) -> i32 {
    match rule {
        Some(rule_id) => lsm::refuse(cfg, DENY_CHANGE, rule_id),
        None => 0,
    }
}
