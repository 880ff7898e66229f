//! Process syscalls and records: exec, and the process kinds' syscalls and tracepoints.
use core::mem::offset_of;

use super::{Field, Layout, SYSCALL_NR, SysEnterArgs, TraceEntry};

syscall_args! {
    /// `execve(const char *filename, const char *const *argv, const char *const *envp)`.
    ExecveArgs { filename = "filename", argv = "argv", envp = "envp" }
}

syscall_args! {
    /// `execveat(int fd, const char *filename, const char *const *argv, const char *const *envp,
    /// int flags)`.
    ExecveatArgs { fd = "fd", filename = "filename", argv = "argv", envp = "envp", flags = "flags" }
}

syscall_args! {
    /// `ptrace(long request, long pid, unsigned long addr, unsigned long data)`.
    PtraceArgs { request = "request", pid = "pid", addr = "addr", data = "data" }
}

syscall_args! {
    /// `process_vm_readv/writev(pid_t pid, const struct iovec *lvec, unsigned long liovcnt,
    /// const struct iovec *rvec, unsigned long riovcnt, unsigned long flags)`.
    ProcessVmArgs {
        pid = "pid",
        lvec = "lvec",
        liovcnt = "liovcnt",
        rvec = "rvec",
        riovcnt = "riovcnt",
        flags = "flags",
    }
}

syscall_args! {
    /// `unshare(unsigned long unshare_flags)`.
    UnshareArgs { flags = "unshare_flags" }
}

syscall_args! {
    /// `setns(int fd, int flags)` (`flags` is the nstype).
    SetnsArgs { fd = "fd", nstype = "flags" }
}

syscall_args! {
    /// `clone(unsigned long clone_flags, unsigned long newsp, int *parent_tidptr,
    /// int *child_tidptr, unsigned long tls)` (x86-64 order).
    CloneArgs {
        flags = "clone_flags",
        newsp = "newsp",
        parent_tid = "parent_tidptr",
        child_tid = "child_tidptr",
        tls = "tls",
    }
}

syscall_args! {
    /// `clone3(struct clone_args *uargs, size_t size)`.
    Clone3Args { uargs = "uargs", size = "size" }
}

syscall_args! {
    /// `capset(cap_user_header_t header, const cap_user_data_t data)`.
    CapsetArgs { header = "header", data = "data" }
}

syscall_args! {
    /// `prctl(int option, unsigned long arg2, arg3, arg4, arg5)`.
    PrctlArgs { option = "option", arg2 = "arg2", arg3 = "arg3", arg4 = "arg4", arg5 = "arg5" }
}

syscall_args! {
    /// `seccomp(unsigned int op, unsigned int flags, void *uargs)`.
    SeccompArgs { op = "op", flags = "flags", uargs = "uargs" }
}

syscall_args! {
    /// `bpf(int cmd, union bpf_attr *uattr, unsigned int size)`.
    BpfArgs { cmd = "cmd", attr = "uattr", size = "size" }
}

syscall_args! {
    /// `init_module(void *umod, unsigned long len, const char *uargs)`.
    InitModuleArgs { image = "umod", len = "len", args = "uargs" }
}

syscall_args! {
    /// `finit_module(int fd, const char *uargs, int flags)`.
    FinitModuleArgs { fd = "fd", args = "uargs", flags = "flags" }
}

syscall_args! {
    /// `delete_module(const char *name_user, unsigned int flags)`.
    DeleteModuleArgs { name = "name_user", flags = "flags" }
}

syscall_args! {
    /// `chroot(const char *filename)`.
    ChrootArgs { filename = "filename" }
}

syscall_args! {
    /// `pivot_root(const char *new_root, const char *put_old)`.
    PivotRootArgs { new_root = "new_root", put_old = "put_old" }
}

/// The `task/task_rename` record: a task's comm about to change.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TaskRename {
    pub common: TraceEntry,
    pub pid: i32,
    pub oldcomm: [u8; 16],
    pub newcomm: [u8; 16],
    pub oom_score_adj: i16,
}

impl Layout for TaskRename {
    const FIELDS: &'static [Field] = &[
        Field {
            name: "pid",
            offset: offset_of!(TaskRename, pid),
            size: size_of::<i32>(),
        },
        Field {
            name: "oldcomm",
            offset: offset_of!(TaskRename, oldcomm),
            size: 16,
        },
        Field {
            name: "newcomm",
            offset: offset_of!(TaskRename, newcomm),
            size: 16,
        },
    ];
}
