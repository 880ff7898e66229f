//! The contract between agentmon's kernel side (`monitor-ebpf`) and userspace (`monitor`).
//!
//! - The wire format of kernel events: every record in the ring buffer starts with an
//!   [`EventHeader`]; its `kind` names the payload struct that follows (one module per event kind).
//!   All structs are `#[repr(C)]`, contain no pointers and are built by the eBPF programs and decoded
//!   by userspace — this crate is the only place their layout is written down.
//! - The object's names: its maps ([`maps`]) and programs with their attach points ([`programs`]).
//! - The layouts of the tracepoint records the programs read ([`tracepoint`]).
//! - The kernel tables userspace fills ([`config`], [`enforce`]) and the counters it reads
//!   ([`counter`]).
#![cfg_attr(not(any(feature = "user", test)), no_std)]
// The bpfel build runs inside `monitor/build.rs` (aya-build), whose output is only `warning:` lines
// nobody reads: there, a warning fails the build. (Host builds are held to clippy -D warnings.)
#![cfg_attr(target_arch = "bpf", deny(warnings))]

pub mod cgroup_move;
pub mod chdir;
pub mod config;
pub mod connect;
pub mod counter;
pub mod deny;
pub mod enforce;
pub mod exec;
pub mod exit;
pub mod file_op;
pub mod fork;
pub mod io_uring_op;
pub mod io_uring_setup;
pub mod maps;
pub mod memfd;
pub mod mmap;
pub mod mount;
pub mod open;
pub mod programs;
pub mod record;
pub mod syscall;
pub mod tracepoint;
// network
pub mod listen;
pub mod net;
pub mod send;
pub mod socket;
// processes
pub mod bpf;
pub mod chroot;
pub mod cred;
pub mod module;
pub mod namespace;
pub mod prctl;
pub mod process_vm;
pub mod ptrace;
pub mod rename_comm;

/// Header present at the start of every ring-buffer record.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EventHeader {
    /// One of [`EventKind`] as u16.
    pub kind: u16,
    /// Bit set of `FLAG_*` constants.
    pub flags: u16,
    /// Size in bytes of the whole record (header included).
    pub size: u32,
    /// `bpf_ktime_get_boot_ns()` at the hook.
    pub ktime_ns: u64,
    /// Thread id (kernel pid).
    pub pid: u32,
    /// Process id (kernel tgid).
    pub tgid: u32,
    /// Parent's tgid (`real_parent`), 0 if the kernel side could not read it.
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub _pad: u32,
    /// `bpf_get_current_cgroup_id()`: the inode number of the task's cgroup v2 directory.
    pub cgroup_id: u64,
    /// Task command name (`comm`), NUL padded.
    pub comm: [u8; 16],
}

/// Declares the event kinds: one line each, `Name = wire value, "name"`. The name is what JSON
/// output (`kind`), recordings and rules (`evt.kind`) call the kind.
macro_rules! event_kinds {
    ($($(#[$doc:meta])* $kind:ident = $value:literal, $name:literal;)*) => {
        /// What follows the header.
        #[repr(u16)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $($(#[$doc])* $kind = $value,)*
        }

        impl EventKind {
            /// Every kind, in wire-value order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$kind,)*];

            pub fn from_u16(v: u16) -> Option<Self> {
                match v {
                    $($value => Some(Self::$kind),)*
                    _ => None,
                }
            }

            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$kind => $name,)*
                }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Self::$kind),)*
                    _ => None,
                }
            }
        }
    };
}

