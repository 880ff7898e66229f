//! `io_uring` submissions (raw tracepoint `io_uring_submit_req`) → [`IoUringOpEvent`]: every
//! operation a watched process submits to a ring, whether through `io_uring_enter` or picked up by
//! the ring's SQPOLL kernel thread (a thread of the same process, in the same cgroup). The request
//! has been prepared when the tracepoint fires, so operations that name files by path hold the
//! kernel's copy of it (`struct filename`, read through offsets from BTF); the kernel's path of the
//! directory a relative path starts from is walked too. Other operations carry their opcode and fd.
//! `io_uring` is built for volume: these records use the batched wakeup policy, like opens. Under a
//! deny rule refusing `io_uring`, a submission kills its process (the operation may have been issued
//! already: the kernel does not wait for the program).
use aya_ebpf::{EbpfContext, macros::raw_tracepoint, programs::RawTracePointContext};
use monitor_common::{
    EventKind, FLAG_DENIED,
    config::{IoUringOffsets, KernelOffsets},
    counter,
    deny::DENY_IO_URING,
    io_uring_op::{
        IORING_OP_LINKAT, IORING_OP_MKDIRAT, IORING_OP_OPENAT, IORING_OP_OPENAT2, IORING_OP_RENAMEAT, IORING_OP_STATX,
        IORING_OP_SYMLINKAT, IORING_OP_UNLINKAT, IOURING_OP_DIRECT, IOURING_OP_FIXED_FILE, IOURING_OP_SQ_THREAD,
        IoUringOpEvent,
    },
    programs,
    record::{PATH_MAX, Tail},
    tracepoint::IoUringSubmitReqRaw,
};

use crate::{enforce, maps::OrCount, path, record::Record, scope, task, task::read_field};

/// Raw tracepoint: `TP_PROTO(struct io_kiocb *req)`.
#[raw_tracepoint(tracepoint = "io_uring_submit_req")]
pub(crate) fn io_uring_submit_req(ctx: RawTracePointContext) -> i32 {
    emit(&ctx);
    0
}
named!(io_uring_submit_req = programs::IO_URING_SUBMIT_REQ.name);

/// `REQ_F_FIXED_FILE` (bit 0 of `io_kiocb.flags`, = `IOSQE_FIXED_FILE`).
const REQ_F_FIXED_FILE: u64 = 1;
/// `PF_IO_WORKER`: an `io_uring` kernel thread (the SQPOLL thread submits).
const PF_IO_WORKER: u32 = 0x10;

/// Where an opcode's command data keeps what the record reports (offsets in the command data;
/// `UNKNOWN` for what it does not have).
struct Layout {
    dfd: u32,
    path: u32,
    path2: u32,
    flags: u32,
    mode: u32,
}

#[inline(always)]
fn layout(io: &IoUringOffsets, opcode: u8) -> Option<Layout> {
    let none = KernelOffsets::UNKNOWN;
    Some(match opcode {
        IORING_OP_OPENAT | IORING_OP_OPENAT2 => Layout {
            dfd: io.open_dfd,
            path: io.open_filename,
            path2: none,
            flags: io.open_how_flags,
            mode: io.open_how_mode,
        },
        IORING_OP_STATX => Layout {
            dfd: io.statx_dfd,
            path: io.statx_filename,
            path2: none,
            flags: io.statx_flags,
            mode: none,
        },
        IORING_OP_RENAMEAT => Layout {
            dfd: io.rename_dfd,
            path: io.rename_oldpath,
            path2: io.rename_newpath,
            flags: io.rename_flags,
            mode: none,
        },
        IORING_OP_UNLINKAT => Layout {
            dfd: io.unlink_dfd,
            path: io.unlink_filename,
            path2: none,
            flags: io.unlink_flags,
            mode: none,
        },
        IORING_OP_MKDIRAT => Layout {
            dfd: io.mkdir_dfd,
            path: io.mkdir_filename,
            path2: none,
            flags: none,
            mode: io.mkdir_mode,
        },
        // SYMLINKAT: `path` is the link made (newpath), `path2` the text it points to.
        IORING_OP_SYMLINKAT => Layout {
            dfd: io.link_dfd,
            path: io.link_newpath,
            path2: io.link_oldpath,
            flags: none,
            mode: none,
        },
        IORING_OP_LINKAT => Layout {
            dfd: io.link_dfd,
            path: io.link_oldpath,
            path2: io.link_newpath,
            flags: io.link_flags,
            mode: none,
        },
        _ => return None,
    })
}

