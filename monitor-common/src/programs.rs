//! The programs of agentmon's eBPF object: each one's name (its function in `monitor-ebpf`) and where
//! it attaches. The loader (`monitor/src/probes/`) loads and attaches exactly [`PROGRAMS`]; a test
//! there checks that the object holds these programs, with these attach points, and no others.
use crate::tracepoint::{
    ChdirArgs, ConnectArgs, FchdirArgs, Field, FsconfigArgs, FsopenArgs, InetSockSetState, Layout, MountArgs,
    MoveMountArgs, SendmmsgArgs, SendmsgArgs, SendtoArgs, SysEnterArgs, SysExitArgs,
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
pub const SYS_ENTER_MOUNT: Program = Program::syscall("sys_enter_mount", SysEnterArgs::<MountArgs>::FIELDS);
pub const SYS_ENTER_FSOPEN: Program = Program::syscall("sys_enter_fsopen", SysEnterArgs::<FsopenArgs>::FIELDS);
pub const SYS_ENTER_FSCONFIG: Program = Program::syscall("sys_enter_fsconfig", SysEnterArgs::<FsconfigArgs>::FIELDS);
pub const SYS_ENTER_MOVE_MOUNT: Program =
    Program::syscall("sys_enter_move_mount", SysEnterArgs::<MoveMountArgs>::FIELDS);
pub const SYS_ENTER_CHDIR: Program = Program::syscall("sys_enter_chdir", SysEnterArgs::<ChdirArgs>::FIELDS);
pub const SYS_EXIT_CHDIR: Program = Program::syscall("sys_exit_chdir", SysExitArgs::FIELDS);
pub const SYS_ENTER_FCHDIR: Program = Program::syscall("sys_enter_fchdir", SysEnterArgs::<FchdirArgs>::FIELDS);
pub const SYS_EXIT_FCHDIR: Program = Program::syscall("sys_exit_fchdir", SysExitArgs::FIELDS);
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
    SYS_ENTER_MOUNT,
    SYS_ENTER_FSOPEN,
    SYS_ENTER_CHDIR,
    SYS_EXIT_CHDIR,
    SYS_ENTER_FCHDIR,
    SYS_EXIT_FCHDIR,
    SYS_ENTER_FSCONFIG,
    SYS_ENTER_MOVE_MOUNT,
    SCHED_PROCESS_FORK,
    CONNECT4,
    CONNECT6,
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
];
