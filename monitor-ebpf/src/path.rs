//! Paths as the kernel sees them: a `struct path` (mount, dentry) walked up to the root, dentry by
//! dentry and across mount points, from kernel memory. What a process named by a relative path, a
//! symlink, `..`, `/proc/self/…` or a dirfd is the object the kernel resolved, whatever the string
//! said and whatever happens to the names afterwards.
//!
//! The walk runs under `bpf_loop` (the verifier checks one step, not every depth) and writes the
//! path backwards into a per-CPU buffer; the caller copies it into its record.
use core::ffi::c_void;

use aya_ebpf::{helpers::generated as gen_, macros::map, maps::PerCpuArray};
use monitor_common::{
    config::PathOffsets,
    maps as names,
    record::{PATH_MAX, TAIL_PARTIAL},
};

use crate::task::read_field;

/// Where a walk writes: the path ends at [`WALK_END`], and a name of up to 255 bytes (`NAME_MAX`)
/// always fits after any masked start.
const WALK_END: usize = 2 * PATH_MAX;

/// A walk's buffer and its state. The state lives here, in map memory, rather than on the stack:
/// the verifier then sees each step's position as any value in bounds, and checks the step once
/// instead of once per possible depth.
#[repr(C)]
pub(crate) struct WalkBuf {
    state: Walk,
    pub(crate) bytes: [u8; WALK_END + 512],
}

/// One walk buffer per CPU.
#[map]
pub(crate) static PATH_WALK: PerCpuArray<WalkBuf> = PerCpuArray::with_max_entries(1, 0);
named!(PATH_WALK = names::PATH_WALK);

/// Dentries and mount crossings walked at most (deeper paths are reported partial).
const MAX_STEPS: u32 = 1024;

/// A `struct path` in kernel memory.
#[derive(Clone, Copy)]
pub(crate) struct KPath {
    pub(crate) mnt: *const u8,
    pub(crate) dentry: *const u8,
}

/// A walked path inside this CPU's [`PATH_WALK`] buffer.
#[derive(Clone, Copy)]
pub(crate) struct Walked {
    /// Bytes, from the first `/`; where they start in the buffer: [`start_ptr`].
    pub(crate) len: usize,
    /// `TAIL_PARTIAL` when the walk stopped before the root.
    pub(crate) flags: u16,
}

/// The walk's state, kept in [`WalkBuf`] between `bpf_loop` steps.
#[repr(C)]
struct Walk {
    off: PathOffsets,
    /// Kernel addresses (kept as numbers: map memory holds no pointers).
    dentry: u64,
    /// The `struct mount` the dentry is in, and that mount's root dentry.
    mount: u64,
    mnt_root: u64,
    /// Where the text walked so far starts in the buffer.
    pos: u64,
    /// 1: reached the root; 2: a read failed or no room is left.
    end: u64,
}

const STEP_GO_ON: i64 = 0;
const STEP_STOP: i64 = 1;

/// One dentry (or mount crossing) of the walk.
#[inline(always)]
fn step(buf: *mut WalkBuf) -> Option<i64> {
    // SAFETY: `buf` is this CPU's map value, valid for the program run.
    let w = unsafe { &mut (*buf).state };
    let o = &w.off;
    let dentry = w.dentry as *const u8;
    let mount = w.mount as *const u8;
    let (parent, len, name) = parent_and_name(o, dentry)?;
    // A dentry that is its own parent but not a mount's root is not in any directory tree: a
    // pseudo file (memfd, pipe, socket, anonymous inode). Its name is all there is: `/memfd:NAME`.
    let pseudo = w.dentry == parent && w.dentry != w.mnt_root;
    if w.dentry == w.mnt_root && !pseudo {
        let (up, mountpoint) = adjacent(mount, o.mount_parent, o.mount_mountpoint)?;
        if up == w.mount {
            w.end = 1;
            return Some(STEP_STOP);
        }
        w.dentry = mountpoint;
        w.mount = up;
        let vfsmount = (up + u64::from(o.mount_mnt)) as *const u8;
        w.mnt_root = read_field(vfsmount, o.vfsmount_root)?;
        return Some(STEP_GO_ON);
    }
    let len = u64::from(len & 0xff);
    // The whole path must fit in PATH_MAX, like the kernel's own d_path.
    if (WALK_END as u64).saturating_sub(w.pos) + len + 1 > PATH_MAX as u64 {
        return None;
    }
    w.pos -= len + 1;
    let at = (w.pos as usize) & (WALK_END - 1);
    // SAFETY: `at + 1 + len` ≤ WALK_END + 256 < the buffer's size; the name is read with
    // bpf_probe_read_kernel, which fails cleanly.
    unsafe {
        let base = (*buf).bytes.as_mut_ptr();
        if gen_::bpf_probe_read_kernel(base.add(at + 1).cast::<c_void>(), len as u32, name.cast()) != 0 {
            return None;
        }
        *base.add(at) = b'/';
    }
    w.dentry = parent;
    if pseudo {
        w.end = 1;
        return Some(STEP_STOP);
    }
    Some(STEP_GO_ON)
}

