//! Process syscalls and records: exec, and the process kinds' syscalls and tracepoints.
use core::mem::offset_of;

use super::{Field, Layout, SYSCALL_NR, SysEnterArgs, TraceEntry};

syscall_args! {
    /// `execve(const char *filename, const char *const *argv, const char *const *envp)`.
    ExecveArgs { filename, argv, envp }

    /// `execveat(int fd, const char *filename, const char *const *argv, const char *const *envp,
    /// int flags)`.
    ExecveatArgs { fd, filename, argv, envp, flags }

    /// `ptrace(long request, long pid, unsigned long addr, unsigned long data)`.
    PtraceArgs { request, pid, addr, data }

    /// `process_vm_readv/writev(pid_t pid, const struct iovec *lvec, unsigned long liovcnt,
    /// const struct iovec *rvec, unsigned long riovcnt, unsigned long flags)`.
    ProcessVmArgs { pid, lvec, liovcnt, rvec, riovcnt, flags }

    /// `unshare(unsigned long unshare_flags)`.
    UnshareArgs { flags = "unshare_flags" }

    /// `setns(int fd, int flags)` (`flags` is the nstype).
    SetnsArgs { fd, nstype = "flags" }

    /// `clone(unsigned long clone_flags, unsigned long newsp, int *parent_tidptr,
    /// int *child_tidptr, unsigned long tls)` (x86-64 order).
    CloneArgs { flags = "clone_flags", newsp, parent_tid = "parent_tidptr", child_tid = "child_tidptr", tls }

    /// `clone3(struct clone_args *uargs, size_t size)`.
    Clone3Args { uargs, size }

    /// `capset(cap_user_header_t header, const cap_user_data_t data)`.
    CapsetArgs { header, data }

    /// `prctl(int option, unsigned long arg2, arg3, arg4, arg5)`.
    PrctlArgs { option, arg2, arg3, arg4, arg5 }

    /// `seccomp(unsigned int op, unsigned int flags, void *uargs)`.
    SeccompArgs { op, flags, uargs }

    /// `bpf(int cmd, union bpf_attr *uattr, unsigned int size)`.
    BpfArgs { cmd, attr = "uattr", size }

    /// `init_module(void *umod, unsigned long len, const char *uargs)`.
    InitModuleArgs { image = "umod", len, args = "uargs" }

    /// `finit_module(int fd, const char *uargs, int flags)`.
    FinitModuleArgs { fd, args = "uargs", flags }

    /// `delete_module(const char *name_user, unsigned int flags)`.
    DeleteModuleArgs { name = "name_user", flags }

    /// `chroot(const char *filename)`.
    ChrootArgs { filename }

    /// `pivot_root(const char *new_root, const char *put_old)`.
    PivotRootArgs { new_root, put_old }
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
