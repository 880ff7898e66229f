//! Mounts, scope (chdir, cgroups), `io_uring` and code loading: their syscalls and raw tracepoints.
use core::mem::offset_of;

use super::{Field, Layout, SYSCALL_NR, SysEnterArgs};

syscall_args! {
    /// `mount(char *dev_name, char *dir_name, char *type, unsigned long flags, void *data)`.
    MountArgs { source = "dev_name", target = "dir_name", fstype = "type", flags = "flags", data = "data" }
}

syscall_args! {
    /// `fsopen(const char *fs_name, unsigned int flags)`.
    FsopenArgs { fs_name = "_fs_name", flags = "flags" }
}

syscall_args! {
    /// `move_mount(int from_dfd, const char *from_pathname, int to_dfd, const char *to_pathname,
    /// unsigned int flags)`.
    MoveMountArgs {
        from_dfd = "from_dfd",
        from_pathname = "from_pathname",
        to_dfd = "to_dfd",
        to_pathname = "to_pathname",
        flags = "flags",
    }
}

syscall_args! {
    /// `fsmount(int fs_fd, unsigned int flags, unsigned int attr_flags)`.
    FsmountArgs { fs_fd = "fs_fd", flags = "flags", attr_flags = "attr_flags" }
}

syscall_args! {
    /// `open_tree(int dfd, const char *filename, unsigned flags)`.
    OpenTreeArgs { dfd = "dfd", filename = "filename", flags = "flags" }
}

syscall_args! {
    /// `mount_setattr(int dfd, const char *path, unsigned int flags, struct mount_attr *uattr,
    /// size_t usize)`.
    MountSetattrArgs { dfd = "dfd", path = "path", flags = "flags", uattr = "uattr", usize = "usize" }
}

syscall_args! {
    /// `io_uring_setup(u32 entries, struct io_uring_params *params)`.
    IoUringSetupArgs { entries = "entries", params = "params" }
}

syscall_args! {
    /// `memfd_create(const char *uname, unsigned int flags)`.
    MemfdCreateArgs { uname = "uname", flags = "flags" }
}

syscall_args! {
    /// `mmap(unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags,
    /// unsigned long fd, unsigned long off)`.
    MmapArgs { addr = "addr", len = "len", prot = "prot", flags = "flags", fd = "fd", off = "off" }
}

syscall_args! {
    /// `mprotect(unsigned long start, size_t len, unsigned long prot)`; `pkey_mprotect` adds
    /// `int pkey`.
    MprotectArgs { start = "start", len = "len", prot = "prot" }
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

syscall_args! {
    /// `chdir(const char *filename)`.
    ChdirArgs { filename = "filename" }
}

syscall_args! {
    /// `fchdir(unsigned int fd)`.
    FchdirArgs { fd = "fd" }
}
