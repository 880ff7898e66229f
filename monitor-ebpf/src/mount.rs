//! `sys_enter_mount` → [`MountEvent`].
use aya_ebpf::{macros::tracepoint, programs::TracePointContext};
use monitor_common::{EventKind, mount::MountEvent};

use crate::{header, maps, scope};

#[tracepoint(category = "syscalls", name = "sys_enter_mount")]
pub fn sys_enter_mount(ctx: TracePointContext) -> u32 {
    emit(&ctx);
    0
}

#[inline(always)]
fn emit(ctx: &TracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    if !scope::is_watched(cfg) {
        return None;
    }
    let source: u64 = unsafe { ctx.read_at(16) }.ok()?;
    let target: u64 = unsafe { ctx.read_at(24) }.ok()?;
    let fstype: u64 = unsafe { ctx.read_at(32) }.ok()?;
    let flags: u64 = unsafe { ctx.read_at(40) }.ok()?;

    let mut entry = header::reserve::<MountEvent>()?;
    let ev = entry.as_mut_ptr();
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::Mount,
            size_of::<MountEvent>(),
            &cfg.offsets,
        );
        (*ev).flags = flags;
        let mut f = header::read_user_str(source as *const u8, &mut (*ev).source);
        f |= header::read_user_str(target as *const u8, &mut (*ev).target);
        f |= header::read_user_str(fstype as *const u8, &mut (*ev).fstype);
        (*ev).header.flags |= f;
    }
    header::submit(entry);
    Some(())
}
