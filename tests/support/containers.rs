//! Real containers for the end-to-end tests: Docker, Podman and containerd from Debian's packages
//! (containerd started per test, with its own state), a tiny image
//! imported from a local busybox rootfs (no registry), containers run with the mission's hardening
//! flags and `--network none`, uniquely named and removed even when a test fails.
//!
//! `cargo xtask test` installs the runtimes and starts dockerd when none answers; run alone, a test
//! binary starts one itself (`dockerd.rs`) and stops it, by
//! its pid, when it exits. A test whose runtime cannot start at all is skipped, not failed: it says
//! so on stderr and in `$AGENTMON_TEST_SKIPS`, which `cargo xtask test` lists at the end.
use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{
        Mutex, OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

#[path = "dockerd.rs"]
mod dockerd;

/// The hardening flags of the mission's recipe, with `--network none` (no test container gets a
/// network: no bridge, no NAT, nothing to reach).
pub const HARDENED: &[&str] = &[
    "--cap-drop=ALL",
    "--cap-add=NET_BIND_SERVICE",
    "--read-only",
    "--tmpfs",
    "/tmp:rw,noexec,nosuid,size=100m",
    "--network",
    "none",
];

/// The image every test container runs: busybox-static and its applets.
pub const TEST_IMAGE: &str = "agentmon-test-busybox:2";

/// The Docker client of Debian's package (a newer client earlier in PATH may not speak to dockerd
/// 20.10's API).
const DOCKER: &str = "/usr/bin/docker";

/// Records that `test` was skipped and why (stderr, and `$AGENTMON_TEST_SKIPS` for the summary).
#[expect(clippy::print_stderr, reason = "the skip is the test's output")]
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIPPED {test}: {reason}");
    if let Some(path) = std::env::var_os("AGENTMON_TEST_SKIPS")
        && let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path)
    {
        let _ = writeln!(f, "{test}: {reason}");
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Docker,
    Podman,
}

/// A container engine the tests drive through its CLI.
#[derive(Clone, Debug)]
pub struct Engine {
    pub kind: Kind,
    bin: PathBuf,
    env: Vec<(String, String)>,
}

fn quiet_ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A dockerd this test binary started; stopped at exit.
static OUR_DOCKERD: Mutex<Option<Child>> = Mutex::new(None);

extern "C" fn stop_our_dockerd() {
    if let Ok(mut g) = OUR_DOCKERD.lock()
        && let Some(mut child) = g.take()
    {
        // SAFETY: signalling the child we started, by its pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn docker_answers() -> bool {
    quiet_ok(Command::new(DOCKER).args(["version", "--format", "{{.Server.Version}}"]))
}

/// Starts dockerd when none answers; `Err` says why Docker cannot run here.
fn ensure_dockerd() -> Result<(), String> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            if !Path::new(DOCKER).exists() || !Path::new("/usr/sbin/dockerd").exists() {
                return Err("docker.io is not installed (cargo xtask test installs it)".into());
            }
            if docker_answers() {
                return Ok(());
            }
            let log = std::env::temp_dir().join(format!("agentmon-e2e-dockerd-{}.log", std::process::id()));
            let child = dockerd::spawn_dockerd(&log).map_err(|e| format!("starting dockerd: {e}"))?;
            if let Ok(mut g) = OUR_DOCKERD.lock() {
                *g = Some(child);
            }
            // SAFETY: registering a plain extern "C" function.
            unsafe { libc::atexit(stop_our_dockerd) };
            let deadline = Instant::now() + Duration::from_secs(60);
            while !docker_answers() {
                if Instant::now() > deadline {
                    return Err(format!("dockerd did not answer within 60 s (log: {})", log.display()));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Ok(())
        })
        .clone()
}

