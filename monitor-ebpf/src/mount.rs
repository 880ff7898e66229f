//! Mounts → [`MountEvent`], every API, at the syscall's exit (failed attempts included):
//! - `mount(2)`: the strings as passed (read after the kernel copied them), plus the kernel's path
//!   of the working directory for a relative target (and source of a bind or move);
//! - the new API: `fsopen` (the fstype; refused without the privilege to mount), `fsmount` (the
//!   detached mount it made: usable through its fd without `move_mount`), `move_mount` (where the
//!   mount went: walked from the moved mount itself once attached), `open_tree` (with
//!   `OPEN_TREE_CLONE` a detached bind copy), `mount_setattr` (the attributes asked for, and the
//!   kernel's path of the mount changed). Where the call names a mount by fd, the device name and
//!   filesystem type are the mount object's own (`mnt_devname`, `sb->s_type->name`).
//!
//! A mount deny rule (fstype, or any mount) kills the caller before the call returns (the kernel
//! has done the mount by then) — except for `mount(2)` and `move_mount` where the BPF LSM hooks
//! are attached (`DENY_VIA_LSM_MOUNT`, `crate::lsm`): they refused it with EPERM before the mount
//! tree changed, and the event here is only flagged denied.
use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind, FLAG_DENIED,
    config::{KernelConfig, PathOffsets},
    deny::DENY_MOUNT,
    enforce::{DENY_FSTYPE_LEN, DENY_KIND_MOUNT, DENY_VIA_LSM_MOUNT},
    mount::{
        MOUNT_DETACHED, MOUNT_STRING_MAX, MOUNT_SYSCALL_FSMOUNT, MOUNT_SYSCALL_FSOPEN, MOUNT_SYSCALL_FSPICK,
        MOUNT_SYSCALL_MOUNT, MOUNT_SYSCALL_MOUNT_SETATTR, MOUNT_SYSCALL_MOVE_MOUNT, MOUNT_SYSCALL_OPEN_TREE,
        MOUNT_SYSCALL_OPEN_TREE_ATTR, MountEvent,
    },
    programs,
    record::{PATH_MAX, TAIL_ABSENT, Tail},
};

use crate::{
    args, enforce,
    path::{self, KPath},
    record::Record,
    scope, strings, task,
    task::read_field,
    tracepoint,
};

#[tracepoint(category = "syscalls", name = "sys_exit_mount")]
pub(crate) fn sys_exit_mount(ctx: TracePointContext) -> u32 {
    emit(&ctx, MOUNT_SYSCALL_MOUNT);
    0
}
named!(sys_exit_mount = programs::SYS_EXIT_MOUNT.name);

#[tracepoint(category = "syscalls", name = "sys_exit_fsopen")]
pub(crate) fn sys_exit_fsopen(ctx: TracePointContext) -> u32 {
    emit(&ctx, MOUNT_SYSCALL_FSOPEN);
    0
}
named!(sys_exit_fsopen = programs::SYS_EXIT_FSOPEN.name);

#[tracepoint(category = "syscalls", name = "sys_exit_fsmount")]
pub(crate) fn sys_exit_fsmount(ctx: TracePointContext) -> u32 {
    emit(&ctx, MOUNT_SYSCALL_FSMOUNT);
    0
}
named!(sys_exit_fsmount = programs::SYS_EXIT_FSMOUNT.name);

#[tracepoint(category = "syscalls", name = "sys_exit_move_mount")]
pub(crate) fn sys_exit_move_mount(ctx: TracePointContext) -> u32 {
    emit(&ctx, MOUNT_SYSCALL_MOVE_MOUNT);
    0
}
named!(sys_exit_move_mount = programs::SYS_EXIT_MOVE_MOUNT.name);

#[tracepoint(category = "syscalls", name = "sys_exit_open_tree")]
pub(crate) fn sys_exit_open_tree(ctx: TracePointContext) -> u32 {
    emit(&ctx, MOUNT_SYSCALL_OPEN_TREE);
    0
}
named!(sys_exit_open_tree = programs::SYS_EXIT_OPEN_TREE.name);

/// `open_tree_attr(dfd, filename, flags, uattr, usize)` (Linux 6.15+): an `open_tree` whose clone
/// gets `mount_setattr`'s attributes in the same call; reported as `open_tree` with them.
#[tracepoint(category = "syscalls", name = "sys_exit_open_tree_attr")]
pub(crate) fn sys_exit_open_tree_attr(ctx: TracePointContext) -> u32 {
    emit(&ctx, MOUNT_SYSCALL_OPEN_TREE_ATTR);
    0
}
named!(sys_exit_open_tree_attr = programs::SYS_EXIT_OPEN_TREE_ATTR.name);

