//! The programs of agentmon's eBPF object: each one's name (its function in `monitor-ebpf`) and where
//! it attaches. The loader (`monitor/src/probes/`) loads and attaches exactly [`PROGRAMS`]; a test
//! there checks that the object holds these programs, with these attach points, and no others.
use crate::tracepoint::{
    ChdirArgs, ConnectArgs, FchdirArgs, Field, InetSockSetState, Layout, RawSysEnter, RawSysExit, SendmmsgArgs,
    SendmsgArgs, SendtoArgs, SysEnterArgs, SysExitArgs, TaskRename,
};

/// Where a program attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// A tracepoint `CATEGORY/NAME`; `fields` is the record layout the program reads (checked
    /// against the tracepoint's format file), empty when it reads none at a fixed offset.
    TracePoint {
        category: &'static str,
        name: &'static str,
        fields: &'static [Field],
    },
    /// A raw tracepoint (`TP_PROTO` arguments, no record).
    RawTracePoint { name: &'static str },
    /// A cgroup `sock_addr` program, attached to every watched cgroup.
    CgroupSockAddr(SockAddrHook),
    /// A cgroup `sock` program, attached to every watched cgroup.
    CgroupSock(SockHook),
    /// A BPF LSM program on `security_HOOK` (section `lsm/HOOK`), loaded only where this kernel
    /// allows BPF LSM (`monitor/src/capabilities.rs`); elsewhere the tracepoint programs serve the
    /// hook alone.
    Lsm { hook: &'static str },
}

/// The `cgroup_sock_addr` hooks agentmon uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockAddrHook {
    Connect4,
    Connect6,
    /// `udp_sendmsg` with a destination (unconnected sends).
    SendMsg4,
    SendMsg6,
}

/// The `cgroup_sock` hooks agentmon uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockHook {
    /// After an inet socket was bound (`bind(2)`, `io_uring` `IORING_OP_BIND`), port assigned.
    PostBind4,
    PostBind6,
    /// After an inet/inet6 socket was created by a task (`socket(2)`, `io_uring`
    /// `IORING_OP_SOCKET`), before it has a descriptor.
    SockCreate,
}

/// One program of the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Program {
    /// The program's name in the object (the eBPF function's name).
    pub name: &'static str,
    pub attach: Attach,
}

impl Program {
    const fn syscall(name: &'static str, fields: &'static [Field]) -> Self {
        Self {
            name,
            attach: Attach::TracePoint {
                category: "syscalls",
                name,
                fields,
            },
        }
    }

    const fn tracepoint(category: &'static str, name: &'static str, fields: &'static [Field]) -> Self {
        Self {
            name,
            attach: Attach::TracePoint { category, name, fields },
        }
    }

    /// A BPF LSM program for `hook` (`bpf_lsm_<hook>` in the kernel's BTF).
    const fn lsm(name: &'static str, hook: &'static str) -> Self {
        Self {
            name,
            attach: Attach::Lsm { hook },
        }
    }

    const fn sched(name: &'static str, fields: &'static [Field]) -> Self {
        Self {
            name,
            attach: Attach::TracePoint {
                category: "sched",
                name,
                fields,
            },
        }
    }
}

