//! `cgroup_move` events: a process of a watched agent moved to another cgroup (and, if it left
//! the agent's subtree, stays watched by lineage), or a watched process moved another process.
use monitor_common::{
    EventKind,
    cgroup_move::{
        CGROUP_MOVE_AT_FORK, CGROUP_MOVE_BY_WATCHED, CGROUP_MOVE_LEFT_SCOPE, CGROUP_MOVE_THREAD,
        CGROUP_MOVE_WAS_WATCHED, CgroupMoveEvent,
    },
};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Notes, Value, c_string, read_record};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[expect(clippy::struct_excessive_bools, reason = "each bool is a fact of the move the kernel reported")]
pub struct CgroupMoveInfo {
    /// The process moved (the event's own `pid` is the one that moved it).
    pub moved_pid: u32,
    /// The destination's path relative to the cgroup2 root, as the kernel names it (a child born
    /// elsewhere: the destination directory's own name).
    pub dest: String,
    /// The destination's id (the directory's inode number) and level.
    pub dest_id: u64,
    pub dest_level: u32,
    /// The watched cgroup of the moved process's agent after the move (0: none).
    pub agent_cgroup_id: u64,
    /// The destination is outside every watched cgroup: the process left its agent's cgroup and
    /// stays watched by lineage.
    pub left_scope: bool,
    /// The mover was watched.
    pub by_watched: bool,
    /// The moved process was watched before the move.
    pub was_watched: bool,
    /// One thread moved (`cgroup.threads`), not a whole process.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub thread: bool,
    /// Born there: a child created in another cgroup than its parent's (`CLONE_INTO_CGROUP`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub at_fork: bool,
}

impl KindInfo for CgroupMoveInfo {
    const KIND: EventKind = EventKind::CgroupMove;
    const FIELDS: &'static [Field] = &[Field::CgroupDest, Field::CgroupLeftScope, Field::CgroupMovedPid];

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: CgroupMoveEvent = read_record(bytes, "cgroup move event")?;
        let bit = |b: u32| ev.flags & b != 0;
        Ok(CgroupMoveInfo {
            moved_pid: ev.pid,
            dest: c_string(&ev.dest_path),
            dest_id: ev.dest_id,
            dest_level: ev.dest_level,
            agent_cgroup_id: ev.agent_cgroup_id,
            left_scope: bit(CGROUP_MOVE_LEFT_SCOPE),
            by_watched: bit(CGROUP_MOVE_BY_WATCHED),
            was_watched: bit(CGROUP_MOVE_WAS_WATCHED),
            thread: bit(CGROUP_MOVE_THREAD),
            at_fork: bit(CGROUP_MOVE_AT_FORK),
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit(if self.at_fork { "cgroup born " } else { "cgroup move " })
            .lit("pid=")
            .num(self.moved_pid)
            .lit(" to ")
            .val(&self.dest);
        if self.left_scope {
            line.lit(" (left the agent's cgroup; still watched)");
        }
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::CgroupDest => Value::Str(&self.dest),
            Field::CgroupLeftScope => Value::Bool(self.left_scope),
            Field::CgroupMovedPid => Value::Num(self.moved_pid.into()),
            _ => return None,
        })
    }

    type Proto = schema::CgroupMove;

    fn to_proto(&self) -> schema::CgroupMove {
        schema::CgroupMove {
            moved_pid: self.moved_pid,
            dest: self.dest.clone(),
            dest_id: self.dest_id,
            dest_level: self.dest_level,
            agent_cgroup_id: self.agent_cgroup_id,
            left_scope: self.left_scope,
            by_watched: self.by_watched,
            was_watched: self.was_watched,
            thread: self.thread,
            at_fork: self.at_fork,
        }
    }

    fn from_proto(p: schema::CgroupMove) -> Result<Self, ConvertError> {
        Ok(Self {
            moved_pid: p.moved_pid,
            dest: p.dest,
            dest_id: p.dest_id,
            dest_level: p.dest_level,
            agent_cgroup_id: p.agent_cgroup_id,
            left_scope: p.left_scope,
            by_watched: p.by_watched,
            was_watched: p.was_watched,
            thread: p.thread,
            at_fork: p.at_fork,
        })
    }
}
