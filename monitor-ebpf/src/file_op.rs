//! The file operations that are not opens, at the syscall's exit → [`FileOpEvent`] (kinds
//! `rename`, `unlink`, `link`, `symlink`, `chmod`, `chown`, `truncate`, `mknod`; their programs are
//! in the files named for them), failed attempts included.
//!
//! At exit the result is known and the names have been copied (so faulted in) by the kernel
//! itself. The objects named are known to the kernel side only by name (no hook allowed here
//! gives the dentry a rename, link or unlink resolved), so each event carries, besides the names as
//! passed, the kernel's path of the directory each relative name starts from (the dirfd or the
//! working directory, walked from kernel objects: a dirfd, cwd or symlinked cwd cannot disguise
//! it), the working directory for a name under `/proc/` (`/proc/self/cwd/…`), and the kernel's path
//! of a descriptor that names the object itself (fchmod, fchown, ftruncate, `AT_EMPTY_PATH`).
//! Userspace joins them.
use aya_ebpf::programs::TracePointContext;
use monitor_common::{
    EventKind, FLAG_DENIED,
    config::{PathOffsets, RegsOffsets},
    deny::DENY_CHANGE,
    enforce::DENY_VIA_LSM_CHANGE,
    file_op::{AT_EMPTY_PATH, AT_FDCWD, FileOpEvent},
    record::{PATH_MAX, TAIL_ABSENT, TAIL_READ_FAILED, Tail},
};

use crate::{
    path,
    record::{Record, reread},
    scope, task, tracepoint,
};

/// What one syscall asked for, read from its arguments.
#[derive(Clone, Copy)]
pub(crate) struct Request {
    /// User pointer to the name of the object changed (0: the object is `fd`).
    pub(crate) path: u64,
    /// The directory descriptor `path` is relative to.
    pub(crate) dfd: i64,
    /// The object's own descriptor (fchmod, fchown, ftruncate), else -1.
    pub(crate) fd: i64,
    /// User pointer to the source name (rename, link) or text (symlink); 0: none.
    pub(crate) source: u64,
    pub(crate) source_dfd: i64,
    /// `source` is the text a symlink stores, not a name the kernel resolves: no directory walk.
    pub(crate) source_is_text: bool,
    /// The call takes `AT_EMPTY_PATH` in `flags` (linkat, fchownat, fchmodat2).
    pub(crate) takes_empty_path: bool,
    pub(crate) flags: u32,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) dev: u32,
    pub(crate) length: i64,
}

const EPERM: i64 = 1;

/// The working directory, as a register value.
pub(crate) const CWD: u64 = AT_FDCWD as i64 as u64;

impl Request {
    /// An object named by `path` relative to the directory descriptor `dfd` (register values).
    #[inline(always)]
    pub(crate) const fn named(dfd: u64, path: u64) -> Self {
        Self {
            path,
            dfd: int_arg(dfd),
            fd: -1,
            source: 0,
            source_dfd: AT_FDCWD as i64,
            source_is_text: false,
            takes_empty_path: false,
            flags: 0,
            mode: 0,
            uid: 0,
            gid: 0,
            dev: 0,
            length: 0,
        }
    }

    /// An object named by its descriptor (an `unsigned int` register).
    #[inline(always)]
    pub(crate) const fn by_fd(fd: u64) -> Self {
        let mut r = Self::named(CWD, 0);
        r.fd = fd as u32 as i64;
        r.dfd = r.fd;
        r
    }

    /// With the source name `source` relative to `dfd`.
    #[inline(always)]
    pub(crate) const fn with_source(mut self, dfd: u64, source: u64) -> Self {
        self.source = source;
        self.source_dfd = int_arg(dfd);
        self
    }
}

/// An `int` argument: only the register's low 32 bits are the value.
#[inline(always)]
pub(crate) const fn int_arg(reg: u64) -> i64 {
    reg as i32 as i64
}

