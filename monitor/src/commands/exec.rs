//! `agentmon exec -- CMD…`: run CMD in a fresh cgroup, watch it and its descendants, and exit with its
//! status once every event it caused has been printed. With `--sandbox PROFILE` the child confines
//! itself to the profile (Landlock, seccomp) before it runs CMD (`crate::sandbox`).
use std::{
    ffi::CString,
    os::unix::{ffi::OsStrExt, process::ExitStatusExt},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, Result};
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::MonitorArgs;
use crate::{
    cgroup::{Cgroup, cgroup2_root},
    profile::{self, export},
    sandbox::{self, Sandbox},
    session::Session,
};

#[derive(Clone, Debug, clap::Args)]
pub struct ExecArgs {
    /// Parent cgroup for the new one (absolute, or relative to the cgroup2 mount). Default: the root.
    #[arg(long, value_name = "PATH")]
    pub(crate) parent_cgroup: Option<PathBuf>,
    /// Agent name used in events and alerts (default: the command's file name).
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The agent's own code/config path (drift rules alert on writes below it); repeatable.
    #[arg(long, value_name = "PATH")]
    pub(crate) protect: Vec<PathBuf>,
    /// Confine CMD to this profile (from `agentmon learn`): Landlock and seccomp, denials alerted.
    #[arg(long, value_name = "PROFILE")]
    pub(crate) sandbox: Option<PathBuf>,
    /// enforce: refuse what the profile does not allow; audit: apply nothing, alert on deviations.
    #[arg(long, value_enum, default_value_t = sandbox::Mode::Enforce, requires = "sandbox")]
    pub(crate) sandbox_mode: sandbox::Mode,
    #[command(flatten)]
    pub(crate) monitor: MonitorArgs,
    /// The command to run and its arguments.
    #[arg(required = true, last = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

/// Removes the exec cgroup on every exit path (killing leftovers first).
pub(crate) struct CgroupGuard(pub Cgroup);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        let _ = self.0.kill_all(Duration::from_secs(2));
        if let Err(e) = self.0.remove() {
            tracing::warn!("could not remove {}: {e}", self.0.path.display());
        }
    }
}