#[tracepoint(category = "syscalls", name = "sys_exit_mount_setattr")]
pub(crate) fn sys_exit_mount_setattr(ctx: TracePointContext) -> u32 {
    emit(&ctx, MOUNT_SYSCALL_MOUNT_SETATTR);
    0
}
named!(sys_exit_mount_setattr = programs::SYS_EXIT_MOUNT_SETATTR.name);

#[tracepoint(category = "syscalls", name = "sys_exit_fspick")]
pub(crate) fn sys_exit_fspick(ctx: TracePointContext) -> u32 {
    emit(&ctx, MOUNT_SYSCALL_FSPICK);
    0
}
named!(sys_exit_fspick = programs::SYS_EXIT_FSPICK.name);

const AT_FDCWD: i64 = -100;
/// `AT_EMPTY_PATH` (`open_tree`, `mount_setattr`): the dfd itself is the object.
const AT_EMPTY_PATH: u64 = 0x1000;
/// `MS_BIND`, `MS_MOVE`: mount(2)'s source is a path.
const MS_BIND: u64 = 4096;
const MS_MOVE: u64 = 8192;
/// `MOVE_MOUNT_F_EMPTY_PATH`, `MOVE_MOUNT_T_EMPTY_PATH`: the from/to dfd itself is the object.
const MOVE_MOUNT_F_EMPTY_PATH: u64 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u64 = 0x40;
/// `FSPICK_EMPTY_PATH`: `fspick`'s dfd itself names the mount.
const FSPICK_EMPTY_PATH: u64 = 0x8;
/// `OPEN_TREE_CLONE`: `open_tree` makes a detached copy of the tree.
const OPEN_TREE_CLONE: u64 = 1;
/// Longest filesystem type name read.
const FSTYPE_MAX: usize = 256;

/// `struct mount_attr` (`mount_setattr`).
#[repr(C)]
#[derive(Clone, Copy)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The record's fields, filled per syscall and written into the record at the end.
struct Fields {
    flags: u64,
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    dfd: i32,
    from_dfd: i32,
    detached: u8,
    /// Whether a mount deny rule applies to this call (`open_tree` without a clone mounts nothing).
    deniable: bool,
    source: Tail,
    kernel_source: Tail,
    source_dir: Tail,
    target: Tail,
    kernel_target: Tail,
    target_dir: Tail,
    fstype: Tail,
    /// The fstype NUL padded (deny-table key), read only when mount deny rules exist.
    key: [u8; DENY_FSTYPE_LEN],
}

impl Fields {
    #[inline(always)]
    fn new() -> Self {
        Self {
            flags: 0,
            attr_set: 0,
            attr_clr: 0,
            propagation: 0,
            dfd: -1,
            from_dfd: -1,
            detached: 0,
            deniable: true,
            source: Tail::ABSENT,
            kernel_source: Tail::ABSENT,
            source_dir: Tail::ABSENT,
            target: Tail::ABSENT,
            kernel_target: Tail::ABSENT,
            target_dir: Tail::ABSENT,
            fstype: Tail::ABSENT,
            key: [0; DENY_FSTYPE_LEN],
        }
    }
}

/// One mount API call at its exit: what the program was given, the record being built and the
/// fields filled per syscall.
struct Call<'a> {
    rec: &'a mut Record<MountEvent>,
    cfg: &'a KernelConfig,
    task: *const u8,
    a: &'a [u64; 6],
    result: i64,
    /// Whether mount deny rules exist (then the fstype is read into the deny key too).
    deny: bool,
    f: &'a mut Fields,
}