event_kinds! {
    /// A process replaced its image (payload [`exec::ExecEvent`]).
    Exec = 1, "exec";
    /// A file was opened (payload [`open::OpenEvent`]).
    Open = 2, "open";
    /// A socket connected or tried to (payload [`connect::ConnectEvent`]).
    Connect = 3, "connect";
    /// A filesystem was mounted (payload [`mount::MountEvent`]).
    Mount = 4, "mount";
    /// A new process (payload [`fork::ForkEvent`]).
    Fork = 5, "fork";
    /// A process ended (payload [`exit::ExitEvent`]).
    Exit = 6, "exit";
    /// A synchronous in-kernel deny happened (payload [`deny::DenyEvent`]).
    Deny = 7, "deny";
    /// The working directory changed (payload [`chdir::ChdirEvent`]).
    Chdir = 8, "chdir";
    // files: operations by name or descriptor other than opens (payload [`file_op::FileOpEvent`]).
    /// A file was renamed, or renamed over another (rename, renameat, renameat2).
    Rename = 9, "rename";
    /// A name was removed (unlink, unlinkat, rmdir).
    Unlink = 10, "unlink";
    /// A hard link was made (link, linkat).
    Link = 11, "link";
    /// A symbolic link was made (symlink, symlinkat).
    Symlink = 12, "symlink";
    /// A mode changed (chmod, fchmod, fchmodat, fchmodat2).
    Chmod = 13, "chmod";
    /// An owner or group changed (chown, lchown, fchown, fchownat).
    Chown = 14, "chown";
    /// A file's size was set (truncate, ftruncate).
    Truncate = 15, "truncate";
    /// A device node, FIFO or socket node was made (mknod, mknodat).
    Mknod = 16, "mknod";
    // network
    /// A datagram sent to an address without connect (payload [`send::SendEvent`]).
    Send = 26, "send";
    /// A socket listens for connections or datagrams (payload [`listen::ListenEvent`]).
    Listen = 27, "listen";
    /// A raw, packet or netlink socket was created (payload [`socket::SocketEvent`]).
    Socket = 28, "socket";
    // processes
    /// A ptrace request at another process (payload [`ptrace::PtraceEvent`]).
    Ptrace = 34, "ptrace";
    /// Another process's memory read or written (payload [`process_vm::ProcessVmEvent`]).
    ProcessVm = 35, "process_vm";
    /// New or other namespaces entered (payload [`namespace::NamespaceEvent`]).
    Namespace = 36, "namespace";
    /// User/group ids or capabilities changed (payload [`cred::CredEvent`]).
    Cred = 37, "cred";
    /// The command name changed other than by exec (payload [`rename_comm::RenameCommEvent`]).
    RenameComm = 38, "rename_comm";
    /// A security-relevant prctl or seccomp(2) (payload [`prctl::PrctlEvent`]).
    Prctl = 39, "prctl";
    /// A bpf(2) command (payload [`bpf::BpfEvent`]).
    Bpf = 40, "bpf";
    /// A kernel module loaded or removed (payload [`module::ModuleEvent`]).
    Module = 41, "module";
    /// The root directory changed (payload [`chroot::ChrootEvent`]).
    Chroot = 42, "chroot";
    // mounts, scope, io_uring, code loading
    /// A process of a watched agent moved to another cgroup, or a watched process moved one
    /// (payload [`cgroup_move::CgroupMoveEvent`]).
    CgroupMove = 48, "cgroup_move";
    /// An `io_uring` instance was created (payload [`io_uring_setup::IoUringSetupEvent`]).
    IoUringSetup = 49, "io_uring_setup";
    /// An operation was submitted to an `io_uring` (payload [`io_uring_op::IoUringOpEvent`]).
    IoUringOp = 50, "io_uring_op";
    /// An anonymous memory file was created (payload [`memfd::MemfdEvent`]).
    Memfd = 51, "memfd";
    /// A file was mapped executable (payload [`mmap::MmapEvent`]).
    Mmap = 52, "mmap";
    // sandbox
    /// A syscall the sandbox reports: refused by its seccomp filter, or (audit mode) not in the
    /// profile (payload [`syscall::SyscallEvent`]).
    Syscall = 58, "syscall";
}

/// The largest wire value of a kind plus one: tables indexed by kind have this many slots.
pub const KIND_SLOTS: usize = 64;

/// A string field was longer than its buffer and was cut.
pub const FLAG_TRUNCATED: u16 = 1 << 0;
/// A user-memory read failed (e.g. page not faulted in); the affected field is empty.
pub const FLAG_READ_FAILED: u16 = 1 << 1;
/// The kernel side already denied this action (SIGKILL at syscall entry / connect refused).
pub const FLAG_DENIED: u16 = 1 << 2;

/// Maximum cgroup depth the in-kernel scope check walks (levels `0..MAX_CGROUP_LEVELS`).
pub const MAX_CGROUP_LEVELS: u32 = 32;

/// Batching window of high-volume records (open, mmap, file changes, fork, exit, chdir),
/// nanoseconds. The kernel submits them without waking the reader, except when the last wakeup is
/// at least this old (or enough data is pending);
/// after every drain that a wakeup caused, userspace drains again once this window has passed and
/// keeps doing so while records keep coming. The userspace delay must not be shorter than this
/// window: records submitted without a wakeup within the window of a wakeup are only picked up by
/// that later drain.
pub const BATCH_WINDOW_NS: u64 = 1_000_000;

/// Length of a NUL-terminated string inside a fixed buffer.
pub fn c_str_len(buf: &[u8]) -> usize {
    let mut i = 0;
    while i < buf.len() && buf[i] != 0 {
        i += 1;
    }
    i
}

/// Byte-wise string equality usable in `const` items: the eBPF crate asserts at compile time that
/// each of its maps and programs is named as [`maps`] and [`programs`] say (`named!` in
/// `monitor-ebpf/src/main.rs`).
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
