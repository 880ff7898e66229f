//! Datagrams sent to an address without `connect` → [`SendEvent`].
//!
//! - UDP: the cgroup `sendmsg4`/`sendmsg6` hooks (attached to every watched cgroup) run for every
//!   datagram sent with a destination (`sendto`, `sendmsg`, `sendmmsg`, `io_uring`), with the
//!   kernel's copy of it. The deny tables and the quarantine set that refuse connects refuse such
//!   datagrams too (EPERM).
//! - Unix datagram sockets (no cgroup hook this object can attach): `sys_enter_sendto`,
//!   `sys_enter_sendmsg` and `sys_enter_sendmmsg` (its first [`SENDMMSG_SCANNED`] messages), for
//!   destinations of family `AF_UNIX`, with the path as passed and, for a relative one, the
//!   kernel's path of the working directory.
//!
//! Datagrams can be high-volume (DNS, QUIC, logging), so reports are rate-limited per (socket,
//! destination) in `SEND_SEEN`: the first datagram to a destination is always reported (its state
//! is stored only once its event is in the ring buffer, so a full ring does not swallow it: the
//! next datagram tries again), later ones are counted and reported at most once per
//! `SEND_REPORT_INTERVAL_NS` with the count since the previous report. LRU: a socket and
//! destination evicted from the table is reported again on its next datagram.
use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_probe_read_user, generated as gen_},
    macros::{cgroup_sock_addr, map, tracepoint},
    maps::LruHashMap,
    programs::{SockAddrContext, TracePointContext},
};
use monitor_common::{
    EventKind, FLAG_DENIED,
    config::KernelConfig,
    maps as names,
    net::{AF_UNIX, VERDICT_ALLOWED, VERDICT_UNCHECKED},
    programs,
    record::Tail,
    send::{SEND_REPORT_INTERVAL_NS, SENDMMSG_SCANNED, SendEvent, SendKey, SendState},
    tracepoint::{SendmmsgArgs, SendmsgArgs, SendtoArgs},
};

use crate::{maps, net, path, record::Record, scope, task, tracepoint};

#[map]
static SEND_SEEN: LruHashMap<SendKey, SendState> = LruHashMap::with_max_entries(16384, 0);
named!(SEND_SEEN = names::SEND_SEEN);

#[cgroup_sock_addr(sendmsg4)]
pub(crate) fn sendmsg4(ctx: SockAddrContext) -> i32 {
    send_hook(&ctx, false)
}
named!(sendmsg4 = programs::SENDMSG4.name);

#[cgroup_sock_addr(sendmsg6)]
pub(crate) fn sendmsg6(ctx: SockAddrContext) -> i32 {
    send_hook(&ctx, true)
}
named!(sendmsg6 = programs::SENDMSG6.name);

/// Returns 0 (refuse with EPERM) or 1 (allow; also when the configuration is missing, counted
/// `NO_CONFIG`).
#[inline(always)]
fn send_hook(ctx: &SockAddrContext, v6: bool) -> i32 {
    let Some(cfg) = maps::config() else { return 1 };
    let (verdict, rule_id) = net::verdict(cfg, ctx, v6);
    if scope::is_watched(cfg) {
        report_inet(ctx, cfg, v6, verdict, rule_id);
    }
    if verdict == VERDICT_ALLOWED {
        return 1;
    }
    maps::count(monitor_common::counter::DENIED);
    0
}

#[inline(always)]
fn report_inet(ctx: &SockAddrContext, cfg: &KernelConfig, v6: bool, verdict: u8, rule_id: u32) -> Option<()> {
    let (family, port, addr, sock_type, protocol) = net::destination(ctx, v6);
    // SAFETY: the helper takes the program's own context.
    let cookie = unsafe { gen_::bpf_get_socket_cookie(ctx.as_ptr()) };
    let key = SendKey {
        socket_cookie: cookie,
        addr,
        port,
        family,
        _pad: 0,
    };
    let (now, datagrams) = due(&key)?;
    let mut rec = Record::<SendEvent>::start(EventKind::Send, &cfg.offsets)?;
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        fill(ev, &key, datagrams, sock_type, protocol, verdict, rule_id);
        (*ev).path = Tail::ABSENT;
        (*ev).dir_path = Tail::ABSENT;
    }
    if rec.submit(false) {
        reported(&key, now);
    }
    Some(())
}