/// Podman's settings for this host: runc (crun refuses the hybrid cgroup layout) and ulimits below
/// the session's hard limits.
fn podman_conf() -> Result<PathBuf, String> {
    static CONF: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CONF.get_or_init(|| {
        let p = std::env::temp_dir().join("agentmon-e2e-containers.conf");
        std::fs::write(
            &p,
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n[engine]\nruntime = \"runc\"\n",
        )
        .map_err(|e| format!("writing {}: {e}", p.display()))?;
        Ok(p)
    })
    .clone()
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Engine {
    /// Docker, with a dockerd started if none answers; `Err` when it cannot run here.
    pub fn docker() -> Result<Self, String> {
        ensure_dockerd()?;
        let e = Self {
            kind: Kind::Docker,
            bin: DOCKER.into(),
            env: Vec::new(),
        };
        // The runtime runs: a failure from here on is the test's to report, not a skip.
        e.ensure_image().unwrap_or_else(|err| panic!("docker: {err}"));
        Ok(e)
    }

    /// Podman (runc, lowered ulimits); `Err` when it cannot run here.
    pub fn podman() -> Result<Self, String> {
        if !Path::new("/usr/bin/podman").exists() {
            return Err("podman is not installed (cargo xtask test installs it)".into());
        }
        let conf = podman_conf()?;
        let e = Self {
            kind: Kind::Podman,
            bin: "/usr/bin/podman".into(),
            env: vec![("CONTAINERS_CONF".into(), conf.display().to_string())],
        };
        let info = e.cmd(&["info", "--format", "{{.Host.CgroupManager}}"]).output();
        match info {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return Err(format!(
                    "podman info failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(err) => return Err(format!("running podman: {err}")),
        }
        e.ensure_image().unwrap_or_else(|err| panic!("podman: {err}"));
        Ok(e)
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Docker => "docker",
            Kind::Podman => "podman",
        }
    }

    /// The engine's CLI with `args`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.args(args);
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// Runs the CLI; its stdout, or a panic with its stderr.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self
            .cmd(args)
            .output()
            .unwrap_or_else(|e| panic!("{} {args:?}: {e}", self.name()));
        assert!(
            out.status.success(),
            "{} {args:?} failed: {}",
            self.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Imports [`TEST_IMAGE`] from a busybox rootfs, once.
    fn ensure_image(&self) -> Result<(), String> {
        static LOCK: Mutex<()> = Mutex::new(());
        let _g = LOCK.lock().map_err(|e| e.to_string())?;
        if quiet_ok(&mut self.cmd(&["image", "inspect", TEST_IMAGE])) {
            return Ok(());
        }
        let busybox = Path::new("/bin/busybox");
        if !busybox.exists() {
            return Err("busybox-static is not installed (cargo xtask test installs it)".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let root = dir.path();
        for d in ["bin", "tmp", "etc", "proc", "sys", "dev", "run", "data"] {
            std::fs::create_dir_all(root.join(d)).map_err(|e| e.to_string())?;
        }
        std::fs::copy(busybox, root.join("bin/busybox")).map_err(|e| e.to_string())?;
        for applet in [
            "sh", "sleep", "cat", "ls", "id", "echo", "touch", "true", "head", "wc", "nc",
        ] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).map_err(|e| e.to_string())?;
        }
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").map_err(|e| e.to_string())?;
        std::fs::write(root.join("etc/secret"), "not really\n").map_err(|e| e.to_string())?;
        let tar = Command::new("tar")
            .arg("-C")
            .arg(root)
            .args(["--owner=0", "--group=0", "-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("tar: {e}"))?;
        let Some(stdout) = tar.stdout else {
            return Err("tar: no stdout".into());
        };
        let out = self
            .cmd(&["import", "-", TEST_IMAGE])
            .stdin(stdout)
            .output()
            .map_err(|e| format!("{} import: {e}", self.name()))?;
        if !out.status.success() {
            return Err(format!(
                "{} import failed: {}",
                self.name(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    }

    /// A unique container name for `tag`.
    pub fn unique_name(tag: &str) -> String {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        format!("agentmon-e2e-{tag}-{}-{n}", std::process::id())
    }

    /// `run -d` a hardened container named `name` with `extra` flags running `cmd` (default:
    /// `sleep 600`); removed when the guard drops.
    pub fn run(&self, name: &str, extra: &[&str], cmd: &[&str]) -> Container {
        self.run_image(name, extra, TEST_IMAGE, cmd)
    }

    /// [`Engine::run`] of another image (no hardening flags added: `extra` says everything).
    pub fn run_image(&self, name: &str, extra: &[&str], image: &str, cmd: &[&str]) -> Container {
        let mut args = vec!["run", "-d", "--name", name];
        if image == TEST_IMAGE {
            args.extend_from_slice(HARDENED);
        }
        args.extend_from_slice(extra);
        args.push(image);
        if cmd.is_empty() {
            args.extend_from_slice(&["sleep", "600"]);
        } else {
            args.extend_from_slice(cmd);
        }
        // The guard exists before the container does: a failed start is removed too.
        let c = Container {
            engine: self.clone(),
            name: name.to_string(),
        };
        let id = self.ok(&args);
        assert_eq!(id.len(), 64, "container id: {id}");
        c
    }
}

/// A running container; force-removed (thawed first, in case a test froze it) on drop.
pub struct Container {
    pub engine: Engine,
    pub name: String,
}

impl Container {
    pub fn id(&self) -> String {
        self.engine.ok(&["inspect", "--format", "{{.Id}}", &self.name])
    }

    /// The host pid of the container's first process (0 once it stopped).
    pub fn pid(&self) -> u32 {
        self.engine
            .ok(&["inspect", "--format", "{{.State.Pid}}", &self.name])
            .parse()
            .unwrap_or(0)
    }

    /// `{{.State.Status}}` and `{{.State.ExitCode}}`.
    pub fn state(&self) -> (String, i64) {
        let s = self.engine.ok(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            &self.name,
        ]);
        let (status, code) = s.split_once(' ').unwrap_or((s.as_str(), "0"));
        (status.to_string(), code.parse().unwrap_or(0))
    }

    /// The container's cgroup directory (absolute), read from its first process.
    pub fn cgroup_dir(&self) -> PathBuf {
        let pid = self.pid();
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("container's /proc/PID/cgroup");
        let rel = text
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .expect("a cgroup2 line");
        crate::cgroup_root().join(rel.trim_start_matches('/'))
    }

    /// `exec` in the container.
    pub fn exec(&self, cmd: &[&str]) -> Output {
        let mut args = vec!["exec", self.name.as_str()];
        args.extend_from_slice(cmd);
        self.engine.cmd(&args).output().expect("exec in the container")
    }

    /// `exec` in the container without waiting (it may be frozen or killed meanwhile).
    pub fn spawn_exec(&self, cmd: &[&str]) -> Child {
        let mut args = vec!["exec", self.name.as_str()];
        args.extend_from_slice(cmd);
        self.engine
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("exec in the container")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let pid = self
            .engine
            .cmd(&["inspect", "--format", "{{.State.Pid}}", &self.name])
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok())
            .unwrap_or(0);
        if pid != 0
            && let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            && let Some(rel) = text.lines().find_map(|l| l.strip_prefix("0::"))
        {
            let _ = std::fs::write(
                crate::cgroup_root()
                    .join(rel.trim_start_matches('/'))
                    .join("cgroup.freeze"),
                "0",
            );
        }
        let _ = self.engine.cmd(&["rm", "-f", &self.name]).output();
    }
}

/// A one-request-at-a-time HTTP receiver on 127.0.0.1 that answers 200 and keeps every body (the
/// webhook's Falco payloads).
pub struct Receiver {
    pub port: u16,
    bodies: std::sync::Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    pub fn start() -> Self {
        use std::io::{BufRead, BufReader, Read};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let bodies = std::sync::Arc::new(Mutex::new(Vec::new()));
        let b = std::sync::Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut r = BufReader::new(stream);
                let mut len = 0usize;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let l = line.trim().to_ascii_lowercase();
                    if l.is_empty() {
                        break;
                    }
                    if let Some(v) = l.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; len];
                if r.read_exact(&mut body).is_ok()
                    && let Ok(mut g) = b.lock()
                {
                    g.push(String::from_utf8_lossy(&body).into_owned());
                }
                let mut s = r.into_inner();
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        Self { port, bodies }
    }

    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

/// A containerd of the test's own (root, state and socket in a temporary directory; the CRI plugin
/// off), stopped by its pid and cleaned up on drop, with the containers it ran.
pub struct Containerd {
    child: Child,
    pub dir: tempfile::TempDir,
    socket: PathBuf,
    /// (ID, cgroup directory) of the containers run.
    containers: Vec<(String, PathBuf)>,
}

impl Containerd {
    /// Starts it; `Err` says why containerd cannot run here.
    pub fn start() -> Result<Self, String> {
        for bin in ["/usr/bin/containerd", "/usr/bin/ctr"] {
            if !Path::new(bin).exists() {
                return Err(format!(
                    "{bin} is missing (the containerd package; cargo xtask test installs it)"
                ));
            }
        }
        // Not under /tmp: its overlay snapshotter and shims want a plain filesystem.
        let dir = tempfile::Builder::new()
            .prefix("agentmon-e2e-containerd-")
            .tempdir_in("/var/tmp")
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        let socket = d.join("containerd.sock");
        let config = d.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n[debug]\n  address = \"\"\n",
                root = d.join("root").display(),
                state = d.join("state").display(),
                sock = socket.display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(d.join("containerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("/usr/bin/containerd")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting containerd: {e}"))?;
        let mut c = Self {
            child,
            dir,
            socket,
            containers: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !quiet_ok(&mut c.ctr(&["version"])) {
            if let Ok(Some(status)) = c.child.try_wait() {
                return Err(format!("containerd exited ({status})"));
            }
            if Instant::now() > deadline {
                return Err("containerd did not answer within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(c)
    }

    /// Where its tasks' OCI bundles are (the `runtimes.containerd_state` to read).
    pub fn task_state(&self) -> PathBuf {
        self.dir.path().join("state/io.containerd.runtime.v2.task")
    }

    /// `ctr` on this containerd, in the `k8s.io` namespace (the CRI plugin's).
    pub fn ctr(&self, args: &[&str]) -> Command {
        let mut c = Command::new("/usr/bin/ctr");
        c.arg("--address")
            .arg(&self.socket)
            .args(["--namespace", "k8s.io"])
            .args(args);
        c
    }

    /// Runs `sleep 600` from a busybox rootfs in a container with ID `id`, in the cgroup `cgroup`
    /// (relative to the cgroup2 root, below a top directory of the test's own: it is removed with
    /// its parents up to that top) and with these OCI annotations (as the CRI plugin writes them).
    /// Its own network namespace, with only `lo`: `--network none`.
    pub fn run(&mut self, id: &str, cgroup: &str, annotations: &[(&str, &str)]) {
        let rootfs = self.dir.path().join(format!("rootfs-{id}"));
        for d in ["bin", "tmp", "etc", "proc", "sys", "dev"] {
            std::fs::create_dir_all(rootfs.join(d)).expect("rootfs");
        }
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox");
        for applet in ["sh", "sleep", "cat"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).expect("applet");
        }
        std::fs::write(rootfs.join("etc/secret"), "not really\n").expect("secret");
        self.containers.push((
            id.to_string(),
            crate::cgroup_root().join(cgroup.trim_start_matches('/')),
        ));
        let mut args = vec!["run", "-d", "--rootfs", "--cgroup", cgroup];
        let ann: Vec<String> = annotations.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for a in &ann {
            args.push("--annotation");
            args.push(a);
        }
        let rootfs = rootfs.display().to_string();
        args.extend_from_slice(&[&rootfs, id, "/bin/sleep", "600"]);
        let out = self.ctr(&args).output().expect("ctr run");
        assert!(
            out.status.success(),
            "ctr run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `ctr task exec` in container `id`.
    pub fn exec(&self, id: &str, exec_id: &str, cmd: &[&str]) -> Output {
        let mut args = vec!["task", "exec", "--exec-id", exec_id, id];
        args.extend_from_slice(cmd);
        self.ctr(&args).output().expect("ctr task exec")
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for (id, cgroup) in std::mem::take(&mut self.containers) {
            let _ = std::fs::write(cgroup.join("cgroup.freeze"), "0");
            let _ = self.ctr(&["task", "kill", "-s", "KILL", &id]).output();
            let gone = Instant::now() + Duration::from_secs(5);
            while Instant::now() < gone
                && self
                    .ctr(&["task", "rm", &id])
                    .output()
                    .is_ok_and(|o| !o.status.success())
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.ctr(&["container", "rm", &id]).output();
            // The cgroup and its parents up to the test's own top directory.
            let mut dir = Some(cgroup.as_path());
            while let Some(d) = dir.filter(|d| d.starts_with(crate::cgroup_root()) && *d != crate::cgroup_root()) {
                // containerd removes the container's own cgroup with its task.
                match std::fs::remove_dir(d) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(_) => break,
                }
                dir = d.parent();
            }
        }
        // SAFETY: signalling the child we started, by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
