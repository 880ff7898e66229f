//! Enriched events built by hand instead of observed: the events of rule fixtures (`agentmon rules
//! test`), of tests, and of the benchmarks (`bench/`).
//!
//! [`Process`] says who did it (every field has a default), the body constructors ([`exec`],
//! [`open`], [`connect`], [`mount`], [`fork`], [`exit`], [`deny`], [`chdir`], [`cgroup_move`],
//! [`io_uring_setup`], [`io_uring_op`], [`memfd`], [`mmap`]) say what happened, and
//! [`Process::event`] puts them together. [`every_kind`] is a deterministic stream of every kind in
//! turn; [`wall_time`] gives synthetic events a wall-clock time. (A made-up alert on such an event:
//! [`crate::rules::Alert::synthetic`].)

use super::{Ancestor, Enriched, WallTime};
use crate::event::{
    Body, CgroupMoveInfo, ChdirInfo, ConnectInfo, DenyInfo, Event, ExecInfo, ExitInfo, Family, ForkInfo, Header,
    IoUringOpInfo, IoUringSetupInfo, ListenInfo, MemfdInfo, MmapInfo, MountInfo, OpenInfo, SendInfo,
};

/// `AT_FDCWD`: a path relative to the working directory.
const AT_FDCWD: i32 = -100;

/// The process an event is attributed to: its header fields and what enrichment adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// Process id, and the thread id of its events.
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cgroup_id: u64,
    pub comm: String,
    pub exe: String,
    /// Parent chain, nearest first.
    pub ancestors: Vec<Ancestor>,
    pub cgroup: String,
    pub agent: String,
    /// The container the agent is.
    pub container: Option<std::sync::Arc<super::ContainerInfo>>,
}

impl Default for Process {
    /// pid 100 (parent 99), uid and gid 1000, cgroup id 1, `python3` running `/usr/bin/python3`; no
    /// ancestors, cgroup path or agent.
    fn default() -> Self {
        Self {
            pid: 100,
            ppid: 99,
            uid: 1000,
            gid: 1000,
            cgroup_id: 1,
            comm: "python3".into(),
            exe: "/usr/bin/python3".into(),
            ancestors: Vec::new(),
            cgroup: String::new(),
            agent: String::new(),
            container: None,
        }
    }
}

impl Process {
    /// The event `body` of this process at kernel time `ktime_ns`. An open's or exec's own path is
    /// its resolved path; a deny notice is flagged denied, as the kernel flags it; the wall-clock
    /// `time` is the epoch (see [`wall_time`]).
    pub fn event(&self, ktime_ns: u64, body: Body) -> Enriched {
        let resolved_path = match &body {
            Body::Open(o) => Some(o.path.clone()),
            Body::Exec(x) => Some(x.filename.clone()),
            _ => None,
        };
        Enriched {
            time: WallTime::default(),
            event: Event {
                header: Header {
                    ktime_ns,
                    pid: self.pid,
                    tid: self.pid,
                    ppid: self.ppid,
                    uid: self.uid,
                    gid: self.gid,
                    cgroup_id: self.cgroup_id,
                    comm: self.comm.clone(),
                    truncated: false,
                    read_failed: false,
                    denied: matches!(body, Body::Deny(_)),
                },
                body,
            },
            exe: self.exe.clone(),
            ancestors: self.ancestors.clone(),
            cgroup: self.cgroup.clone(),
            agent: self.agent.clone(),
            container: self.container.clone(),
            resolved_path,
            facts: crate::enrich::AgentFacts::default(),
            context_id: 0,
        }
    }
}

/// An ancestor (for [`Process::ancestors`]).
pub fn ancestor(pid: u32, exe: &str) -> Ancestor {
    Ancestor { pid, exe: exe.into() }
}

pub fn exec(filename: &str, argv: Vec<String>) -> Body {
    Body::Exec(ExecInfo::new(filename, argv))
}

/// An `openat` of `path` relative to the working directory; mode 0o644 when it creates the file.
pub fn open(path: &str, flags: i32) -> Body {
    Body::Open(OpenInfo {
        path: path.into(),
        flags: flags as u32,
        mode: if flags & libc::O_CREAT != 0 { 0o644 } else { 0 },
        dfd: AT_FDCWD,
        syscall: "openat",
        result: 3,
        kernel_path: None,
        dir_path: None,
    })
}

/// The family an address is written in: a path or `@name` is a Unix socket, an address with a
/// colon IPv6, anything else IPv4.
pub(crate) fn family_of(addr: &str) -> Family {
    if addr.starts_with('/') || addr.starts_with('@') {
        Family::Unix
    } else if addr.contains(':') {
        Family::Inet6
    } else {
        Family::Inet
    }
}

/// A `connect` on fd 3 (inet: a TCP connect the hook allowed; unix: a stream connect that
/// succeeded).
pub fn connect(family: Family, addr: &str, port: u16) -> Body {
    let mut c = ConnectInfo::new(family, addr, port);
    c.fd = 3;
    Body::Connect(c)
}

