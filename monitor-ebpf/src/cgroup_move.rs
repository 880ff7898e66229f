//! cgroup moves → [`CgroupMoveEvent`], and the lineage that keeps a process that left its agent's
//! cgroup in scope (`crate::lineage`).
//!
//! - `cgroup_attach_task` (raw tracepoint): a write to a v2 `cgroup.procs`/`cgroup.threads` moved
//!   a process. It fires after the move, in the writer's context, so whether the moved process was
//!   in scope is read from its lineage entry (its cgroup is already the destination). A move of a
//!   process in scope, or by one, is an event; a move out of every watched cgroup marks the process
//!   escaped; a move into a watched cgroup records it under that cgroup's agent.
//! - [`emit_born_elsewhere`], from `crate::fork`: a child created directly in another cgroup
//!   (`clone3(CLONE_INTO_CGROUP)`), which no attach reports.
//!
//! The record is reserved before the lineage maps change and submitted after, so any event the
//! escaped process emits (possible only once its entry is marked) lands behind this one in the ring.
use aya_ebpf::{EbpfContext, macros::raw_tracepoint, programs::RawTracePointContext};
use monitor_common::{
    EventKind,
    cgroup_move::{
        CGROUP_MOVE_AT_FORK, CGROUP_MOVE_BY_WATCHED, CGROUP_MOVE_LEFT_SCOPE, CGROUP_MOVE_THREAD,
        CGROUP_MOVE_WAS_WATCHED, CgroupMoveEvent, LINEAGE_ESCAPED, Lineage,
    },
    config::{CgroupOffsets, KernelConfig},
    counter, programs,
    tracepoint::CgroupAttachTaskRaw,
};

use crate::{
    header, lineage,
    maps::{self, OrCount},
    scope, strings, submit,
    task::{self, read_field},
};

/// Raw tracepoint: `TP_PROTO(struct cgroup *dst_cgrp, const char *path, struct task_struct *task,
/// bool threadgroup)`.
#[raw_tracepoint(tracepoint = "cgroup_attach_task")]
pub(crate) fn cgroup_attach_task(ctx: RawTracePointContext) -> i32 {
    emit_attach(&ctx);
    0
}
named!(cgroup_attach_task = programs::CGROUP_ATTACH_TASK.name);

/// The default (cgroup v2) hierarchy's id; v1 hierarchies have others.
const DEFAULT_HIERARCHY: i32 = 0;

#[inline(always)]
fn emit_attach(ctx: &RawTracePointContext) -> Option<()> {
    let cfg = maps::config()?;
    // Nothing watched and nothing escaped: no move can matter.
    if cfg.n_levels == 0 && !lineage::any_escaped() {
        return None;
    }
    // SAFETY: a raw tracepoint's context is its `TP_PROTO` arguments, one u64 each; the verifier
    // checks the reads are within them.
    let args = unsafe { core::ptr::read(ctx.as_ptr() as *const CgroupAttachTaskRaw) };
    let co = &cfg.offsets.cgroup;
    let dst = args.dst_cgrp as *const u8;
    let root: *const u8 = read_field(dst, co.root).or_count(counter::TASK_READ_FAILED)?;
    let hierarchy: i32 = read_field(root, co.root_hierarchy_id).or_count(counter::TASK_READ_FAILED)?;
    if hierarchy != DEFAULT_HIERARCHY {
        return None; // a cgroup v1 hierarchy: not what scopes agents
    }
    let moved = args.task as *const u8;
    let off = &cfg.offsets;
    let tgid: u32 = read_field(moved, off.task_tgid).or_count(counter::TASK_READ_FAILED)?;
    let before = lineage::get(tgid);
    let dest_root = scope::cgroup_watched_root(cfg, dst);
    let self_move = lineage::current_tgid() == tgid;
    // A process moving itself is already in the destination: it was in scope iff it had an entry.
    let by_watched = if self_move {
        before.is_some()
    } else {
        scope::is_watched(cfg)
    };
    if before.is_none() && !by_watched {
        // An unwatched process moved by an unwatched one (a runtime placing a container's first
        // process): only its arrival in a watched cgroup matters, for its lineage.
        if let Some(root) = dest_root {
            lineage::track(tgid, root, 0);
        }
        return None;
    }

    let mut flags = 0;
    if by_watched {
        flags |= CGROUP_MOVE_BY_WATCHED;
    }
    if before.is_some() {
        flags |= CGROUP_MOVE_WAS_WATCHED;
    }
    if args.threadgroup as u8 == 0 {
        flags |= CGROUP_MOVE_THREAD;
    }
    // The lineage after the move.
    let after = match (dest_root, before) {
        (Some(root), _) => Some(Lineage {
            agent_cgroup_id: root,
            flags: 0,
            _pad: 0,
        }),
        (None, Some(b)) => {
            flags |= CGROUP_MOVE_LEFT_SCOPE;
            Some(Lineage {
                flags: b.flags | LINEAGE_ESCAPED,
                ..b
            })
        }
        // An unwatched process moved by a watched one to an unwatched cgroup: nothing to follow.
        (None, None) => None,
    };
    let mut entry = submit::reserve::<CgroupMoveEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit.
    unsafe {
        fill(ev, cfg, dst, tgid, flags, after.map_or(0, |l| l.agent_cgroup_id));
        (*ev).header.flags |= strings::read_kernel_str(args.path as *const u8, &mut (*ev).dest_path);
    }
    if let Some(l) = after {
        lineage::track(tgid, l.agent_cgroup_id, l.flags);
    }
    submit::submit(entry, false);
    Some(())
}

