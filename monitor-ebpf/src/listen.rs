//! Where an agent listens → [`ListenEvent`].
//!
//! - `sys_exit_listen`: a successful `listen(2)`, any family; the local address is read from the
//!   kernel's socket after the call (so a port the kernel assigned at `listen` is the real one), a
//!   unix socket's path walked from its inode and its name as bound.
//! - `sock:inet_sock_set_state` to `TCP_LISTEN` outside a `listen` syscall: a listen that took
//!   another route (`io_uring` `IORING_OP_LISTEN`). Inside `listen` the exit program reports it.
//! - cgroup `post_bind4`/`post_bind6` (attached to every watched cgroup): a UDP socket bound to an
//!   address, by any route; the port is the one the kernel assigned. (Stream sockets are reported
//!   when they listen.)
//! - `sys_exit_bind`: a unix datagram socket bound to a name.
use core::mem::offset_of;

use aya_ebpf::{
    macros::{cgroup_sock, tracepoint},
    programs::{SockContext, TracePointContext},
};
use monitor_common::{
    EventKind,
    config::KernelConfig,
    listen::{LISTEN_SEEN_BIND, LISTEN_SEEN_BIND_HOOK, LISTEN_SEEN_LISTEN, LISTEN_SEEN_TCP_STATE, ListenEvent},
    net::{AF_INET, AF_INET6, AF_UNIX, SOCK_DGRAM, SOCK_STREAM},
    programs,
    record::Tail,
    tracepoint::{BindArgs, InetSockSetState, ListenArgs, TCP_LISTEN},
};

use crate::{args, maps::OrCount, net, record::Record, scope, task, tracepoint};

/// x86-64 `__NR_listen`.
const NR_LISTEN: i64 = 50;

#[tracepoint(category = "syscalls", name = "sys_exit_listen")]
pub(crate) fn sys_exit_listen(ctx: TracePointContext) -> u32 {
    listened(&ctx);
    0
}
named!(sys_exit_listen = programs::SYS_EXIT_LISTEN.name);

#[inline(always)]
fn listened(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    if tracepoint::sys_exit_ret(ctx)? != 0 {
        return None;
    }
    let a: ListenArgs = args::current_as(&cfg.offsets.regs)?;
    let fd = i64::from(a.fd as i32);
    let sk =
        net::fd_sock(&cfg.offsets, task::current_task(), fd).or_count(monitor_common::counter::TASK_READ_FAILED)?;
    from_sock(cfg, sk, fd, LISTEN_SEEN_LISTEN)
}

#[tracepoint(category = "syscalls", name = "sys_exit_bind")]
pub(crate) fn sys_exit_bind(ctx: TracePointContext) -> u32 {
    bound_unix(&ctx);
    0
}
named!(sys_exit_bind = programs::SYS_EXIT_BIND.name);

/// A unix datagram socket bound to a name (inet binds are the `post_bind` hooks').
#[inline(always)]
fn bound_unix(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    if tracepoint::sys_exit_ret(ctx)? != 0 {
        return None;
    }
    let a: BindArgs = args::current_as(&cfg.offsets.regs)?;
    let fd = i64::from(a.fd as i32);
    let sk = net::fd_sock(&cfg.offsets, task::current_task(), fd)?;
    let (family, sock_type, _) = net::sock_kind(&cfg.offsets, sk);
    if family != AF_UNIX || sock_type != SOCK_DGRAM {
        return None;
    }
    from_sock(cfg, sk, fd, LISTEN_SEEN_BIND)
}

/// The event of a socket read from the kernel's `struct sock`.
#[inline(always)]
fn from_sock(cfg: &KernelConfig, sk: *const u8, fd: i64, seen: u8) -> Option<()> {
    let off = &cfg.offsets;
    let (family, sock_type, protocol) = net::sock_kind(off, sk);
    let mut rec = Record::<ListenEvent>::start(EventKind::Listen, off)?;
    let (mut port, mut addr) = (0u16, [0u8; 16]);
    let (mut path, mut name) = (Tail::ABSENT, Tail::ABSENT);
    if family == AF_INET || family == AF_INET6 {
        (port, addr) = net::sock_local(off, sk, family == AF_INET6);
    } else if family == AF_UNIX {
        (path, name) = net::unix_identity(&mut rec, off, sk);
    }
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).fd = fd as i32;
        (*ev).family = family;
        (*ev).port = port;
        (*ev).sock_type = sock_type;
        (*ev).protocol = protocol;
        (*ev).seen = seen;
        (*ev).addr = addr;
        (*ev).path = path;
        (*ev).name = name;
    }
    rec.submit(false);
    Some(())
}

