//! File syscalls: the arguments of the opens and of the syscalls the `file_op` kinds read at exit
//! (from the saved registers).
use core::mem::offset_of;

use super::{Field, Layout, SYSCALL_NR, SysEnterArgs};

syscall_args! {
    /// `openat(int dfd, const char *filename, int flags, umode_t mode)`.
    OpenatArgs { dfd, filename, flags, mode }

    /// `openat2(int dfd, const char *filename, struct open_how *how, size_t usize)`.
    Openat2Args { dfd, filename, how, size = "usize" }

    /// `open(const char *filename, int flags, umode_t mode)`.
    OpenArgs { filename, flags, mode }

    /// `creat(const char *pathname, umode_t mode)`.
    CreatArgs { pathname, mode }

    /// `open_by_handle_at(int mountdirfd, struct file_handle *handle, int flags)`.
    OpenByHandleAtArgs { mount_fd = "mountdirfd", handle, flags }

    /// `rename(const char *oldname, const char *newname)`.
    RenameArgs { oldname, newname }

    /// `renameat(int olddfd, const char *oldname, int newdfd, const char *newname)`.
    RenameatArgs { olddfd, oldname, newdfd, newname }

    /// `renameat2(int olddfd, const char *oldname, int newdfd, const char *newname, unsigned int flags)`.
    Renameat2Args { olddfd, oldname, newdfd, newname, flags }

    /// `unlink(const char *pathname)`.
    UnlinkArgs { pathname }

    /// `unlinkat(int dfd, const char *pathname, int flag)`.
    UnlinkatArgs { dfd, pathname, flag }

    /// `rmdir(const char *pathname)`.
    RmdirArgs { pathname }

    /// `link(const char *oldname, const char *newname)`.
    LinkArgs { oldname, newname }

    /// `linkat(int olddfd, const char *oldname, int newdfd, const char *newname, int flags)`.
    LinkatArgs { olddfd, oldname, newdfd, newname, flags }

    /// `symlink(const char *oldname, const char *newname)`.
    SymlinkArgs { oldname, newname }

    /// `symlinkat(const char *oldname, int newdfd, const char *newname)`.
    SymlinkatArgs { oldname, newdfd, newname }

    /// `chmod(const char *filename, umode_t mode)`.
    ChmodArgs { filename, mode }

    /// `fchmod(unsigned int fd, umode_t mode)`.
    FchmodArgs { fd, mode }

    /// `fchmodat(int dfd, const char *filename, umode_t mode)`.
    FchmodatArgs { dfd, filename, mode }

    /// `fchmodat2(int dfd, const char *filename, umode_t mode, unsigned int flags)`.
    Fchmodat2Args { dfd, filename, mode, flags }

    /// `chown(const char *filename, uid_t user, gid_t group)` (and `lchown`).
    ChownArgs { filename, user, group }

    /// `fchown(unsigned int fd, uid_t user, gid_t group)`.
    FchownArgs { fd, user, group }

    /// `fchownat(int dfd, const char *filename, uid_t user, gid_t group, int flag)`.
    FchownatArgs { dfd, filename, user, group, flag }

    /// `truncate(const char *path, long length)`.
    TruncateArgs { path, length }

    /// `ftruncate(unsigned int fd, off_t length)`.
    FtruncateArgs { fd, length }

    /// `mknod(const char *filename, umode_t mode, unsigned int dev)`.
    MknodArgs { filename, mode, dev }

    /// `mknodat(int dfd, const char *filename, umode_t mode, unsigned int dev)`.
    MknodatArgs { dfd, filename, mode, dev }
}
