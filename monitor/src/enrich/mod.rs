//! Enrichment: what userspace knows around a decoded event — the process and its ancestry
//! ([`proctable`]), the path it really named ([`resolve`]), the agent its cgroup belongs to
//! ([`agents`]; for a process that left its agent's cgroup, [`lineage`]) and the wall-clock time
//! ([`clock`]). [`synthetic`] builds enriched events by hand (rule fixtures, tests, benchmarks).
pub(crate) mod agents;
pub(crate) mod clock;
pub(crate) mod lineage;
pub(crate) mod proctable;
pub(crate) mod resolve;
pub mod synthetic;
// processes
pub(crate) mod target;

pub use proctable::Ancestor;
use serde::Serialize;

pub use self::agents::ContainerInfo;
pub(crate) use self::{agents::CgroupIndex, clock::Clock, proctable::ProcessTable, resolve::Resolver};
use crate::event::{Body, Event};

/// An event with what userspace knows around it.
#[derive(Clone, Debug, Serialize)]
pub struct Enriched {
    /// Wall-clock time of the event (RFC 3339).
    pub time: String,
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
}

impl Enriched {
    /// An event with nothing in it (a reused buffer's start, or the stand-in for an event a log no
    /// longer holds).
    pub(crate) fn empty() -> Self {
        Enriched {
            time: String::new(),
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
        }
    }

    /// The container's name, image and short ID for rules (`""` when the agent is no container).
    pub fn container_field(&self, f: impl Fn(&ContainerInfo) -> &str) -> &str {
        self.container.as_deref().map_or("", f)
    }
}

/// The enrichment stage: the process table, the cgroup index and the path resolver, fed by every
/// event in order.
pub(crate) struct Enricher {
    table: ProcessTable,
    cgroups: CgroupIndex,
    clock: Clock,
    resolver: Resolver,
    lineage: lineage::Lineage,
}

impl Enricher {
    pub(crate) fn new(cgroups: CgroupIndex) -> Self {
        Self {
            table: ProcessTable::new(),
            cgroups,
            clock: Clock::new(),
            resolver: Resolver::new(),
            lineage: lineage::Lineage::default(),
        }
    }

    /// Learns from the event (fork/exec/exit/chdir keep the process table current). Every event
    /// goes through here, enriched or not.
    pub(crate) fn observe(&mut self, ev: &Event) {
        self.table.observe(ev);
        self.lineage.observe(ev);
    }

    /// The event with its process, ancestry, agent and resolved path.
    pub(crate) fn enrich(&mut self, mut event: Event) -> Enriched {
        let pid = event.header.pid;
        target::fill(&mut event, &self.table);
        // The kernel's path of the executable where the kind carries it, else the table's.
        let exe = match event.body.kernel_exe() {
            Some(exe) => exe.to_string(),
            None => self.table.get(pid).map(|p| p.exe.clone()).unwrap_or_default(),
        };
        let ancestors = self.table.ancestors(pid);
        let (cgroup, agent, container) = match self.cgroups.lookup(event.header.cgroup_id) {
            Some(c) => (c.path.clone(), c.agent.clone(), c.container.clone()),
            None => self.escaped_agent(&event),
        };
        let cwd = self.table.get(pid).map(|p| p.cwd.as_str());
        // files: the object a file operation changed, and the one it took (kept in the body).
        let file_op_target = event
            .body
            .file_op_mut()
            .map(|op| op.resolve(&mut self.resolver, pid, event.header.tid, cwd));
        let resolved_path = match &event.body {
            // The kernel's view where the kernel side captured it; `/proc` only as the fallback.
            Body::Open(o) => Some(
                o.target()
                    .unwrap_or_else(|| self.resolver.resolve(pid, o.dfd, &o.path, cwd)),
            ),
            Body::Exec(x) => Some(
                x.target()
                    .unwrap_or_else(|| self.resolver.resolve(pid, -100, &x.filename, cwd)),
            ),
            _ => file_op_target,
        };
        Enriched {
            time: self.clock.rfc3339(event.header.ktime_ns),
            event,
            exe,
            ancestors,
            cgroup,
            agent,
            container,
            resolved_path,
        }
    }

    /// The cgroup and agent of an event whose cgroup no watched agent owns: a process that left
    /// its agent's cgroup (or a move of one, reported by the process that moved it).
    fn escaped_agent(&mut self, event: &Event) -> (String, String, Option<std::sync::Arc<ContainerInfo>>) {
        let (cgroup, agent_id) = match (self.lineage.get(event.header.pid), &event.body) {
            (Some(e), _) => (e.cgroup.clone(), e.agent_cgroup_id),
            (None, Body::CgroupMove(m)) if m.agent_cgroup_id != 0 => (String::new(), m.agent_cgroup_id),
            _ => return (String::new(), String::new(), None),
        };
        match self.cgroups.lookup(agent_id) {
            // The agent's container: the process left the cgroup, not the container it was started in.
            Some(c) => (cgroup, c.agent.clone(), c.container.clone()),
            None => (cgroup, String::new(), None),
        }
    }

    /// The watched cgroup of the agent an event belongs to (0: none): by its cgroup, or by lineage
    /// for a process that left it. Responses (kill, quarantine) act on that cgroup.
    pub(crate) fn agent_root(&mut self, event: &Event) -> u64 {
        if let Some(c) = self.cgroups.lookup(event.header.cgroup_id) {
            return c.root_id;
        }
        match (self.lineage.get(event.header.pid), &event.body) {
            (Some(e), _) => e.agent_cgroup_id,
            (None, Body::CgroupMove(m)) => m.agent_cgroup_id,
            _ => 0,
        }
    }

    /// The live processes of the agent of watched cgroup `agent` that left its cgroup.
    pub(crate) fn escaped_of(&self, agent: u64) -> Vec<u32> {
        self.lineage.of_agent(agent)
    }

    pub(crate) fn cgroups(&self) -> &CgroupIndex {
        &self.cgroups
    }

    pub(crate) fn cgroups_mut(&mut self) -> &mut CgroupIndex {
        &mut self.cgroups
    }

    pub(crate) fn table_mut(&mut self) -> &mut ProcessTable {
        &mut self.table
    }
}
