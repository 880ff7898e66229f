//! `agentmon-bench floor`: the empty-program floor of docs/BENCHMARKS.md ("The live pipeline").
//!
//! Attaches a program that returns at once (`r0 = 0` or `1`; `exit`) at every attach point of
//! agentmon's program table (`monitor_common::programs::PROGRAMS`, less the on-demand sandbox
//! programs and the optional tracepoints this kernel lacks), the way agentmon attaches them:
//! syscall and other tracepoints through a perf event (`BPF_PROG_TYPE_TRACEPOINT`,
//! `PERF_EVENT_IOC_SET_BPF`), raw tracepoints with `BPF_RAW_TRACEPOINT_OPEN`, the cgroup `sock_addr`
//! and `sock` hooks with `BPF_LINK_CREATE` on the cgroup given (agentmon attaches those to each
//! watched cgroup). What a storm costs with these attached is the price of the attach points
//! alone, before any of agentmon's code runs.
//!
//! Everything is loaded with the raw `bpf(2)` and `perf_event_open(2)` syscalls, no eBPF crate; the
//! programs live as long as their file descriptors, so they are detached when this process exits,
//! however it exits. It prints `attached N programs` on stdout once they are all in place, then
//! holds them for `--seconds` or until SIGTERM/SIGINT.
use std::{
    ffi::CString,
    fs,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use monitor_common::programs::{self, Attach, SockAddrHook, SockHook};

const TRACEFS: &str = "/sys/kernel/tracing";

// bpf(2) commands, program types and attach types (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
const BPF_PROG_TYPE_CGROUP_SOCK: u32 = 9;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
const BPF_PROG_TYPE_CGROUP_SOCK_ADDR: u32 = 18;
const BPF_CGROUP_INET_SOCK_CREATE: u32 = 2;
const BPF_CGROUP_INET4_CONNECT: u32 = 10;
const BPF_CGROUP_INET6_CONNECT: u32 = 11;
const BPF_CGROUP_INET4_POST_BIND: u32 = 12;
const BPF_CGROUP_INET6_POST_BIND: u32 = 13;
const BPF_CGROUP_UDP4_SENDMSG: u32 = 14;
const BPF_CGROUP_UDP6_SENDMSG: u32 = 15;
// perf_event_open(2) (include/uapi/linux/perf_event.h).
const PERF_TYPE_TRACEPOINT: u32 = 2;
const PERF_SAMPLE_RAW: u64 = 1 << 10;
const PERF_ATTR_DISABLED: u64 = 1;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

#[derive(clap::Args)]
pub(crate) struct FloorArgs {
    /// Hold the programs this long, then detach them and exit (default: until SIGTERM or SIGINT).
    #[arg(long)]
    seconds: Option<u64>,
    /// Attach the cgroup `sock_addr`/`sock` hooks to this cgroup v2 directory (as agentmon does to
    /// each watched cgroup); without it they are not attached.
    #[arg(long)]
    cgroup: Option<PathBuf>,
}

/// The leading fields of `union bpf_attr` for `BPF_PROG_LOAD`.
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for `BPF_RAW_TRACEPOINT_OPEN`.
#[repr(C)]
struct RawTracepointAttr {
    name: u64,
    prog_fd: u32,
    _pad: u32,
}

/// The leading fields of `union bpf_attr` for `BPF_LINK_CREATE`.
#[repr(C)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
}

/// `struct perf_event_attr` as of `PERF_ATTR_SIZE_VER0` (64 bytes; the kernel zero-extends it).
#[repr(C)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