/// The name a command's agent gets by default: the command's file name.
pub(crate) fn default_agent(command: &[String]) -> String {
    command
        .first()
        .and_then(|c| Path::new(c).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A fresh cgroup under `parent` (default: the root) for a command agentmon launches.
pub(crate) fn fresh_cgroup(root: &Path, parent: Option<&Path>, what: &str) -> Result<CgroupGuard> {
    let parent = Cgroup::open(root, parent.unwrap_or_else(|| Path::new("/")))?;
    let name = format!("agentmon-{what}-{}-{}", std::process::id(), nanos());
    Ok(CgroupGuard(Cgroup::create(root, &parent.path, &name)?))
}

pub async fn run(args: ExecArgs) -> Result<i32> {
    crate::probes::check_privileges()?;
    // SIGHUP's handler first: a reload request while the probes load must not kill us (its
    // default) and is applied once the command runs. SIGINT/SIGTERM keep theirs: they abort the start.
    let sighup = signal(SignalKind::hangup())?;
    let root = cgroup2_root()?;
    let agent = args.name.clone().unwrap_or_else(|| default_agent(&args.command));
    // The profile first: a bad one fails before anything is loaded or created.
    let sandboxed = match &args.sandbox {
        Some(path) => {
            let p = profile::load(path)?;
            let rules = export::rules(&p, export::Target::Sandbox(args.sandbox_mode));
            Some((p, rules))
        }
        None => None,
    };
    let extra = sandboxed
        .as_ref()
        .map(|(_, r)| vec![("<sandbox profile rules>".to_string(), r.clone())])
        .unwrap_or_default();
    // Probes first: a missing privilege fails before anything is created.
    let (mut session, rules_dir) = args.monitor.start_session_with(root.clone(), extra)?;
    let sandbox = match &sandboxed {
        Some((p, _)) => {
            session
                .probes
                .set_sandbox_syscalls(&sandbox::seccomp::report_flags(p, args.sandbox_mode))?;
            session
                .probes
                .attach_on_demand(&monitor_common::programs::SYSCALL_REPORT)?;
            let s = Sandbox::prepare(p, args.sandbox_mode)?;
            super::report(&s.summary);
            Some(Arc::new(s))
        }
        None => None,
    };
    let guard = fresh_cgroup(&root, args.parent_cgroup.as_deref(), "exec")?;
    session.watch(&guard.0, &agent)?;
    if !args.protect.is_empty() {
        let paths = args
            .protect
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect();
        session.protect(&agent, paths);
    }
    let code = supervise(
        &mut session,
        &guard.0,
        &args.command,
        sandbox,
        rules_dir.as_deref(),
        None,
        sighup,
    )
    .await?;
    session.unwatch(guard.0.id, &agent)?;
    drop(guard);
    Ok(code)
}

/// Runs `command` in `cgroup` under `session` (the child moves itself into the cgroup, then applies
/// `sandbox`, then execs), pumps events until it exits (or `limit` passes: then it is stopped),
/// stops whatever it left running and processes every event. Returns its exit status as a shell
/// would (128 + signal; 127 not found, 126 not runnable). `sighup` reloads the rules from `rules_dir`:
/// the caller creates it before loading anything, so a SIGHUP is never fatal.
pub(crate) async fn supervise(
    session: &mut Session,
    cgroup: &Cgroup,
    command: &[String],
    sandbox: Option<Arc<Sandbox>>,
    rules_dir: Option<&Path>,
    limit: Option<Duration>,
    mut sighup: Signal,
) -> Result<i32> {
    let procs = CString::new(cgroup.path.join("cgroup.procs").as_os_str().as_bytes()).context("cgroup path")?;
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..]);
    // SAFETY: the closure only calls async-signal-safe syscalls (open/write/close, prctl,
    // landlock_restrict_self, seccomp) on memory prepared before fork: it moves the child into the
    // agent cgroup, then confines it, before exec.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let ok = libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            if !ok {
                return Err(err);
            }
            match &sandbox {
                Some(s) => s.apply_in_child(),
                None => Ok(()),
            }
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            super::report(format_args!("cannot run {}: {e}", command[0]));
            return Ok(code);
        }
    };
    let child_pid = child.id();
    if let (Some(pid), Ok(cwd)) = (child_pid, std::env::current_dir()) {
        session
            .pipeline
            .enricher_mut()
            .table_mut()
            .seed_cwd(pid, &cwd.to_string_lossy());
    }
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let until = tokio::time::sleep(limit.unwrap_or(Duration::MAX / 4));
    tokio::pin!(until);
    let status = loop {
        tokio::select! {
            r = session.pump() => { r?; }
            s = child.wait() => break s.context("waiting for the command")?,
            _ = tick.tick() => { session.check_drops()?; }
            _ = sigint.recv() => forward(child_pid, libc::SIGINT),
            _ = sigterm.recv() => forward(child_pid, libc::SIGTERM),
            _ = sighup.recv() => if let Some(dir) = rules_dir { session.reload_rules(dir) },
            () = &mut until => {
                tracing::info!("time is up: stopping the command");
                forward(child_pid, libc::SIGTERM);
                until.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(3600));
            }
        }
    };
    // Whatever CMD left running in its cgroup is stopped so nothing escapes unwatched; its events are
    // already in the ring buffer once the cgroup is empty.
    let leftovers = cgroup.kill_all(Duration::from_secs(5))?;
    if leftovers > 0 {
        tracing::info!(leftovers, "killed processes the command left running");
    }
    session.finish(Duration::from_secs(5)).await;
    session.check_drops()?;
    session.log_final_stats();
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

fn forward(pid: Option<u32>, sig: i32) {
    if let Some(pid) = pid {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(pid as i32, sig) };
    }
}

fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}