impl Call<'_> {
    /// The kernel's path of the object `fd` refers to.
    #[inline(always)]
    fn fd_path(&self, fd: i64) -> Option<KPath> {
        path::fd_path(&self.cfg.offsets.path, self.task, fd)
    }

    /// Appends the kernel's path of `p`.
    #[inline(always)]
    fn path(&mut self, p: Option<KPath>) -> Tail {
        self.rec.path(&self.cfg.offsets.path, p)
    }

    /// The kernel's path of the directory a relative `t` starts from (`dfd`, or the working
    /// directory for `AT_FDCWD`); absent for an absolute or empty path.
    #[inline(always)]
    fn dir_of(&mut self, t: Tail, dfd: i64) -> Tail {
        if !self.rec.is_relative(t) {
            return Tail::ABSENT;
        }
        let off = &self.cfg.offsets.path;
        self.rec.path(off, path::dir_path(off, self.task, dfd))
    }

    /// The `(int dfd, const char *path, unsigned flags, …)` calls (`open_tree`, `mount_setattr`,
    /// `fspick`): their dfd and flags.
    #[inline(always)]
    fn dfd_and_flags(&mut self) -> i64 {
        let dfd = i64::from(self.a[0] as i32);
        self.f.dfd = dfd as i32;
        self.f.flags = self.a[2];
        dfd
    }

    /// Whether the call names its object by a descriptor itself: `empty_path_flag`
    /// (`AT_EMPTY_PATH`, `MOVE_MOUNT_*_EMPTY_PATH`, …) with an empty path `t`.
    #[inline(always)]
    fn by_fd(&self, empty_path_flag: u64, t: Tail) -> bool {
        self.f.flags & empty_path_flag != 0 && t.len == 0
    }

    /// The fstype, a kernel string: the record's, and the deny key.
    #[inline(always)]
    fn kernel_fstype(&mut self, name: *const u8) {
        self.f.fstype = self.rec.kernel_str(name, FSTYPE_MAX);
        if self.deny {
            strings::read_kernel_str(name, &mut self.f.key);
        }
    }

    /// The fstype as passed (user memory at `name`): the record's, and the deny key.
    #[inline(always)]
    fn user_fstype(&mut self, name: u64) {
        self.f.fstype = self.rec.user_str(name, FSTYPE_MAX);
        if self.deny {
            strings::read_user_str(name as *const u8, &mut self.f.key);
        }
    }

    /// The device name and filesystem type of the mount `p` is on (a mount fd's): the record's
    /// source and fstype, and the deny key.
    #[inline(always)]
    fn describe_object(&mut self, p: KPath) {
        let cfg = self.cfg;
        let mo = &cfg.offsets.mount;
        // SAFETY: pointer arithmetic only (`container_of(vfsmount, struct mount, mnt)`); read with
        // bpf_probe_read_kernel.
        let mount = unsafe { p.mnt.sub(cfg.offsets.path.mount_mnt as usize) };
        let devname: *const u8 = read_field(mount, mo.mount_devname).unwrap_or(core::ptr::null());
        self.f.source = self.rec.kernel_str(devname, MOUNT_STRING_MAX);
        self.kernel_fstype(fstype_name(cfg, p.mnt));
    }
}

#[inline(always)]
fn emit(ctx: &TracePointContext, syscall: u8) -> Option<()> {
    let cfg = scope::watched()?;
    let result = tracepoint::sys_exit_ret(ctx)?;
    let a = args::current(&cfg.offsets.regs)?;
    let mut rec = Record::<MountEvent>::start(EventKind::Mount, &cfg.offsets)?;
    let mut f = Fields::new();
    let deny = cfg.deny_kinds & DENY_KIND_MOUNT != 0;
    let mut c = Call {
        rec: &mut rec,
        cfg,
        task: task::current_task(),
        a: &a,
        result,
        deny,
        f: &mut f,
    };
    match syscall {
        MOUNT_SYSCALL_MOUNT => classic(&mut c),
        MOUNT_SYSCALL_FSOPEN => {
            c.f.flags = a[1];
            c.user_fstype(a[0]);
        }
        MOUNT_SYSCALL_FSMOUNT => {
            c.f.dfd = a[0] as i32;
            c.f.flags = a[1];
            c.f.attr_set = a[2];
            if result >= 0 {
                c.f.detached = MOUNT_DETACHED;
                if let Some(p) = c.fd_path(result) {
                    c.describe_object(p);
                }
            }
        }
        MOUNT_SYSCALL_MOVE_MOUNT => move_mount(&mut c),
        MOUNT_SYSCALL_OPEN_TREE => open_tree(&mut c),
        MOUNT_SYSCALL_OPEN_TREE_ATTR => {
            open_tree(&mut c);
            read_attr(&a, c.f);
        }
        MOUNT_SYSCALL_FSPICK => fspick(&mut c),
        _ => mount_setattr(&mut c),
    }
    // mount(2) and move_mount were refused by the LSM hooks before they had an effect, where those
    // are attached: report their verdict, kill nothing.
    let via_lsm =
        cfg.deny_kinds & DENY_VIA_LSM_MOUNT != 0 && matches!(syscall, MOUNT_SYSCALL_MOUNT | MOUNT_SYSCALL_MOVE_MOUNT);
    let denied = if deny && f.deniable && !via_lsm {
        enforce::mount_rule(&f.key)
    } else {
        None
    };
    let refused = via_lsm && result < 0 && crate::lsm::take_denied(DENY_MOUNT).is_some();
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).flags = f.flags;
        (*ev).attr_set = f.attr_set;
        (*ev).attr_clr = f.attr_clr;
        (*ev).propagation = f.propagation;
        (*ev).dfd = f.dfd;
        (*ev).from_dfd = f.from_dfd;
        (*ev).syscall = syscall;
        (*ev).detached = f.detached;
        (*ev).source = f.source;
        (*ev).kernel_source = f.kernel_source;
        (*ev).source_dir = f.source_dir;
        (*ev).target = f.target;
        (*ev).kernel_target = f.kernel_target;
        (*ev).target_dir = f.target_dir;
        (*ev).fstype = f.fstype;
        if denied.is_some() || refused {
            (*ev).header.flags |= FLAG_DENIED;
        }
    }
    rec.submit(false);
    if let Some(rule_id) = denied {
        enforce::kill_current(DENY_MOUNT, rule_id);
    }
    Some(())
}

