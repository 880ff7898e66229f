//! Sockets as the kernel holds them, and what every network program shares: from a descriptor to
//! its `struct sock` (family, type, protocol, local address), a unix socket's peer, bound path and
//! name (offsets from BTF, `monitor_common::config::NetOffsets`), and the verdict of the deny tables
//! and the quarantine set on a destination seen at a cgroup `sock_addr` hook or `lsm/socket_connect`.
use aya_ebpf::{maps::lpm_trie::Key, programs::SockAddrContext};
use monitor_common::{
    config::{KernelConfig, KernelOffsets},
    enforce::{DENY_KIND_CONNECT, RULE_ID_QUARANTINE},
    net::{VERDICT_ALLOWED, VERDICT_DENIED, VERDICT_QUARANTINED},
    record::Tail,
};

use crate::{
    enforce,
    path::{self, KPath},
    record::Record,
    scope,
    task::read_field,
};

/// The `struct sock` of the task's descriptor `fd` (through `file.private_data` → `socket.sk`).
/// Only meaningful when `fd` is a socket: callers ask after a syscall that succeeded on it.
#[inline(always)]
pub(crate) fn fd_sock(off: &KernelOffsets, task: *const u8, fd: i64) -> Option<*const u8> {
    let file = path::fd_file(&off.path, task, fd)?;
    let socket: *const u8 = read_field(file, off.net.file_private_data)?;
    let sk: *const u8 = read_field(socket, off.net.socket_sk)?;
    (!sk.is_null()).then_some(sk)
}

/// A socket's family, type and protocol (0 where unreadable).
#[inline(always)]
pub(crate) fn sock_kind(off: &KernelOffsets, sk: *const u8) -> (u16, u16, u16) {
    let n = &off.net;
    (
        read_field::<u16>(sk, n.sock_family).unwrap_or(0),
        read_field::<u16>(sk, n.sock_type).unwrap_or(0),
        read_field::<u16>(sk, n.sock_protocol).unwrap_or(0),
    )
}

/// A bound inet socket's local port (host order) and address (4 or 16 bytes, by family).
#[inline(always)]
pub(crate) fn sock_local(off: &KernelOffsets, sk: *const u8, v6: bool) -> (u16, [u8; 16]) {
    let n = &off.net;
    let port = read_field::<u16>(sk, n.sock_num).unwrap_or(0);
    let mut addr = [0u8; 16];
    if v6 {
        addr = read_field::<[u8; 16]>(sk, n.sock_v6_rcv_saddr).unwrap_or([0; 16]);
    } else {
        let a = read_field::<[u8; 4]>(sk, n.sock_rcv_saddr).unwrap_or([0; 4]);
        (addr[0], addr[1], addr[2], addr[3]) = (a[0], a[1], a[2], a[3]);
    }
    (port, addr)
}

/// A connected unix socket's peer.
#[inline(always)]
pub(crate) fn unix_peer(off: &KernelOffsets, sk: *const u8) -> Option<*const u8> {
    let peer: *const u8 = read_field(sk, off.net.unix_peer)?;
    (!peer.is_null()).then_some(peer)
}

/// Appends a unix socket's bound path (walked from its `unix_sock.path`, for sockets bound in the
/// filesystem) and its name as the kernel holds it (`sun_path` bytes, an abstract name starting
/// with NUL) to `rec`: `(path, name)`, each absent where the socket has none.
#[inline(always)]
pub(crate) fn unix_identity<T>(rec: &mut Record<T>, off: &KernelOffsets, usk: *const u8) -> (Tail, Tail) {
    let n = &off.net;
    let p: Option<KPath> =
        path::path_at(&off.path, usk, n.unix_path).filter(|p| !p.dentry.is_null() && !p.mnt.is_null());
    let path = rec.path(&off.path, p);
    let name = match read_field::<*const u8>(usk, n.unix_addr).filter(|a| !a.is_null()) {
        Some(ua) => {
            // `len` counts the family's two bytes; the name follows them.
            let len = read_field::<i32>(ua, n.unix_address_len).unwrap_or(0);
            let len = (i64::from(len) - 2).clamp(0, 108) as u64;
            // SAFETY: pointer arithmetic only; the bytes are read with bpf_probe_read_kernel.
            let sun_path = unsafe { ua.add(n.unix_address_name as usize + 2) };
            if n.unix_address_name == KernelOffsets::UNKNOWN {
                Tail::ABSENT
            } else {
                rec.kernel_bytes(sun_path, len, 108)
            }
        }
        None => Tail::ABSENT,
    };
    (path, name)
}

