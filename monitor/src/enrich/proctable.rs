//! The process table: pid → what it runs and who its parent is, fed by fork/exec/exit events and,
//! for processes that predate monitoring, by `/proc`. Gives every event its ancestry.
use std::collections::HashMap;

use serde::Serialize;

use crate::event::{Body, Event};

/// How long (in kernel ns) an exited process stays known, so late events can still name it.
const EXITED_TTL_NS: u64 = 30_000_000_000;
/// Ancestry is cut after this many generations.
pub(crate) const MAX_ANCESTORS: usize = 16;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// Executable path (last exec's filename, or `/proc/PID/exe`).
    pub exe: String,
    pub argv: Vec<String>,
    pub comm: String,
    pub cgroup_id: u64,
    /// Working directory, tracked through chdir events (empty if unknown).
    pub cwd: String,
    #[serde(skip)]
    pub exited_at_ns: Option<u64>,
    /// Whether the process is its agent's root (see [`crate::enrich::AgentFacts::agent_root`]):
    /// `Some(false)` for a child whose fork was seen, `None` until the enrich stage decides.
    #[serde(skip)]
    pub agent_root: Option<bool>,
}

/// One ancestor as reported with events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ancestor {
    pub(crate) pid: u32,
    pub(crate) exe: String,
}

#[derive(Default)]
pub(crate) struct ProcessTable {
    procs: HashMap<u32, Process, crate::FastHash>,
    last_gc_ns: u64,
    /// Changes whenever a process's parent or executable may have changed, or a process was added
    /// or removed (see [`ProcessTable::generation`]).
    generation: u64,
}

impl ProcessTable {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn get(&self, pid: u32) -> Option<&Process> {
        self.procs.get(&pid)
    }

    /// A counter that changes whenever an answer of [`ProcessTable::ancestors`] or a process's
    /// `exe` may have changed: while it stays the same, an event's process context can be reused.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    fn changed(&mut self) {
        self.generation = self.generation.wrapping_add(1);
    }

    /// Learns from one event: fork adds the child (inheriting the parent's image), exec replaces the
    /// image, exit marks the process for removal. Every event refreshes its own process's basics.
    pub(crate) fn observe(&mut self, ev: &Event) {
        let h = &ev.header;
        let mut changed = matches!(ev.body, Body::Fork(_) | Body::Exec(_));
        let entry = self.procs.entry(h.pid).or_insert_with(|| {
            changed = true;
            Process {
                pid: h.pid,
                ..Default::default()
            }
        });
        if h.ppid != 0 && entry.ppid != h.ppid {
            entry.ppid = h.ppid;
            changed = true;
        }
        if entry.comm != h.comm {
            entry.comm.clone_from(&h.comm);
        }
        entry.cgroup_id = h.cgroup_id;
        // The process kinds carry the kernel's path of the executable: what the process runs,
        // whatever it was called when it was started or calls itself now.
        if let Some(exe) = ev.body.kernel_exe()
            && entry.exe != exe
        {
            exe.clone_into(&mut entry.exe);
            changed = true;
        }
        match &ev.body {
            Body::RenameComm(r) => entry.comm.clone_from(&r.new_comm),
            // A failed attempt leaves the process as it was.
            Body::Exec(x) if !x.failed() => {
                // The binary the kernel runs, not a name the process chose.
                entry.exe.clone_from(x.exe_path.as_ref().unwrap_or(&x.filename));
                entry.argv.clone_from(&x.argv);
            }
            Body::Fork(f) => {
                let mut child = entry.clone();
                child.pid = f.child_pid;
                child.ppid = h.pid;
                child.exited_at_ns = None;
                // Forked inside a watched cgroup: not the agent's root, whatever it runs later.
                child.agent_root = Some(false);
                self.procs.insert(f.child_pid, child);
            }
            Body::Exit(_) => entry.exited_at_ns = Some(h.ktime_ns),
            Body::Chdir(c) => {
                let joined = if c.fd < 0 && (c.path.starts_with('/') || !entry.cwd.is_empty()) {
                    Some(crate::enrich::resolve::normalize_lexically(
                        &std::path::Path::new(&entry.cwd).join(&c.path),
                    ))
                } else {
                    std::fs::read_link(format!("/proc/{}/cwd", h.pid)).ok()
                };
                entry.cwd = joined.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
            }
            _ => {}
        }
        if changed {
            self.changed();
        }
        self.gc(h.ktime_ns);
    }

    /// Records the enrich stage's decision that `pid` is (not) its agent's root.
    pub(crate) fn set_agent_root(&mut self, pid: u32, root: bool) {
        if let Some(p) = self.procs.get_mut(&pid) {
            p.agent_root = Some(root);
        }
    }

    /// Tells the table a process's working directory (e.g. the command `agentmon exec` just started).
    pub(crate) fn seed_cwd(&mut self, pid: u32, cwd: &str) {
        let entry = self.procs.entry(pid).or_insert_with(|| Process {
            pid,
            ..Default::default()
        });
        entry.cwd = cwd.to_string();
        self.changed();
    }

    /// Records a process seen in `/proc` (a process that existed before monitoring started).
    pub(crate) fn learn_from_proc(&mut self, pid: u32) -> Option<&Process> {
        if let std::collections::hash_map::Entry::Vacant(e) = self.procs.entry(pid) {
            let p = read_proc(pid)?;
            e.insert(p);
            self.changed();
        }
        self.procs.get(&pid)
    }

    /// Parent chain of `pid`, nearest first, looking processes up in `/proc` when unknown.
    pub(crate) fn ancestors(&mut self, pid: u32) -> Vec<Ancestor> {
        let mut out = Vec::new();
        let mut cur = self
            .procs
            .get(&pid)
            .map(|p| p.ppid)
            .or_else(|| read_proc(pid).map(|p| p.ppid))
            .unwrap_or(0);
        while cur > 0 && out.len() < MAX_ANCESTORS {
            let Some(p) = self.learn_from_proc(cur) else { break };
            out.push(Ancestor {
                pid: p.pid,
                exe: p.exe.clone(),
            });
            if p.ppid == cur {
                break;
            }
            cur = p.ppid;
        }
        out
    }

    fn gc(&mut self, now_ns: u64) {
        if now_ns.saturating_sub(self.last_gc_ns) < EXITED_TTL_NS / 4 {
            return;
        }
        self.last_gc_ns = now_ns;
        let before = self.procs.len();
        self.procs
            .retain(|_, p| p.exited_at_ns.is_none_or(|t| now_ns.saturating_sub(t) < EXITED_TTL_NS));
        if self.procs.len() != before {
            self.changed();
        }
    }
}