/// A dentry's `d_parent` and `d_name` (`qstr`: hash, length, name) as they lie in memory.
#[repr(C)]
#[derive(Clone, Copy)]
struct ParentAndName {
    parent: u64,
    hash: u32,
    len: u32,
    name: u64,
}

/// A dentry's parent, name length and name: one read where `d_name` follows `d_parent` (every
/// kernel since 2.6, little-endian `qstr`), three otherwise. The walk's cost is its reads.
#[inline(always)]
fn parent_and_name(o: &PathOffsets, dentry: *const u8) -> Option<(u64, u32, *const u8)> {
    if o.dentry_name == o.dentry_parent.wrapping_add(8) && o.qstr_len == 4 && o.qstr_name == 8 {
        let h: ParentAndName = read_field(dentry, o.dentry_parent)?;
        return Some((h.parent, h.len, h.name as *const u8));
    }
    Some((
        read_field(dentry, o.dentry_parent)?,
        read_field(dentry, o.dentry_name + o.qstr_len)?,
        read_field(dentry, o.dentry_name + o.qstr_name)?,
    ))
}

/// Two 8-byte fields of `base`: one read when the second follows the first, two otherwise.
#[inline(always)]
fn adjacent(base: *const u8, first: u32, second: u32) -> Option<(u64, u64)> {
    if second == first.wrapping_add(8) {
        let [a, b]: [u64; 2] = read_field(base, first)?;
        return Some((a, b));
    }
    Some((read_field(base, first)?, read_field(base, second)?))
}

extern "C" fn walk_step(_index: u64, _ctx: *mut c_void) -> i64 {
    let Some(buf) = PATH_WALK.get_ptr_mut(0) else {
        return STEP_STOP;
    };
    step(buf).unwrap_or_else(|| {
        // SAFETY: as in `step`.
        unsafe { (*buf).state.end = 2 };
        STEP_STOP
    })
}

/// Walks `p` to its absolute path. `None` only when the walk cannot start (unknown offsets, the
/// buffer missing); a walk that stops before the root gives the part it walked, flagged partial.
#[inline(always)]
pub(crate) fn walk(off: &PathOffsets, p: KPath) -> Option<Walked> {
    if p.mnt.is_null() || p.dentry.is_null() {
        return None;
    }
    // SAFETY: pointer arithmetic only (`container_of(vfsmount, struct mount, mnt)`).
    let mount = unsafe { p.mnt.sub(off.mount_mnt as usize) };
    let mnt_root: u64 = read_field(p.mnt, off.vfsmount_root)?;
    let buf = PATH_WALK.get_ptr_mut(0)?;
    // SAFETY: this CPU's map value, valid for the program run.
    unsafe {
        (*buf).state = Walk {
            off: *off,
            dentry: p.dentry as u64,
            mount: mount as u64,
            mnt_root,
            pos: WALK_END as u64,
            end: 0,
        };
    }
    // SAFETY: the callback takes no context; bpf_loop stops after MAX_STEPS.
    unsafe { gen_::bpf_loop(MAX_STEPS, walk_step as *mut c_void, core::ptr::null_mut(), 0) };
    // SAFETY: as above.
    let (pos, end) = unsafe { ((*buf).state.pos, (*buf).state.end) };
    // Read back from map memory: bound it again for the verifier.
    let mut start = (pos as usize).min(WALK_END);
    if start == WALK_END {
        // The root itself.
        start -= 1;
        // SAFETY: inside the buffer.
        unsafe { *(*buf).bytes.as_mut_ptr().add(start & (WALK_END - 1)) = b'/' };
    }
    // SAFETY: as above. Kept for `start_ptr`, which reads it back.
    unsafe { (*buf).state.pos = start as u64 };
    Some(Walked {
        len: WALK_END - start,
        flags: if end == 1 { 0 } else { TAIL_PARTIAL },
    })
}

