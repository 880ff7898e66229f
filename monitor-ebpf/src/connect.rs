//! `sys_enter_connect` → [`ConnectEvent`].
use core::ffi::c_void;

use aya_ebpf::{
    helpers::{bpf_probe_read_user, generated as gen_},
    macros::tracepoint,
    programs::TracePointContext,
};
use monitor_common::{
    EventKind, FLAG_READ_FAILED, FLAG_TRUNCATED,
    connect::{AF_INET, AF_INET6, AF_UNIX, CONNECT_ADDR_LEN, ConnectEvent},
    counter,
};

use crate::{header, maps, scope};

#[tracepoint(category = "syscalls", name = "sys_enter_connect")]
pub fn sys_enter_connect(ctx: TracePointContext) -> u32 {
    emit(&ctx);
    0
}

#[inline(always)]
fn emit(ctx: &TracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let fd: u64 = unsafe { ctx.read_at(16) }.ok()?;
    let sa: u64 = unsafe { ctx.read_at(24) }.ok()?;
    let addrlen: u64 = unsafe { ctx.read_at(32) }.ok()?;
    let sa = sa as *const u8;

    let mut entry = header::reserve::<ConnectEvent>()?;
    let ev = entry.as_mut_ptr();
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
        (*ev).addr_len = 0;
        (*ev)._pad = [0; 4];
        let family = bpf_probe_read_user::<u16>(sa.cast()).unwrap_or(0);
        (*ev).family = family;
        let dst = (&raw mut (*ev).addr).cast::<u8>();
        let mut flags = 0u16;
        if family == AF_INET || family == AF_INET6 {
            let port = bpf_probe_read_user::<u16>(sa.add(2).cast()).unwrap_or(0);
            (*ev).port = u16::from_be(port);
            // sockaddr_in: address at +4 (4 bytes); sockaddr_in6: flowinfo at +4, address at +8.
            let (src, len) = if family == AF_INET {
                (sa.add(4), 4u32)
            } else {
                (sa.add(8), 16u32)
            };
            if gen_::bpf_probe_read_user(dst.cast::<c_void>(), len, src.cast()) == 0 {
                (*ev).addr_len = len;
            } else {
                flags |= FLAG_READ_FAILED;
                maps::count(counter::READ_FAILURES);
            }
        } else if family == AF_UNIX {
            // sun_path follows the 2-byte family; it may be abstract (leading NUL), so copy bytes.
            let mut len = (addrlen as u32).saturating_sub(2);
            if len > CONNECT_ADDR_LEN as u32 {
                len = CONNECT_ADDR_LEN as u32;
                flags |= FLAG_TRUNCATED;
            }
            if len > 0 {
                if gen_::bpf_probe_read_user(dst.cast::<c_void>(), len, sa.add(2).cast()) == 0 {
                    (*ev).addr_len = len;
                } else {
                    flags |= FLAG_READ_FAILED;
                    maps::count(counter::READ_FAILURES);
                }
            }
        }
        (*ev).header.flags |= flags;
    }
    header::submit(entry);
    Some(())
}
