//! `bpf(2)` at its exit → [`BpfEvent`]: the command (read-only ones skipped,
//! `monitor_common::bpf::bpf_cmd_is_event`), the result, and for `BPF_MAP_CREATE`/`BPF_PROG_LOAD`
//! the object's type and name from the attribute union (copied by the kernel at entry, so faulted in).
use aya_ebpf::{helpers::bpf_probe_read_user, macros::tracepoint, programs::TracePointContext};
use monitor_common::{
    EventKind, FLAG_READ_FAILED,
    bpf::{ATTR_MAP_NAME, ATTR_PROG_NAME, BPF_MAP_CREATE, BPF_NO_TYPE, BPF_PROG_LOAD, BpfEvent, bpf_cmd_is_event},
    counter, programs,
    tracepoint::BpfArgs,
};

use crate::{actor, args, maps, record::Record, scope, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_bpf")]
pub(crate) fn sys_exit_bpf(ctx: TracePointContext) -> u32 {
    emit(&ctx);
    0
}
named!(sys_exit_bpf = programs::SYS_EXIT_BPF.name);

#[inline(always)]
fn emit(ctx: &TracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    let a: BpfArgs = args::current_as(&cfg.offsets.regs)?;
    let cmd = a.cmd as u32;
    if !bpf_cmd_is_event(cmd) {
        return None;
    }
    let result = tracepoint::sys_exit_ret(ctx)?;
    let mut attr_type = BPF_NO_TYPE;
    let mut name = [0u8; 16];
    let mut hdr_flags = 0;
    let name_at = match cmd {
        BPF_MAP_CREATE => Some(ATTR_MAP_NAME),
        BPF_PROG_LOAD => Some(ATTR_PROG_NAME),
        _ => None,
    };
    if let Some(at) = name_at {
        // SAFETY: user memory read through the helper, which fails cleanly; both the map and the
        // program type are the union's first u32.
        let ty = unsafe { bpf_probe_read_user(a.attr as *const u32) };
        // SAFETY: as above.
        let nm = unsafe { bpf_probe_read_user((a.attr as usize + at) as *const [u8; 16]) };
        match (ty, nm) {
            (Ok(t), Ok(n)) => {
                attr_type = t;
                name = n;
            }
            _ => {
                maps::count(counter::READ_FAILURES);
                hdr_flags = FLAG_READ_FAILED;
            }
        }
    }
    let mut rec = Record::<BpfEvent>::start(EventKind::Bpf, &cfg.offsets)?;
    let exe = actor::exe(&mut rec, cfg);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).cmd = cmd;
        (*ev).attr_type = attr_type;
        (*ev).name = name;
        (*ev).exe = exe;
        (*ev).header.flags |= hdr_flags;
    }
    rec.submit(false);
    Some(())
}
