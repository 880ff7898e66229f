//! Shared helpers for the end-to-end tests: the real `agentmon` binary, uniquely named cgroups that are
//! removed even when a test fails, and processes started inside a chosen cgroup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{
    io::{BufRead, BufReader},
    os::unix::{fs::MetadataExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use serde_json::Value;

#[path = "support/containers.rs"]
pub mod containers;
#[path = "support/io_uring.rs"]
pub mod io_uring;

/// The `agentmon` binary built in the same target directory as this test.
pub fn agentmon_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("AGENTMON_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/agentmon
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("agentmon");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo xtask test` does)",
        bin.display()
    );
    bin
}

pub fn agentmon() -> Command {
    let mut c = Command::new(agentmon_bin());
    c.env("RUST_LOG", "info");
    c
}

/// The cgroup2 mount point.
pub fn cgroup_root() -> PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    info.lines()
        .find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount = pre.split_whitespace().nth(4)?;
            (post.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mount))
        })
        .expect("cgroup2 is mounted")
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A uniquely named cgroup; on drop every process in it is killed and the subtree removed.
pub struct TestCgroup {
    pub path: PathBuf,
}

impl TestCgroup {
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = cgroup_root().join(format!("agentmon-test-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        Self { path }
    }

    /// A child cgroup (removed with the parent).
    pub fn child(&self, name: &str) -> PathBuf {
        let p = self.path.join(name);
        std::fs::create_dir(&p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
        p
    }

    /// cgroup id (inode number) of this cgroup.
    pub fn id(&self) -> u64 {
        cgroup_id(&self.path)
    }
}

pub fn cgroup_id(path: &Path) -> u64 {
    std::fs::metadata(path).expect("cgroup dir").ino()
}

fn subtree(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                subtree(&e.path(), out);
            }
        }
    }
    out.push(dir.to_path_buf());
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::write(self.path.join("cgroup.freeze"), "0");
        let _ = std::fs::write(self.path.join("cgroup.kill"), "1");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut dirs = Vec::new();
            subtree(&self.path, &mut dirs);
            let mut ok = true;
            for d in dirs {
                if std::fs::remove_dir(&d).is_err() && d.exists() {
                    ok = false;
                }
            }
            if ok || Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A command that moves itself into `cgroup` before exec.
pub fn command_in(cgroup: &Path, program: &str, args: &[&str]) -> Command {
    let procs = std::ffi::CString::new(cgroup.join("cgroup.procs").to_string_lossy().as_bytes()).expect("path");
    let mut c = Command::new(program);
    c.args(args);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let ok = libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
            libc::close(fd);
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    c
}

/// Runs a command inside `cgroup` to completion.
pub fn run_in(cgroup: &Path, program: &str, args: &[&str]) -> ExitStatus {
    command_in(cgroup, program, args)
        .status()
        .unwrap_or_else(|e| panic!("running {program}: {e}"))
}

/// Output of `agentmon exec --json`.
pub struct ExecRun {
    pub events: Vec<Value>,
    pub status: ExitStatus,
    pub stderr: String,
}

impl ExecRun {
    pub fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["kind"] == kind).collect()
    }

    /// Events of `kind` whose `key` is `value`.
    pub fn of_kind_with(&self, kind: &str, key: &str, value: &str) -> Vec<&Value> {
        self.events
            .iter()
            .filter(|e| e["kind"] == kind && e[key] == value)
            .collect()
    }

    /// Alert records (they carry a `rule`).
    pub fn alerts(&self) -> Vec<&Value> {
        self.events.iter().filter(|e| e.get("rule").is_some()).collect()
    }

    /// Alerts of one rule.
    pub fn alerts_of(&self, rule: &str) -> Vec<&Value> {
        self.alerts().into_iter().filter(|a| a["rule"] == rule).collect()
    }

    /// Names of the rules that fired.
    pub fn fired(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .alerts()
            .iter()
            .filter_map(|a| a["rule"].as_str().map(String::from))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

pub fn parse_json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A scratch directory in /tmp named `prefix…`, removed when dropped.
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir_in("/tmp").unwrap()
}

/// A scratch directory in /tmp with `real/` and its subdirectories `dirs`, reached through a
/// symlinked directory `link/` too: a path through `link/` is not the kernel's name of a file.
pub struct LinkedTree {
    pub dir: tempfile::TempDir,
}

impl LinkedTree {
    pub fn new(prefix: &str, dirs: &[&str]) -> Self {
        let dir = scratch_dir(prefix);
        std::fs::create_dir(dir.path().join("real")).unwrap();
        for d in dirs {
            std::fs::create_dir_all(dir.path().join("real").join(d)).unwrap();
        }
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
        Self { dir }
    }

    /// `rel` in the tree, as text.
    pub fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    /// The kernel's (canonical) path of `real/<rel>`.
    pub fn real(&self, rel: &str) -> String {
        canonical(self.dir.path().join("real").join(rel))
    }
}

/// The canonical path of `p` (the kernel's name of the file), as text.
pub fn canonical(p: impl AsRef<Path>) -> String {
    std::fs::canonicalize(p).unwrap().display().to_string()
}

/// Answers `n` connections on 127.0.0.1 (each request read, up to 2 KiB) with `response`, from a
/// thread; returns the port.
pub fn serve_http(n: usize, response: String) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().take(n) {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 2048];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let _ = std::io::Write::write_all(&mut s, response.as_bytes());
        }
    });
    port
}

/// Writes `dir/config.yaml` for `agentmon run --config`: every cgroup `<rel>/agent-*` is an agent
/// named by its cgroup, cgroups are rescanned every 100 ms, then `extra` (more top-level YAML).
/// Returns the file's path.
pub fn agents_config(dir: &Path, rel: &str, extra: &str) -> PathBuf {
    let cfg = dir.join("config.yaml");
    std::fs::write(
        &cfg,
        format!(
            "agents:\n  - name: \"{{cgroup}}\"\n    match: {{cgroup: \"{rel}/agent-*\"}}\n\
             discovery: {{rescan_interval: 100ms}}\n{extra}"
        ),
    )
    .unwrap();
    cfg
}

/// The shipped rule directory.
pub fn shipped_rules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

/// `agentmon exec --json --no-rules [extra…] -- cmd…`: every event.
pub fn exec_json(extra: &[&str], cmd: &[&str]) -> ExecRun {
    let mut all = vec!["--no-rules"];
    all.extend_from_slice(extra);
    exec_raw(&all, cmd)
}

/// `agentmon exec --json --events --rules RULES [extra…] -- cmd…`: events and alerts.
pub fn exec_rules(rules: &Path, extra: &[&str], cmd: &[&str]) -> ExecRun {
    let rules = rules.to_string_lossy().into_owned();
    let mut all = vec!["--events", "--rules", rules.as_str()];
    all.extend_from_slice(extra);
    exec_raw(&all, cmd)
}

/// `cmd` in a private mount namespace (`unshare -m --propagation private cmd…`): its mounts never
/// reach the host.
pub fn in_private_mount_ns<'a>(cmd: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["unshare", "-m", "--propagation", "private"];
    all.extend_from_slice(cmd);
    all
}

/// `cmd` as nobody (`setpriv --reuid=65534 --regid=65534 --clear-groups cmd…`).
pub fn as_nobody<'a>(cmd: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    all.extend_from_slice(cmd);
    all
}

/// `agentmon exec --json [extra…] -- cmd…`
pub fn exec_raw(extra: &[&str], cmd: &[&str]) -> ExecRun {
    exec_raw_env(&[], extra, cmd)
}

/// [`exec_raw`] with these variables in agentmon's environment (e.g. `AGENTMON_NO_LSM=1`).
pub fn exec_raw_env(env: &[(&str, &str)], extra: &[&str], cmd: &[&str]) -> ExecRun {
    let out = agentmon()
        .envs(env.iter().copied())
        .arg("exec")
        .arg("--json")
        .args(extra)
        .arg("--")
        .args(cmd)
        .output()
        .expect("running agentmon exec");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ExecRun {
        events: parse_json_lines(&stdout),
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `agentmon release AGENT` with the quarantine state in `state_dir`; asserts it succeeded.
pub fn release(agent: &str, state_dir: &str) {
    let out = agentmon()
        .args(["release", agent])
        .env("AGENTMON_STATE_DIR", state_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `agentmon replay --json --rules RULES LOG`: what it printed; asserts it succeeded.
pub fn replay_json(rules: &Path, log: &str) -> Vec<Value> {
    let out = agentmon()
        .args(["replay", "--json", "--rules"])
        .arg(rules)
        .arg(log)
        .output()
        .expect("replay");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    parse_json_lines(&String::from_utf8_lossy(&out.stdout))
}

/// A running `agentmon run --json …`; collects its JSON lines; stopped with SIGTERM.
pub struct Monitor {
    child: Child,
    /// Each stdout line as JSON, with the `CLOCK_BOOTTIME` (the clock of event timestamps) it was
    /// read at. Parsed by the reader thread, so looking at it never holds the pipe up for long.
    lines: Arc<Mutex<Vec<(Value, u64)>>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Monitor {
    /// Starts `agentmon run --json ARGS` and waits until it is watching.
    /// Without `--rules` in `args`, runs with `--no-rules` (events only).
    pub fn start(args: &[&str]) -> Self {
        Self::start_env(args, &[])
    }

    /// [`Monitor::start`] with extra environment variables for agentmon.
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = agentmon();
        cmd.envs(env.iter().copied());
        cmd.arg("run").arg("--json");
        if !args.contains(&"--rules") {
            cmd.arg("--no-rules");
        }
        let mut child = cmd
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting agentmon run");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let l = Arc::clone(&lines);
        let r1 = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let read_at = boottime_ns();
                if line.trim().is_empty() {
                    continue;
                }
                let v = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                l.lock().expect("lock").push((v, read_at));
            }
        });
        let s = Arc::clone(&stderr);
        let r2 = std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut g = s.lock().expect("lock");
                g.push_str(&line);
                g.push('\n');
            }
        });
        let mut m = Self {
            child,
            lines,
            stderr,
            readers: vec![r1, r2],
        };
        // Loading verifies ~100 programs: a few seconds here, ≈ 30–60 s under QEMU TCG with two
        // tests starting at once (`cargo xtask test-vm`). A start that fails ends the wait early.
        m.wait_stderr("watching", Duration::from_secs(300));
        m
    }

    /// Waits until stderr contains `needle` (panics with the stderr so far after `timeout`).
    pub fn wait_stderr(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr.lock().expect("lock").contains(needle) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("agentmon exited ({status}) before '{needle}': {}", self.stderr());
            }
            assert!(
                Instant::now() <= deadline,
                "timed out waiting for '{needle}' on agentmon's stderr: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Events so far.
    pub fn events(&self) -> Vec<Value> {
        self.lines
            .lock()
            .expect("lock")
            .iter()
            .map(|(v, _)| v.clone())
            .collect()
    }

    /// Events so far, each with the `CLOCK_BOOTTIME` at which this test read it from agentmon's
    /// stdout (compare with the event's `ktime_ns` for its delivery latency).
    pub fn events_read_at(&self) -> Vec<(Value, u64)> {
        self.lines.lock().expect("lock").clone()
    }

    /// Waits until `pred` holds for some event; returns it.
    pub fn wait_event(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        let mut seen = 0;
        loop {
            {
                let lines = self.lines.lock().expect("lock");
                if let Some((e, _)) = lines[seen..].iter().find(|(e, _)| pred(e)) {
                    return Some(e.clone());
                }
                seen = lines.len();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`Monitor::stop`], plus everything agentmon wrote on stderr (its final stats line last).
    pub fn stop_with_stderr(self) -> (Vec<Value>, ExitStatus, String) {
        let stderr = Arc::clone(&self.stderr);
        let (events, status) = self.stop();
        let text = stderr.lock().expect("lock").clone();
        (events, status, text)
    }

    /// SIGTERM, wait, and return every event printed plus the exit status.
    pub fn stop(mut self) -> (Vec<Value>, ExitStatus) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().expect("waiting for agentmon");
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        (self.events(), status)
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Any event matching `pred`?
pub fn find(events: &[Value], pred: impl Fn(&Value) -> bool) -> Option<&Value> {
    events.iter().find(|e| pred(e))
}

/// A throw-away rule directory holding one YAML file.
pub fn rules_dir(yaml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("test.yaml"), yaml).expect("writing rules");
    dir
}

/// Whether `cgroup.events` says frozen.
pub fn is_frozen(cgroup: &Path) -> bool {
    std::fs::read_to_string(cgroup.join("cgroup.events"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.trim() == "frozen 1")
}

/// `CLOCK_BOOTTIME` now, in ns: the clock of the kernel's event timestamps (`ktime_ns`).
pub fn boottime_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &raw mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Waits for `cond` up to `timeout`.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// A small tmpfs mounted for one test; unmounted on drop (also when the test fails).
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    pub fn new(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "agentmon-test-tmpfs",
            ])
            .arg(dir.path())
            .status()
            .expect("running mount")
            .success();
        assert!(ok, "mounting a tmpfs on {}", dir.path().display());
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

// mounts, scope, io_uring, code loading
/// Python that installs a seccomp filter refusing the x86-64 syscalls `nrs` with `EPERM`
/// (`SECCOMP_RET_ERRNO`, as a container runtime's default profile refuses `mount` or
/// `io_uring_setup`) and allowing everything else. Self-contained: paste it before the code to run
/// under the filter.
pub fn seccomp_refusing_py(nrs: &[u32]) -> String {
    use std::fmt::Write as _;
    // ld [nr]; one `jeq nr` per syscall, jumping to the refusal; allow; refuse.
    let mut jumps = String::new();
    for (i, nr) in nrs.iter().enumerate() {
        let _ = writeln!(jumps, "    insn(0x15, {}, 0, {nr}),", nrs.len() - i);
    }
    format!(
        r#"
import ctypes as _ct, struct as _st
def insn(code, jt, jf, k):
    return _st.pack("HBBI", code, jt, jf, k)
_prog = b"".join([
    insn(0x20, 0, 0, 0),
{jumps}    insn(0x06, 0, 0, 0x7fff0000),
    insn(0x06, 0, 0, 0x00050001),
])
_filt = _ct.create_string_buffer(_prog, len(_prog))
_fprog = _ct.create_string_buffer(_st.pack("HxxxxxxQ", len(_prog) // 8, _ct.addressof(_filt)), 16)
_libc = _ct.CDLL(None, use_errno=True)
assert _libc.prctl(38, 1, 0, 0, 0) == 0, "PR_SET_NO_NEW_PRIVS"
assert _libc.prctl(22, 2, _fprog, 0, 0) == 0, "PR_SET_SECCOMP"
"#
    )
}

/// `agentmon doctor`'s output (the capability table and the mechanism chosen per hook).
pub fn doctor() -> String {
    doctor_env(&[])
}

/// [`doctor`] with these variables in its environment.
pub fn doctor_env(env: &[(&str, &str)]) -> String {
    let out = agentmon()
        .envs(env.iter().copied())
        .arg("doctor")
        .output()
        .expect("running agentmon doctor");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The line of `agentmon doctor`'s "mechanism per hook" section for `hook` (open, exec, connect,
/// mount): `lsm/…` where BPF LSM runs, `tracepoint …` on the fallback.
pub fn mechanism(hook: &str) -> String {
    mechanism_env(hook, &[])
}

/// [`mechanism`] for an agentmon started with these variables in its environment.
pub fn mechanism_env(hook: &str, env: &[(&str, &str)]) -> String {
    let t = doctor_env(env);
    let section = t.split("mechanism per hook:").nth(1).expect("mechanism section");
    section
        .lines()
        .find(|l| l.split_whitespace().next() == Some(hook))
        .unwrap_or_else(|| panic!("no {hook} mechanism in:\n{t}"))
        .to_string()
}

/// Whether a line of `stderr` (a shell's or a program's error message) says that `path` was
/// refused with EPERM; agentmon's own capability log can say "Operation not permitted" too.
pub fn refused_with_eperm(stderr: &str, path: &Path) -> bool {
    let p = path.to_string_lossy();
    stderr
        .lines()
        .any(|l| l.contains(p.as_ref()) && l.contains("Operation not permitted"))
}