// network
/// The first UDP datagram from a socket to `addr:port`.
pub fn send(family: Family, addr: &str, port: u16) -> Body {
    Body::Send(SendInfo::new(family, addr, port))
}

/// A TCP socket listening on `addr:port` (a unix stream socket for a path or `@name`).
pub fn listen(family: Family, addr: &str, port: u16) -> Body {
    Body::Listen(ListenInfo::new(family, addr, port))
}

/// A successful file operation of `kind` (`rename`, `unlink`, `link`, `symlink`, `chmod`, `chown`,
/// `truncate`, `mknod`) on the absolute `path`, with `source` (rename's old name, link's existing
/// file, symlink's target) and `mode` (chmod, mknod); `None` for another kind name.
pub fn file_op(kind: &str, path: &str, source: Option<&str>, mode: Option<u32>) -> Option<Body> {
    use crate::event::{
        ChmodInfo, ChownInfo, LinkInfo, MknodInfo, RenameInfo, SymlinkInfo, TruncateInfo, UnlinkInfo, file_op::FileOp,
    };
    let op = FileOp {
        syscall: match kind {
            "rename" => "renameat2",
            "unlink" => "unlinkat",
            "link" => "linkat",
            "symlink" => "symlinkat",
            "chmod" => "fchmodat",
            "chown" => "fchownat",
            "truncate" => "truncate",
            "mknod" => "mknodat",
            _ => return None,
        },
        result: 0,
        path: path.into(),
        dir_path: None,
        kernel_path: None,
        dfd: AT_FDCWD,
        source: source.map(Into::into),
        source_dir_path: None,
        source_kernel_path: None,
        source_dfd: source.map(|_| AT_FDCWD),
        resolved_source: source.map(Into::into),
        flags: 0,
        mode,
        uid: (kind == "chown").then_some(0),
        gid: (kind == "chown").then_some(0),
        dev: (kind == "mknod").then_some(0),
        length: (kind == "truncate").then_some(0),
    };
    Some(match kind {
        "rename" => Body::Rename(RenameInfo(op)),
        "unlink" => Body::Unlink(UnlinkInfo(op)),
        "link" => Body::Link(LinkInfo(op)),
        "symlink" => Body::Symlink(SymlinkInfo(op)),
        "chmod" => Body::Chmod(ChmodInfo(op)),
        "chown" => Body::Chown(ChownInfo(op)),
        "truncate" => Body::Truncate(TruncateInfo(op)),
        _ => Body::Mknod(MknodInfo(op)),
    })
}

/// A `mount(2)` without flags.
pub fn mount(source: &str, target: &str, fstype: &str) -> Body {
    Body::Mount(mount_info(source, target, fstype))
}

/// The body of a successful `mount(2)` of absolute paths, without flags.
pub fn mount_info(source: &str, target: &str, fstype: &str) -> MountInfo {
    MountInfo {
        syscall: "mount",
        source: source.into(),
        target: target.into(),
        fstype: fstype.into(),
        kernel_source: None,
        source_dir: None,
        kernel_target: None,
        target_dir: None,
        result: 0,
        flags: 0,
        attr_set: 0,
        attr_clr: 0,
        propagation: 0,
        dfd: AT_FDCWD,
        from_dfd: -1,
        detached: false,
        source_path: String::new(),
        target_path: String::new(),
    }
    .resolve()
}

// mounts, scope, io_uring, code loading
/// A process `moved_pid` of the agent of watched cgroup 4242 moved itself to `dest`
/// (`left_scope`: outside every watched cgroup).
pub fn cgroup_move(moved_pid: u32, dest: &str, left_scope: bool) -> Body {
    Body::CgroupMove(CgroupMoveInfo {
        moved_pid,
        dest: dest.into(),
        dest_id: 4343,
        dest_level: 1,
        agent_cgroup_id: 4242,
        left_scope,
        by_watched: true,
        was_watched: true,
        thread: false,
        at_fork: false,
    })
}

/// A successful `io_uring_setup` of `entries` with `flags`.
pub fn io_uring_setup(entries: u32, flags: u32) -> Body {
    Body::IoUringSetup(IoUringSetupInfo {
        result: 3,
        entries,
        flags,
        sq_entries: entries,
        cq_entries: entries * 2,
        features: 0,
        wq_fd: 0,
    })
}

/// An `io_uring` operation `opcode` (`IORING_OP_*`) on fd 3, or, with `path`, of that absolute path
/// (read-only for the open operations).
pub fn io_uring_op(opcode: u8, path: Option<&str>) -> Body {
    Body::IoUringOp(IoUringOpInfo {
        op: crate::event::io_uring_opcode_name(opcode),
        opcode,
        path: path.map(String::from),
        path2: None,
        dir_path: None,
        full_path: path.map(String::from),
        fd: if path.is_some() { AT_FDCWD } else { 3 },
        flags: 0,
        mode: 0,
        user_data: 1,
        sq_thread: false,
        fixed_file: false,
        direct: false,
    })
}

