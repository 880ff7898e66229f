//! The realistic event stream of the replay benchmark (`log-gen --mix session`): an agent session
//! calibrated on a real recording.
use std::collections::VecDeque;

use agentmon::{
    enrich::{
        Enriched,
        synthetic::{self, Process},
    },
    event::{Body, Family},
};

/// A deterministic, realistic stream of agent events (the replay benchmark's log): two agents whose
/// main process (python) makes tool calls, each a fork, an exec of a tool (python, git, bash, ls,
/// cat, grep, curl), the tool's opens (shared libraries, Python modules, project files; a third of
/// the tool calls write a file), sometimes a connect, and an exit. About 1 event in 2,000 is
/// something the default rules flag (a credential read, the metadata service, an exec from /tmp).
///
/// The mix is calibrated on a real recording (`agentmon exec --record` of a script running python,
/// ls, cat, grep and sh in a loop): ~91% opens, ~2.5% each exec, fork and exit, ~85 payload bytes
/// per event.
pub(crate) struct AgentSession {
    rng: u64,
    ktime_ns: u64,
    next_pid: u32,
    queue: VecDeque<Enriched>,
}

const PY_MODULES: [&str; 12] = [
    "encodings/__init__",
    "codecs",
    "io",
    "abc",
    "os",
    "stat",
    "posixpath",
    "genericpath",
    "json/__init__",
    "json/decoder",
    "subprocess",
    "urllib/request",
];
const LIBS: [&str; 6] = [
    "/etc/ld.so.cache",
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/lib/x86_64-linux-gnu/libm.so.6",
    "/lib/x86_64-linux-gnu/libz.so.1",
    "/lib/x86_64-linux-gnu/libpcre2-8.so.0",
    "/usr/lib/locale/locale-archive",
];

impl Default for AgentSession {
    fn default() -> Self {
        Self {
            rng: 0x9e37_79b9_7f4a_7c15,
            ktime_ns: 5_000_000_000,
            next_pid: 2000,
            queue: VecDeque::default(),
        }
    }
}

impl Iterator for AgentSession {
    type Item = Enriched;

    fn next(&mut self) -> Option<Enriched> {
        if self.queue.is_empty() {
            self.tool_call();
        }
        self.queue.pop_front()
    }
}

struct Proc {
    pid: u32,
    comm: &'static str,
    exe: &'static str,
    agent: &'static str,
    parent: Option<(u32, &'static str)>,
}

impl AgentSession {
    fn rand(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rand() % n
    }

    /// An event of `p`, a little after the one before.
    fn push(&mut self, p: &Proc, body: Body) {
        self.ktime_ns += 2_000 + self.below(40_000);
        let mut ancestors = Vec::with_capacity(3);
        if let Some((pid, exe)) = p.parent {
            ancestors.push(synthetic::ancestor(pid, exe));
        }
        ancestors.push(synthetic::ancestor(900, "/usr/bin/containerd-shim-runc-v2"));
        ancestors.push(synthetic::ancestor(1, "/usr/lib/systemd/systemd"));
        let who = Process {
            pid: p.pid,
            ppid: p.parent.map_or(900, |(pid, _)| pid),
            cgroup_id: if p.agent == "coder" { 4242 } else { 4343 },
            comm: p.comm.into(),
            exe: p.exe.into(),
            ancestors,
            cgroup: format!("kubepods.slice/agents/{}", p.agent),
            agent: p.agent.into(),
            ..Process::default()
        };
        let mut ev = who.event(self.ktime_ns, body);
        ev.time = synthetic::wall_time(self.ktime_ns);
        self.queue.push_back(ev);
    }

    fn open(&mut self, p: &Proc, path: String, write: bool) {
        let flags = if write {
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC
        } else {
            libc::O_RDONLY | libc::O_CLOEXEC
        };
        self.push(p, synthetic::open(&path, flags));
    }

