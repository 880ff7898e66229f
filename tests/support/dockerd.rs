//! How agentmon's tests run dockerd, in one place for the two that start one: `cargo xtask test`
//! (`xtask/src/containers.rs`) and the end-to-end tests run on their own
//! (`tests/support/containers.rs`); both include this file. No NAT, no bridge, no rule in the
//! host's firewall: the tests give every container `--network none`.
use std::{
    path::Path,
    process::{Child, Command, Stdio},
};

/// dockerd's arguments.
pub(crate) const DOCKERD_ARGS: [&str; 3] = ["--iptables=false", "--ip6tables=false", "--bridge=none"];

/// Starts `/usr/sbin/dockerd` with [`DOCKERD_ARGS`], both output streams to `log`.
pub(crate) fn spawn_dockerd(log: &Path) -> std::io::Result<Child> {
    let out = std::fs::File::create(log)?;
    let err = out.try_clone()?;
    Command::new("/usr/sbin/dockerd")
        .args(DOCKERD_ARGS)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
}