/// Reads a process's parent, exe, argv and comm from `/proc`.
pub(crate) fn read_proc(pid: u32) -> Option<Process> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm is in parentheses and may contain spaces; fields after the last ')' are space separated.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let ppid = rest.nth(1)?.parse().ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let argv = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| crate::event::split_args(&raw))
        .unwrap_or_default();
    Some(Process {
        pid,
        ppid,
        exe,
        argv,
        comm,
        cgroup_id: 0,
        cwd: std::fs::read_link(format!("/proc/{pid}/cwd"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
        exited_at_ns: None,
        agent_root: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ExecInfo, ExitInfo, ForkInfo, Header};

    fn ev(pid: u32, ppid: u32, t: u64, body: Body) -> Event {
        Event {
            header: Header {
                ktime_ns: t,
                pid,
                tid: pid,
                ppid,
                uid: 0,
                gid: 0,
                cgroup_id: 1,
                comm: "x".into(),
                truncated: false,
                read_failed: false,
                denied: false,
            },
            body,
        }
    }

    #[test]
    fn tracks_fork_exec_and_ancestry() {
        let mut t = ProcessTable::new();
        let me = std::process::id();
        t.observe(&ev(
            100,
            me,
            1,
            Body::Exec(ExecInfo::new("/usr/bin/agent", vec!["agent".into()])),
        ));
        t.observe(&ev(100, me, 2, Body::Fork(ForkInfo { child_pid: 101 })));
        assert_eq!(
            t.get(101).unwrap().exe,
            "/usr/bin/agent",
            "child inherits the parent's image"
        );
        t.observe(&ev(
            101,
            100,
            3,
            Body::Exec(ExecInfo::new("/bin/sh", vec!["sh".into(), "-c".into(), "id".into()])),
        ));
        let anc = t.ancestors(101);
        assert_eq!(
            anc[0],
            Ancestor {
                pid: 100,
                exe: "/usr/bin/agent".into()
            }
        );
        // The chain continues into real /proc entries: this test process, then its parents.
        assert_eq!(anc[1].pid, me);
        assert!(!anc[1].exe.is_empty());
        t.observe(&ev(
            101,
            100,
            4,
            Body::Exit(ExitInfo {
                exit_code: Some(0),
                signal: None,
            }),
        ));
        assert!(t.get(101).is_some(), "exited processes are kept for a while");
        t.observe(&ev(
            100,
            me,
            4 + EXITED_TTL_NS + 1,
            Body::Exit(ExitInfo {
                exit_code: Some(0),
                signal: None,
            }),
        ));
        assert!(t.get(101).is_none(), "and forgotten after the TTL");
    }

    #[test]
    fn reads_own_proc_entry() {
        let p = read_proc(std::process::id()).expect("own /proc entry");
        assert_eq!(p.ppid, std::os::unix::process::parent_id());
        assert!(!p.argv.is_empty());
    }
}
