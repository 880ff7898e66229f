//! Executable file mappings at the syscall's exit → [`MmapEvent`]: `mmap` with `PROT_EXEC` of a
//! file (the kernel's path of the fd's file), and `mprotect`/`pkey_mprotect` adding `PROT_EXEC`
//! to a file-backed mapping (the mapping at the start address is found with `bpf_find_vma`, its
//! `vm_file` walked). How `dlopen` and `LD_PRELOAD` bring a dropped shared object in without an
//! exec of it. Failed attempts are events too (a `noexec` mount refuses with `EPERM`).
//!
//! Every exec maps libraries this way, so the filter comes first and costs little: the `prot`
//! argument alone is read before anything else, anonymous mappings (JIT code) are skipped, and the
//! record is the fixed part plus one path.
use core::ffi::c_void;

use aya_ebpf::{
    helpers::generated::{bpf_find_vma, bpf_get_current_task_btf},
    macros::tracepoint,
    programs::TracePointContext,
};
use monitor_common::{
    EventKind,
    mmap::{MAP_ANONYMOUS, MMAP_SYSCALL_MMAP, MMAP_SYSCALL_MPROTECT, MMAP_SYSCALL_PKEY_MPROTECT, MmapEvent, PROT_EXEC},
    programs,
    record::Tail,
    tracepoint::{MmapArgs, MprotectArgs},
};

use crate::{args, path, record::Record, scope, task, tracepoint};

#[tracepoint(category = "syscalls", name = "sys_exit_mmap")]
pub(crate) fn sys_exit_mmap(ctx: TracePointContext) -> u32 {
    emit(&ctx, MMAP_SYSCALL_MMAP);
    0
}
named!(sys_exit_mmap = programs::SYS_EXIT_MMAP.name);

#[tracepoint(category = "syscalls", name = "sys_exit_mprotect")]
pub(crate) fn sys_exit_mprotect(ctx: TracePointContext) -> u32 {
    emit(&ctx, MMAP_SYSCALL_MPROTECT);
    0
}
named!(sys_exit_mprotect = programs::SYS_EXIT_MPROTECT.name);

#[tracepoint(category = "syscalls", name = "sys_exit_pkey_mprotect")]
pub(crate) fn sys_exit_pkey_mprotect(ctx: TracePointContext) -> u32 {
    emit(&ctx, MMAP_SYSCALL_PKEY_MPROTECT);
    0
}
named!(sys_exit_pkey_mprotect = programs::SYS_EXIT_PKEY_MPROTECT.name);

/// Index of `prot` among the arguments: mmap(addr, len, prot, …), mprotect(start, len, prot).
const PROT_ARG: usize = 2;

#[inline(always)]
fn emit(ctx: &TracePointContext, syscall: u8) -> Option<()> {
    let cfg = scope::watched()?;
    let regs = &cfg.offsets.regs;
    // Not executable: not this kind's business (an unreadable register is not one either).
    if args::nth(regs, PROT_ARG)? & PROT_EXEC == 0 {
        return None;
    }
    let off = &cfg.offsets.path;
    let task = task::current_task();
    let (addr, len, prot, flags, fd, offset, file) = if syscall == MMAP_SYSCALL_MMAP {
        let a: MmapArgs = args::current_as(regs)?;
        let fd = i64::from(a.fd as i32);
        if a.flags & MAP_ANONYMOUS != 0 || fd < 0 {
            return None;
        }
        (a.addr, a.len, a.prot, a.flags, fd, a.off, path::fd_file(off, task, fd))
    } else {
        let a: MprotectArgs = args::current_as(regs)?;
        let file = mapped_file(cfg.offsets.vma_file, a.start)?;
        (a.start, a.len, a.prot, 0, -1, 0, Some(file))
    };
    let result = tracepoint::sys_exit_ret(ctx)?;
    let mut rec = Record::<MmapEvent>::start(EventKind::Mmap, &cfg.offsets)?;
    let path = match file {
        Some(file) => rec.path(off, path::path_at(off, file, off.file_path)),
        None => Tail::ABSENT,
    };
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        (*ev).result = result;
        (*ev).addr = addr;
        (*ev).len = len;
        (*ev).offset = offset;
        (*ev).prot = prot as u32;
        (*ev).flags = flags as u32;
        (*ev).fd = fd as i32;
        (*ev).syscall = syscall;
        (*ev).path = path;
    }
    rec.submit(true);
    Some(())
}

/// `bpf_find_vma`'s context: the offset of `vm_area_struct.vm_file` in, the file out.
#[repr(C)]
struct VmaQuery {
    vm_file_offset: u64,
    file: u64,
}

extern "C" fn vma_file(_task: *mut c_void, vma: *mut c_void, ctx: *mut c_void) -> i64 {
    let q = ctx.cast::<VmaQuery>();
    // SAFETY: `ctx` is the caller's `VmaQuery` on its stack; the vma is read with
    // bpf_probe_read_kernel.
    unsafe {
        let file: Option<u64> = task::read_field(vma as *const u8, (*q).vm_file_offset as u32);
        (*q).file = file.unwrap_or(0);
    }
    0
}

/// The file of the current task's mapping that contains `addr`; `None` for an anonymous mapping,
/// no mapping, or a mapping table the helper could not lock.
#[inline(always)]
fn mapped_file(vm_file_offset: u32, addr: u64) -> Option<*const u8> {
    if vm_file_offset == monitor_common::config::KernelOffsets::UNKNOWN {
        return None;
    }
    let mut q = VmaQuery {
        vm_file_offset: u64::from(vm_file_offset),
        file: 0,
    };
    // SAFETY: the task is the trusted current task, the callback only reads the vma and writes
    // `q`, which lives until the helper returns.
    let rc = unsafe {
        bpf_find_vma(
            bpf_get_current_task_btf(),
            addr,
            vma_file as *mut c_void,
            (&raw mut q).cast(),
            0,
        )
    };
    (rc == 0 && q.file != 0).then_some(q.file as *const u8)
}