/// Whether a datagram to `key` is reported now: `(now, datagrams it stands for)`, or `None` when
/// it is only counted.
#[inline(always)]
fn due(key: &SendKey) -> Option<(u64, u64)> {
    // SAFETY: the helper has no preconditions.
    let now = unsafe { gen_::bpf_ktime_get_ns() };
    match SEND_SEEN.get_ptr_mut(key) {
        Some(state) => {
            // SAFETY: a valid map value; a racing update from another CPU sending on the same
            // socket only miscounts a datagram.
            unsafe {
                (*state).unreported += 1;
                if now.saturating_sub((*state).reported_ns) < SEND_REPORT_INTERVAL_NS {
                    return None;
                }
                Some((now, (*state).unreported))
            }
        }
        None => Some((now, 1)),
    }
}

/// Records that `key` was reported at `now` (its event is in the ring buffer).
#[inline(always)]
fn reported(key: &SendKey, now: u64) {
    let state = SendState {
        reported_ns: now,
        unreported: 0,
    };
    // A failed insert (LRU: rare) only reports the next datagram again.
    let _ = SEND_SEEN.insert(key, state, 0);
}

/// Fills the fixed part but the tails.
///
/// # Safety
/// `ev` is a record's fixed part in scratch memory.
#[inline(always)]
unsafe fn fill(
    ev: *mut SendEvent,
    key: &SendKey,
    datagrams: u64,
    sock_type: u16,
    protocol: u16,
    verdict: u8,
    rule_id: u32,
) {
    // SAFETY: the caller's contract.
    unsafe {
        if verdict != VERDICT_ALLOWED && verdict != VERDICT_UNCHECKED {
            (*ev).header.flags |= FLAG_DENIED;
        }
        (*ev).socket_cookie = key.socket_cookie;
        (*ev).datagrams = datagrams;
        (*ev).rule_id = rule_id;
        (*ev).family = key.family;
        (*ev).port = key.port;
        (*ev).sock_type = sock_type;
        (*ev).protocol = protocol;
        (*ev).verdict = verdict;
        (*ev).addr = key.addr;
    }
}

#[tracepoint(category = "syscalls", name = "sys_enter_sendto")]
pub(crate) fn sys_enter_sendto(ctx: TracePointContext) -> u32 {
    sendto(&ctx);
    0
}
named!(sys_enter_sendto = programs::SYS_ENTER_SENDTO.name);

#[inline(always)]
fn sendto(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let a: SendtoArgs = tracepoint::sys_enter(ctx)?;
    // Most sends name no destination (a connected socket): nothing more to read.
    if a.addr == 0 {
        return None;
    }
    report_unix(cfg, a.fd, a.addr, a.addr_len as u32)
}

/// The name of a `struct user_msghdr` (`msg_name`, `msg_namelen`), from user memory.
#[inline(always)]
fn msg_name(msghdr: u64) -> Option<(u64, u32)> {
    // SAFETY: user memory, read through the helper (which fails cleanly).
    unsafe {
        let name = bpf_probe_read_user(msghdr as *const u64).ok()?;
        let len = bpf_probe_read_user((msghdr + 8) as *const u32).ok()?;
        Some((name, len))
    }
}

#[tracepoint(category = "syscalls", name = "sys_enter_sendmsg")]
pub(crate) fn sys_enter_sendmsg(ctx: TracePointContext) -> u32 {
    sendmsg(&ctx);
    0
}
named!(sys_enter_sendmsg = programs::SYS_ENTER_SENDMSG.name);

#[inline(always)]
fn sendmsg(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let a: SendmsgArgs = tracepoint::sys_enter(ctx)?;
    let (name, len) = msg_name(a.msg)?;
    if name == 0 {
        return None;
    }
    report_unix(cfg, a.fd, name, len)
}

#[tracepoint(category = "syscalls", name = "sys_enter_sendmmsg")]
pub(crate) fn sys_enter_sendmmsg(ctx: TracePointContext) -> u32 {
    sendmmsg(&ctx);
    0
}
named!(sys_enter_sendmmsg = programs::SYS_ENTER_SENDMMSG.name);

