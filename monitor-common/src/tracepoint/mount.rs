//! Mounts, scope (chdir, cgroups), `io_uring` and code loading: their syscalls and raw tracepoints.
use core::mem::offset_of;

use super::{Field, Layout, SYSCALL_NR, SysEnterArgs};

syscall_args! {
    /// `mount(char *dev_name, char *dir_name, char *type, unsigned long flags, void *data)`.
    MountArgs { source = "dev_name", target = "dir_name", fstype = "type", flags, data }

    /// `fsopen(const char *fs_name, unsigned int flags)`.
    FsopenArgs { fs_name = "_fs_name", flags }

    /// `move_mount(int from_dfd, const char *from_pathname, int to_dfd, const char *to_pathname,
    /// unsigned int flags)`.
    MoveMountArgs { from_dfd, from_pathname, to_dfd, to_pathname, flags }

    /// `fsmount(int fs_fd, unsigned int flags, unsigned int attr_flags)`.
    FsmountArgs { fs_fd, flags, attr_flags }

    /// `open_tree(int dfd, const char *filename, unsigned flags)`.
    OpenTreeArgs { dfd, filename, flags }

    /// `mount_setattr(int dfd, const char *path, unsigned int flags, struct mount_attr *uattr,
    /// size_t usize)`.
    MountSetattrArgs { dfd, path, flags, uattr, usize }

    /// `io_uring_setup(u32 entries, struct io_uring_params *params)`.
    IoUringSetupArgs { entries, params }

    /// `memfd_create(const char *uname, unsigned int flags)`.
    MemfdCreateArgs { uname, flags }

    /// `mmap(unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags,
    /// unsigned long fd, unsigned long off)`.
    MmapArgs { addr, len, prot, flags, fd, off }

    /// `mprotect(unsigned long start, size_t len, unsigned long prot)`; `pkey_mprotect` adds
    /// `int pkey`.
    MprotectArgs { start, len, prot }

    /// `chdir(const char *filename)`.
    ChdirArgs { filename }

    /// `fchdir(unsigned int fd)`.
    FchdirArgs { fd }
}

/// Arguments of the raw tracepoint `cgroup_attach_task`: `TP_PROTO(struct cgroup *dst_cgrp,
/// const char *path, struct task_struct *task, bool threadgroup)`, one u64 each. It fires after
/// the move, in the context of the process that wrote `cgroup.procs` (or `cgroup.threads`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CgroupAttachTaskRaw {
    pub dst_cgrp: u64,
    /// The destination's path relative to its hierarchy's root (a kernel string).
    pub path: u64,
    pub task: u64,
    pub threadgroup: u64,
}

/// Arguments of the raw tracepoint `io_uring_submit_req`: `TP_PROTO(struct io_kiocb *req)`. It
/// fires once the request is prepared (its paths copied into the kernel), before it is issued.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IoUringSubmitReqRaw {
    pub req: u64,
}
