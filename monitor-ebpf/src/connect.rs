//! Connects → [`ConnectEvent`], one per connect, whatever its route.
//!
//! - inet/inet6: the cgroup `connect4`/`connect6` hooks (attached to every watched cgroup) see
//!   every route to a connect — the `connect` syscall, `io_uring` `IORING_OP_CONNECT`, TCP Fast Open
//!   `sendto`/`sendmsg(MSG_FASTOPEN)` — with the kernel's copy of the address, and decide: a
//!   quarantined agent or a deny-rule destination is refused (EPERM, plus a [`DenyEvent`]). The
//!   event carries that verdict; the connect's result is not known there.
//! - Everything else, at `sys_exit_connect`, with the result: unix sockets (the path as passed and
//!   the kernel's path of the socket connected to), inet sockets created outside the watched cgroup
//!   (the hooks follow the socket's cgroup), and attempts the kernel refused before its hook ran.
//!
//! - Where BPF LSM loads, `lsm/socket_connect` (`crate::lsm`) also checks a watched caller's
//!   connects on sockets made outside the watched cgroup, and refuses them before the hooks would
//!   run; its refusals are reported as the hooks report theirs ([`lsm_refusal`]).
//!
//! No connect is reported twice: `sys_enter_connect` marks the thread in `CONNECT_SEEN`, a hook
//! that runs inside that syscall flips the mark, and `sys_exit_connect` reports only unmarked ones.
use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user},
    macros::{cgroup_sock_addr, map, tracepoint},
    maps::LruHashMap,
    programs::{SockAddrContext, TracePointContext},
};
use monitor_common::{
    EventKind, FLAG_DENIED,
    config::KernelConfig,
    connect::{AF_INET, AF_INET6, AF_UNIX, CONNECT_SEEN_HOOK, CONNECT_SEEN_SYSCALL, ConnectEvent},
    counter,
    deny::DENY_CONNECT,
    maps as names,
    net::{VERDICT_ALLOWED, VERDICT_UNCHECKED},
    programs,
    record::Tail,
    tracepoint::ConnectArgs,
};

use crate::{
    args, enforce,
    maps::{self, OrCount},
    net,
    record::Record,
    scope, strings, task, tracepoint,
};

/// Thread id → [`PENDING`] while it is inside `connect`, [`HOOK_REPORTED`] once a hook reported it.
/// LRU: a thread killed inside the syscall leaves an entry that ages out.
#[map]
static CONNECT_SEEN: LruHashMap<u32, u32> = LruHashMap::with_max_entries(8192, 0);
named!(CONNECT_SEEN = names::CONNECT_SEEN);

const PENDING: u32 = 0;
const HOOK_REPORTED: u32 = 1;

const EBADF: i64 = 9;
const ENOTSOCK: i64 = 88;

#[tracepoint(category = "syscalls", name = "sys_enter_connect")]
pub(crate) fn sys_enter_connect(_ctx: TracePointContext) -> u32 {
    mark_pending();
    0
}
named!(sys_enter_connect = programs::SYS_ENTER_CONNECT.name);

#[inline(always)]
fn mark_pending() -> Option<()> {
    scope::watched()?;
    let tid = bpf_get_current_pid_tgid() as u32;
    // A failed insert only risks a second report of this connect at exit, never a missed one.
    CONNECT_SEEN
        .insert(tid, PENDING, 0)
        .or_count(counter::MAP_INSERT_FAILED)
}

#[tracepoint(category = "syscalls", name = "sys_exit_connect")]
pub(crate) fn sys_exit_connect(ctx: TracePointContext) -> u32 {
    emit_exit(&ctx);
    0
}
named!(sys_exit_connect = programs::SYS_EXIT_CONNECT.name);