/// A successful `memfd_create(name, MFD_CLOEXEC)`.
pub fn memfd(name: &str) -> Body {
    Body::Memfd(MemfdInfo {
        name: name.into(),
        flags: 1,
        result: 3,
    })
}

/// A successful `mmap` of `path` (fd 3) with `PROT_READ | PROT_EXEC`.
pub fn mmap(path: &str) -> Body {
    Body::Mmap(MmapInfo {
        syscall: "mmap",
        path: Some(path.into()),
        prot: 5,
        flags: 2,
        fd: 3,
        addr: 0x7f00_0000_0000,
        len: 4096,
        offset: 0,
        result: 0x7f00_0000_0000,
    })
}

pub fn fork(child_pid: u32) -> Body {
    Body::Fork(ForkInfo { child_pid })
}

/// An exit with `code` (not by a signal).
pub fn exit(code: i32) -> Body {
    Body::Exit(ExitInfo {
        exit_code: Some(code),
        signal: None,
    })
}

/// A kernel deny notice: `what` was stopped by deny rule `rule_id`.
pub(crate) fn deny(what: &'static str, rule_id: u32) -> Body {
    Body::Deny(DenyInfo { what, rule_id })
}

/// A `chdir(path)` (not `fchdir`).
pub fn chdir(path: &str) -> Body {
    Body::Chdir(ChdirInfo {
        path: path.into(),
        fd: -1,
    })
}

/// The wall-clock time of a synthetic event at kernel time `ktime_ns`: 2026-11-26T00:00:00Z plus
/// the kernel time, in µs like the live clock's.
pub fn wall_time(ktime_ns: u64) -> WallTime {
    let us = ktime_ns / 1_000;
    WallTime::from_unix_ns(1_795_651_200_000_000_000 + i64::try_from(us).unwrap_or(0) * 1_000)
}

/// The `i`-th event of a deterministic stream of every body kind in turn (8), with realistic sizes
/// (a ~250-byte payload), 1 µs apart: 50 processes of two agents, `coder` (pids divisible by 3) and
/// `researcher`. Every 8th event is a connect to the metadata service; a quarter are execs, mounts
/// and connects, a worst case for the rules (the benchmarks' uniform mix).
pub fn every_kind(i: u64) -> Enriched {
    let pid = 1000 + (i % 50) as u32;
    let mut body = match i % 8 {
        0 => exec(
            "/usr/bin/curl",
            vec!["curl".into(), "-s".into(), format!("https://example.invalid/{i}")],
        ),
        1 => open(
            &format!("/home/agent/work/file-{}.txt", i % 97),
            libc::O_WRONLY | libc::O_CREAT,
        ),
        2 => connect(Family::Inet, "169.254.169.254", 80),
        3 => mount("tmpfs", "/mnt/x", "tmpfs"),
        4 => fork(pid + 1),
        5 => exit((i % 3) as i32),
        6 => deny("connect", (i % 5) as u32),
        _ => chdir("../work"),
    };
    // Both syscalls of opens and mounts.
    let odd = !i.is_multiple_of(2);
    match &mut body {
        Body::Open(o) if odd => o.syscall = "openat2",
        Body::Mount(m) if odd => m.syscall = "move_mount",
        Body::Connect(c) => c.fd = 5,
        _ => {}
    }
    let who = Process {
        pid,
        ppid: 999,
        cgroup_id: 4242,
        comm: "agent-worker".into(),
        exe: "/usr/bin/python3.12".into(),
        ancestors: vec![ancestor(999, "/usr/bin/bash"), ancestor(1, "/usr/lib/systemd/systemd")],
        cgroup: "agents/coder".into(),
        agent: if pid.is_multiple_of(3) { "coder" } else { "researcher" }.into(),
        ..Process::default()
    };
    let ktime_ns = 5_000_000_000 + i * 1_000;
    let mut ev = who.event(ktime_ns, body);
    ev.time = wall_time(ktime_ns);
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_cycles_through_the_eight_kinds() {
        let kinds: Vec<_> = (0..16).map(|i| every_kind(i).event.body.kind_name()).collect();
        assert_eq!(kinds[..8], kinds[8..]);
        let mut distinct = kinds.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 8, "{kinds:?}");
        let deny = every_kind(6);
        assert!(deny.event.header.denied && deny.resolved_path.is_none());
        assert_eq!(
            every_kind(1).resolved_path.as_deref(),
            Some("/home/agent/work/file-1.txt")
        );
        assert_eq!(every_kind(1).time.to_string(), "2026-11-26T00:00:05.000001Z");
    }

    #[test]
    fn families_are_told_by_how_addresses_are_written() {
        assert_eq!(family_of("/run/docker.sock"), Family::Unix);
        assert_eq!(family_of("@abstract"), Family::Unix);
        assert_eq!(family_of("::1"), Family::Inet6);
        assert_eq!(family_of("10.0.0.1"), Family::Inet);
    }
}
