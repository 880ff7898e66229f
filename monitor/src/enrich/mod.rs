//! Enrichment: what userspace knows around a decoded event — the process and its ancestry
//! ([`proctable`]), the path it really named ([`resolve`]), the agent its cgroup belongs to
//! ([`agents`]; for a process that left its agent's cgroup, [`escaped`]), facts the process cannot
//! set ([`lineage`]) and the wall-clock time ([`clock`]). [`synthetic`] builds enriched events by
//! hand (rule fixtures, tests, benchmarks).
pub(crate) mod agents;
pub(crate) mod clock;
pub(crate) mod lineage;
pub(crate) mod proctable;
pub(crate) mod resolve;
pub mod synthetic;
// processes
pub(crate) mod target;
// mounts, scope, io_uring, code loading
pub(crate) mod escaped;

pub use proctable::Ancestor;
use serde::Serialize;

pub(crate) use self::{agents::CgroupIndex, clock::Clock, proctable::ProcessTable, resolve::Resolver};
pub use self::{agents::ContainerInfo, clock::WallTime, lineage::AgentFacts};
use crate::event::{Body, Event};

/// An event with what userspace knows around it.
#[derive(Clone, Debug, Serialize)]
pub struct Enriched {
    /// Wall-clock time of the event (rendered as RFC 3339 text).
    pub time: WallTime,
    #[serde(flatten)]
    pub event: Event,
    /// Executable of the process (from the process table).
    pub exe: String,
    /// Parent chain, nearest first.
    pub ancestors: Vec<Ancestor>,
    /// cgroup path relative to the cgroup2 root, when known.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup: String,
    /// Name of the watched agent the event belongs to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub agent: String,
    /// The container the agent is (shared by all its events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<std::sync::Arc<ContainerInfo>>,
    /// open/exec and the file operations (rename, unlink, …: the object changed): the absolute path
    /// the process really named (cwd/dirfd joined, `..` folded,
    /// symlinks resolved where possible). Rules match on this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_path: Option<String>,
    /// Lineage and destination facts (`proc.is_agent_root`, `net.dst_agent`).
    #[serde(flatten, skip_serializing_if = "AgentFacts::is_empty")]
    pub facts: AgentFacts,
    /// Names the process context (`exe`, `ancestors`, `cgroup`, `agent`, `container`) the enrich
    /// stage filled in: two events with the same non-zero id carry the same context, so a consumer
    /// that keeps contexts (the recording) need not compare them. 0: unknown.
    #[serde(skip)]
    pub context_id: u64,
}

impl Enriched {
    /// An event with nothing in it (a reused buffer's start, or the stand-in for an event a log no
    /// longer holds).
    pub(crate) fn empty() -> Self {
        Enriched {
            time: WallTime::default(),
            event: Event {
                header: crate::event::Header::default(),
                body: Body::Fork(crate::event::ForkInfo { child_pid: 0 }),
            },
            exe: String::new(),
            ancestors: Vec::new(),
            cgroup: String::new(),
            agent: String::new(),
            container: None,
            resolved_path: None,
            facts: AgentFacts::default(),
            context_id: 0,
        }
    }

    /// The container's name, image and short ID for rules (`""` when the agent is no container).
    pub fn container_field(&self, f: impl Fn(&ContainerInfo) -> &str) -> &str {
        self.container.as_deref().map_or("", f)
    }
}

/// What an enriched event's process context (exe, ancestors, cgroup, agent, container) was
/// computed from: while the next event has the same, its context is the same and is kept.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ContextKey {
    pid: u32,
    cgroup_id: u64,
    /// [`ProcessTable::generation`], [`CgroupIndex::generation`], [`Enricher::moves`].
    generations: (u64, u64, u64),
}