/// `bpf(cmd, attr, sizeof *attr)`: the new file descriptor.
fn bpf<T>(cmd: libc::c_long, attr: &T, what: &str) -> Result<OwnedFd> {
    // SAFETY: `attr` is a live, fully initialised repr(C) value of the layout the command expects,
    // and its size is passed with it; the kernel only reads it (and the memory its u64 fields point
    // to, which the callers keep alive across the call).
    let fd = unsafe { libc::syscall(libc::SYS_bpf, cmd, std::ptr::from_ref(attr), size_of::<T>()) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| what.to_string());
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Loads `r0 = ret; exit` as a program of `prog_type` (license GPL, as agentmon's object).
fn load(prog_type: u32, expected_attach_type: u32, ret: i32, name: &str) -> Result<OwnedFd> {
    // mov64 r0, imm (BPF_ALU64 | BPF_MOV | BPF_K), then exit (BPF_JMP | BPF_EXIT).
    let insns: [u64; 2] = [0xb7 | (u64::from(ret as u32) << 32), 0x95];
    let license = c"GPL";
    let mut log = vec![0u8; 4096];
    let mut prog_name = [0u8; 16];
    for (d, s) in prog_name
        .iter_mut()
        .zip(b"floor_".iter().chain(name.as_bytes()).take(15))
    {
        *d = *s;
    }
    let attr = ProgLoadAttr {
        prog_type,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        prog_name,
        prog_ifindex: 0,
        expected_attach_type,
    };
    bpf(BPF_PROG_LOAD, &attr, "").with_context(|| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        format!(
            "loading the empty program for {name} (verifier log: {})",
            String::from_utf8_lossy(&log[..end]).trim()
        )
    })
}

/// Attaches `prog` to tracepoint `category/name` through a perf event on CPU 0 (a tracepoint's
/// programs run on every CPU whichever CPU the event was opened on), as aya's `TracePoint` does.
fn attach_tracepoint(prog: &OwnedFd, category: &str, name: &str) -> Result<OwnedFd> {
    let id_path = format!("{TRACEFS}/events/{category}/{name}/id");
    let id: u64 = fs::read_to_string(&id_path)
        .with_context(|| format!("reading {id_path}"))?
        .trim()
        .parse()
        .with_context(|| format!("{id_path}: not a number"))?;
    let attr = PerfEventAttr {
        type_: PERF_TYPE_TRACEPOINT,
        size: size_of::<PerfEventAttr>() as u32,
        config: id,
        sample_period: 1,
        sample_type: PERF_SAMPLE_RAW,
        read_format: 0,
        flags: PERF_ATTR_DISABLED,
        wakeup_events: 1,
        bp_type: 0,
        config1: 0,
    };
    // Every task (pid -1) on CPU 0, no group.
    let (pid, cpu, group): (libc::pid_t, libc::c_int, libc::c_int) = (-1, 0, -1);
    // SAFETY: `attr` is a live perf_event_attr whose `size` field says how much of it there is.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            std::ptr::from_ref(&attr),
            pid,
            cpu,
            group,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("perf_event_open {category}/{name}"));
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    let event = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // SAFETY: ioctls on our own perf event descriptor; SET_BPF takes the program's fd by value.
    let rc = unsafe { libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_SET_BPF, prog.as_raw_fd()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("PERF_EVENT_IOC_SET_BPF {category}/{name}"));
    }
    // SAFETY: as above; ENABLE takes no argument.
    let rc = unsafe { libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_ENABLE, 0) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("PERF_EVENT_IOC_ENABLE {category}/{name}"));
    }
    Ok(event)
}

fn attach_raw_tracepoint(prog: &OwnedFd, name: &str) -> Result<OwnedFd> {
    let c = CString::new(name).context("tracepoint name")?;
    let attr = RawTracepointAttr {
        name: c.as_ptr() as u64,
        prog_fd: prog.as_raw_fd() as u32,
        _pad: 0,
    };
    bpf(
        BPF_RAW_TRACEPOINT_OPEN,
        &attr,
        &format!("BPF_RAW_TRACEPOINT_OPEN {name}"),
    )
}

fn attach_cgroup(prog: &OwnedFd, cgroup: &fs::File, attach_type: u32, name: &str) -> Result<OwnedFd> {
    let attr = LinkCreateAttr {
        prog_fd: prog.as_raw_fd() as u32,
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type,
        flags: 0,
    };
    bpf(
        BPF_LINK_CREATE,
        &attr,
        &format!("BPF_LINK_CREATE {name} on the cgroup (a cgroup v2 directory?)"),
    )
}

