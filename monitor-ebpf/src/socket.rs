//! Raw, packet and netlink sockets → [`SocketEvent`] at `sys_exit_socket`, failed attempts
//! included (a raw socket refused for lack of `CAP_NET_RAW` is an attempt worth seeing). Other
//! sockets (TCP, UDP, unix) are reported when they connect, send, bind or listen.
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind,
    net::{AF_NETLINK, AF_PACKET, NETLINK_ROUTE, SOCK_RAW, SOCK_TYPE_MASK},
    programs,
    socket::SocketEvent,
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
        (*ev)._pad = 0;
    }
    submit::submit(entry);
    Some(())
}