/// The enrichment stage: the process table, the cgroup index and the path resolver, fed by every
/// event in order.
pub(crate) struct Enricher {
    table: ProcessTable,
    cgroups: CgroupIndex,
    clock: Clock,
    resolver: Resolver,
    listeners: lineage::Listeners,
    escaped: escaped::Escapes,
    /// Counts the cgroup moves seen (they change which agent an escaped process is named for).
    moves: u64,
    /// The event [`Enricher::enrich_slot`] filled last, reused for the next one (decoded into it in
    /// place): consecutive events of one process (an open storm) share their context, which is
    /// then neither recomputed nor reallocated.
    current: Enriched,
    /// What `current`'s context was computed from (`None`: not computed, e.g. at the start).
    current_key: Option<ContextKey>,
    /// The last [`Enriched::context_id`] given out.
    last_context_id: u64,
}

impl Enricher {
    pub(crate) fn new(cgroups: CgroupIndex) -> Self {
        Self {
            table: ProcessTable::new(),
            cgroups,
            clock: Clock::new(),
            resolver: Resolver::new(),
            listeners: lineage::Listeners::default(),
            escaped: escaped::Escapes::default(),
            moves: 0,
            current: Enriched::empty(),
            current_key: None,
            last_context_id: 0,
        }
    }

    /// Where the next event is decoded in place ([`crate::event::decode_into`]): the event part of
    /// [`Enricher::current`], whose buffers it reuses. [`Enricher::observe_slot`] and
    /// [`Enricher::enrich_slot`] then take it from there, so the event is never moved or copied.
    pub(crate) fn slot(&mut self) -> &mut Event {
        &mut self.current.event
    }

    /// Learns from the event in [`Enricher::slot`] (fork/exec/exit/chdir keep the process table
    /// current). Every event goes through here, enriched or not.
    pub(crate) fn observe_slot(&mut self) {
        let Self {
            table,
            escaped,
            moves,
            current,
            ..
        } = self;
        observe(table, escaped, moves, &current.event);
    }

    /// The event in [`Enricher::slot`] with its process, ancestry, agent and resolved path. The
    /// result lives until the next event is decoded (one buffer, reused: see [`Enricher::current`]).
    pub(crate) fn enrich_slot(&mut self) -> &Enriched {
        let Self {
            table,
            cgroups,
            clock,
            resolver,
            listeners,
            escaped,
            moves,
            current: out,
            current_key,
            last_context_id,
        } = self;
        let mut new_context = || {
            *last_context_id += 1;
            *last_context_id
        };
        let pid = out.event.header.pid;
        target::fill(&mut out.event, table);
        let key = ContextKey {
            pid,
            cgroup_id: out.event.header.cgroup_id,
            generations: (table.generation(), cgroups.generation(), *moves),
        };
        out.time = clock.wall(out.event.header.ktime_ns);
        if *current_key != Some(key) {
            fill_context(table, cgroups, escaped, out);
            out.context_id = new_context();
            // Filling may learn processes from /proc (a new generation): key on the state after it.
            *current_key = Some(ContextKey {
                generations: (table.generation(), cgroups.generation(), *moves),
                ..key
            });
        }
        // The kernel's path of the executable where the kind carries it, else the table's.
        if let Some(exe) = out.event.body.kernel_exe() {
            exe.clone_into(&mut out.exe);
            out.context_id = new_context();
            // The table has it too now; a later event without it takes the table's again.
            *current_key = None;
        }
        if matches!(out.event.body, Body::CgroupMove(_)) {
            // A move's agent may come from its body (see `escaped_agent`): not the mover's context.
            *current_key = None;
        }
        let root_id = cgroups.lookup(out.event.header.cgroup_id).map(|c| c.root_id);
        out.facts.agent_root = root_id.is_some_and(|r| is_agent_root(table, cgroups, pid, r));
        out.facts.dst_agent.clear();
        let dst = match &out.event.body {
            Body::Connect(c) => Some((c.dest.addr.as_str(), c.dest.port)),
            Body::Send(s) => Some((s.dest.addr.as_str(), s.dest.port)),
            Body::Listen(l) if !out.agent.is_empty() => {
                listeners.listen(&out.agent, &l.addr, l.port);
                None
            }
            _ => None,
        };
        if let Some((addr, port)) = dst
            && let Some(other) = listeners.agent_at(&out.agent, addr, port)
        {
            other.clone_into(&mut out.facts.dst_agent);
        }
        let cwd = table.get(pid).map(|p| p.cwd.as_str());
        // files: the object a file operation changed, and the one it took (kept in the body).
        let file_op_target = out
            .event
            .body
            .file_op_mut()
            .map(|op| op.resolve(resolver, pid, out.event.header.tid, cwd));
        match &out.event.body {
            // The kernel's view where the kernel side captured it; `/proc` only as the fallback.
            Body::Open(o) => match o.kernel_path.as_deref() {
                Some(k) => set_path(&mut out.resolved_path, k),
                None => {
                    out.resolved_path = Some(o.target().unwrap_or_else(|| resolver.resolve(pid, o.dfd, &o.path, cwd)));
                }
            },
            Body::Exec(x) => {
                out.resolved_path = Some(
                    x.target()
                        .unwrap_or_else(|| resolver.resolve(pid, -100, &x.filename, cwd)),
                );
            }
            _ => out.resolved_path = file_op_target,
        }
        out
    }

