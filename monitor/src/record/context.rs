//! Process contexts: the process fields events refer to by id.
//!
//! Most of an enriched event describes its process: ids, comm, executable, ancestry, cgroup, agent.
//! Writing that with every event made frames ~3× larger than the event itself, and every byte is
//! hashed into the chain and decoded on replay. So the writer puts those fields in a Context record
//! once per process ([`ContextCache`]) and events refer to it by id; the reader keeps the defined
//! contexts in a bounded table ([`ContextTable`]).
//!
//! Robustness: ids are slots `1..=MAX_CONTEXTS` (the reader's memory is bounded), and a context in
//! use is redefined every [`CONTEXT_REFRESH_RECORDS`] records, so after a damaged frame (which may have
//! defined one) the reader forgets every context and events are attributed again as soon as their
//! context is redefined: a bounded number of events is reported unattributable, none is misattributed.
use std::collections::HashMap;

use super::{
    ConvertError,
    format::{CONTEXT_REFRESH_RECORDS, FrameError, MAX_CONTEXTS},
    proto,
};
use crate::enrich::Enriched;

/// Writer side: which context each process's events refer to.
#[derive(Default)]
pub(crate) struct ContextCache {
    by_pid: HashMap<u32, Cached>,
    /// The pid each slot was last given to (index: id − 1).
    slot_owner: Vec<u32>,
    /// The slot the next new context takes (0-based, wraps).
    next_slot: u32,
}

struct Cached {
    ctx: proto::Context,
    /// The [`Enriched::context_id`] it was made from (0: unknown).
    context_id: u64,
    /// The record number (within the file) the context was defined at.
    defined_at: u64,
}

/// What the writer needs for one event: the context id to refer to, the wall-clock offset the
/// event's time is relative to, and a Context record to write first if the context is new.
pub(crate) struct ContextRef {
    pub id: u32,
    pub wall_offset_ns: i64,
    pub define: Option<proto::Context>,
}

impl ContextCache {
    /// The context of `ev`, written as record number `record` of the current file. `time_ns` is the
    /// event's wall-clock time (the offset of a new context is taken from it).
    pub(crate) fn context_for(&mut self, ev: &Enriched, time_ns: i64, record: u64) -> ContextRef {
        let pid = ev.event.header.pid;
        if let Some(c) = self.by_pid.get(&pid)
            && record.saturating_sub(c.defined_at) < CONTEXT_REFRESH_RECORDS
            && same_process(&c.ctx, c.context_id, ev)
        {
            return ContextRef {
                id: c.ctx.id,
                wall_offset_ns: c.ctx.wall_offset_ns,
                define: None,
            };
        }
        // A new slot, unless this pid's old context is redefined in place (refresh or change).
        let id = match self.by_pid.get(&pid) {
            Some(c) => c.ctx.id,
            None => self.take_slot(pid),
        };
        let wall_offset_ns = i64::try_from(ev.event.header.ktime_ns)
            .ok()
            .and_then(|k| time_ns.checked_sub(k))
            .unwrap_or(0);
        let ctx = context_of(ev, id, wall_offset_ns);
        self.by_pid.insert(
            pid,
            Cached {
                ctx: ctx.clone(),
                context_id: ev.context_id,
                defined_at: record,
            },
        );
        ContextRef {
            id,
            wall_offset_ns,
            define: Some(ctx),
        }
    }

    /// Takes the next slot for `pid`, evicting the process that held it.
    fn take_slot(&mut self, pid: u32) -> u32 {
        let slot = self.next_slot;
        self.next_slot = (self.next_slot + 1) % MAX_CONTEXTS;
        let i = slot as usize;
        if let Some(old) = self.slot_owner.get(i).copied() {
            if self.by_pid.get(&old).is_some_and(|c| c.ctx.id == slot + 1) {
                self.by_pid.remove(&old);
            }
            self.slot_owner[i] = pid;
        } else {
            self.slot_owner.push(pid);
        }
        slot + 1
    }

    /// Forgets everything (a new file starts with no contexts).
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }
}

/// Whether `ev` has the process fields of context `c` (made from an event whose context id was
/// `context_id`): the header's always compared, the enrich stage's only when the ids cannot tell.
fn same_process(c: &proto::Context, context_id: u64, ev: &Enriched) -> bool {
    let h = &ev.event.header;
    let Some(p) = &c.process else { return false };
    let same_header = c.pid == h.pid
        && c.ppid == h.ppid
        && c.uid == h.uid
        && c.gid == h.gid
        && c.cgroup_id == h.cgroup_id
        && c.comm == h.comm;
    if !same_header {
        return false;
    }
    if context_id != 0 && context_id == ev.context_id {
        return true;
    }
    p.exe == ev.exe
        && p.cgroup == ev.cgroup
        && p.agent == ev.agent
        && match (&p.container, ev.container.as_deref()) {
            (None, None) => true,
            (Some(a), Some(b)) => a.full_id == b.full_id && a.name == b.name && a.image == b.image,
            _ => false,
        }
        && p.ancestors.len() == ev.ancestors.len()
        && p.ancestors
            .iter()
            .zip(&ev.ancestors)
            .all(|(a, b)| a.pid == b.pid && a.exe == b.exe)
}

fn context_of(ev: &Enriched, id: u32, wall_offset_ns: i64) -> proto::Context {
    let h = &ev.event.header;
    proto::Context {
        id,
        pid: h.pid,
        ppid: h.ppid,
        uid: h.uid,
        gid: h.gid,
        cgroup_id: h.cgroup_id,
        comm: h.comm.clone(),
        process: Some(super::convert::process_to_proto(ev)),
        wall_offset_ns,
    }
}