/// `mount(char *dev_name, char *dir_name, char *type, unsigned long flags, void *data)`.
#[inline(always)]
fn classic(c: &mut Call<'_>) {
    let a = c.a;
    c.f.flags = a[3];
    c.f.source = c.rec.user_str(a[0], MOUNT_STRING_MAX);
    c.f.target = c.rec.user_str(a[1], PATH_MAX);
    c.user_fstype(a[2]);
    c.f.target_dir = c.dir_of(c.f.target, AT_FDCWD);
    if c.f.flags & (MS_BIND | MS_MOVE) != 0 {
        c.f.source_dir = c.dir_of(c.f.source, AT_FDCWD);
    }
}

/// `move_mount(int from_dfd, const char *from_pathname, int to_dfd, const char *to_pathname,
/// unsigned int flags)`.
#[inline(always)]
fn move_mount(c: &mut Call<'_>) {
    let a = c.a;
    let (from_dfd, to_dfd) = (i64::from(a[0] as i32), i64::from(a[2] as i32));
    c.f.from_dfd = from_dfd as i32;
    c.f.dfd = to_dfd as i32;
    c.f.flags = a[4];
    c.f.source = c.rec.user_str(a[1], PATH_MAX);
    c.f.target = c.rec.user_str(a[3], PATH_MAX);
    if c.by_fd(MOVE_MOUNT_F_EMPTY_PATH, c.f.source) {
        if let Some(p) = c.fd_path(from_dfd) {
            c.describe_object(p);
            if c.result == 0 {
                // The moved mount is attached now: walked from its root, the path is where it went.
                c.f.kernel_target = c.path(Some(p));
            }
        }
    } else {
        c.f.source_dir = c.dir_of(c.f.source, from_dfd);
    }
    if c.by_fd(MOVE_MOUNT_T_EMPTY_PATH, c.f.target) {
        if c.f.kernel_target.flags & TAIL_ABSENT != 0 {
            c.f.kernel_target = c.path(c.fd_path(to_dfd));
        }
    } else {
        c.f.target_dir = c.dir_of(c.f.target, to_dfd);
    }
}

/// `open_tree(int dfd, const char *filename, unsigned flags)`.
#[inline(always)]
fn open_tree(c: &mut Call<'_>) {
    let dfd = c.dfd_and_flags();
    let clone = c.f.flags & OPEN_TREE_CLONE != 0;
    c.f.deniable = clone;
    c.f.source = c.rec.user_str(c.a[1], PATH_MAX);
    if c.result >= 0
        && let Some(p) = c.fd_path(c.result)
    {
        c.kernel_fstype(fstype_name(c.cfg, p.mnt));
        if clone {
            c.f.detached = MOUNT_DETACHED;
        } else {
            c.f.kernel_source = c.path(Some(p));
        }
    }
    if c.by_fd(AT_EMPTY_PATH, c.f.source) {
        if c.f.kernel_source.flags & TAIL_ABSENT != 0 {
            c.f.kernel_source = c.path(c.fd_path(dfd));
        }
    } else {
        c.f.source_dir = c.dir_of(c.f.source, dfd);
    }
}