/// A new process `child_tgid` (task `child`) of the current in-scope process, whose lineage it
/// inherited (`inherited`): if it was born in another cgroup than its parent's
/// (`clone3(CLONE_INTO_CGROUP)`), its lineage follows the destination, and the birth is reported.
#[inline(always)]
pub(crate) fn emit_born_elsewhere(
    cfg: &KernelConfig,
    child: *const u8,
    child_tgid: u32,
    inherited: Lineage,
) -> Option<()> {
    let co = &cfg.offsets.cgroup;
    let dst = task_cgroup(co, child)?;
    if dst == task_cgroup(co, task::current_task())? {
        return None;
    }
    let dest_root = scope::cgroup_watched_root(cfg, dst);
    let mut flags = CGROUP_MOVE_AT_FORK | CGROUP_MOVE_BY_WATCHED;
    let after = match dest_root {
        Some(root) => Lineage {
            agent_cgroup_id: root,
            flags: 0,
            _pad: 0,
        },
        None => {
            flags |= CGROUP_MOVE_LEFT_SCOPE;
            Lineage {
                flags: inherited.flags | LINEAGE_ESCAPED,
                ..inherited
            }
        }
    };
    let mut entry = submit::reserve::<CgroupMoveEvent>()?;
    let ev = entry.as_mut_ptr();
    // SAFETY: `ev` is the reserved record, written only here before submit; the cgroup's kernfs
    // name is read with bpf_probe_read_kernel_str.
    unsafe {
        fill(ev, cfg, dst, child_tgid, flags, after.agent_cgroup_id);
        let kn: *const u8 = read_field(dst, co.kn).unwrap_or(core::ptr::null());
        let name: *const u8 = read_field(kn, co.kn_name).unwrap_or(core::ptr::null());
        (*ev).header.flags |= strings::read_kernel_str(name, &mut (*ev).dest_path);
    }
    lineage::track(child_tgid, after.agent_cgroup_id, after.flags);
    submit::submit(entry, false);
    Some(())
}

/// The task's cgroup on the default hierarchy (`task->cgroups->dfl_cgrp`).
#[inline(always)]
fn task_cgroup(co: &CgroupOffsets, task: *const u8) -> Option<*const u8> {
    let cset: *const u8 = read_field(task, co.task_cgroups)?;
    read_field(cset, co.cset_dfl_cgrp)
}

/// Fills the header and the fixed fields of a move to `dst`.
///
/// # Safety
/// `ev` points to a reserved, not yet submitted record.
#[inline(always)]
unsafe fn fill(ev: *mut CgroupMoveEvent, cfg: &KernelConfig, dst: *const u8, pid: u32, flags: u32, agent: u64) {
    let co = &cfg.offsets.cgroup;
    // SAFETY: the caller's contract.
    unsafe {
        header::fill(
            &raw mut (*ev).header,
            EventKind::CgroupMove,
            size_of::<CgroupMoveEvent>(),
            &cfg.offsets,
        );
        (*ev).pid = pid;
        (*ev).flags = flags;
        (*ev).dest_id = scope::cgroup_id(co, dst).unwrap_or(0);
        (*ev).agent_cgroup_id = agent;
        (*ev).dest_level = read_field::<i32>(dst, co.level).unwrap_or(0) as u32;
        (*ev)._pad = 0;
    }
}