    /// The watched cgroup of the agent an event belongs to (0: none): by its cgroup, or by lineage
    /// for a process that left it. Responses (kill, quarantine) act on that cgroup.
    pub(crate) fn agent_root(&mut self, event: &Event) -> u64 {
        if let Some(c) = self.cgroups.lookup(event.header.cgroup_id) {
            return c.root_id;
        }
        match (self.escaped.get(event.header.pid), &event.body) {
            (Some(e), _) => e.agent_cgroup_id,
            (None, Body::CgroupMove(m)) => m.agent_cgroup_id,
            _ => 0,
        }
    }

    /// The live processes of the agent of watched cgroup `agent` that left its cgroup.
    pub(crate) fn escaped_of(&self, agent: u64) -> Vec<u32> {
        self.escaped.of_agent(agent)
    }

    pub(crate) fn cgroups(&self) -> &CgroupIndex {
        &self.cgroups
    }

    /// A watched agent listens on `addr` (`port` for inet; a unix socket path with port 0), as its
    /// listen events say.
    #[cfg(test)]
    pub(crate) fn note_listen(&mut self, agent: &str, addr: &str, port: u16) {
        self.listeners.listen(agent, addr, port);
    }

    /// Forgets an agent that is no longer watched (its listeners).
    pub(crate) fn forget_agent(&mut self, agent: &str) {
        self.listeners.forget(agent);
    }

    pub(crate) fn cgroups_mut(&mut self) -> &mut CgroupIndex {
        &mut self.cgroups
    }

    pub(crate) fn table_mut(&mut self) -> &mut ProcessTable {
        &mut self.table
    }
}

/// The process context of `out`'s event: its executable, ancestry, cgroup, agent and container.
fn fill_context(table: &mut ProcessTable, cgroups: &mut CgroupIndex, escaped: &escaped::Escapes, out: &mut Enriched) {
    let event = &out.event;
    let pid = event.header.pid;
    out.exe.clear();
    if let Some(p) = table.get(pid) {
        out.exe.push_str(&p.exe);
    }
    out.ancestors = table.ancestors(pid);
    match cgroups.lookup(event.header.cgroup_id) {
        Some(c) => {
            c.path.clone_into(&mut out.cgroup);
            c.agent.clone_into(&mut out.agent);
            out.container.clone_from(&c.container);
        }
        None => {
            // A process that left its agent's cgroup: its agent by lineage, never its root.
            (out.cgroup, out.agent, out.container) = escaped_agent(escaped, cgroups, event);
        }
    }
}

