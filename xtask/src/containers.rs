//! Container runtimes for the test suite and the image build: Docker and Podman from Debian's
//! packages, and a dockerd started only when none answers (stopped again, by its pid, by whoever
//! started it).
//!
//! dockerd runs with `--iptables=false --ip6tables=false --bridge=none`: no NAT, no bridge, no
//! rule in the host's firewall; the tests give every container `--network none`.
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::workspace_root;

#[path = "../../tests/support/dockerd.rs"]
mod dockerd;

/// The Docker client of Debian's package (a newer client earlier in PATH may not speak to dockerd
/// 20.10's API).
pub(crate) const DOCKER: &str = "/usr/bin/docker";

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs docker.io, containerd, podman, runc and busybox-static from Debian's packages where
/// missing.
pub(crate) fn install() -> Result<()> {
    let wanted: &[(&str, &str)] = &[
        ("docker.io", "/usr/sbin/dockerd"),
        ("docker.io", DOCKER),
        ("containerd", "/usr/bin/containerd"),
        ("containerd", "/usr/bin/ctr"),
        ("podman", "/usr/bin/podman"),
        ("runc", "/usr/sbin/runc"),
        ("busybox-static", "/bin/busybox"),
    ];
    crate::setup::install_missing(wanted, "the container tests")
}

/// Whether a dockerd answers on the default socket.
pub(crate) fn docker_answers() -> bool {
    Path::new(DOCKER).exists() && quiet(Command::new(DOCKER).args(["version", "--format", "{{.Server.Version}}"]))
}

/// A dockerd this process started; stopped (SIGTERM, then SIGKILL) by its pid when dropped.
pub(crate) struct Dockerd {
    child: Child,
}

impl Dockerd {
    /// Starts dockerd unless one already answers (then `None`: someone else's, left alone).
    pub(crate) fn start_if_needed() -> Result<Option<Self>> {
        if docker_answers() {
            return Ok(None);
        }
        if !Path::new("/usr/sbin/dockerd").exists() {
            bail!("dockerd is not installed");
        }
        let log = workspace_root().join("target/dockerd.log");
        eprintln!(
            "xtask: starting dockerd {} (log: {})",
            dockerd::DOCKERD_ARGS.join(" "),
            log.display()
        );
        let child =
            dockerd::spawn_dockerd(&log).with_context(|| format!("starting dockerd (log: {})", log.display()))?;
        let mut d = Self { child };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !docker_answers() {
            if let Ok(Some(status)) = d.child.try_wait() {
                bail!("dockerd exited ({status}); see {}", log.display());
            }
            if Instant::now() > deadline {
                bail!("dockerd did not answer within 60 s; see {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(Some(d))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                eprintln!("xtask: stopped dockerd (pid {pid})");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("xtask: killed dockerd (pid {pid}) after 20 s");
    }
}

/// The engine that builds images: `docker` when a dockerd answers, else `podman`.
pub(crate) fn engine(wanted: Option<&str>) -> Result<PathBuf> {
    let podman = || quiet(Command::new("podman").arg("--version"));
    match wanted {
        None | Some("docker") if docker_answers() => Ok(PathBuf::from(DOCKER)),
        None | Some("podman") if podman() => Ok(PathBuf::from("podman")),
        None => bail!("neither docker (with a running dockerd) nor podman is available"),
        Some("docker") => bail!("no dockerd answers on /var/run/docker.sock"),
        Some("podman") => bail!("podman is not installed"),
        Some(other) => bail!("unknown engine {other:?}: docker or podman"),
    }
}
