//! `agentmon exec --sandbox PROFILE`: confine the agent agentmon launches to its profile, in the
//! kernel and synchronously: a Landlock ruleset ([`landlock`]) and seccomp filters ([`seccomp`]),
//! built before fork and applied by the child after it moved into its cgroup and before it runs
//! the command, with `no_new_privs`. Denials are seen (the kernel reports the refused syscall, or
//! the open/exec with its `EACCES`) and alerted by rules made from the profile
//! (`crate::profile::export::rules`). In [`Mode::Audit`] nothing is applied and those rules alert
//! on every deviation instead. Reference: `docs/SANDBOX.md`.
use anyhow::Result;

use crate::profile::Profile;

pub(crate) mod landlock;
pub(crate) mod seccomp;

/// `--sandbox-mode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// Apply Landlock and seccomp: deviations are refused (and alerted).
    #[default]
    Enforce,
    /// Apply nothing: deviations are alerted only.
    Audit,
}

/// What the child applies.
pub(crate) struct Sandbox {
    landlock: Option<landlock::Prepared>,
    seccomp: Option<seccomp::Filters>,
    /// One line for the operator: the mode, the Landlock ABI, the filter's size.
    pub summary: String,
}

impl Sandbox {
    /// Builds everything the child needs (in the parent, before fork).
    pub(crate) fn prepare(p: &Profile, mode: Mode) -> Result<Self> {
        if mode == Mode::Audit {
            return Ok(Self {
                landlock: None,
                seccomp: None,
                summary: "sandbox: audit mode: nothing applied, deviations from the profile are alerted".into(),
            });
        }
        let landlock = landlock::prepare(p)?;
        let filters = seccomp::build(p)?;
        let summary = format!(
            "sandbox: enforce: {}; seccomp: {} syscalls allowed, {} always refused (EPERM), clone3 ENOSYS; no_new_privs",
            landlock
                .as_ref()
                .map_or_else(|| "no Landlock on this kernel".to_string(), |l| l.summary.clone()),
            filters.allowed,
            seccomp::ALWAYS_REFUSED.len(),
        );
        Ok(Self {
            landlock,
            seccomp: Some(filters),
            summary,
        })
    }

    /// In the child, between fork and exec: `no_new_privs`, the Landlock ruleset, then the seccomp
    /// filters (last, so the calls before them are not filtered). Async-signal-safe: syscalls on
    /// memory prepared before fork, no allocation.
    pub(crate) fn apply_in_child(&self) -> std::io::Result<()> {
        if self.landlock.is_none() && self.seccomp.is_none() {
            // Audit mode: the agent runs as it would without a sandbox.
            return Ok(());
        }
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if let Some(l) = &self.landlock {
            l.restrict_self()?;
        }
        if let Some(f) = &self.seccomp {
            // The clone3 filter first: once the main one is in, `seccomp` itself is refused. (Its
            // ENOSYS still wins: the kernel takes the most severe answer, ERRNO over ALLOW.) The
            // error keeps the failed call's errno (no allocation here).
            seccompiler::apply_filter(&f.clone3).map_err(|_| std::io::Error::last_os_error())?;
            seccompiler::apply_filter(&f.main).map_err(|_| std::io::Error::last_os_error())?;
        }
        Ok(())
    }
}