/// Where the last walk's path starts in `buf`. Read again from map memory (volatile) and masked:
/// LLVM knows a `Walked::start` is below `WALK_END`, drops the mask and indexes with a spilled copy
/// of the unbounded value read before the bound; verifiers before ~6.5 lose the bound of that copy
/// (`math between map_value pointer and register with unbounded min value` on 6.1).
#[inline(always)]
pub(crate) fn start_ptr(buf: *mut WalkBuf) -> *const u8 {
    // SAFETY: `buf` is this CPU's walk buffer; the offset is masked inside it.
    unsafe {
        let pos = core::ptr::read_volatile(&raw const (*buf).state.pos) as usize;
        (*buf).bytes.as_ptr().add(pos & (WALK_END - 1))
    }
}

/// Copies a walked path (up to `DENY_PATH_LEN - 1` bytes, NUL added) into a deny-table key; returns
/// the key's length with the NUL, as `enforce::lookup_path` takes it.
#[inline(always)]
pub(crate) fn walked_to_key(
    w: Walked,
    key: *mut aya_ebpf::maps::lpm_trie::Key<monitor_common::enforce::PathKey>,
) -> Option<usize> {
    use monitor_common::enforce::DENY_PATH_LEN;
    let n = w.len.min(DENY_PATH_LEN - 1);
    // SAFETY: the key's data holds DENY_PATH_LEN bytes.
    let dst = unsafe { (&raw mut (*key).data.data).cast::<u8>() };
    let n = copy_walked::<DENY_PATH_LEN>(dst, n)?;
    // SAFETY: as above, `n` < DENY_PATH_LEN.
    unsafe { *dst.add(n) = 0 };
    Some(n + 1)
}

/// Copies the first `n` bytes of the last walk's path (`n` ≤ its length and < `CAP`, a power of
/// two) to `dst`, which holds at least `CAP` bytes; returns `n` bounded for the verifier (index
/// `dst` with it).
#[inline(always)]
pub(crate) fn copy_walked<const CAP: usize>(dst: *mut u8, n: usize) -> Option<usize> {
    let buf = PATH_WALK.get_ptr_mut(0)?;
    // Masked after a volatile read: a caller's bound check tells LLVM the mask does nothing, and it
    // would pass on an unmasked copy that the verifier cannot bound.
    // SAFETY: a read of a local.
    let n = unsafe { core::ptr::read_volatile(&raw const n) } & (CAP - 1);
    // SAFETY: the source starts inside the walk buffer (masked below WALK_END) and the path runs
    // to WALK_END, so `n` bytes of it are inside; `dst` holds `CAP` bytes.
    let rc = unsafe { gen_::bpf_probe_read_kernel(dst.cast(), n as u32, start_ptr(buf).cast()) };
    (rc == 0).then_some(n)
}

/// The `struct path` at `base + offset` (a `file.f_path`, an `fs_struct.pwd`, …).
#[inline(always)]
pub(crate) fn path_at(off: &PathOffsets, base: *const u8, offset: u32) -> Option<KPath> {
    let (mnt, dentry) = adjacent(base, offset + off.path_mnt, offset + off.path_dentry)?;
    Some(KPath {
        mnt: mnt as *const u8,
        dentry: dentry as *const u8,
    })
}

/// The `struct file` of the task's descriptor `fd`.
#[inline(always)]
pub(crate) fn fd_file(off: &PathOffsets, task: *const u8, fd: i64) -> Option<*const u8> {
    if fd < 0 {
        return None;
    }
    let files: *const u8 = read_field(task, off.task_files)?;
    let fdt: *const u8 = read_field(files, off.files_fdt)?;
    // `max_fds` (an unsigned int, padded) then `fd`.
    let (max, fds) = adjacent(fdt, off.fdt_max_fds, off.fdt_fd)?;
    if fd as u64 >= max & 0xffff_ffff {
        return None;
    }
    let fds = fds as *const u8;
    let file: *const u8 = read_field(fds, (fd as u32) * 8)?;
    (!file.is_null()).then_some(file)
}

/// The path of the task's descriptor `fd`.
#[inline(always)]
pub(crate) fn fd_path(off: &PathOffsets, task: *const u8, fd: i64) -> Option<KPath> {
    path_at(off, fd_file(off, task, fd)?, off.file_path)
}

/// The path a `*at()` syscall's relative names start from: the directory `dfd`, or the working
/// directory for `AT_FDCWD`.
#[inline(always)]
pub(crate) fn dir_path(off: &PathOffsets, task: *const u8, dfd: i64) -> Option<KPath> {
    const AT_FDCWD: i64 = -100;
    if dfd == AT_FDCWD {
        let fs: *const u8 = read_field(task, off.task_fs)?;
        path_at(off, fs, off.fs_pwd)
    } else {
        fd_path(off, task, dfd)
    }
}
