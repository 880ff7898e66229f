//! The facts an event exposes to rules: every field name a condition can use, its type and meaning.
//!
//! Fields marked `common` exist on every event (the process, the agent: filled by the enrich stage).
//! The others belong to event kinds: each kind lists the ones it carries ([`super::KindInfo::FIELDS`])
//! and reads them ([`super::KindInfo::field`]), so a field such as `file.path` means the same on every
//! kind that has it. The rule engine (`crate::rules`) compiles names to [`Field`]s once.

/// How a field's values compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldType {
    /// `evt.kind`: resolved at compile time.
    Kind,
    Str,
    /// A string that may be an IP address (`net.addr`): also supports `in_cidr`.
    Addr,
    /// Several strings; an operator matches if it matches any of them.
    StrList,
    Num,
    Bool,
}

impl FieldType {
    pub(crate) fn name(self) -> &'static str {
        match self {
            FieldType::Kind => "kind",
            FieldType::Str => "string",
            FieldType::Addr => "address",
            FieldType::StrList => "strings",
            FieldType::Num => "number",
            FieldType::Bool => "boolean",
        }
    }
}

/// A kind field's value, borrowed from the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Str(&'a str),
    Num(u64),
    Bool(bool),
    Strs(&'a [String]),
}

impl<'a> Value<'a> {
    pub(crate) fn as_str(self) -> Option<&'a str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn as_num(self) -> Option<u64> {
        match self {
            Value::Num(n) => Some(n),
            _ => None,
        }
    }
    pub(crate) fn as_bool(self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// Declares [`Field`] and its catalogue: `Variant = "name", Type, common, "meaning";`.
macro_rules! fields {
    ($($variant:ident = $name:literal, $ty:ident, $common:literal, $doc:literal;)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub(crate) enum Field {
            $($variant,)*
        }

        /// Every field, in declaration order (its index is `Field as usize`).
        pub(crate) const CATALOGUE: &[FieldInfo] = &[
            $(FieldInfo {
                name: $name,
                field: Field::$variant,
                ty: FieldType::$ty,
                common: $common,
                doc: $doc,
            },)*
        ];
    };
}

/// One field of the catalogue.
pub(crate) struct FieldInfo {
    pub name: &'static str,
    pub field: Field,
    pub ty: FieldType,
    /// On every event (process and agent facts), not only on the kinds that list it.
    pub common: bool,
    pub doc: &'static str,
}

fields! {
    EvtKind = "evt.kind", Kind, true, "the event kind (exec, open, connect, mount, …)";
    ProcExe = "proc.exe", Str, true, "executable of the process";
    ProcName = "proc.name", Str, true, "command name (comm, at most 15 characters)";
    ProcArgs = "proc.args", Str, false, "argv joined with spaces";
    ProcArgv = "proc.argv", StrList, false, "each argv element";
    ProcPid = "proc.pid", Num, true, "process id";
    ProcPpid = "proc.ppid", Num, true, "parent process id";
    ProcUid = "proc.uid", Num, true, "user id";
    ProcAexe = "proc.aexe", StrList, true, "executables of all ancestors";
    ProcPexe = "proc.pexe", Str, true, "executable of the parent";
    ProcExeName = "proc.exe_name", Str, true, "basename of proc.exe: the program's name as the kernel knows it (proc.name is comm, which the process sets)";
    ProcPexeName = "proc.pexe_name", Str, true, "basename of proc.pexe";
    ProcIsAgentRoot = "proc.is_agent_root", Bool, true, "the process is its agent's root: the one agentmon exec started or that entered the agent's cgroup from outside (a pid fact, not a name)";
    FilePath = "file.path", Str, false, "the path of the object the kernel opened or ran (walked from kernel objects), else the path as passed resolved against the working directory";
    FileRawPath = "file.raw_path", Str, false, "path as passed to the syscall";
    FileWrite = "file.write", Bool, false, "opened for writing; on the other file operations (rename, unlink, link, …) always true: the object at file.path is changed";
    FileRead = "file.read", Bool, false, "opened for reading";
    FileCreate = "file.create", Bool, false, "opened with O_CREAT";
    ExecPath = "exec.path", Str, false, "the file that was run: the kernel's path of the binary, or of a script (not its interpreter)";
    NetFamily = "net.family", Str, false, "inet, inet6, unix, packet, netlink or other";
    NetAddr = "net.addr", Addr, false, "destination address or unix socket path";
    NetPort = "net.port", Num, false, "destination port";
    MountSource = "mount.source", Str, false, "mount source";
    MountTarget = "mount.target", Str, false, "mount point";
    MountFstype = "mount.fstype", Str, false, "filesystem type";
    AgentName = "agent.name", Str, true, "name of the watched agent";
    AgentCgroup = "agent.cgroup", Str, true, "cgroup path of the agent";
    ContainerId = "container.id", Str, true, "the agent's container ID, first 12 hex digits (\"\" when the agent is no container)";
    ContainerName = "container.name", Str, true, "the agent's container name: Kubernetes', else the runtime's (\"\" when unknown)";
    ContainerImage = "container.image", Str, true, "the image of the agent's container, as its runtime names it (\"\" when unknown)";
    EvtFailed = "evt.failed", Bool, false, "the syscall failed (an attempt the kernel refused)";
    EvtErrno = "evt.errno", Num, false, "the syscall's error number (0 on success)";
    ExecEnv = "exec.env", StrList, false, "environment strings that change what runs (LD_*, *_PROXY, GLIBC_TUNABLES, …)";
    SyscallName = "syscall.name", Str, false, "the system call's name (syscall events: what a sandbox refused or its profile does not list)";
    SyscallNr = "syscall.nr", Num, false, "the system call's number";
    SyscallRefused = "syscall.refused", Bool, false, "reported because it returned EPERM under a seccomp filter that may refuse it (else: the first call of a syscall the profile does not list)";
    // files
    EvtSyscall = "evt.syscall", Str, false, "the syscall the event came from (openat2, renameat2, fchmod, …)";
    FileSource = "file.source", Str, false, "the object a rename, link or symlink takes: the old name, the existing file, the symlink's target (resolved against the link's directory), joined to the kernel's path of its directory";
    FileRawSource = "file.raw_source", Str, false, "the source name as passed (a symlink's target text)";
    FileExchange = "file.exchange", Bool, false, "a rename with RENAME_EXCHANGE: both names were written";
    FileMode = "file.mode", Num, false, "chmod: the new mode; mknod: the mode with its file type bits";
    FileSetuid = "file.setuid", Bool, false, "the mode set has the setuid bit";
    FileSetgid = "file.setgid", Bool, false, "the mode set has the setgid bit";
    FileUid = "file.uid", Num, false, "chown: the new owner (4294967295: unchanged)";
    FileGid = "file.gid", Num, false, "chown: the new group (4294967295: unchanged)";
    FileLength = "file.length", Num, false, "truncate: the length set";
    FileDev = "file.dev", Num, false, "mknod: the device number";
    FileType = "file.type", Str, false, "mknod: fifo, chr, blk, sock or reg";
    // network
    NetRawAddr = "net.raw_addr", Str, false, "destination as passed (unix sockets: the path given to connect; net.addr is the socket the kernel connected to)";
    NetProto = "net.proto", Str, false, "the socket's protocol: tcp, udp, icmp, icmpv6, sctp, mptcp, raw; netlink families (route, sock_diag, netfilter, audit, …); packet ethertypes (all, ip, arp, ipv6); other";
    SocketType = "socket.type", Str, false, "the socket's type: stream, dgram, raw, seqpacket, rdm, dccp, packet";
    NetVerdict = "net.verdict", Str, false, "the kernel's verdict: allowed, denied (deny rule), quarantined, unchecked (no cgroup hook saw it)";
    NetLocalAddr = "net.local_addr", Addr, false, "local address a socket listens on (unix: the socket's path, @name if abstract)";
    NetLocalPort = "net.local_port", Num, false, "local port a socket listens on";
    NetDatagrams = "net.datagrams", Num, false, "datagrams a send event stands for (1 for the first to a destination)";
    // processes
    TargetPid = "target.pid", Num, false, "the process acted on, as the caller named it (ptrace, process_vm)";
    TargetExe = "target.exe", Str, false, "executable of the process acted on (from /proc or the process table)";
    PtraceRequest = "ptrace.request", Str, false, "ptrace request (PTRACE_ATTACH, PTRACE_POKEDATA, …)";
    ProcessVmWrite = "process_vm.write", Bool, false, "process_vm_writev (else process_vm_readv)";
    NsSyscall = "ns.syscall", Str, false, "unshare, setns, clone or clone3";
    NsType = "ns.type", StrList, false, "namespaces entered or created (mnt, net, user, pid, …)";
    NsFlags = "ns.flags", Num, false, "the flags passed (clone/unshare) or setns's nstype";
    NsHost = "ns.host", Bool, false, "setns into a namespace of pid 1 (as agentmon sees it)";
    CredSyscall = "cred.syscall", Str, false, "setuid, setresuid, capset, …";
    CredUid = "cred.uid", Num, false, "real uid after the call";
    CredEuid = "cred.euid", Num, false, "effective uid after the call";
    CredGid = "cred.gid", Num, false, "real gid after the call";
    CredEgid = "cred.egid", Num, false, "effective gid after the call";
    CredOldUid = "cred.old_uid", Num, false, "real uid before the call";
    CredOldEuid = "cred.old_euid", Num, false, "effective uid before the call";
    CredOldGid = "cred.old_gid", Num, false, "real gid before the call";
    CredOldEgid = "cred.old_egid", Num, false, "effective gid before the call";
    CapEffective = "cap.effective", StrList, false, "effective capabilities after the call (CAP_SYS_ADMIN, …)";
    CapGained = "cap.gained", StrList, false, "effective capabilities gained by the call";
    CommOld = "comm.old", Str, false, "command name before a rename";
    CommNew = "comm.new", Str, false, "command name after a rename";
    PrctlOption = "prctl.option", Str, false, "prctl option (PR_SET_DUMPABLE, …) or seccomp operation (SECCOMP_SET_MODE_FILTER, …)";
    PrctlArg = "prctl.arg", Num, false, "prctl's second argument (seccomp: its flags)";
    BpfCmd = "bpf.cmd", Str, false, "bpf command (BPF_PROG_LOAD, BPF_MAP_CREATE, …)";
    BpfType = "bpf.type", Num, false, "program type (BPF_PROG_LOAD) or map type (BPF_MAP_CREATE)";
    BpfName = "bpf.name", Str, false, "program or map name (BPF_PROG_LOAD, BPF_MAP_CREATE)";
    ModulePath = "module.path", Str, false, "finit_module: the kernel's path of the module file";
    ModuleName = "module.name", Str, false, "delete_module: the module's name";
    ChrootPath = "chroot.path", Str, false, "the kernel's path of the new root (after success), else the path as passed";
    NetDstAgent = "net.dst_agent", Str, false, "connect: the other watched agent listening at the destination (from its listen events), absent when none";
    ChrootRawPath = "chroot.raw_path", Str, false, "chroot's path or pivot_root's new_root, as passed";
    // mounts, scope, io_uring, code loading
    MountSyscall = "mount.syscall", Str, false, "mount, fsopen, fsmount, move_mount, open_tree, open_tree_attr, mount_setattr or fspick";
    MountRawTarget = "mount.raw_target", Str, false, "mount point as passed to the syscall";
    MountFlags = "mount.flags", Num, false, "the call's flags (MS_*, MOVE_MOUNT_*, OPEN_TREE_*, …)";
    MountAttrSet = "mount.attr_set", Num, false, "mount attributes set (fsmount attr_flags, mount_setattr attr_set: MOUNT_ATTR_*)";
    MountAttrClr = "mount.attr_clr", Num, false, "mount attributes cleared (mount_setattr attr_clr)";
    MountDetached = "mount.detached", Bool, false, "the mount is attached nowhere (fsmount, open_tree clone): usable through its fd";
    CgroupDest = "cgroup.dest", Str, false, "destination cgroup of a move, relative to the cgroup2 root";
    CgroupLeftScope = "cgroup.left_scope", Bool, false, "the process left its agent's cgroup (it stays watched)";
    CgroupMovedPid = "cgroup.moved_pid", Num, false, "the process moved";
    IouringOp = "iouring.op", Str, false, "io_uring operation (openat, connect, …)";
    IouringEntries = "iouring.entries", Num, false, "io_uring submission queue entries asked for";
    IouringFlags = "iouring.flags", Num, false, "io_uring setup flags (IORING_SETUP_*)";
    IouringSqpoll = "iouring.sqpoll", Bool, false, "a kernel thread submits the ring's operations (no syscall per operation)";
    MemfdName = "memfd.name", Str, false, "name given to memfd_create";
    MemfdFlags = "memfd.flags", Num, false, "memfd_create flags (MFD_*)";
    MmapProt = "mmap.prot", Num, false, "protection of an executable file mapping (PROT_*)";
    MmapSyscall = "mmap.syscall", Str, false, "mmap, mprotect or pkey_mprotect";
}

impl Field {
    pub(crate) fn info(self) -> &'static FieldInfo {
        &CATALOGUE[self as usize]
    }

    pub(crate) fn from_name(name: &str) -> Option<Field> {
        CATALOGUE.iter().find(|f| f.name == name).map(|f| f.field)
    }
}

#[cfg(test)]
mod tests {
    use super::CATALOGUE;

    #[test]
    fn the_catalogue_is_in_variant_order_and_names_are_unique() {
        for (i, f) in CATALOGUE.iter().enumerate() {
            assert_eq!(f.field as usize, i, "{}", f.name);
            assert_eq!(
                CATALOGUE.iter().filter(|g| g.name == f.name).count(),
                1,
                "{} twice",
                f.name
            );
        }
    }
}