#[tracepoint(category = "sock", name = "inet_sock_set_state")]
pub(crate) fn inet_sock_set_state(ctx: TracePointContext) -> u32 {
    tcp_listen(&ctx);
    0
}
named!(inet_sock_set_state = programs::INET_SOCK_SET_STATE.name);

/// A socket entering `TCP_LISTEN` outside a `listen` syscall. Every TCP state change of the host
/// passes here (many in softirq context, on behalf of no task): the state is tested first.
#[inline(always)]
fn tcp_listen(ctx: &TracePointContext) -> Option<()> {
    let newstate: i32 = tracepoint::field_at(ctx, offset_of!(InetSockSetState, newstate) as u32)?;
    if newstate != TCP_LISTEN {
        return None;
    }
    let cfg = scope::watched()?;
    if args::current_syscall(cfg.offsets.process.regs_syscall_nr) == Some(NR_LISTEN) {
        return None;
    }
    let st: InetSockSetState = tracepoint::field_at(ctx, 0)?;
    let mut rec = Record::<ListenEvent>::start(EventKind::Listen, &cfg.offsets)?;
    let ev = rec.fixed();
    let mut addr = [0u8; 16];
    if st.family == AF_INET6 {
        addr = st.saddr_v6;
    } else {
        (addr[0], addr[1], addr[2], addr[3]) = (st.saddr[0], st.saddr[1], st.saddr[2], st.saddr[3]);
    }
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).fd = -1;
        (*ev).family = st.family;
        (*ev).port = st.sport;
        (*ev).sock_type = SOCK_STREAM;
        (*ev).protocol = st.protocol;
        (*ev).seen = LISTEN_SEEN_TCP_STATE;
        (*ev).addr = addr;
        (*ev).path = Tail::ABSENT;
        (*ev).name = Tail::ABSENT;
    }
    rec.submit(false);
    Some(())
}

#[cgroup_sock(post_bind4)]
pub(crate) fn post_bind4(ctx: SockContext) -> i32 {
    bound_inet(&ctx, false);
    1
}
named!(post_bind4 = programs::POST_BIND4.name);

#[cgroup_sock(post_bind6)]
pub(crate) fn post_bind6(ctx: SockContext) -> i32 {
    bound_inet(&ctx, true);
    1
}
named!(post_bind6 = programs::POST_BIND6.name);

/// A UDP (datagram) socket bound: the address and the port the kernel assigned. `v6` is a
/// constant per program: `post_bind4` may not read `src_ip6`, nor `post_bind6` `src_ip4`.
#[inline(always)]
fn bound_inet(ctx: &SockContext, v6: bool) -> Option<()> {
    let sk = ctx.sock;
    // SAFETY: `sock` is the program's context (`struct bpf_sock`), readable field by field.
    let sock_type = unsafe { (*sk).type_ } as u16;
    if sock_type != SOCK_DGRAM {
        return None;
    }
    let cfg = scope::watched()?;
    let mut rec = Record::<ListenEvent>::start(EventKind::Listen, &cfg.offsets)?;
    let ev = rec.fixed();
    // SAFETY: as above, and `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        let family = (*sk).family as u16;
        let mut addr = [0u8; 16];
        if v6 {
            let w = [(*sk).src_ip6[0], (*sk).src_ip6[1], (*sk).src_ip6[2], (*sk).src_ip6[3]];
            let mut i = 0;
            while i < 4 {
                let b = w[i].to_ne_bytes();
                (addr[i * 4], addr[i * 4 + 1], addr[i * 4 + 2], addr[i * 4 + 3]) = (b[0], b[1], b[2], b[3]);
                i += 1;
            }
        } else {
            let b = (*sk).src_ip4.to_ne_bytes();
            (addr[0], addr[1], addr[2], addr[3]) = (b[0], b[1], b[2], b[3]);
        }
        (*ev).fd = -1;
        (*ev).family = family;
        // `src_port` is in host order.
        (*ev).port = (*sk).src_port as u16;
        (*ev).sock_type = sock_type;
        (*ev).protocol = (*sk).protocol as u16;
        (*ev).seen = LISTEN_SEEN_BIND_HOOK;
        (*ev).addr = addr;
        (*ev).path = Tail::ABSENT;
        (*ev).name = Tail::ABSENT;
    }
    rec.submit(false);
    Some(())
}
