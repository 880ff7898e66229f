//! The checks `cargo xtask test` runs before any test, every warning an error: formatting, clippy on
//! the host workspace, and clippy on the eBPF crate as it is really built (bpfel; on the host,
//! clippy sees only its stub).
use std::process::Command;

use anyhow::{Result, bail};

use crate::{cargo, workspace_root};

pub(crate) fn checks() -> Result<()> {
    check(
        "formatting (cargo fmt --all --check)",
        "run `cargo fmt --all`",
        cargo().args(["fmt", "--all", "--check"]),
    )?;
    check(
        "clippy (cargo clippy --workspace --all-targets -- -D warnings)",
        "fix the warnings above; an exception on an item takes #[expect(lint, reason = \"…\")]",
        cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
    )?;
    check(
        "clippy on the eBPF programs (bpfel-unknown-none)",
        "fix the warnings above (monitor-ebpf, and monitor-common as the kernel side builds it)",
        &mut ebpf_clippy(),
    )
}

/// Runs one check in the workspace root; on failure, says which and what to do.
fn check(what: &str, hint: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: checking {what}");
    let status = cmd.current_dir(workspace_root()).status()?;
    if !status.success() {
        bail!("check failed: {what}: {hint}");
    }
    Ok(())
}

/// `cargo clippy` for the eBPF crate with the nightly, the flags `aya-build` gives its real build
/// (`monitor/build.rs`) and a target directory of its own.
fn ebpf_clippy() -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args([
        "run",
        "nightly",
        "cargo",
        "clippy",
        "-p",
        "monitor-ebpf",
        "--bins",
        "--release",
    ])
    .args(["--target", "bpfel-unknown-none", "-Z", "build-std=core", "--target-dir"])
    .arg(workspace_root().join("target/ebpf-clippy"))
    .args(["--", "-D", "warnings"]);
    let flags = [
        format!("--cfg=bpf_target_arch=\"{}\"", std::env::consts::ARCH),
        "-Cdebuginfo=2".into(),
        "-Clink-arg=--btf".into(),
    ];
    cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    // The outer cargo's toolchain must not leak into the nightly's.
    for key in ["RUSTC", "RUSTC_WORKSPACE_WRAPPER", "RUSTUP_TOOLCHAIN", "CARGO"] {
        cmd.env_remove(key);
    }
    cmd
}