pub const SCHED_PROCESS_EXEC: Program = Program {
    name: "sched_process_exec",
    attach: Attach::RawTracePoint {
        name: "sched_process_exec",
    },
};
pub const SYS_EXIT_EXECVE: Program = Program::syscall("sys_exit_execve", SysExitArgs::FIELDS);
pub const SYS_EXIT_EXECVEAT: Program = Program::syscall("sys_exit_execveat", SysExitArgs::FIELDS);
/// Reads `group_dead` at the offset found at run time (`tracepoint::SCHED_PROCESS_EXIT_GROUP_DEAD`).
pub const SCHED_PROCESS_EXIT: Program = Program::sched("sched_process_exit", &[]);
pub const SCHED_PROCESS_FORK: Program = Program {
    name: "sched_process_fork",
    attach: Attach::RawTracePoint {
        name: "sched_process_fork",
    },
};
/// The synchronous open deny (`-EPERM` before the open has an effect), where BPF LSM loads.
pub const LSM_FILE_OPEN: Program = Program {
    name: "lsm_file_open",
    attach: Attach::Lsm { hook: "file_open" },
};
/// The synchronous exec deny (`-EPERM` before the new program is loaded), where BPF LSM loads.
pub const LSM_BPRM_CHECK_SECURITY: Program = Program {
    name: "lsm_bprm_check_security",
    attach: Attach::Lsm {
        hook: "bprm_check_security",
    },
};
/// The synchronous `mount(2)` deny (`-EPERM` before the mount tree changes), where BPF LSM loads.
pub const LSM_SB_MOUNT: Program = Program {
    name: "lsm_sb_mount",
    attach: Attach::Lsm { hook: "sb_mount" },
};
/// The synchronous `move_mount` deny (the new mount API's attach step), where BPF LSM loads.
pub const LSM_MOVE_MOUNT: Program = Program {
    name: "lsm_move_mount",
    attach: Attach::Lsm { hook: "move_mount" },
};
/// The synchronous connect deny on the *caller*'s scope (the cgroup `connect4`/`connect6` hooks
/// check the socket's cgroup): a socket made outside the watched cgroup and carried in is refused
/// too, with `-EPERM` before the connection is attempted, where BPF LSM loads.
pub const LSM_SOCKET_CONNECT: Program = Program {
    name: "lsm_socket_connect",
    attach: Attach::Lsm { hook: "socket_connect" },
};
/// The synchronous deny of changes to paths (`DENY_CHANGE`): rename onto, link, symlink, unlink,
/// rmdir, chmod, chown and truncate fail with `-EPERM` before the name or file changes, where BPF
/// LSM loads and the kernel has the `path_*` hooks (`CONFIG_SECURITY_PATH`). All load, or none.
pub const LSM_PATH_RENAME: Program = Program::lsm("lsm_path_rename", "path_rename");
pub const LSM_PATH_LINK: Program = Program::lsm("lsm_path_link", "path_link");
pub const LSM_PATH_SYMLINK: Program = Program::lsm("lsm_path_symlink", "path_symlink");
pub const LSM_PATH_UNLINK: Program = Program::lsm("lsm_path_unlink", "path_unlink");
pub const LSM_PATH_RMDIR: Program = Program::lsm("lsm_path_rmdir", "path_rmdir");
pub const LSM_PATH_CHMOD: Program = Program::lsm("lsm_path_chmod", "path_chmod");
pub const LSM_PATH_CHOWN: Program = Program::lsm("lsm_path_chown", "path_chown");
pub const LSM_PATH_TRUNCATE: Program = Program::lsm("lsm_path_truncate", "path_truncate");
/// `ftruncate` and `O_TRUNC` opens on 6.2+ (`security_file_truncate`; earlier kernels send them
/// through `path_truncate`): loaded with the `path_*` group where the kernel has the hook.
pub const LSM_FILE_TRUNCATE: Program = Program::lsm("lsm_file_truncate", "file_truncate");
/// The `path_*` hooks, for the loader (all or none) and the capability table.
pub const LSM_PATH_HOOKS: &[Program] = &[
    LSM_PATH_RENAME,
    LSM_PATH_LINK,
    LSM_PATH_SYMLINK,
    LSM_PATH_UNLINK,
    LSM_PATH_RMDIR,
    LSM_PATH_CHMOD,
    LSM_PATH_CHOWN,
    LSM_PATH_TRUNCATE,
];
pub const SYS_EXIT_OPENAT: Program = Program::syscall("sys_exit_openat", SysExitArgs::FIELDS);
pub const SYS_EXIT_OPENAT2: Program = Program::syscall("sys_exit_openat2", SysExitArgs::FIELDS);
pub const SYS_EXIT_OPEN: Program = Program::syscall("sys_exit_open", SysExitArgs::FIELDS);
pub const SYS_EXIT_CREAT: Program = Program::syscall("sys_exit_creat", SysExitArgs::FIELDS);
pub const SYS_EXIT_OPEN_BY_HANDLE_AT: Program = Program::syscall("sys_exit_open_by_handle_at", SysExitArgs::FIELDS);
pub const SYS_ENTER_CONNECT: Program = Program::syscall("sys_enter_connect", SysEnterArgs::<ConnectArgs>::FIELDS);
pub const SYS_ENTER_CHDIR: Program = Program::syscall("sys_enter_chdir", SysEnterArgs::<ChdirArgs>::FIELDS);
pub const SYS_EXIT_CHDIR: Program = Program::syscall("sys_exit_chdir", SysExitArgs::FIELDS);
pub const SYS_ENTER_FCHDIR: Program = Program::syscall("sys_enter_fchdir", SysEnterArgs::<FchdirArgs>::FIELDS);
pub const SYS_EXIT_FCHDIR: Program = Program::syscall("sys_exit_fchdir", SysExitArgs::FIELDS);
// files: the file_op kinds, each seen at its syscall's exit (arguments from the saved registers).
pub const SYS_EXIT_RENAME: Program = Program::syscall("sys_exit_rename", SysExitArgs::FIELDS);
pub const SYS_EXIT_RENAMEAT: Program = Program::syscall("sys_exit_renameat", SysExitArgs::FIELDS);
pub const SYS_EXIT_RENAMEAT2: Program = Program::syscall("sys_exit_renameat2", SysExitArgs::FIELDS);
pub const SYS_EXIT_UNLINK: Program = Program::syscall("sys_exit_unlink", SysExitArgs::FIELDS);
pub const SYS_EXIT_UNLINKAT: Program = Program::syscall("sys_exit_unlinkat", SysExitArgs::FIELDS);
pub const SYS_EXIT_RMDIR: Program = Program::syscall("sys_exit_rmdir", SysExitArgs::FIELDS);
pub const SYS_EXIT_LINK: Program = Program::syscall("sys_exit_link", SysExitArgs::FIELDS);
pub const SYS_EXIT_LINKAT: Program = Program::syscall("sys_exit_linkat", SysExitArgs::FIELDS);
pub const SYS_EXIT_SYMLINK: Program = Program::syscall("sys_exit_symlink", SysExitArgs::FIELDS);
pub const SYS_EXIT_SYMLINKAT: Program = Program::syscall("sys_exit_symlinkat", SysExitArgs::FIELDS);
pub const SYS_EXIT_CHMOD: Program = Program::syscall("sys_exit_chmod", SysExitArgs::FIELDS);
pub const SYS_EXIT_FCHMOD: Program = Program::syscall("sys_exit_fchmod", SysExitArgs::FIELDS);
pub const SYS_EXIT_FCHMODAT: Program = Program::syscall("sys_exit_fchmodat", SysExitArgs::FIELDS);
pub const SYS_EXIT_FCHMODAT2: Program = Program::syscall("sys_exit_fchmodat2", SysExitArgs::FIELDS);
pub const SYS_EXIT_CHOWN: Program = Program::syscall("sys_exit_chown", SysExitArgs::FIELDS);
pub const SYS_EXIT_LCHOWN: Program = Program::syscall("sys_exit_lchown", SysExitArgs::FIELDS);
pub const SYS_EXIT_FCHOWN: Program = Program::syscall("sys_exit_fchown", SysExitArgs::FIELDS);
pub const SYS_EXIT_FCHOWNAT: Program = Program::syscall("sys_exit_fchownat", SysExitArgs::FIELDS);
pub const SYS_EXIT_TRUNCATE: Program = Program::syscall("sys_exit_truncate", SysExitArgs::FIELDS);
pub const SYS_EXIT_FTRUNCATE: Program = Program::syscall("sys_exit_ftruncate", SysExitArgs::FIELDS);
pub const SYS_EXIT_MKNOD: Program = Program::syscall("sys_exit_mknod", SysExitArgs::FIELDS);
pub const SYS_EXIT_MKNODAT: Program = Program::syscall("sys_exit_mknodat", SysExitArgs::FIELDS);
// mounts, scope, io_uring, code loading: syscall arguments are read at exit from the saved
// registers (`monitor-ebpf/src/args.rs`), so these read only the exit record's `ret`.
pub const SYS_EXIT_MOUNT: Program = Program::syscall("sys_exit_mount", SysExitArgs::FIELDS);
pub const SYS_EXIT_FSOPEN: Program = Program::syscall("sys_exit_fsopen", SysExitArgs::FIELDS);
pub const SYS_EXIT_FSMOUNT: Program = Program::syscall("sys_exit_fsmount", SysExitArgs::FIELDS);
pub const SYS_EXIT_MOVE_MOUNT: Program = Program::syscall("sys_exit_move_mount", SysExitArgs::FIELDS);
pub const SYS_EXIT_OPEN_TREE: Program = Program::syscall("sys_exit_open_tree", SysExitArgs::FIELDS);
pub const SYS_EXIT_MOUNT_SETATTR: Program = Program::syscall("sys_exit_mount_setattr", SysExitArgs::FIELDS);
pub const SYS_EXIT_FSPICK: Program = Program::syscall("sys_exit_fspick", SysExitArgs::FIELDS);
/// Linux 6.15+ (`open_tree` and `mount_setattr` in one call): optional.
pub const SYS_EXIT_OPEN_TREE_ATTR: Program = Program::syscall("sys_exit_open_tree_attr", SysExitArgs::FIELDS);
pub const CGROUP_ATTACH_TASK: Program = Program {
    name: "cgroup_attach_task",
    attach: Attach::RawTracePoint {
        name: "cgroup_attach_task",
    },
};
pub const SYS_EXIT_IO_URING_SETUP: Program = Program::syscall("sys_exit_io_uring_setup", SysExitArgs::FIELDS);
pub const IO_URING_SUBMIT_REQ: Program = Program {
    name: "io_uring_submit_req",
    attach: Attach::RawTracePoint {
        name: "io_uring_submit_req",
    },
};
pub const SYS_EXIT_MEMFD_CREATE: Program = Program::syscall("sys_exit_memfd_create", SysExitArgs::FIELDS);
pub const SYS_EXIT_MMAP: Program = Program::syscall("sys_exit_mmap", SysExitArgs::FIELDS);
pub const SYS_EXIT_MPROTECT: Program = Program::syscall("sys_exit_mprotect", SysExitArgs::FIELDS);
pub const SYS_EXIT_PKEY_MPROTECT: Program = Program::syscall("sys_exit_pkey_mprotect", SysExitArgs::FIELDS);
pub const CONNECT4: Program = Program {
    name: "connect4",
    attach: Attach::CgroupSockAddr(SockAddrHook::Connect4),
};
pub const CONNECT6: Program = Program {
    name: "connect6",
    attach: Attach::CgroupSockAddr(SockAddrHook::Connect6),
};
// network
pub const SYS_EXIT_CONNECT: Program = Program::syscall("sys_exit_connect", SysExitArgs::FIELDS);
pub const SYS_EXIT_LISTEN: Program = Program::syscall("sys_exit_listen", SysExitArgs::FIELDS);
pub const SYS_EXIT_BIND: Program = Program::syscall("sys_exit_bind", SysExitArgs::FIELDS);
pub const SYS_EXIT_SOCKET: Program = Program::syscall("sys_exit_socket", SysExitArgs::FIELDS);
pub const INET_SOCK_SET_STATE: Program = Program::tracepoint("sock", "inet_sock_set_state", InetSockSetState::FIELDS);
pub const SYS_ENTER_SENDTO: Program = Program::syscall("sys_enter_sendto", SysEnterArgs::<SendtoArgs>::FIELDS);
pub const SYS_ENTER_SENDMSG: Program = Program::syscall("sys_enter_sendmsg", SysEnterArgs::<SendmsgArgs>::FIELDS);
pub const SYS_ENTER_SENDMMSG: Program = Program::syscall("sys_enter_sendmmsg", SysEnterArgs::<SendmmsgArgs>::FIELDS);
pub const SENDMSG4: Program = Program {
    name: "sendmsg4",
    attach: Attach::CgroupSockAddr(SockAddrHook::SendMsg4),
};
pub const SENDMSG6: Program = Program {
    name: "sendmsg6",
    attach: Attach::CgroupSockAddr(SockAddrHook::SendMsg6),
};
pub const POST_BIND4: Program = Program {
    name: "post_bind4",
    attach: Attach::CgroupSock(SockHook::PostBind4),
};
pub const POST_BIND6: Program = Program {
    name: "post_bind6",
    attach: Attach::CgroupSock(SockHook::PostBind6),
};
pub const SOCK_CREATE: Program = Program {
    name: "sock_create",
    attach: Attach::CgroupSock(SockHook::SockCreate),
};

