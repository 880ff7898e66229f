//! The programs of agentmon's eBPF object: each one's name (its function in `monitor-ebpf`) and where
//! it attaches. The loader (`monitor/src/probes/`) loads and attaches exactly [`PROGRAMS`]; a test
//! there checks that the object holds these programs, with these attach points, and no others.
use crate::tracepoint::{ChdirArgs, ConnectArgs, FchdirArgs, Field, Layout, SysEnterArgs, SysExitArgs};

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
}

/// The `cgroup_sock_addr` hooks agentmon uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockAddrHook {
    Connect4,
    Connect6,
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

/// Programs whose tracepoint only newer kernels have: where it does not exist, the loader leaves the
/// program out with a warning instead of failing (docs/COVERAGE.md says what is then not seen).
pub const OPTIONAL: &[&str] = &[SYS_EXIT_OPEN_TREE_ATTR.name];

/// Every program of the object, in load order.
pub const PROGRAMS: &[Program] = &[
    SCHED_PROCESS_EXEC,
    SYS_EXIT_EXECVE,
    SYS_EXIT_EXECVEAT,
    SCHED_PROCESS_EXIT,
    SYS_EXIT_OPENAT,
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
    SCHED_PROCESS_FORK,
    // mounts, scope, io_uring, code loading
    SYS_EXIT_MOUNT,
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
];