    fn tool_call(&mut self) {
        let (agent, main_pid) = if self.below(3) == 0 {
            ("researcher", 1100)
        } else {
            ("coder", 1000)
        };
        let main = Proc {
            pid: main_pid,
            comm: "python3",
            exe: "/usr/bin/python3.12",
            agent,
            parent: None,
        };
        for _ in 0..self.below(6) {
            let f = self.below(40);
            self.open(&main, format!("/home/agent/{agent}/workspace/src/module_{f}.py"), false);
        }
        self.next_pid = if self.next_pid >= 4_000_000 {
            2000
        } else {
            self.next_pid + 1
        };
        let pid = self.next_pid;
        self.push(&main, synthetic::fork(pid));
        let (comm, exe, argv): (&'static str, &'static str, Vec<String>) = match self.below(20) {
            0..=5 => (
                "python3",
                "/usr/bin/python3.12",
                vec!["python3".into(), "tools/run_tests.py".into()],
            ),
            6..=9 => (
                "git",
                "/usr/bin/git",
                vec!["git".into(), "status".into(), "--short".into()],
            ),
            10..=11 => (
                "bash",
                "/usr/bin/bash",
                vec!["bash".into(), "-c".into(), "ls -la src | wc -l".into()],
            ),
            12..=13 => ("ls", "/usr/bin/ls", vec!["ls".into(), "-la".into(), "src".into()]),
            14..=15 => ("cat", "/usr/bin/cat", vec!["cat".into(), "README.md".into()]),
            16..=18 => (
                "grep",
                "/usr/bin/grep",
                vec!["grep".into(), "-rn".into(), "TODO".into(), "src".into()],
            ),
            _ => (
                "curl",
                "/usr/bin/curl",
                vec![
                    "curl".into(),
                    "-sSfo".into(),
                    "data.json".into(),
                    "https://api.example.invalid/v1/data".into(),
                ],
            ),
        };
        let child = Proc {
            pid,
            comm,
            exe,
            agent,
            parent: Some((main_pid, "/usr/bin/python3.12")),
        };
        let roll = self.below(2000);
        // The rare event a default rule flags, instead of the normal tool.
        let (exe, argv) = if roll == 0 {
            ("/tmp/payload", vec!["/tmp/payload".into()])
        } else {
            (exe, argv)
        };
        self.push(&Proc { exe, ..child }, synthetic::exec(exe, argv));
        let child = Proc { exe, ..child };
        let n_libs = if comm == "python3" {
            3
        } else {
            2 + self.below(4) as usize
        };
        for lib in LIBS.iter().take(n_libs) {
            self.open(&child, (*lib).to_string(), false);
        }
        if comm == "python3" {
            for _ in 0..40 + self.below(60) {
                let m = PY_MODULES[self.below(PY_MODULES.len() as u64) as usize];
                self.open(&child, format!("/usr/lib/python3.12/{m}.py"), false);
                let name = m.rsplit('/').next().unwrap_or(m);
                let dir = m.rsplit_once('/').map_or(String::new(), |(d, _)| format!("{d}/"));
                self.open(
                    &child,
                    format!("/usr/lib/python3.12/{dir}__pycache__/{name}.cpython-312.pyc"),
                    false,
                );
            }
        }
        for _ in 0..self.below(8) {
            let f = self.below(40);
            self.open(
                &child,
                format!("/home/agent/{agent}/workspace/src/module_{f}.py"),
                false,
            );
        }
        if self.below(3) == 0 {
            let f = self.below(10);
            self.open(
                &child,
                format!("/home/agent/{agent}/workspace/out/result_{f}.json"),
                true,
            );
        }
        if roll == 1 {
            self.open(&child, "/home/agent/.aws/credentials".into(), false);
        }
        if comm == "curl" || comm == "git" && self.below(4) == 0 || roll == 2 {
            let addr = if roll == 2 { "169.254.169.254" } else { "140.82.121.4" };
            let port = if roll == 2 { 80 } else { 443 };
            self.push(&child, synthetic::connect(Family::Inet, addr, port));
        }
        if self.below(40) == 0 {
            self.push(&child, synthetic::chdir("src"));
        }
        self.push(&child, synthetic::exit(0));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::AgentSession;

    /// The mix docs/BENCHMARKS.md describes: 94 % open, 1.8 % each exec, fork and exit, 0.2 % connect.
    #[test]
    fn the_mix_is_the_documented_one() {
        let n = 200_000;
        let mut per_kind = BTreeMap::new();
        for ev in AgentSession::default().take(n) {
            *per_kind.entry(ev.event.body.kind_name()).or_insert(0usize) += 1;
        }
        let share = |kind| per_kind.get(kind).copied().unwrap_or(0) as f64 * 100.0 / n as f64;
        assert!((93.0..95.0).contains(&share("open")), "{per_kind:?}");
        for kind in ["exec", "fork", "exit"] {
            assert!((1.5..2.1).contains(&share(kind)), "{kind}: {per_kind:?}");
        }
        assert!((0.1..0.3).contains(&share("connect")), "{per_kind:?}");
    }
}