// processes: all seen at syscall exit (cred: also at entry, for the credentials before the call)
pub const SYS_EXIT_PTRACE: Program = Program::syscall("sys_exit_ptrace", SysExitArgs::FIELDS);
pub const SYS_EXIT_PROCESS_VM_READV: Program = Program::syscall("sys_exit_process_vm_readv", SysExitArgs::FIELDS);
pub const SYS_EXIT_PROCESS_VM_WRITEV: Program = Program::syscall("sys_exit_process_vm_writev", SysExitArgs::FIELDS);
pub const SYS_EXIT_UNSHARE: Program = Program::syscall("sys_exit_unshare", SysExitArgs::FIELDS);
pub const SYS_EXIT_SETNS: Program = Program::syscall("sys_exit_setns", SysExitArgs::FIELDS);
pub const SYS_EXIT_CLONE: Program = Program::syscall("sys_exit_clone", SysExitArgs::FIELDS);
pub const SYS_EXIT_CLONE3: Program = Program::syscall("sys_exit_clone3", SysExitArgs::FIELDS);
pub const SYS_ENTER_SETUID: Program = Program::syscall("sys_enter_setuid", &[]);
pub const SYS_EXIT_SETUID: Program = Program::syscall("sys_exit_setuid", SysExitArgs::FIELDS);
pub const SYS_ENTER_SETGID: Program = Program::syscall("sys_enter_setgid", &[]);
pub const SYS_EXIT_SETGID: Program = Program::syscall("sys_exit_setgid", SysExitArgs::FIELDS);
pub const SYS_ENTER_SETREUID: Program = Program::syscall("sys_enter_setreuid", &[]);
pub const SYS_EXIT_SETREUID: Program = Program::syscall("sys_exit_setreuid", SysExitArgs::FIELDS);
pub const SYS_ENTER_SETREGID: Program = Program::syscall("sys_enter_setregid", &[]);
pub const SYS_EXIT_SETREGID: Program = Program::syscall("sys_exit_setregid", SysExitArgs::FIELDS);
pub const SYS_ENTER_SETRESUID: Program = Program::syscall("sys_enter_setresuid", &[]);
pub const SYS_EXIT_SETRESUID: Program = Program::syscall("sys_exit_setresuid", SysExitArgs::FIELDS);
pub const SYS_ENTER_SETRESGID: Program = Program::syscall("sys_enter_setresgid", &[]);
pub const SYS_EXIT_SETRESGID: Program = Program::syscall("sys_exit_setresgid", SysExitArgs::FIELDS);
pub const SYS_ENTER_SETFSUID: Program = Program::syscall("sys_enter_setfsuid", &[]);
pub const SYS_EXIT_SETFSUID: Program = Program::syscall("sys_exit_setfsuid", SysExitArgs::FIELDS);
pub const SYS_ENTER_SETFSGID: Program = Program::syscall("sys_enter_setfsgid", &[]);
pub const SYS_EXIT_SETFSGID: Program = Program::syscall("sys_exit_setfsgid", SysExitArgs::FIELDS);
pub const SYS_ENTER_CAPSET: Program = Program::syscall("sys_enter_capset", &[]);
pub const SYS_EXIT_CAPSET: Program = Program::syscall("sys_exit_capset", SysExitArgs::FIELDS);
pub const TASK_RENAME: Program = Program {
    name: "task_rename",
    attach: Attach::TracePoint {
        category: "task",
        name: "task_rename",
        fields: TaskRename::FIELDS,
    },
};
pub const SYS_EXIT_PRCTL: Program = Program::syscall("sys_exit_prctl", SysExitArgs::FIELDS);
pub const SYS_EXIT_SECCOMP: Program = Program::syscall("sys_exit_seccomp", SysExitArgs::FIELDS);
pub const SYS_EXIT_BPF: Program = Program::syscall("sys_exit_bpf", SysExitArgs::FIELDS);
pub const SYS_EXIT_INIT_MODULE: Program = Program::syscall("sys_exit_init_module", SysExitArgs::FIELDS);
pub const SYS_EXIT_FINIT_MODULE: Program = Program::syscall("sys_exit_finit_module", SysExitArgs::FIELDS);
pub const SYS_EXIT_DELETE_MODULE: Program = Program::syscall("sys_exit_delete_module", SysExitArgs::FIELDS);
pub const SYS_EXIT_CHROOT: Program = Program::syscall("sys_exit_chroot", SysExitArgs::FIELDS);
pub const SYS_EXIT_PIVOT_ROOT: Program = Program::syscall("sys_exit_pivot_root", SysExitArgs::FIELDS);