/// Largest context accepted (a real one is a few hundred bytes: paths are at most 4 KiB each).
pub(crate) const MAX_CONTEXT_BYTES: usize = 1 << 20;
/// Largest total size of the contexts held at once, so that a crafted log cannot make a reader
/// hold 4096 contexts of the largest frame size.
pub(crate) const MAX_CONTEXT_TABLE_BYTES: usize = 64 << 20;

/// Reader side: the contexts defined so far in the current file.
#[derive(Default)]
pub struct ContextTable {
    /// Index: id − 1. Each definition bumps `generation` so users can tell a redefined slot apart.
    slots: Vec<Option<Defined>>,
    generation: u64,
    /// Encoded size of the contexts held.
    bytes: usize,
}

pub(crate) struct Defined {
    pub ctx: proto::Context,
    /// Unique per definition within this table's life.
    pub generation: u64,
    bytes: usize,
}

impl ContextTable {
    pub(crate) fn define(&mut self, ctx: proto::Context) -> Result<(), ConvertError> {
        if ctx.id == 0 || ctx.id > MAX_CONTEXTS {
            return Err(ConvertError::OutOfRange {
                what: "context id",
                value: u64::from(ctx.id),
            });
        }
        let bytes = prost::Message::encoded_len(&ctx);
        let i = (ctx.id - 1) as usize;
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        let replaced = self.slots[i].as_ref().map_or(0, |d| d.bytes);
        if bytes > MAX_CONTEXT_BYTES || self.bytes - replaced + bytes > MAX_CONTEXT_TABLE_BYTES {
            return Err(ConvertError::OutOfRange {
                what: "context size (bytes)",
                value: bytes as u64,
            });
        }
        self.bytes = self.bytes - replaced + bytes;
        self.generation += 1;
        self.slots[i] = Some(Defined {
            ctx,
            generation: self.generation,
            bytes,
        });
        Ok(())
    }

    pub(crate) fn get(&self, id: u32) -> Result<&Defined, ConvertError> {
        id.checked_sub(1)
            .and_then(|i| self.slots.get(i as usize))
            .and_then(Option::as_ref)
            .ok_or(ConvertError::UnknownContext(id))
    }

    /// After a reading problem: forgets every context if what was lost may have (re)defined one
    /// ([`FrameError::may_lose_context`]).
    pub(crate) fn after_damage(&mut self, e: &FrameError) {
        if e.may_lose_context() {
            self.clear();
        }
    }

    /// Forgets every context: at a new file, and after damage (a lost frame may have redefined one).
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::synthetic::every_kind;

    #[test]
    fn a_process_gets_one_context_until_it_changes_or_is_refreshed() {
        let mut cache = ContextCache::default();
        let ev = every_kind(0);
        let first = cache.context_for(&ev, 1_000, 0);
        assert_eq!(first.id, 1);
        assert!(first.define.is_some());
        assert!(cache.context_for(&ev, 2_000, 1).define.is_none());
        // Same pid, another executable (after exec): redefined in the same slot.
        let mut changed = ev.clone();
        changed.exe = "/usr/bin/other".into();
        let r = cache.context_for(&changed, 0, 2);
        assert_eq!((r.id, r.define.is_some()), (1, true));
        // Refreshed after CONTEXT_REFRESH_RECORDS.
        assert!(cache.context_for(&changed, 0, 3).define.is_none());
        assert!(
            cache
                .context_for(&changed, 0, 2 + CONTEXT_REFRESH_RECORDS)
                .define
                .is_some()
        );
    }

    #[test]
    fn slots_wrap_and_evict_their_previous_owner() {
        let mut cache = ContextCache::default();
        let mut ev = every_kind(0);
        for pid in 0..=MAX_CONTEXTS {
            ev.event.header.pid = 10_000 + pid;
            let r = cache.context_for(&ev, 0, 0);
            assert_eq!(r.id, pid % MAX_CONTEXTS + 1);
        }
        // Pid 10000 lost slot 1 to the last one: it gets a new slot and a new definition.
        ev.event.header.pid = 10_000;
        let r = cache.context_for(&ev, 0, 0);
        assert_eq!((r.id, r.define.is_some()), (2, true));
        assert!(cache.by_pid.len() <= MAX_CONTEXTS as usize);
    }

    #[test]
    fn the_table_rejects_ids_out_of_range_and_forgets_on_clear() {
        let mut t = ContextTable::default();
        let ctx = |id| proto::Context {
            id,
            ..Default::default()
        };
        assert!(t.define(ctx(0)).is_err());
        assert!(t.define(ctx(MAX_CONTEXTS + 1)).is_err());
        t.define(ctx(7)).unwrap();
        assert_eq!(t.get(7).unwrap().ctx.id, 7);
        assert_eq!(t.get(6).err(), Some(ConvertError::UnknownContext(6)));
        t.clear();
        assert!(t.get(7).is_err());
    }

    #[test]
    fn the_table_bounds_the_memory_contexts_take() {
        let mut t = ContextTable::default();
        let big = |id, n| proto::Context {
            id,
            comm: "x".repeat(n),
            ..Default::default()
        };
        assert!(t.define(big(1, MAX_CONTEXT_BYTES + 1)).is_err());
        let each = MAX_CONTEXT_BYTES - 16;
        let fit = MAX_CONTEXT_TABLE_BYTES / MAX_CONTEXT_BYTES;
        for id in 1..=fit as u32 {
            t.define(big(id, each)).unwrap();
        }
        assert!(t.define(big(fit as u32 + 1, each)).is_err(), "the total is bounded");
        // Redefining a slot replaces its size.
        t.define(big(1, each)).unwrap();
        t.define(big(1, 10)).unwrap();
        t.define(big(fit as u32 + 1, each)).unwrap();
    }
}