#[inline(always)]
fn emit(ctx: &RawTracePointContext) -> Option<()> {
    let cfg = scope::watched()?;
    // SAFETY: a raw tracepoint's context is its `TP_PROTO` arguments; the verifier checks the read.
    let req = unsafe { (*(ctx.as_ptr() as *const IoUringSubmitReqRaw)).req } as *const u8;
    let io = &cfg.offsets.io_uring;
    let opcode: u8 = read_field(req, io.req_opcode).or_count(counter::TASK_READ_FAILED)?;
    let req_flags: u64 = read_field(req, io.req_flags).unwrap_or(0);
    let current = task::current_task();
    let mut op_flags = 0u8;
    if req_flags & REQ_F_FIXED_FILE != 0 {
        op_flags |= IOURING_OP_FIXED_FILE;
    }
    if read_field::<u32>(current, io.task_flags).unwrap_or(0) & PF_IO_WORKER != 0 {
        op_flags |= IOURING_OP_SQ_THREAD;
    }
    let mut rec = Record::<IoUringOpEvent>::start(EventKind::IoUringOp, &cfg.offsets)?;
    // SAFETY: pointer arithmetic only: the command data inside the request.
    let cmd = unsafe { req.add(io.req_cmd as usize) };
    let (mut fd, mut flags, mut mode) = (read_field::<i32>(req, io.req_fd).unwrap_or(-1), 0u64, 0u32);
    let (mut path, mut path2, mut dir_path) = (Tail::ABSENT, Tail::ABSENT, Tail::ABSENT);
    if let Some(l) = layout(io, opcode) {
        fd = read_field::<i32>(cmd, l.dfd).unwrap_or(-100);
        flags = u64::from(read_field::<u32>(cmd, l.flags).unwrap_or(0));
        mode = u32::from(read_field::<u16>(cmd, l.mode).unwrap_or(0));
        path = rec.kernel_str(filename(io, cmd, l.path), PATH_MAX);
        path2 = rec.kernel_str(filename(io, cmd, l.path2), PATH_MAX);
        if (opcode == IORING_OP_OPENAT || opcode == IORING_OP_OPENAT2)
            && read_field::<u32>(cmd, io.open_file_slot).unwrap_or(0) != 0
        {
            op_flags |= IOURING_OP_DIRECT;
        }
        if rec.is_relative(path) {
            let off = &cfg.offsets.path;
            dir_path = rec.path(off, path::dir_path(off, current, i64::from(fd)));
        }
    }
    let denied = enforce::io_uring_rule(cfg.deny_kinds);
    let ev = rec.fixed();
    // SAFETY: `ev` is the record's fixed part in this CPU's scratch buffer.
    unsafe {
        if denied.is_some() {
            (*ev).header.flags |= FLAG_DENIED;
        }
        (*ev).user_data = read_field(req, io.req_user_data).unwrap_or(0);
        (*ev).flags = flags;
        (*ev).mode = mode;
        (*ev).fd = fd;
        (*ev).opcode = opcode;
        (*ev).op_flags = op_flags;
        (*ev).path = path;
        (*ev).path2 = path2;
        (*ev).dir_path = dir_path;
    }
    rec.submit(true);
    // A ring the process got without a setup of its own (inherited, passed over a socket).
    if let Some(rule_id) = denied {
        enforce::kill_current(DENY_IO_URING, rule_id);
    }
    Some(())
}

/// The kernel's copy of a path (`struct filename *` at `at` in the command data → its `name`);
/// null when the opcode has none there.
#[inline(always)]
fn filename(io: &IoUringOffsets, cmd: *const u8, at: u32) -> *const u8 {
    let f: Option<*const u8> = read_field(cmd, at);
    f.and_then(|f| read_field(f, io.filename_name))
        .unwrap_or(core::ptr::null())
}