/// Programs whose tracepoint a kernel may lack for want of the feature itself (a kernel built
/// without module support has no `*_module` syscalls) or because only newer kernels have the
/// syscall (`fchmodat2`, 6.6+; `open_tree_attr`, 6.15+): the loader skips them, saying so, when the
/// tracepoint does not exist (docs/COVERAGE.md says what is then not seen); every other program
/// must attach.
pub const OPTIONAL: &[&str] = &[
    SYS_EXIT_INIT_MODULE.name,
    SYS_EXIT_FINIT_MODULE.name,
    SYS_EXIT_DELETE_MODULE.name,
    SYS_EXIT_FCHMODAT2.name,
    // mounts, scope, io_uring, code loading
    SYS_EXIT_OPEN_TREE_ATTR.name,
];

/// Raw tracepoints older kernels know by another name, with the same arguments the program reads:
/// (name, older name). The loader attaches to the older name when the kernel lacks the newer one.
/// `io_uring_submit_req` is `io_uring_submit_sqe` on older kernels (6.1 among them: `TP_PROTO(struct
/// io_kiocb *req, bool force_nonblock)`, the same first argument).
pub const RAW_TRACEPOINT_OLDER_NAMES: &[(&str, &str)] = &[("io_uring_submit_req", "io_uring_submit_sqe")];

