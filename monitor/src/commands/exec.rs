//! `agentmon exec -- CMD…`: run CMD in a fresh cgroup, watch it and its descendants, and exit with its
//! status once every event it caused has been printed.
use std::{
    ffi::CString,
    os::unix::{ffi::OsStrExt, process::ExitStatusExt},
    path::PathBuf,
    time::Duration,
};

use anyhow::{Context, Result};
use tokio::signal::unix::{SignalKind, signal};

use super::MonitorArgs;
use crate::cgroup::{Cgroup, cgroup2_root};

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
    #[command(flatten)]
    pub(crate) monitor: MonitorArgs,
    /// The command to run and its arguments.
    #[arg(required = true, last = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

/// Removes the exec cgroup on every exit path (killing leftovers first).
struct CgroupGuard(Cgroup);

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        let _ = self.0.kill_all(Duration::from_secs(2));
        if let Err(e) = self.0.remove() {
            tracing::warn!("could not remove {}: {e}", self.0.path.display());
        }
    }
}

pub async fn run(args: ExecArgs) -> Result<i32> {
    crate::probes::check_privileges()?;
    let root = cgroup2_root()?;
    let parent = match &args.parent_cgroup {
        Some(p) => Cgroup::open(&root, p)?,
        None => Cgroup::open(&root, std::path::Path::new("/"))?,
    };
    let name = format!("agentmon-exec-{}-{}", std::process::id(), nanos());
    // Probes first: a missing privilege fails before anything is created.
    let (mut session, rules_dir) = args.monitor.start_session(root.clone())?;
    let guard = CgroupGuard(Cgroup::create(&root, &parent.path, &name)?);
    let agent = args.name.clone().unwrap_or_else(|| {
        std::path::Path::new(&args.command[0])
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    session.watch(&guard.0, &agent)?;
    if !args.protect.is_empty() {
        let paths = args
            .protect
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect();
        session.protect(&agent, paths);
    }

    let procs = CString::new(guard.0.path.join("cgroup.procs").as_os_str().as_bytes()).context("cgroup path")?;
    let mut cmd = tokio::process::Command::new(&args.command[0]);
    cmd.args(&args.command[1..]);
    // SAFETY: the closure only calls async-signal-safe syscalls (open/write/close) on a CString built
    // before fork: it moves the child into the agent cgroup before exec.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let ok = libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
            let err = std::io::Error::last_os_error();
            libc::close(fd);
            if ok { Ok(()) } else { Err(err) }
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
            super::report(format_args!("cannot run {}: {e}", args.command[0]));
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
    let mut sighup = signal(SignalKind::hangup())?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let status = loop {
        tokio::select! {
            r = session.pump() => { r?; }
            s = child.wait() => break s.context("waiting for the command")?,
            _ = tick.tick() => { session.check_drops()?; }
            _ = sigint.recv() => forward(child_pid, libc::SIGINT),
            _ = sigterm.recv() => forward(child_pid, libc::SIGTERM),
            _ = sighup.recv() => if let Some(dir) = &rules_dir { session.reload_rules(dir) },
        }
    };
    // Whatever CMD left running in its cgroup is stopped so nothing escapes unwatched; its events are
    // already in the ring buffer once the cgroup is empty.
    let leftovers = guard.0.kill_all(Duration::from_secs(5))?;
    if leftovers > 0 {
        tracing::info!(leftovers, "killed processes the command left running");
    }
    session.finish(Duration::from_secs(5)).await;
    session.check_drops()?;
    session.log_final_stats();
    session.unwatch(guard.0.id, &agent)?;
    drop(guard);
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