/// Loads and attaches the empty programs; returns every descriptor (programs, perf events, links),
/// which hold them in place.
fn attach_all(cgroup: Option<&Path>) -> Result<(Vec<OwnedFd>, usize)> {
    let cg = cgroup
        .map(|p| fs::File::open(p).with_context(|| format!("opening {}", p.display())))
        .transpose()?;
    let mut fds = Vec::new();
    let mut attached = 0;
    for p in programs::PROGRAMS {
        if programs::ON_DEMAND.contains(&p.name) {
            continue;
        }
        match p.attach {
            Attach::TracePoint { category, name, .. } => {
                if programs::is_optional(p) && !Path::new(TRACEFS).join("events").join(category).join(name).exists() {
                    eprintln!("floor: {category}/{name}: no such tracepoint on this kernel (optional), skipped");
                    continue;
                }
                let prog = load(BPF_PROG_TYPE_TRACEPOINT, 0, 0, p.name)?;
                let event = attach_tracepoint(&prog, category, name)?;
                fds.extend([prog, event]);
            }
            Attach::RawTracePoint { name } => {
                let prog = load(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0, p.name)?;
                let link = attach_raw_tracepoint(&prog, name)?;
                fds.extend([prog, link]);
            }
            // agentmon loads its BPF LSM programs only on kernels that allow them (not this one's
            // kind: BPF LSM refused); the floor leaves them out too. Where they load, an empty
            // LSM program needs the hook's BTF id, which this loader does not look up.
            Attach::Lsm { hook } => {
                eprintln!("floor: lsm/{hook}: BPF LSM programs are not part of the floor, skipped");
                continue;
            }
            Attach::CgroupSockAddr(_) | Attach::CgroupSock(_) => {
                let Some(cgroup) = cg.as_ref() else {
                    eprintln!("floor: {}: no --cgroup, cgroup hook not attached", p.name);
                    continue;
                };
                let (prog_type, attach_type) = hook_of(p.attach).context("cgroup hook")?;
                // A cgroup sock/sock_addr program's return value is its verdict: 1 = allow.
                let prog = load(prog_type, attach_type, 1, p.name)?;
                let link = attach_cgroup(&prog, cgroup, attach_type, p.name)?;
                fds.extend([prog, link]);
            }
        }
        attached += 1;
    }
    Ok((fds, attached))
}

/// Program type and attach type of a cgroup hook; `None` for the tracepoint kinds.
fn hook_of(a: Attach) -> Option<(u32, u32)> {
    Some(match a {
        Attach::CgroupSockAddr(h) => (
            BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
            match h {
                SockAddrHook::Connect4 => BPF_CGROUP_INET4_CONNECT,
                SockAddrHook::Connect6 => BPF_CGROUP_INET6_CONNECT,
                SockAddrHook::SendMsg4 => BPF_CGROUP_UDP4_SENDMSG,
                SockAddrHook::SendMsg6 => BPF_CGROUP_UDP6_SENDMSG,
            },
        ),
        Attach::CgroupSock(h) => (
            BPF_PROG_TYPE_CGROUP_SOCK,
            match h {
                SockHook::PostBind4 => BPF_CGROUP_INET4_POST_BIND,
                SockHook::PostBind6 => BPF_CGROUP_INET6_POST_BIND,
                SockHook::SockCreate => BPF_CGROUP_INET_SOCK_CREATE,
            },
        ),
        Attach::TracePoint { .. } | Attach::RawTracePoint { .. } | Attach::Lsm { .. } => return None,
    })
}

/// Blocks SIGTERM and SIGINT (so they can be waited for) and returns their set.
fn block_signals() -> Result<libc::sigset_t> {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is ours; these only write to it and to this thread's signal mask.
    let rc = unsafe {
        libc::sigemptyset(&raw mut set);
        libc::sigaddset(&raw mut set, libc::SIGTERM);
        libc::sigaddset(&raw mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &raw const set, std::ptr::null_mut())
    };
    if rc != 0 {
        bail!("pthread_sigmask failed ({rc})");
    }
    Ok(set)
}

pub(crate) fn run(a: &FloorArgs) -> Result<()> {
    if !Path::new(TRACEFS).join("events").exists() {
        bail!("{TRACEFS} is not mounted (agentmon mounts it on start; or `mount -t tracefs tracefs {TRACEFS}`)");
    }
    let set = block_signals()?;
    let (fds, n) = attach_all(a.cgroup.as_deref())?;
    println!("attached {n} programs");
    match a.seconds {
        Some(s) => std::thread::sleep(Duration::from_secs(s)),
        None => {
            let mut sig = 0;
            // SAFETY: `set` was initialised by block_signals; `sig` is ours.
            let rc = unsafe { libc::sigwait(&raw const set, &raw mut sig) };
            if rc != 0 {
                bail!("sigwait failed ({rc})");
            }
        }
    }
    drop(fds);
    Ok(())
}
