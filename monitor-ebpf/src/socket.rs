//! Raw, packet and netlink sockets → [`SocketEvent`].
//!
//! - Raw inet/inet6 sockets at the cgroup `sock_create` hook (attached to every watched cgroup),
//!   which runs for every socket a task creates in those families whatever the route — `socket(2)`
//!   and `io_uring` `IORING_OP_SOCKET`, which makes no `socket` syscall. It runs before the socket
//!   has a descriptor, so the event has none.
//! - Everything else at `sys_exit_socket`, with the result: packet and netlink sockets (no hook
//!   sees them), raw sockets of other families, and failed attempts of any family (a raw socket
//!   refused for lack of `CAP_NET_RAW` is refused before the hook runs, and is worth seeing).
//!   A raw inet socket the syscall created is the hook's, so it is never reported twice.
//!
//! Other sockets (TCP, UDP, unix) are reported when they connect, send, bind or listen.
use aya_ebpf::{
    macros::{cgroup_sock, tracepoint},
    programs::{SockContext, TracePointContext},
};
use monitor_common::{
    EventKind,
    config::KernelConfig,
    net::{AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, NETLINK_ROUTE, SOCK_RAW, SOCK_TYPE_MASK},
    programs,
    socket::{SOCKET_SEEN_HOOK, SOCKET_SEEN_SYSCALL, SocketEvent},
    tracepoint::SocketArgs,
};

use crate::{args, header, scope, submit, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_socket")]
pub(crate) fn sys_exit_socket(ctx: TracePointContext) -> u32 {
    emit(&ctx);
    0
}
named!(sys_exit_socket = programs::SYS_EXIT_SOCKET.name);

#[inline(always)]
fn emit(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let a: SocketArgs = args::current_as(&cfg.offsets.regs)?;
    // `int` arguments: the registers' low 32 bits.
    let (family, sock_type, protocol) = (a.family as u32, a.sock_type as u32, a.protocol as u32);
    // Netlink sockets are SOCK_RAW (or SOCK_DGRAM) by nature: their protocol decides.
    let interesting = if family == u32::from(AF_NETLINK) {
        protocol != NETLINK_ROUTE
    } else {
        family == u32::from(AF_PACKET) || sock_type & SOCK_TYPE_MASK == u32::from(SOCK_RAW)
    };
    if !interesting {
        return None;
    }
    let result = tracepoint::sys_exit_ret(ctx)?;
    let inet = family == u32::from(AF_INET) || family == u32::from(AF_INET6);
    if inet && result >= 0 {
        // Created, so `sock_create` reported it.
        return None;
    }
    report(cfg, result, family, sock_type, protocol, SOCKET_SEEN_SYSCALL)
}

/// cgroup `sock_create` hook: a raw inet/inet6 socket created by any route. Never refuses.
#[cgroup_sock(sock_create)]
pub(crate) fn sock_create(ctx: SockContext) -> i32 {
    created(&ctx);
    1
}
named!(sock_create = programs::SOCK_CREATE.name);

#[inline(always)]
fn created(ctx: &SockContext) -> Option<()> {
    let sk = ctx.sock;
    // SAFETY: `sock` is the program's context (`struct bpf_sock`), readable field by field; the
    // type is tested first: nearly every socket created is not raw.
    let sock_type = unsafe { (*sk).type_ };
    if sock_type != u32::from(SOCK_RAW) {
        return None;
    }
    let cfg = scope::watched()?;
    // SAFETY: as above.
    let (family, protocol) = unsafe { ((*sk).family, (*sk).protocol) };
    report(cfg, 0, family, sock_type, protocol, SOCKET_SEEN_HOOK)
}

#[inline(always)]
fn report(cfg: &KernelConfig, result: i64, family: u32, sock_type: u32, protocol: u32, seen: u8) -> Option<()> {
    let mut entry = submit::reserve::<SocketEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, every field written here before submit.
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::Socket,
            size_of::<SocketEvent>(),
            &cfg.offsets,
        );
        (*ev).result = result;
        (*ev).family = family;
        (*ev).sock_type = sock_type;
        (*ev).protocol = protocol;
        (*ev).seen = seen;
        (*ev)._pad = [0; 3];
    }
    submit::submit(entry, false);
    Some(())
}