/// Emits the event of the syscall now exiting, for a watched task. `request` reads its arguments.
#[inline(always)]
pub(crate) fn emit(
    ctx: &TracePointContext,
    kind: EventKind,
    syscall: u8,
    request: impl FnOnce(&RegsOffsets) -> Option<Request>,
) -> Option<()> {
    let cfg = scope::watched()?;
    let result = tracepoint::sys_exit_ret(ctx)?;
    let req = request(&cfg.offsets.regs)?;
    let off = &cfg.offsets.path;
    let task = task::current_task();
    let mut rec = Record::<FileOpEvent>::start(kind, &cfg.offsets)?;
    let empty_path_ok = req.takes_empty_path && req.flags & AT_EMPTY_PATH != 0;

    let ev = rec.fixed();
    // Each tail is stored there as soon
    // as it is known and read back (volatile) where it is needed again, so no tail value is live
    // across a later path walk's `bpf_loop` call: verifiers before ~6.4 mark every scalar of the
    // caller precise in a loop callback, and each variant of a live tail (absent, no room, read
    // failed, cut) then multiplies the states every later walk is verified in (`linkat` passed
    // 500 k instructions on 6.1; see `crate::exec`).
    // SAFETY: (so every access to `*ev` below) the record's fixed part in this CPU's scratch
    // buffer, valid for the program run; `Record` appends only after it.
    unsafe {
        (*ev).result = result;
        (*ev).length = req.length;
        (*ev).mode = req.mode;
        (*ev).uid = req.uid;
        (*ev).gid = req.gid;
        (*ev).dev = req.dev;
        (*ev).flags = req.flags;
        (*ev).dfd = req.dfd as i32;
        (*ev).source_dfd = req.source_dfd as i32;
        (*ev).syscall = syscall;
        (*ev).path = rec.user_str(req.path, PATH_MAX);
    }
    // SAFETY: as above.
    let dir_path = start_dir(&mut rec, off, task, unsafe { reread(&raw const (*ev).path) }, req.dfd);
    // SAFETY: as above.
    unsafe { (*ev).dir_path = dir_path };
    let kernel_path = if req.fd >= 0 {
        rec.path(off, path::fd_path(off, task, req.fd))
    // SAFETY: as above.
    } else if empty_path_ok && is_empty(unsafe { reread(&raw const (*ev).path) }) {
        rec.path(off, path::fd_path(off, task, req.dfd))
    } else {
        Tail::ABSENT
    };
    // SAFETY: as above.
    unsafe {
        (*ev).kernel_path = kernel_path;
        (*ev).source = rec.user_str(req.source, PATH_MAX);
    }
    let source_dir_path = if req.source_is_text {
        Tail::ABSENT
    } else {
        // SAFETY: as above.
        start_dir(
            &mut rec,
            off,
            task,
            unsafe { reread(&raw const (*ev).source) },
            req.source_dfd,
        )
    };
    // SAFETY: as above.
    unsafe { (*ev).source_dir_path = source_dir_path };
    // SAFETY: as above.
    let source_kernel_path = if req.source != 0 && empty_path_ok && is_empty(unsafe { reread(&raw const (*ev).source) })
    {
        rec.path(off, path::fd_path(off, task, req.source_dfd))
    } else {
        Tail::ABSENT
    };
    // SAFETY: as above.
    unsafe { (*ev).source_kernel_path = source_kernel_path };
    // A change an LSM `path_*` hook refused (`crate::lsm_change`) failed with EPERM: flag it denied.
    if result == -EPERM && cfg.deny_kinds & DENY_VIA_LSM_CHANGE != 0 && crate::lsm::take_denied(DENY_CHANGE).is_some() {
        // SAFETY: as above.
        unsafe { (*ev).header.flags |= FLAG_DENIED };
    }
    // Batched like opens: an `rm -rf` or a package install makes these by the thousand.
    rec.submit(true);
    Some(())
}

/// A name that was read and is the empty string.
#[inline(always)]
fn is_empty(t: Tail) -> bool {
    t.len == 0 && t.flags & (TAIL_ABSENT | TAIL_READ_FAILED) == 0
}

/// The kernel's path of the directory the name at `name` starts from: `dfd` (or the working
/// directory) for a relative name, the working directory for a name under `/proc/` (which
/// `/proc/self/cwd/…` goes through); absent for other absolute names.
#[inline(always)]
fn start_dir(rec: &mut Record<FileOpEvent>, off: &PathOffsets, task: *const u8, name: Tail, dfd: i64) -> Tail {
    if name.len == 0 {
        return Tail::ABSENT;
    }
    let at = name.off as usize;
    let dir = if rec.byte_at(at) != b'/' {
        dfd
    } else if name.len >= 6 && starts_with_proc(rec, at) {
        i64::from(AT_FDCWD)
    } else {
        return Tail::ABSENT;
    };
    rec.path(off, path::dir_path(off, task, dir))
}

/// Whether the record's bytes at `at` are `/proc/`.
#[inline(always)]
fn starts_with_proc(rec: &Record<FileOpEvent>, at: usize) -> bool {
    let mut i = 0;
    while i < 6 {
        if rec.byte_at(at + i) != b"/proc/"[i] {
            return false;
        }
        i += 1;
    }
    true
}