#[inline(always)]
fn emit_exit(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let tid = bpf_get_current_pid_tgid() as u32;
    // SAFETY: a plain u32 value, read once; a racing update can only come from this thread.
    let mark = unsafe { CONNECT_SEEN.get(tid) }.copied();
    let _ = CONNECT_SEEN.remove(tid);
    if mark == Some(HOOK_REPORTED) {
        return None;
    }
    let result = tracepoint::sys_exit_ret(ctx)?;
    let a: ConnectArgs = args::current_as(&cfg.offsets.regs)?;
    let fd = i64::from(a.fd as i32);
    let sa = a.addr as *const u8;
    let mut rec = Record::<ConnectEvent>::start(EventKind::Connect, &cfg.offsets)?;
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer; `sa` is user memory,
    // only read through bpf_probe_read_user (which fails cleanly), after the kernel copied it.
    let (family, flags) = unsafe {
        let family = bpf_probe_read_user::<u16>(sa.cast()).unwrap_or(0);
        (family, read_addr(ev, sa, family, a.addrlen as u32))
    };
    let off = &cfg.offsets;
    // ENOTSOCK/EBADF: no socket behind the descriptor to read.
    let sk = if result == -EBADF || result == -ENOTSOCK {
        None
    } else {
        net::fd_sock(off, task::current_task(), fd)
    };
    let (sock_type, protocol) = match sk {
        Some(sk) => {
            let (_, t, p) = net::sock_kind(off, sk);
            (t, p)
        }
        None => (0, 0),
    };
    let (peer_path, peer_name) = match (family, result, sk.and_then(|sk| net::unix_peer(off, sk))) {
        (AF_UNIX, 0, Some(peer)) => net::unix_identity(&mut rec, off, peer),
        _ => (Tail::ABSENT, Tail::ABSENT),
    };
    let ev = rec.fixed();
    // SAFETY: as above.
    unsafe {
        (*ev).result = result;
        (*ev).fd = fd as i32;
        (*ev).family = family;
        (*ev).sock_type = sock_type;
        (*ev).protocol = protocol;
        (*ev).seen = CONNECT_SEEN_SYSCALL;
        (*ev).verdict = VERDICT_UNCHECKED;
        (*ev).peer_path = peer_path;
        (*ev).peer_name = peer_name;
        (*ev).header.flags |= flags;
    }
    rec.submit(false);
    Some(())
}

/// Copies the address of the user `sockaddr` at `sa` into the event; returns header flags.
///
/// # Safety
/// `ev` is a record's fixed part in scratch memory.
#[inline(always)]
unsafe fn read_addr(ev: *mut ConnectEvent, sa: *const u8, family: u16, addrlen: u32) -> u16 {
    // SAFETY: the caller's contract; `sa` is only read through the helpers.
    unsafe {
        // sockaddr_in: address at +4 (4 bytes); sockaddr_in6: flowinfo at +4, address at +8;
        // sockaddr_un: sun_path after the 2-byte family, maybe abstract (leading NUL): bytes.
        let (src, len) = match family {
            AF_INET => (sa.add(4), 4),
            AF_INET6 => (sa.add(8), 16),
            AF_UNIX => (sa.add(2), u64::from(addrlen.saturating_sub(2))),
            _ => (sa, 0),
        };
        if family == AF_INET || family == AF_INET6 {
            let port = bpf_probe_read_user::<u16>(sa.add(2).cast()).unwrap_or(0);
            (*ev).port = u16::from_be(port);
        }
        let (flags, copied) = strings::read_user_bytes(src, len, &mut (*ev).addr);
        (*ev).addr_len = copied;
        flags
    }
}

/// cgroup `connect4` hook (attached to each watched cgroup): reports the connect with its verdict;
/// refuses it with EPERM when the agent is quarantined or a deny rule covers the destination.
#[cgroup_sock_addr(connect4)]
pub(crate) fn connect4(ctx: SockAddrContext) -> i32 {
    connect_hook(&ctx, false)
}
named!(connect4 = programs::CONNECT4.name);

/// cgroup `connect6` hook; IPv4-mapped destinations are checked against the IPv4 rules too.
#[cgroup_sock_addr(connect6)]
pub(crate) fn connect6(ctx: SockAddrContext) -> i32 {
    connect_hook(&ctx, true)
}
named!(connect6 = programs::CONNECT6.name);

/// Returns 0 (refuse with EPERM, reported) or 1 (allow; also when the configuration is missing,
/// counted `NO_CONFIG`).
#[inline(always)]
fn connect_hook(ctx: &SockAddrContext, v6: bool) -> i32 {
    let Some(cfg) = maps::config() else { return 1 };
    let (verdict, rule_id) = net::verdict(cfg, ctx, v6);
    if scope::is_watched(cfg) {
        emit_hook(ctx, cfg, v6, verdict, rule_id);
    }
    if verdict == VERDICT_ALLOWED {
        return 1;
    }
    maps::count(counter::DENIED);
    enforce::emit_deny(cfg, DENY_CONNECT, rule_id);
    0
}

/// The hook's event: the kernel's copy of the destination, the socket's type and protocol, the
/// verdict.
#[inline(always)]
fn emit_hook(ctx: &SockAddrContext, cfg: &KernelConfig, v6: bool, verdict: u8, rule_id: u32) -> Option<()> {
    let (family, port, addr, sock_type, protocol) = net::destination(ctx, v6);
    emit_checked(
        cfg,
        Checked {
            family,
            port,
            addr,
            v6,
            sock_type,
            protocol,
            verdict,
            rule_id,
        },
    )
}