/// Whether the program may be missing from a kernel ([`OPTIONAL`]).
pub fn is_optional(p: &Program) -> bool {
    OPTIONAL.iter().any(|name| crate::same_name(name, p.name))
}

// sandbox
/// Counts every syscall of a watched task by number (`agentmon learn`).
pub const SYSCALL_COUNT: Program = Program {
    name: "syscall_count",
    attach: Attach::TracePoint {
        category: "raw_syscalls",
        name: "sys_enter",
        fields: RawSysEnter::FIELDS,
    },
};
/// Reports the syscalls a sandbox flags (refused by its seccomp filter, or not in its profile).
pub const SYSCALL_REPORT: Program = Program {
    name: "syscall_report",
    attach: Attach::TracePoint {
        category: "raw_syscalls",
        name: "sys_exit",
        fields: RawSysExit::FIELDS,
    },
};

/// Programs loaded with the others but attached only when a command asks for them
/// (`Probes::attach_on_demand`): they run on every syscall of every task, so plain monitoring does
/// not attach them. [`SYSCALL_COUNT`] while learning, [`SYSCALL_REPORT`] under a sandbox.
pub const ON_DEMAND: &[&str] = &[SYSCALL_COUNT.name, SYSCALL_REPORT.name];

/// Every program of the object, in load order.
pub const PROGRAMS: &[Program] = &[
    SCHED_PROCESS_EXEC,
    SYS_EXIT_EXECVE,
    SYS_EXIT_EXECVEAT,
    LSM_BPRM_CHECK_SECURITY,
    SCHED_PROCESS_EXIT,
    SYS_EXIT_OPENAT,
    LSM_FILE_OPEN,
    SYS_EXIT_OPENAT2,
    SYS_EXIT_OPEN,
    SYS_EXIT_CREAT,
    SYS_EXIT_OPEN_BY_HANDLE_AT,
    SYS_ENTER_CONNECT,
    SYS_ENTER_CHDIR,
    SYS_EXIT_CHDIR,
    SYS_ENTER_FCHDIR,
    SYS_EXIT_FCHDIR,
    // files
    SYS_EXIT_RENAME,
    SYS_EXIT_RENAMEAT,
    SYS_EXIT_RENAMEAT2,
    SYS_EXIT_UNLINK,
    SYS_EXIT_UNLINKAT,
    SYS_EXIT_RMDIR,
    SYS_EXIT_LINK,
    SYS_EXIT_LINKAT,
    SYS_EXIT_SYMLINK,
    SYS_EXIT_SYMLINKAT,
    SYS_EXIT_CHMOD,
    SYS_EXIT_FCHMOD,
    SYS_EXIT_FCHMODAT,
    SYS_EXIT_FCHMODAT2,
    SYS_EXIT_CHOWN,
    SYS_EXIT_LCHOWN,
    SYS_EXIT_FCHOWN,
    SYS_EXIT_FCHOWNAT,
    SYS_EXIT_TRUNCATE,
    SYS_EXIT_FTRUNCATE,
    SYS_EXIT_MKNOD,
    SYS_EXIT_MKNODAT,
    LSM_PATH_RENAME,
    LSM_PATH_LINK,
    LSM_PATH_SYMLINK,
    LSM_PATH_UNLINK,
    LSM_PATH_RMDIR,
    LSM_PATH_CHMOD,
    LSM_PATH_CHOWN,
    LSM_PATH_TRUNCATE,
    LSM_FILE_TRUNCATE,
    SCHED_PROCESS_FORK,
    // mounts, scope, io_uring, code loading
    SYS_EXIT_MOUNT,
    LSM_SB_MOUNT,
    LSM_MOVE_MOUNT,
    SYS_EXIT_FSOPEN,
    SYS_EXIT_FSMOUNT,
    SYS_EXIT_MOVE_MOUNT,
    SYS_EXIT_OPEN_TREE,
    SYS_EXIT_MOUNT_SETATTR,
    SYS_EXIT_FSPICK,
    SYS_EXIT_OPEN_TREE_ATTR,
    CGROUP_ATTACH_TASK,
    SYS_EXIT_IO_URING_SETUP,
    IO_URING_SUBMIT_REQ,
    SYS_EXIT_MEMFD_CREATE,
    SYS_EXIT_MMAP,
    SYS_EXIT_MPROTECT,
    SYS_EXIT_PKEY_MPROTECT,
    CONNECT4,
    CONNECT6,
    LSM_SOCKET_CONNECT,
    // network
    SYS_EXIT_CONNECT,
    SYS_EXIT_LISTEN,
    SYS_EXIT_BIND,
    SYS_EXIT_SOCKET,
    INET_SOCK_SET_STATE,
    SYS_ENTER_SENDTO,
    SYS_ENTER_SENDMSG,
    SYS_ENTER_SENDMMSG,
    SENDMSG4,
    SENDMSG6,
    POST_BIND4,
    POST_BIND6,
    SOCK_CREATE,
    // processes
    SYS_EXIT_PTRACE,
    SYS_EXIT_PROCESS_VM_READV,
    SYS_EXIT_PROCESS_VM_WRITEV,
    SYS_EXIT_UNSHARE,
    SYS_EXIT_SETNS,
    SYS_EXIT_CLONE,
    SYS_EXIT_CLONE3,
    SYS_ENTER_SETUID,
    SYS_EXIT_SETUID,
    SYS_ENTER_SETGID,
    SYS_EXIT_SETGID,
    SYS_ENTER_SETREUID,
    SYS_EXIT_SETREUID,
    SYS_ENTER_SETREGID,
    SYS_EXIT_SETREGID,
    SYS_ENTER_SETRESUID,
    SYS_EXIT_SETRESUID,
    SYS_ENTER_SETRESGID,
    SYS_EXIT_SETRESGID,
    SYS_ENTER_SETFSUID,
    SYS_EXIT_SETFSUID,
    SYS_ENTER_SETFSGID,
    SYS_EXIT_SETFSGID,
    SYS_ENTER_CAPSET,
    SYS_EXIT_CAPSET,
    TASK_RENAME,
    SYS_EXIT_PRCTL,
    SYS_EXIT_SECCOMP,
    SYS_EXIT_BPF,
    SYS_EXIT_INIT_MODULE,
    SYS_EXIT_FINIT_MODULE,
    SYS_EXIT_DELETE_MODULE,
    SYS_EXIT_CHROOT,
    SYS_EXIT_PIVOT_ROOT,
    // sandbox (attached on demand)
    SYSCALL_COUNT,
    SYSCALL_REPORT,
];
