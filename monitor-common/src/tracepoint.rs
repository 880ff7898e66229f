//! Layouts of the tracepoint records the programs read, as `#[repr(C)]` structs: the one place the
//! offsets of their fields are written down.
//!
//! A tracepoint program's context is the record the kernel wrote for the event, described by the
//! tracepoint's tracefs `format` file (`/sys/kernel/tracing/events/CATEGORY/NAME/format`). Each
//! layout here lists its fields ([`Layout::FIELDS`]: kernel field name, offset, size) so userspace
//! can check it against those files at start-up and in its tests (`monitor/src/probes/tracefs.rs`).
//!
//! - `sys_enter_*` records are a [`SysEnterArgs<A>`]: the common header, the syscall number and the
//!   syscall's arguments, one 8-byte slot each, typed per syscall (`A` = [`OpenatArgs`], …).
//! - `sys_exit_*` records are a [`SysExitArgs`] (the return value).
//! - A `__data_loc` field (a string inside the record) is a [`DataLoc`].
//! - `sched/sched_process_exit`'s `group_dead` moves between kernel versions: its offset is looked up
//!   at run time by [`SCHED_PROCESS_EXIT_GROUP_DEAD`] (absent on older kernels) and handed over in
//!   `config::KernelOffsets::exit_group_dead`.
//! - The raw tracepoints `sched_process_fork` and `sched_process_exec` get their `TP_PROTO`
//!   arguments instead of a record ([`SchedProcessForkRaw`], [`SchedProcessExecRaw`]); no format
//!   file describes them.
use core::mem::offset_of;

/// One field of a tracepoint record, as its format file names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The kernel's name of the field (the last word of the `field:` declaration).
    pub name: &'static str,
    /// Byte offset in the record.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// A tracepoint record layout: the fields the struct expects, for checking against tracefs.
pub trait Layout {
    /// Every field of the struct that mirrors a field of the record (padding and the common header
    /// excepted).
    const FIELDS: &'static [Field];
}

/// The header every tracepoint record starts with (`struct trace_entry`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TraceEntry {
    pub common_type: u16,
    pub common_flags: u8,
    pub common_preempt_count: u8,
    pub common_pid: i32,
}

/// A `sys_enter_*` record: the syscall's arguments `A`, one 8-byte slot per argument, in the order of
/// the syscall's parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SysEnterArgs<A> {
    pub common: TraceEntry,
    pub syscall_nr: i32,
    pub _pad: u32,
    pub args: A,
}

impl<A> SysEnterArgs<A> {
    /// Where the arguments start in the record (16).
    pub const ARGS_OFFSET: usize = offset_of!(Self, args);
}

const SYSCALL_NR: Field = Field {
    name: "__syscall_nr",
    offset: 8,
    size: 4,
};

/// A `sys_exit_*` record.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SysExitArgs {
    pub common: TraceEntry,
    pub syscall_nr: i32,
    pub _pad: u32,
    /// The syscall's return value (negative errno on failure).
    pub ret: i64,
}

impl Layout for SysExitArgs {
    const FIELDS: &'static [Field] = &[
        Field {
            name: "__syscall_nr",
            offset: offset_of!(SysExitArgs, syscall_nr),
            size: size_of::<i32>(),
        },
        Field {
            name: "ret",
            offset: offset_of!(SysExitArgs, ret),
            size: size_of::<i64>(),
        },
    ];
}

/// A `raw_syscalls/sys_enter` record (every syscall): its number. The six arguments follow, unread.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawSysEnter {
    pub common: TraceEntry,
    pub id: i64,
}

impl Layout for RawSysEnter {
    const FIELDS: &'static [Field] = &[Field {
        name: "id",
        offset: offset_of!(RawSysEnter, id),
        size: size_of::<i64>(),
    }];
}

/// A `raw_syscalls/sys_exit` record (every syscall): its number and result. It is written for a
/// syscall a seccomp filter refused too (whose `sys_enter` never ran), with the filter's result.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawSysExit {
    pub common: TraceEntry,
    pub id: i64,
    pub ret: i64,
}

impl Layout for RawSysExit {
    const FIELDS: &'static [Field] = &[
        Field {
            name: "id",
            offset: offset_of!(RawSysExit, id),
            size: size_of::<i64>(),
        },
        Field {
            name: "ret",
            offset: offset_of!(RawSysExit, ret),
            size: size_of::<i64>(),
        },
    ];
}

/// Declares the arguments of one syscall's `sys_enter_*` record: a struct of 8-byte slots, each
/// named with the kernel's name of the parameter, and its [`Layout`] (the slots plus `__syscall_nr`).
macro_rules! syscall_args {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident = $kernel:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: u64),+
        }

        impl Layout for SysEnterArgs<$name> {
            const FIELDS: &'static [Field] = &[
                SYSCALL_NR,
                $(Field {
                    name: $kernel,
                    offset: SysEnterArgs::<$name>::ARGS_OFFSET + offset_of!($name, $field),
                    size: size_of::<u64>(),
                }),+
            ];
        }
    };
}

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
    /// `execve(const char *filename, const char *const *argv, const char *const *envp)`.
    ExecveArgs { filename = "filename", argv = "argv", envp = "envp" }
}

syscall_args! {
    /// `execveat(int fd, const char *filename, const char *const *argv, const char *const *envp,
    /// int flags)`.
    ExecveatArgs { fd = "fd", filename = "filename", argv = "argv", envp = "envp", flags = "flags" }
}