/// A connect a hook checked: the kernel's copy of its destination, the socket's kind, the verdict.
struct Checked {
    family: u16,
    /// Host order.
    port: u16,
    /// 16 bytes for IPv6, the first 4 for IPv4.
    addr: [u8; 16],
    v6: bool,
    sock_type: u16,
    protocol: u16,
    verdict: u8,
    rule_id: u32,
}

/// Reports a connect a hook checked (`CONNECT_SEEN_HOOK`: the verdict, no result), and marks the
/// thread's pending `connect` (if this runs inside one) as reported.
#[inline(always)]
fn emit_checked(cfg: &KernelConfig, c: Checked) -> Option<()> {
    let mut rec = Record::<ConnectEvent>::start(EventKind::Connect, &cfg.offsets)?;
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).fd = -1;
        (*ev).rule_id = c.rule_id;
        (*ev).family = c.family;
        (*ev).port = c.port;
        (*ev).sock_type = c.sock_type;
        (*ev).protocol = c.protocol;
        (*ev).seen = CONNECT_SEEN_HOOK;
        (*ev).verdict = c.verdict;
        let dst = (&raw mut (*ev).addr).cast::<[u8; 16]>();
        *dst = c.addr;
        (*ev).addr_len = if c.v6 { 16 } else { 4 };
        (*ev).peer_path = Tail::ABSENT;
        (*ev).peer_name = Tail::ABSENT;
        if c.verdict != VERDICT_ALLOWED {
            (*ev).header.flags |= FLAG_DENIED;
        }
    }
    rec.submit(false);
    let tid = bpf_get_current_pid_tgid() as u32;
    if let Some(mark) = CONNECT_SEEN.get_ptr_mut(tid) {
        // SAFETY: a valid map value of this thread's entry.
        unsafe { *mark = HOOK_REPORTED };
    }
    Some(())
}

/// `sizeof(struct sockaddr_in)`, and `SIN6_LEN_RFC2133`: the shortest address the kernel's inet
/// and inet6 connects accept (a shorter one fails with EINVAL before any check: left to them).
const SOCKADDR_IN_LEN: i32 = 16;
const SOCKADDR_IN6_MIN_LEN: i32 = 24;

/// The check of `lsm/socket_connect` (`crate::lsm`) on a watched caller's connect, whatever the
/// socket's cgroup: the verdict of the deny tables and the quarantine set on the kernel's copy of
/// the address (`sa`, `addrlen`: `security_socket_connect`'s `address` and `addrlen`), as the
/// cgroup hooks give it. A refusal is reported here as those hooks report theirs (the connect event, flagged
/// denied, and the pending syscall marked reported so `sys_exit_connect` does not report it again
/// unchecked, for userspace to kill its caller); the rule id for the caller to refuse with.
///
/// Runs before the socket's own `connect` (so before the cgroup hooks, for a socket made in the
/// watched cgroup: the same verdict, the same event), and only inet sockets with an inet address
/// are asked about, as the hooks are.
#[inline(always)]
pub(crate) fn lsm_refusal(cfg: &KernelConfig, sock: *const u8, sa: *const u8, addrlen: i32) -> Option<u32> {
    let family: u16 = task::read_field(sa, 0)?;
    let v6 = match family {
        AF_INET if addrlen >= SOCKADDR_IN_LEN => false,
        AF_INET6 if addrlen >= SOCKADDR_IN6_MIN_LEN => true,
        _ => return None,
    };
    let off = &cfg.offsets;
    let sk: *const u8 = task::read_field(sock, off.net.socket_sk)?;
    let (sk_family, sock_type, protocol) = net::sock_kind(off, sk);
    if sk_family != AF_INET && sk_family != AF_INET6 {
        return None;
    }
    // sockaddr_in: port at +2, address at +4; sockaddr_in6: port at +2, address at +8.
    let port = u16::from_be(task::read_field::<u16>(sa, 2)?);
    let mut addr = [0u8; 16];
    if v6 {
        addr = task::read_field(sa, 8)?;
    } else {
        let a: [u8; 4] = task::read_field(sa, 4)?;
        (addr[0], addr[1], addr[2], addr[3]) = (a[0], a[1], a[2], a[3]);
    }
    let (verdict, rule_id) = net::verdict_on(cfg, v6, &addr, port);
    if verdict == VERDICT_ALLOWED {
        return None;
    }
    emit_checked(
        cfg,
        Checked {
            family,
            port,
            addr,
            v6,
            sock_type,
            protocol,
            verdict,
            rule_id,
        },
    );
    Some(rule_id)
}
