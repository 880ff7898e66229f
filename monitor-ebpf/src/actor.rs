//! What the process kinds (`ptrace`, `process_vm`, `namespace`, `cred`, `rename_comm`, `prctl`,
//! `bpf`, `module`, `chroot`) read of the calling task: the kernel's path of its executable
//! (`mm->exe_file`), which a renamed binary, a symlink or a spoofed `comm` cannot change, and its
//! credentials.
use monitor_common::{
    config::{KernelConfig, ProcessOffsets},
    cred::{Creds, Ids},
    record::Tail,
};

use crate::{
    path::{KPath, path_at},
    record::Record,
    task::{current_task, read_field},
};

/// The path of `task`'s executable file; `None` for a task without memory map (a kernel thread) or
/// with unknown offsets.
#[inline(always)]
pub(crate) fn exe_path(cfg: &KernelConfig, task: *const u8) -> Option<KPath> {
    let off = &cfg.offsets;
    let mm: *const u8 = read_field(task, off.task_mm)?;
    let file: *const u8 = read_field(mm, off.path.mm_exe_file)?;
    path_at(&off.path, file, off.path.file_path)
}

/// Appends the kernel's path of the current task's executable to `rec`.
#[inline(always)]
pub(crate) fn exe<T>(rec: &mut Record<T>, cfg: &KernelConfig) -> Tail {
    rec.path(&cfg.offsets.path, exe_path(cfg, current_task()))
}

/// The level of the current task's pid namespace (0: the initial one), `u32::MAX` if unknown.
#[inline(always)]
pub(crate) fn pidns_level(po: &ProcessOffsets) -> u32 {
    read_field::<*const u8>(current_task(), po.task_thread_pid)
        .and_then(|pid| read_field::<u32>(pid, po.pid_level))
        .unwrap_or(u32::MAX)
}

/// The current task's credentials (`task->cred`); `None` when an offset is unknown or a read fails.
#[inline(always)]
pub(crate) fn creds(po: &ProcessOffsets) -> Option<Creds> {
    let cred: *const u8 = read_field(current_task(), po.task_cred)?;
    let id = |i: usize| read_field::<u32>(cred, po.cred_ids[i]);
    Some(Creds {
        ids: Ids {
            uid: id(0)?,
            euid: id(1)?,
            suid: id(2)?,
            fsuid: id(3)?,
            gid: id(4)?,
            egid: id(5)?,
            sgid: id(6)?,
            fsgid: id(7)?,
        },
        cap_effective: read_field(cred, po.cred_cap_effective)?,
        cap_permitted: read_field(cred, po.cred_cap_permitted)?,
    })
}
