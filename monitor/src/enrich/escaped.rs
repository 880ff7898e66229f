//! Processes that left their agent's cgroup (`cgroup_move` events with `left_scope`): the kernel
//! keeps them in scope by lineage, and their events name a cgroup no watched agent owns. This
//! index gives such an event its agent back: moved pid → the agent's watched cgroup and the
//! cgroup it is in now, inherited by children at fork, dropped a while after exit (late events
//! of the process may still arrive) or when the process moves back into a watched cgroup.
use std::collections::HashMap;

use crate::event::{Body, Event};

/// How long (kernel ns) an exited process stays known, as in the process table.
const EXITED_TTL_NS: u64 = 30_000_000_000;

/// Where an escaped process belongs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Escaped {
    /// The watched cgroup of its agent.
    pub(crate) agent_cgroup_id: u64,
    /// The cgroup it is in (relative to the cgroup2 root, as the kernel named it).
    pub(crate) cgroup: String,
    exited_at_ns: Option<u64>,
}

#[derive(Default)]
pub(crate) struct Escapes {
    escaped: HashMap<u32, Escaped, crate::FastHash>,
    /// Exits seen since the last sweep of exited entries.
    exits: usize,
}

impl Escapes {
    /// Learns from one event (every event comes through here, before it is enriched).
    pub(crate) fn observe(&mut self, ev: &Event) {
        match &ev.body {
            Body::CgroupMove(m) if m.left_scope => {
                self.escaped.insert(
                    m.moved_pid,
                    Escaped {
                        agent_cgroup_id: m.agent_cgroup_id,
                        cgroup: m.dest.clone(),
                        exited_at_ns: None,
                    },
                );
            }
            // Back in a watched cgroup (its own or another agent's): its cgroup names it again.
            Body::CgroupMove(m) if m.agent_cgroup_id != 0 => {
                self.escaped.remove(&m.moved_pid);
            }
            Body::Fork(f) => {
                if let Some(e) = self.escaped.get(&ev.header.pid) {
                    let child = Escaped {
                        exited_at_ns: None,
                        ..e.clone()
                    };
                    self.escaped.insert(f.child_pid, child);
                }
            }
            Body::Exit(_) => {
                if let Some(e) = self.escaped.get_mut(&ev.header.pid) {
                    e.exited_at_ns = Some(ev.header.ktime_ns);
                    self.exits += 1;
                    if self.exits >= 64 {
                        self.sweep(ev.header.ktime_ns);
                    }
                }
            }
            _ => {}
        }
    }

    /// The escaped process `pid`, if it is one.
    pub(crate) fn get(&self, pid: u32) -> Option<&Escaped> {
        self.escaped.get(&pid)
    }

    /// The live escaped processes of the agent of watched cgroup `agent`.
    pub(crate) fn of_agent(&self, agent: u64) -> Vec<u32> {
        self.escaped
            .iter()
            .filter(|(_, e)| e.agent_cgroup_id == agent && e.exited_at_ns.is_none())
            .map(|(pid, _)| *pid)
            .collect()
    }

    fn sweep(&mut self, now_ns: u64) {
        self.exits = 0;
        self.escaped
            .retain(|_, e| e.exited_at_ns.is_none_or(|t| now_ns.saturating_sub(t) < EXITED_TTL_NS));
    }
}

#[cfg(test)]
mod tests {
    use super::Escapes;
    use crate::{
        enrich::synthetic::{self, Process},
        event::Body,
    };

    #[test]
    fn an_escaped_process_and_its_children_keep_their_agent_until_they_move_back() {
        let mut l = Escapes::default();
        let p = Process {
            pid: 10,
            ..Process::default()
        };
        l.observe(&p.event(1, synthetic::cgroup_move(10, "/elsewhere", true)).event);
        assert_eq!(
            l.get(10).map(|e| (e.agent_cgroup_id, e.cgroup.as_str())),
            Some((4242, "/elsewhere"))
        );
        l.observe(&p.event(2, synthetic::fork(11)).event);
        assert_eq!(l.get(11).map(|e| e.agent_cgroup_id), Some(4242), "the child inherits");
        let mut back = synthetic::cgroup_move(10, "/agent/inner", false);
        if let Body::CgroupMove(m) = &mut back {
            m.agent_cgroup_id = 4242;
        }
        l.observe(&p.event(3, back).event);
        assert!(l.get(10).is_none(), "back in a watched cgroup");
        assert!(l.get(11).is_some(), "the child stays where it is");
    }
}
