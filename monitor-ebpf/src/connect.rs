//! `sys_enter_connect` → [`ConnectEvent`].
use aya_ebpf::{
    helpers::bpf_probe_read_user,
    macros::{cgroup_sock_addr, tracepoint},
    maps::lpm_trie::Key,
    programs::{SockAddrContext, TracePointContext},
};
use monitor_common::{
    EventKind,
    connect::{AF_INET, AF_INET6, AF_UNIX, ConnectEvent},
    counter,
    deny::{DENY_CONNECT, DenyEvent},
    enforce::{DENY_KIND_CONNECT, RULE_ID_QUARANTINE},
    programs,
    tracepoint::ConnectArgs,
};

use crate::{enforce, header, maps, scope, strings, submit, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_enter_connect")]
pub(crate) fn sys_enter_connect(ctx: TracePointContext) -> u32 {
    emit(&ctx);
    0
}
named!(sys_enter_connect = programs::SYS_ENTER_CONNECT.name);

#[inline(always)]
fn emit(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let args: ConnectArgs = tracepoint::sys_enter(ctx)?;
    let (fd, addrlen) = (args.fd, args.addrlen);
    let sa = args.addr as *const u8;

    let mut entry = submit::reserve::<ConnectEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit; `sa` is user memory,
    // only read through bpf_probe_read_user (which fails cleanly).
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::Connect,
            size_of::<ConnectEvent>(),
            &cfg.offsets,
        );
        (*ev).fd = fd as i32;
        (*ev).addrlen = addrlen as u32;
        (*ev).port = 0;
        (*ev)._pad = [0; 4];
        let family = bpf_probe_read_user::<u16>(sa.cast()).unwrap_or(0);
        (*ev).family = family;
        // sockaddr_in: address at +4 (4 bytes); sockaddr_in6: flowinfo at +4, address at +8;
        // sockaddr_un: sun_path after the 2-byte family, maybe abstract (leading NUL): bytes.
        let (src, len) = match family {
            AF_INET => (sa.add(4), 4),
            AF_INET6 => (sa.add(8), 16),
            AF_UNIX => (sa.add(2), u64::from((addrlen as u32).saturating_sub(2))),
            _ => (sa, 0),
        };
        if family == AF_INET || family == AF_INET6 {
            let port = bpf_probe_read_user::<u16>(sa.add(2).cast()).unwrap_or(0);
            (*ev).port = u16::from_be(port);
        }
        let (flags, copied) = strings::read_user_bytes(src, len, &mut (*ev).addr);
        (*ev).addr_len = copied;
        (*ev).header.flags |= flags;
    }
    submit::submit(entry);
    Some(())
}

/// cgroup `connect4` hook (attached to each watched cgroup): refuses with EPERM when the agent is
/// quarantined or a deny rule covers the destination.
#[cgroup_sock_addr(connect4)]
pub(crate) fn connect4(ctx: SockAddrContext) -> i32 {
    connect_hook(&ctx, rule_for4)
}
named!(connect4 = programs::CONNECT4.name);

/// cgroup `connect6` hook; IPv4-mapped destinations are checked against the IPv4 rules too.
#[cgroup_sock_addr(connect6)]
pub(crate) fn connect6(ctx: SockAddrContext) -> i32 {
    connect_hook(&ctx, rule_for6)
}
named!(connect6 = programs::CONNECT6.name);

/// Shared by both families: quarantined agents are refused, then the family's deny rules are asked.
/// Returns 0 (refuse with EPERM, reported) or 1 (allow; also when the configuration is missing,
/// counted `NO_CONFIG`).
#[inline(always)]
fn connect_hook(ctx: &SockAddrContext, rule_for: impl Fn(&SockAddrContext) -> Option<u32>) -> i32 {
    let Some(cfg) = maps::config() else { return 1 };
    let refused = if scope::any_ancestor_in(cfg, &enforce::QUARANTINE) {
        Some(RULE_ID_QUARANTINE)
    } else if cfg.deny_kinds & DENY_KIND_CONNECT != 0 {
        rule_for(ctx)
    } else {
        None
    };
    match refused {
        Some(rule_id) => {
            emit_refused(rule_id);
            0
        }
        None => 1,
    }
}

#[inline(always)]
fn rule4(addr: [u8; 4], port: u16) -> Option<u32> {
    let key = Key::new(32, addr);
    let rule = enforce::DENY_NET4.get(&key)?;
    (rule.port == 0 || rule.port == port).then_some(rule.rule_id)
}

/// The IPv4 deny rule covering the destination.
#[inline(always)]
fn rule_for4(ctx: &SockAddrContext) -> Option<u32> {
    let sa = ctx.sock_addr;
    // SAFETY: `sock_addr` is the program's context (`struct bpf_sock_addr`), readable field by field.
    let ip = unsafe { (*sa).user_ip4 };
    // SAFETY: as above.
    let port = u16::from_be(unsafe { (*sa).user_port } as u16);
    rule4(ip.to_ne_bytes(), port)
}

/// The deny rule covering an IPv6 destination (IPv4 rules for `::ffff:a.b.c.d`).
#[inline(always)]
fn rule_for6(ctx: &SockAddrContext) -> Option<u32> {
    let sa = ctx.sock_addr;
    // SAFETY: as in `rule_for4`.
    let w = unsafe {
        [
            (*sa).user_ip6[0],
            (*sa).user_ip6[1],
            (*sa).user_ip6[2],
            (*sa).user_ip6[3],
        ]
    };
    // SAFETY: as in `rule_for4`.
    let port = u16::from_be(unsafe { (*sa).user_port } as u16);
    // ::ffff:a.b.c.d — the IPv4 rules apply.
    if w[0] == 0
        && w[1] == 0
        && w[2] == u32::from_ne_bytes([0, 0, 0xff, 0xff])
        && let Some(id) = rule4(w[3].to_ne_bytes(), port)
    {
        return Some(id);
    }
    let mut addr = [0u8; 16];
    let mut i = 0;
    while i < 4 {
        let b = w[i].to_ne_bytes();
        addr[i * 4] = b[0];
        addr[i * 4 + 1] = b[1];
        addr[i * 4 + 2] = b[2];
        addr[i * 4 + 3] = b[3];
        i += 1;
    }
    let key = Key::new(128, addr);
    let rule = enforce::DENY_NET6.get(&key)?;
    (rule.port == 0 || rule.port == port).then_some(rule.rule_id)
}

/// Deny notice from `sock_addr` context (no task-memory reads allowed here, so no ppid).
#[inline(always)]
fn emit_refused(rule_id: u32) {
    maps::count(counter::DENIED);
    let Some(mut entry) = submit::reserve::<DenyEvent>() else {
        return;
    };
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit.
    unsafe {
        header::fill_basic(&raw mut (*ev).header, EventKind::Deny, size_of::<DenyEvent>());
        (*ev).what = DENY_CONNECT;
        (*ev)._pad = [0; 3];
        (*ev).rule_id = rule_id;
    }
    submit::submit(entry);
}