/// What observing an event teaches the process table and the escape tracker.
fn observe(table: &mut ProcessTable, escaped: &mut escaped::Escapes, moves: &mut u64, ev: &Event) {
    table.observe(ev);
    escaped.observe(ev);
    if matches!(ev.body, Body::CgroupMove(_)) {
        *moves = moves.wrapping_add(1);
    }
}

/// The cgroup and agent of an event whose cgroup no watched agent owns: a process that left its
/// agent's cgroup (or a move of one, reported by the process that moved it).
fn escaped_agent(
    escaped: &escaped::Escapes,
    cgroups: &mut CgroupIndex,
    event: &Event,
) -> (String, String, Option<std::sync::Arc<ContainerInfo>>) {
    let (cgroup, agent_id) = match (escaped.get(event.header.pid), &event.body) {
        (Some(e), _) => (e.cgroup.clone(), e.agent_cgroup_id),
        (None, Body::CgroupMove(m)) if m.agent_cgroup_id != 0 => (String::new(), m.agent_cgroup_id),
        _ => return (String::new(), String::new(), None),
    };
    match cgroups.lookup(agent_id) {
        // The agent's container: the process left the cgroup, not the container it was started in.
        Some(c) => (cgroup, c.agent.clone(), c.container.clone()),
        None => (cgroup, String::new(), None),
    }
}

/// Whether `pid`, in the agent whose root cgroup is `root_id`, is the agent's root: its parent
/// (when the process was first seen) is outside the agent. Decided once and kept in the process
/// table; a fork seen inside the agent makes a non-root child.
fn is_agent_root(table: &mut ProcessTable, cgroups: &mut CgroupIndex, pid: u32, root_id: u64) -> bool {
    let Some(p) = table.get(pid) else { return false };
    if let Some(known) = p.agent_root {
        return known;
    }
    let ppid = p.ppid;
    let parent_cgroup = match table.get(ppid).map(|p| p.cgroup_id) {
        Some(id) if id != 0 => Some(id),
        // The parent never produced an event (not watched, or idle since before monitoring).
        _ => lineage::proc_cgroup_id(ppid, cgroups.root_path()),
    };
    let parent_inside =
        ppid != 0 && parent_cgroup.is_some_and(|id| cgroups.lookup(id).is_some_and(|c| c.root_id == root_id));
    table.set_agent_root(pid, !parent_inside);
    !parent_inside
}