/// The verdict on a destination seen at a cgroup `sock_addr` hook: `(VERDICT_*, rule_id)`.
#[inline(always)]
pub(crate) fn verdict(cfg: &KernelConfig, ctx: &SockAddrContext, v6: bool) -> (u8, u32) {
    let (_, port, addr, _, _) = destination(ctx, v6);
    verdict_on(cfg, v6, &addr, port)
}

/// The verdict on an inet destination (`addr`: 16 bytes for IPv6, the first 4 for IPv4; `port` in
/// host order), wherever the kernel's copy of it was read (a cgroup `sock_addr` hook,
/// `lsm/socket_connect`): `(VERDICT_*, rule_id)`. Quarantined agents are refused, then the family's
/// deny rules are asked.
#[inline(always)]
pub(crate) fn verdict_on(cfg: &KernelConfig, v6: bool, addr: &[u8; 16], port: u16) -> (u8, u32) {
    if scope::any_ancestor_in(cfg, &enforce::QUARANTINE) {
        return (VERDICT_QUARANTINED, RULE_ID_QUARANTINE);
    }
    if cfg.deny_kinds & DENY_KIND_CONNECT == 0 {
        return (VERDICT_ALLOWED, 0);
    }
    let rule = if v6 {
        rule6(addr, port)
    } else {
        rule4([addr[0], addr[1], addr[2], addr[3]], port)
    };
    match rule {
        Some(id) => (VERDICT_DENIED, id),
        None => (VERDICT_ALLOWED, 0),
    }
}

/// A destination at a `sock_addr` hook: family, port (host order), address (4 or 16 bytes), the
/// socket's type and protocol. The kernel's copy of the address, not the caller's memory.
#[inline(always)]
pub(crate) fn destination(ctx: &SockAddrContext, v6: bool) -> (u16, u16, [u8; 16], u16, u16) {
    let sa = ctx.sock_addr;
    let mut addr = [0u8; 16];
    // SAFETY: `sock_addr` is the program's context (`struct bpf_sock_addr`), readable field by
    // field; the verifier rewrites each load into a read of the kernel's copy.
    let (family, port, sock_type, protocol) = unsafe {
        if v6 {
            let w = [
                (*sa).user_ip6[0],
                (*sa).user_ip6[1],
                (*sa).user_ip6[2],
                (*sa).user_ip6[3],
            ];
            let mut i = 0;
            while i < 4 {
                let b = w[i].to_ne_bytes();
                addr[i * 4] = b[0];
                addr[i * 4 + 1] = b[1];
                addr[i * 4 + 2] = b[2];
                addr[i * 4 + 3] = b[3];
                i += 1;
            }
        } else {
            let b = (*sa).user_ip4.to_ne_bytes();
            addr[0] = b[0];
            addr[1] = b[1];
            addr[2] = b[2];
            addr[3] = b[3];
        }
        (
            (*sa).user_family as u16,
            u16::from_be((*sa).user_port as u16),
            (*sa).type_ as u16,
            (*sa).protocol as u16,
        )
    };
    (family, port, addr, sock_type, protocol)
}

#[inline(always)]
fn rule4(addr: [u8; 4], port: u16) -> Option<u32> {
    let key = Key::new(32, addr);
    let rule = enforce::DENY_NET4.get(&key)?;
    (rule.port == 0 || rule.port == port).then_some(rule.rule_id)
}

/// The deny rule covering an IPv6 destination (IPv4 rules for `::ffff:a.b.c.d`).
#[inline(always)]
fn rule6(addr: &[u8; 16], port: u16) -> Option<u32> {
    // ::ffff:a.b.c.d — the IPv4 rules apply. (Byte by byte: no memcmp on this target.)
    let mapped = u64::from_ne_bytes([addr[0], addr[1], addr[2], addr[3], addr[4], addr[5], addr[6], addr[7]]) == 0
        && addr[8] == 0
        && addr[9] == 0
        && addr[10] == 0xff
        && addr[11] == 0xff;
    if mapped && let Some(id) = rule4([addr[12], addr[13], addr[14], addr[15]], port) {
        return Some(id);
    }
    let key = Key::new(128, *addr);
    let rule = enforce::DENY_NET6.get(&key)?;
    (rule.port == 0 || rule.port == port).then_some(rule.rule_id)
}