syscall_args! {
    /// `connect(int fd, struct sockaddr *uservaddr, int addrlen)`.
    ConnectArgs { fd = "fd", addr = "uservaddr", addrlen = "addrlen" }
}

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

// mounts, scope, io_uring, code loading
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

// network
syscall_args! {
    /// `socket(int family, int type, int protocol)`.
    SocketArgs { family = "family", sock_type = "type", protocol = "protocol" }
}

syscall_args! {
    /// `bind(int fd, struct sockaddr *umyaddr, int addrlen)`.
    BindArgs { fd = "fd", addr = "umyaddr", addrlen = "addrlen" }
}

syscall_args! {
    /// `sendto(int fd, void *buff, size_t len, unsigned int flags, struct sockaddr *addr, int addr_len)`.
    SendtoArgs { fd = "fd", buff = "buff", len = "len", flags = "flags", addr = "addr", addr_len = "addr_len" }
}

syscall_args! {
    /// `sendmsg(int fd, struct user_msghdr *msg, unsigned int flags)`.
    SendmsgArgs { fd = "fd", msg = "msg", flags = "flags" }
}

syscall_args! {
    /// `sendmmsg(int fd, struct mmsghdr *mmsg, unsigned int vlen, unsigned int flags)`.
    SendmmsgArgs { fd = "fd", mmsg = "mmsg", vlen = "vlen", flags = "flags" }
}

syscall_args! {
    /// `listen(int fd, int backlog)`.
    ListenArgs { fd = "fd", backlog = "backlog" }
}

/// The `sock/inet_sock_set_state` record: a TCP (or SCTP, MPTCP) socket changed state.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct InetSockSetState {
    pub common: TraceEntry,
    pub skaddr: u64,
    pub oldstate: i32,
    pub newstate: i32,
    /// Local and remote port, host order.
    pub sport: u16,
    pub dport: u16,
    pub family: u16,
    pub protocol: u16,
    pub saddr: [u8; 4],
    pub daddr: [u8; 4],
    pub saddr_v6: [u8; 16],
    pub daddr_v6: [u8; 16],
}

/// `TCP_LISTEN` in `InetSockSetState::newstate`.
pub const TCP_LISTEN: i32 = 10;

impl Layout for InetSockSetState {
    const FIELDS: &'static [Field] = &[
        Field {
            name: "skaddr",
            offset: offset_of!(InetSockSetState, skaddr),
            size: 8,
        },
        Field {
            name: "oldstate",
            offset: offset_of!(InetSockSetState, oldstate),
            size: 4,
        },
        Field {
            name: "newstate",
            offset: offset_of!(InetSockSetState, newstate),
            size: 4,
        },
        Field {
            name: "sport",
            offset: offset_of!(InetSockSetState, sport),
            size: 2,
        },
        Field {
            name: "dport",
            offset: offset_of!(InetSockSetState, dport),
            size: 2,
        },
        Field {
            name: "family",
            offset: offset_of!(InetSockSetState, family),
            size: 2,
        },
        Field {
            name: "protocol",
            offset: offset_of!(InetSockSetState, protocol),
            size: 2,
        },
        Field {
            name: "saddr",
            offset: offset_of!(InetSockSetState, saddr),
            size: 4,
        },
        Field {
            name: "daddr",
            offset: offset_of!(InetSockSetState, daddr),
            size: 4,
        },
        Field {
            name: "saddr_v6",
            offset: offset_of!(InetSockSetState, saddr_v6),
            size: 16,
        },
        Field {
            name: "daddr_v6",
            offset: offset_of!(InetSockSetState, daddr_v6),
            size: 16,
        },
    ];
}

// files: the arguments of the syscalls the file_op kinds read at exit (from the saved registers).
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

// processes

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

/// A `__data_loc` field: where a variable-length field (a string) sits in the record.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct DataLoc(pub u32);

impl DataLoc {
    /// Offset of the data from the start of the record (low 16 bits).
    pub const fn offset(self) -> usize {
        (self.0 & 0xffff) as usize
    }

    /// Length of the data in bytes, NUL included for strings (high 16 bits).
    pub const fn len(self) -> usize {
        (self.0 >> 16) as usize
    }

    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// Field of `sched/sched_process_exit` whose offset userspace reads from the format file at start-up
/// (it is not at the same place on every kernel): nonzero when the whole thread group is gone.
pub const SCHED_PROCESS_EXIT_GROUP_DEAD: &str = "group_dead";

/// Arguments of the raw tracepoint `sched_process_fork`:
/// `TP_PROTO(struct task_struct *parent, struct task_struct *child)`, one u64 each.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SchedProcessForkRaw {
    pub parent: u64,
    pub child: u64,
}

/// The arguments of the raw tracepoint `sched_process_exec`:
/// `TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SchedProcessExecRaw {
    pub task: u64,
    pub old_pid: u64,
    pub bprm: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_arguments_are_8_byte_slots_from_offset_16() {
        assert_eq!(SysEnterArgs::<OpenatArgs>::ARGS_OFFSET, 16);
        let fields = <SysEnterArgs<MoveMountArgs> as Layout>::FIELDS;
        let offsets: Vec<_> = fields.iter().map(|f| (f.offset, f.size)).collect();
        assert_eq!(offsets, [(8, 4), (16, 8), (24, 8), (32, 8), (40, 8), (48, 8)]);
        assert_eq!(offset_of!(SysExitArgs, ret), 16);
    }

    #[test]
    fn a_data_loc_splits_into_offset_and_length() {
        let loc = DataLoc((12 << 16) + 24);
        assert_eq!((loc.offset(), loc.len()), (24, 12));
    }
}