/// Sets an optional path to `path`, reusing the string already there.
fn set_path(slot: &mut Option<String>, path: &str) {
    match slot {
        Some(s) => path.clone_into(s),
        None => *slot = Some(path.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{CgroupIndex, Enricher, synthetic};
    use crate::event::Event;

    fn ev(cgroup_id: u64, pid: u32, ppid: u32, body: crate::event::Body) -> Event {
        let who = synthetic::Process {
            pid,
            ppid,
            cgroup_id,
            ..Default::default()
        };
        who.event(1, body).event
    }

    fn step(e: &mut Enricher, ev: Event) -> super::Enriched {
        *e.slot() = ev;
        e.observe_slot();
        e.enrich_slot().clone()
    }

    #[test]
    fn the_agent_root_is_the_process_entering_the_cgroup_not_a_name() {
        let mut e = Enricher::new(CgroupIndex::of_test_agents(&[(11, "a"), (12, "b")]));
        // 500's parent (4_000_000, no such process) never showed up in the agent: 500 entered it.
        let launch = step(
            &mut e,
            ev(11, 500, 4_000_000, synthetic::exec("/bin/sh", vec!["sh".into()])),
        );
        assert!(launch.facts.agent_root);
        // Its forked child is not, even when it runs a binary named agentmon.
        step(&mut e, ev(11, 500, 4_000_000, synthetic::fork(501)));
        let fake = step(
            &mut e,
            ev(11, 501, 500, synthetic::exec("/tmp/agentmon", vec!["agentmon".into()])),
        );
        assert!(!fake.facts.agent_root);
        step(&mut e, ev(11, 501, 500, synthetic::fork(502)));
        let shell = step(&mut e, ev(11, 502, 501, synthetic::exec("/bin/sh", vec!["sh".into()])));
        assert!(!shell.facts.agent_root);
        // Reparented to a process outside (its parent exited): still not the root.
        let orphan = step(&mut e, ev(11, 502, 1, synthetic::open("/etc/passwd", 0)));
        assert!(!orphan.facts.agent_root);
        // A process first seen in agent b whose parent was last seen in agent a entered b.
        step(&mut e, ev(11, 500, 4_000_000, synthetic::fork(503)));
        let moved = step(&mut e, ev(12, 600, 500, synthetic::exec("/bin/sh", vec!["sh".into()])));
        assert!(moved.facts.agent_root);
        // The root keeps being the root.
        assert!(
            step(&mut e, ev(11, 500, 4_000_000, synthetic::open("/x", 0)))
                .facts
                .agent_root
        );
    }

    #[test]
    fn the_context_is_kept_while_the_process_stays_the_same_and_renewed_when_it_changes() {
        let mut e = Enricher::new(CgroupIndex::of_test_agents(&[(11, "a")]));
        step(
            &mut e,
            ev(11, 700, 4_000_000, synthetic::exec("/bin/sh", vec!["sh".into()])),
        );
        let first = step(&mut e, ev(11, 700, 4_000_000, synthetic::open("/etc/hosts", 0)));
        let second = step(&mut e, ev(11, 700, 4_000_000, synthetic::open("/etc/passwd", 0)));
        assert_ne!(first.context_id, 0);
        assert_eq!(first.context_id, second.context_id);
        assert_eq!(second.resolved_path.as_deref(), Some("/etc/passwd"));
        assert_eq!((second.exe.as_str(), second.agent.as_str()), ("/bin/sh", "a"));
        // A new image: a new context, with the new executable.
        step(
            &mut e,
            ev(
                11,
                700,
                4_000_000,
                synthetic::exec("/usr/bin/curl", vec!["curl".into()]),
            ),
        );
        let after = step(&mut e, ev(11, 700, 4_000_000, synthetic::open("/etc/hosts", 0)));
        assert_ne!(after.context_id, second.context_id);
        assert_eq!(after.exe, "/usr/bin/curl");
        // Another process in between: each gets its own.
        step(&mut e, ev(11, 700, 4_000_000, synthetic::fork(701)));
        let child = step(&mut e, ev(11, 701, 700, synthetic::open("/etc/hosts", 0)));
        assert_eq!((child.exe.as_str(), child.ancestors[0].pid), ("/usr/bin/curl", 700));
        let back = step(&mut e, ev(11, 700, 4_000_000, synthetic::open("/etc/hosts", 0)));
        assert_ne!(back.context_id, child.context_id);
        assert_eq!(back.exe, "/usr/bin/curl");
    }

    #[test]
    fn a_connect_names_the_other_agent_listening_there() {
        let mut e = Enricher::new(CgroupIndex::of_test_agents(&[(11, "a"), (12, "b")]));
        e.note_listen("b", "0.0.0.0", 8080);
        let c = |e: &mut Enricher, cg, port| {
            step(
                e,
                ev(
                    cg,
                    700,
                    1,
                    synthetic::connect(crate::event::Family::Inet, "127.0.0.1", port),
                ),
            )
            .facts
            .dst_agent
        };
        assert_eq!(c(&mut e, 11, 8080), "b");
        assert_eq!(c(&mut e, 11, 8081), "");
        assert_eq!(c(&mut e, 12, 8080), "", "b reaching its own listener");
        e.forget_agent("b");
        assert_eq!(c(&mut e, 11, 8080), "");
    }
}
