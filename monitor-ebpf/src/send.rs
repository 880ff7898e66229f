//! Unconnected sends → [`SendEvent`]: the cgroup `sendmsg4`/`sendmsg6` hooks (attached to every
//! watched cgroup) run for every UDP datagram sent with a destination (`sendto`, `sendmsg`,
//! `sendmmsg`, io_uring), with the kernel's copy of it. The deny tables and the quarantine set
//! that refuse connects refuse such datagrams too (EPERM).
//!
//! UDP can be high-volume (DNS, QUIC), so reports are rate-limited per (socket, destination) in
//! `SEND_SEEN`: the first datagram to a destination is always reported (its state is stored only
//! once its event is in the ring buffer, so a full ring does not swallow it: the next datagram
//! tries again), later ones are counted and reported at most once per
//! `SEND_REPORT_INTERVAL_NS` with the count since the previous report. LRU: a socket and
//! destination evicted from the table is reported again on its next datagram.
use aya_ebpf::{
    EbpfContext,
    helpers::generated as gen_,
    macros::{cgroup_sock_addr, map},
    maps::LruHashMap,
    programs::SockAddrContext,
};
use monitor_common::{
    EventKind, FLAG_DENIED,
    config::KernelConfig,
    counter, maps as names,
    net::VERDICT_ALLOWED,
    programs,
    send::{SEND_REPORT_INTERVAL_NS, SendEvent, SendKey, SendState},
};

use crate::{header, maps, net, scope, submit};

#[map]
static SEND_SEEN: LruHashMap<SendKey, SendState> = LruHashMap::with_max_entries(16384, 0);
named!(SEND_SEEN = names::SEND_SEEN);

#[cgroup_sock_addr(sendmsg4)]
pub fn sendmsg4(ctx: SockAddrContext) -> i32 {
    send_hook(&ctx, false)
}
named!(sendmsg4 = programs::SENDMSG4.name);

#[cgroup_sock_addr(sendmsg6)]
pub fn sendmsg6(ctx: SockAddrContext) -> i32 {
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
        report(ctx, cfg, v6, verdict, rule_id);
    }
    if verdict == VERDICT_ALLOWED {
        return 1;
    }
    maps::count(counter::DENIED);
    0
}

#[inline(always)]
fn report(ctx: &SockAddrContext, cfg: &KernelConfig, v6: bool, verdict: u8, rule_id: u32) {
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
    // SAFETY: the helper has no preconditions.
    let now = unsafe { gen_::bpf_ktime_get_ns() };
    let datagrams = match SEND_SEEN.get_ptr_mut(&key) {
        Some(state) => {
            // SAFETY: a valid map value; a racing update from another CPU sending on the same
            // socket only miscounts a datagram.
            unsafe {
                (*state).unreported += 1;
                if now.saturating_sub((*state).reported_ns) < SEND_REPORT_INTERVAL_NS {
                    return;
                }
                let n = (*state).unreported;
                if !emit(cfg, &key, n, sock_type, protocol, verdict, rule_id) {
                    return;
                }
                (*state).reported_ns = now;
                (*state).unreported = 0;
            }
            return;
        }
        None => 1,
    };
    if emit(cfg, &key, datagrams, sock_type, protocol, verdict, rule_id) {
        let state = SendState {
            reported_ns: now,
            unreported: 0,
        };
        // A failed insert (LRU: rare) only reports the next datagram again.
        let _ = SEND_SEEN.insert(&key, &state, 0);
    }
}

/// Writes the event; false if the ring buffer was full (counted as a drop).
#[inline(always)]
fn emit(
    cfg: &KernelConfig,
    key: &SendKey,
    datagrams: u64,
    sock_type: u16,
    protocol: u16,
    verdict: u8,
    rule_id: u32,
) -> bool {
    let Some(mut entry) = submit::reserve::<SendEvent>() else {
        return false;
    };
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, every field written here before submit.
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::Send,
            size_of::<SendEvent>(),
            &cfg.offsets,
        );
        if verdict != VERDICT_ALLOWED {
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
        (*ev)._pad = [0; 3];
        (*ev).addr = key.addr;
    }
    submit::submit(entry);
    true
}