/// `struct mmsghdr`: a `user_msghdr` (56 bytes) and `msg_len`, padded to 64.
const MMSGHDR_SIZE: u64 = 64;

/// The first unix destination among the first `SENDMMSG_SCANNED` messages is reported (the rate
/// limit would fold the others of the same socket and destination into it anyway).
#[inline(always)]
fn sendmmsg(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let a: SendmmsgArgs = tracepoint::sys_enter(ctx)?;
    let vlen = (a.vlen as u32).min(SENDMMSG_SCANNED);
    let mut i = 0u32;
    while i < SENDMMSG_SCANNED && i < vlen {
        if let Some((name, len)) = msg_name(a.mmsg + u64::from(i) * MMSGHDR_SIZE)
            && name != 0
            && is_unix(name)
        {
            return report_unix(cfg, a.fd, name, len);
        }
        i += 1;
    }
    None
}

#[inline(always)]
fn is_unix(sa: u64) -> bool {
    // SAFETY: user memory, read through the helper (which fails cleanly).
    unsafe { bpf_probe_read_user(sa as *const u16) }.is_ok_and(|f| f == AF_UNIX)
}

/// `sizeof(sockaddr_un.sun_path)`.
const SUN_PATH: usize = 108;

/// A send to the user `sockaddr` at `sa`, if it is a unix one: reported like UDP, keyed by the
/// socket and a hash of the path.
#[inline(always)]
fn report_unix(cfg: &KernelConfig, fd: u64, sa: u64, salen: u32) -> Option<()> {
    if !is_unix(sa) {
        return None;
    }
    let len = (salen.saturating_sub(2) as usize).min(SUN_PATH);
    let mut name = [0u8; SUN_PATH];
    // SAFETY: user memory, read through the helper into a buffer of `SUN_PATH` ≥ `len` bytes.
    if len > 0 && unsafe { gen_::bpf_probe_read_user(name.as_mut_ptr().cast(), len as u32, (sa + 2) as *const _) } != 0
    {
        return None;
    }
    let fd = i64::from(fd as i32);
    let off = &cfg.offsets;
    let task = task::current_task();
    let sk = net::fd_sock(off, task, fd);
    let (_, sock_type, protocol) = sk.map_or((0, 0, 0), |sk| net::sock_kind(off, sk));
    let key = SendKey {
        socket_cookie: sk.map_or(fd as u64, |sk| sk as u64),
        addr: path_hash(&name, len),
        port: 0,
        family: AF_UNIX,
        _pad: 0,
    };
    let (now, datagrams) = due(&key)?;
    let mut rec = Record::<SendEvent>::start(EventKind::Send, off)?;
    let path = rec.user_bytes(sa + 2, len as u64, SUN_PATH);
    // A path not starting with `/` (and not abstract) is relative to the working directory.
    let dir_path = if len > 0 && name[0] != b'/' && name[0] != 0 {
        rec.path(&off.path, path::dir_path(&off.path, task, AT_FDCWD))
    } else {
        Tail::ABSENT
    };
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        fill(ev, &key, datagrams, sock_type, protocol, VERDICT_UNCHECKED, 0);
        (*ev).path = path;
        (*ev).dir_path = dir_path;
    }
    if rec.submit(false) {
        reported(&key, now);
    }
    Some(())
}

const AT_FDCWD: i64 = -100;

/// Two FNV-1a hashes (different offsets) of the first `len` bytes of `name`: the destination part
/// of a unix send's key.
#[inline(always)]
fn path_hash(name: &[u8; SUN_PATH], len: usize) -> [u8; 16] {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4u64);
    let mut i = 0;
    while i < SUN_PATH && i < len {
        a = (a ^ u64::from(name[i])).wrapping_mul(PRIME);
        b = (b ^ u64::from(name[i])).wrapping_mul(PRIME);
        i += 1;
    }
    let (a, b) = (a.to_ne_bytes(), b.to_ne_bytes());
    let mut out = [0u8; 16];
    let mut j = 0;
    while j < 8 {
        out[j] = a[j];
        out[8 + j] = b[j];
        j += 1;
    }
    out
}