/// `mount_setattr(int dfd, const char *path, unsigned int flags, struct mount_attr *uattr,
/// size_t usize)`.
#[inline(always)]
fn mount_setattr(c: &mut Call<'_>) {
    let dfd = c.dfd_and_flags();
    c.f.target = c.rec.user_str(c.a[1], PATH_MAX);
    read_attr(c.a, c.f);
    if c.by_fd(AT_EMPTY_PATH, c.f.target) {
        if let Some(p) = c.fd_path(dfd) {
            c.describe_object(p);
            if is_detached(&c.cfg.offsets.path, c.task, p.mnt) {
                c.f.detached = MOUNT_DETACHED;
            } else {
                c.f.kernel_target = c.path(Some(p));
            }
        }
    } else {
        c.f.target_dir = c.dir_of(c.f.target, dfd);
    }
}

/// `fspick(int dfd, const char *path, unsigned int flags)`. Its fd is a filesystem context, not a
/// path: the mount is named by the dfd (`FSPICK_EMPTY_PATH`: its kernel path, device name and
/// fstype) or by the path as passed, joined to the kernel's path of its directory when relative,
/// with the fstype of the context the call returned.
#[inline(always)]
fn fspick(c: &mut Call<'_>) {
    let dfd = c.dfd_and_flags();
    c.f.target = c.rec.user_str(c.a[1], PATH_MAX);
    if c.by_fd(FSPICK_EMPTY_PATH, c.f.target) {
        if let Some(p) = c.fd_path(dfd) {
            c.describe_object(p);
            c.f.kernel_target = c.path(Some(p));
        }
        return;
    }
    c.f.target_dir = c.dir_of(c.f.target, dfd);
    if c.result >= 0 {
        // The new fd's `struct fs_context`: the superblock's filesystem type, for the record and
        // for a deny rule by fstype.
        let cfg = c.cfg;
        let mo = &cfg.offsets.mount;
        let fc: Option<*const u8> = path::fd_file(&cfg.offsets.path, c.task, c.result)
            .and_then(|file| read_field(file, cfg.offsets.net.file_private_data));
        let ty: Option<*const u8> = fc.and_then(|fc| read_field(fc, mo.fc_fs_type));
        let name = ty
            .and_then(|t| read_field(t, mo.fstype_name))
            .unwrap_or(core::ptr::null());
        c.kernel_fstype(name);
    }
}

/// The `struct mount_attr` of `mount_setattr` and `open_tree_attr` (arguments 4 and 5).
#[inline(always)]
fn read_attr(a: &[u64; 6], f: &mut Fields) {
    if a[4] >= size_of::<MountAttr>() as u64 {
        // SAFETY: user memory, read through the helper (which fails cleanly); a failed read leaves
        // the attributes 0.
        if let Ok(attr) = unsafe { bpf_probe_read_user(a[3] as *const MountAttr) } {
            f.attr_set = attr.attr_set;
            f.attr_clr = attr.attr_clr;
            f.propagation = attr.propagation;
        }
    }
}

/// `mnt->mnt_sb->s_type->name` of a `struct vfsmount *` (null when unknown).
#[inline(always)]
pub(crate) fn fstype_name(cfg: &KernelConfig, mnt: *const u8) -> *const u8 {
    let mo = &cfg.offsets.mount;
    let sb: Option<*const u8> = read_field(mnt, mo.vfsmount_sb);
    let ty: Option<*const u8> = sb.and_then(|sb| read_field(sb, mo.sb_type));
    ty.and_then(|t| read_field(t, mo.fstype_name))
        .unwrap_or(core::ptr::null())
}

/// Whether the mount of `mnt` is attached nowhere: its own parent (as a detached mount from
/// `fsmount` or `open_tree(OPEN_TREE_CLONE)` is), and not the root mount the task sees.
#[inline(always)]
fn is_detached(off: &PathOffsets, task: *const u8, mnt: *const u8) -> bool {
    // SAFETY: pointer arithmetic only, as in `describe_object`.
    let mount = unsafe { mnt.sub(off.mount_mnt as usize) };
    let parent: Option<*const u8> = read_field(mount, off.mount_parent);
    if parent != Some(mount) {
        return false;
    }
    let fs: Option<*const u8> = read_field(task, off.task_fs);
    let root: Option<*const u8> = fs.and_then(|fs| read_field(fs, off.fs_root + off.path_mnt));
    root != Some(mnt)
}
