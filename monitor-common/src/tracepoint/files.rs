//! File syscalls: the arguments of the opens and of the syscalls the `file_op` kinds read at exit
//! (from the saved registers).
use core::mem::offset_of;

use super::{Field, Layout, SYSCALL_NR, SysEnterArgs};

syscall_args! {
    /// `openat(int dfd, const char *filename, int flags, umode_t mode)`.
    OpenatArgs { dfd = "dfd", filename = "filename", flags = "flags", mode = "mode" }
}

syscall_args! {
    /// `openat2(int dfd, const char *filename, struct open_how *how, size_t usize)`.
    Openat2Args { dfd = "dfd", filename = "filename", how = "how", size = "usize" }
}

syscall_args! {
    /// `open(const char *filename, int flags, umode_t mode)`.
    OpenArgs { filename = "filename", flags = "flags", mode = "mode" }
}

syscall_args! {
    /// `creat(const char *pathname, umode_t mode)`.
    CreatArgs { pathname = "pathname", mode = "mode" }
}

syscall_args! {
    /// `open_by_handle_at(int mountdirfd, struct file_handle *handle, int flags)`.
    OpenByHandleAtArgs { mount_fd = "mountdirfd", handle = "handle", flags = "flags" }
}

syscall_args! {
    /// `rename(const char *oldname, const char *newname)`.
    RenameArgs { oldname = "oldname", newname = "newname" }
}

syscall_args! {
    /// `renameat(int olddfd, const char *oldname, int newdfd, const char *newname)`.
    RenameatArgs { olddfd = "olddfd", oldname = "oldname", newdfd = "newdfd", newname = "newname" }
}

syscall_args! {
    /// `renameat2(int olddfd, const char *oldname, int newdfd, const char *newname, unsigned int flags)`.
    Renameat2Args {
        olddfd = "olddfd",
        oldname = "oldname",
        newdfd = "newdfd",
        newname = "newname",
        flags = "flags",
    }
}

syscall_args! {
    /// `unlink(const char *pathname)`.
    UnlinkArgs { pathname = "pathname" }
}

syscall_args! {
    /// `unlinkat(int dfd, const char *pathname, int flag)`.
    UnlinkatArgs { dfd = "dfd", pathname = "pathname", flag = "flag" }
}

syscall_args! {
    /// `rmdir(const char *pathname)`.
    RmdirArgs { pathname = "pathname" }
}

syscall_args! {
    /// `link(const char *oldname, const char *newname)`.
    LinkArgs { oldname = "oldname", newname = "newname" }
}

syscall_args! {
    /// `linkat(int olddfd, const char *oldname, int newdfd, const char *newname, int flags)`.
    LinkatArgs {
        olddfd = "olddfd",
        oldname = "oldname",
        newdfd = "newdfd",
        newname = "newname",
        flags = "flags",
    }
}

syscall_args! {
    /// `symlink(const char *oldname, const char *newname)`.
    SymlinkArgs { oldname = "oldname", newname = "newname" }
}

syscall_args! {
    /// `symlinkat(const char *oldname, int newdfd, const char *newname)`.
    SymlinkatArgs { oldname = "oldname", newdfd = "newdfd", newname = "newname" }
}

syscall_args! {
    /// `chmod(const char *filename, umode_t mode)`.
    ChmodArgs { filename = "filename", mode = "mode" }
}

syscall_args! {
    /// `fchmod(unsigned int fd, umode_t mode)`.
    FchmodArgs { fd = "fd", mode = "mode" }
}

syscall_args! {
    /// `fchmodat(int dfd, const char *filename, umode_t mode)`.
    FchmodatArgs { dfd = "dfd", filename = "filename", mode = "mode" }
}

syscall_args! {
    /// `fchmodat2(int dfd, const char *filename, umode_t mode, unsigned int flags)`.
    Fchmodat2Args { dfd = "dfd", filename = "filename", mode = "mode", flags = "flags" }
}

syscall_args! {
    /// `chown(const char *filename, uid_t user, gid_t group)` (and `lchown`).
    ChownArgs { filename = "filename", user = "user", group = "group" }
}

syscall_args! {
    /// `fchown(unsigned int fd, uid_t user, gid_t group)`.
    FchownArgs { fd = "fd", user = "user", group = "group" }
}

syscall_args! {
    /// `fchownat(int dfd, const char *filename, uid_t user, gid_t group, int flag)`.
    FchownatArgs { dfd = "dfd", filename = "filename", user = "user", group = "group", flag = "flag" }
}

syscall_args! {
    /// `truncate(const char *path, long length)`.
    TruncateArgs { path = "path", length = "length" }
}

syscall_args! {
    /// `ftruncate(unsigned int fd, off_t length)`.
    FtruncateArgs { fd = "fd", length = "length" }
}

syscall_args! {
    /// `mknod(const char *filename, umode_t mode, unsigned int dev)`.
    MknodArgs { filename = "filename", mode = "mode", dev = "dev" }
}

syscall_args! {
    /// `mknodat(int dfd, const char *filename, umode_t mode, unsigned int dev)`.
    MknodatArgs { dfd = "dfd", filename = "filename", mode = "mode", dev = "dev" }
}
