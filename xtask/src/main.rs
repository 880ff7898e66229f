//! `cargo xtask`: everything a fresh machine needs, from the project's own files.
//!
//! - `setup`: installs what the eBPF build needs (rust-src for the installed nightly, bpf-linker built
//!   against the nightly's LLVM) and the test tools; idempotent and fast when already installed.
//! - `run`: builds agentmon and runs it with the default rules on the demo agent.
//! - `test`: setup, the checks (`cargo fmt --check`, clippy `-D warnings` on the workspace and on the
//!   eBPF programs), the container runtimes and agentmon's test image, then every test of the
//!   workspace (unit, rule fixtures, end-to-end on the kernel, real containers).
//! - `test-vm`: the kernel tests on Debian's 6.1 and 6.12 kernels under QEMU (`test_vm.rs`).
//! - `bench`: overhead and throughput measurements (see docs/BENCHMARKS.md), with agentmon and the
//!   benchmark tool `agentmon-bench` (`bench/`).
//! - `install`: puts the binary, unit, config and rules in place on a host.
//! - `image`: agentmon's container image, with docker or podman, without a registry.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a developer tool: benchmark tables on stdout, what it is doing on stderr"
)]
mod bench;
mod check;
mod containers;
mod e2e;
mod image;
mod setup;
mod storm;
mod test_vm;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the eBPF toolchain pieces and test tools (idempotent).
    Setup,
    /// Build agentmon (release) and run it on the demo agent with the default rules. Extra arguments
    /// replace the demo: `cargo xtask run -- run --cgroup /my/agent`.
    Run {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Check formatting and clippy (every warning an error), then run every test (needs root: loads
    /// eBPF programs).
    Test {
        /// Extra arguments for `cargo test` (e.g. a test name filter after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Boot Debian's 6.1 and 6.12 kernels under QEMU and run the kernel tests inside (fast subset by
    /// default, `--full` for all of them).
    TestVm(test_vm::VmArgs),
    /// Measure overhead and throughput; writes results to stdout (copy into docs/BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// Internal: open/close storm used by the benchmark.
    #[command(hide = true)]
    Storm(storm::StormArgs),
    /// Build agentmon's container image (deploy/Dockerfile) with docker or podman, no registry needed.
    Image(image::ImageArgs),
    /// Install agentmon as a host service (binary, systemd unit, config, rules).
    Install {
        /// Root to install into (for packaging); default `/`.
        #[arg(long, default_value = "/")]
        prefix: PathBuf,
    },
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs a command in the workspace root, failing with its exit status.
pub fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .current_dir(workspace_root())
        .status()
        .with_context(|| format!("starting {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

pub fn agentmon_release() -> PathBuf {
    workspace_root().join("target/release/agentmon")
}

fn build_release() -> Result<()> {
    run(cargo().args(["build", "--release", "-p", "monitor", "--bin", "agentmon"]))
}

/// Image the container tests run as the DaemonSet would (built by `test` from the dev build).
const TEST_IMAGE: &str = "agentmon:test";

/// `cargo xtask test`: tools, the binary, the runtimes (a dockerd only if none answers, stopped
/// afterwards), the test image, then every test; the container tests' skips are listed at the end.
fn test(args: &[String]) -> Result<()> {
    setup::setup()?;
    setup::setup_test_tools()?;
    check::checks()?;
    // The end-to-end tests run the real binary: build it first.
    run(cargo().args(["build", "-p", "monitor", "--bin", "agentmon"]))?;
    let skips = workspace_root().join("target/agentmon-test-skips.txt");
    let _ = std::fs::remove_file(&skips);
    let mut notes = Vec::new();
    if let Err(e) = containers::install() {
        notes.push(format!("installing the container runtimes failed: {e:#}"));
    }
    let dockerd = match containers::Dockerd::start_if_needed() {
        Ok(Some(d)) => {
            eprintln!("xtask: dockerd started (pid {}); stopped after the tests", d.pid());
            Some(d)
        }
        Ok(None) => None,
        Err(e) => {
            notes.push(format!("dockerd could not start: {e:#}"));
            None
        }
    };
    let image = image::ImageArgs {
        tag: TEST_IMAGE.into(),
        engine: None,
        base: None,
        dev: true,
    };
    let t = std::time::Instant::now();
    match image::image(&image) {
        Ok(()) => eprintln!(
            "xtask: test image {TEST_IMAGE} built in {:.1} s",
            t.elapsed().as_secs_f64()
        ),
        Err(e) => notes.push(format!("building {TEST_IMAGE} failed: {e:#}")),
    }
    let result = if args.is_empty() {
        // The kernel matrix's fast subset boots under QEMU beside the host's tests (its builds and
        // downloads first, so that cargo is free again when they start).
        let vm = test_vm::spawn_in_test_plan().context("preparing the kernel matrix (cargo xtask test-vm)");
        // Everything but the end-to-end tests as cargo runs it, then those binaries side by side
        // (`e2e.rs`); all run whatever the others' results.
        let rest = run(cargo()
            .args(["test", "--workspace", "--no-fail-fast", "--exclude", "agentmon-e2e"])
            .env("AGENTMON_TEST_SKIPS", &skips)
            .env("AGENTMON_TEST_IMAGE", TEST_IMAGE));
        let envs = [
            ("AGENTMON_TEST_SKIPS", skips.clone().into_os_string()),
            ("AGENTMON_TEST_IMAGE", TEST_IMAGE.into()),
        ];
        let e2e = e2e::run(e2e::JOBS, &envs);
        let vm = vm.and_then(|h| h.join().unwrap_or_else(|_| bail!("the kernel matrix thread panicked")));
        if let Err(e) = &vm {
            eprintln!("xtask: kernel matrix: {e:#}");
        }
        rest.and(e2e).and(vm)
    } else {
        run(cargo()
            .args(["test", "--workspace", "--no-fail-fast"])
            .args(args)
            .env("AGENTMON_TEST_SKIPS", &skips)
            .env("AGENTMON_TEST_IMAGE", TEST_IMAGE))
    };
    drop(dockerd);
    let skipped = std::fs::read_to_string(&skips).unwrap_or_default();
    if !notes.is_empty() || !skipped.trim().is_empty() {
        eprintln!("\nxtask: container tests summary:");
        for n in &notes {
            eprintln!("  {n}");
        }
        for l in skipped.lines().filter(|l| !l.trim().is_empty()) {
            eprintln!("  SKIPPED {l}");
        }
    }
    result
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Setup => setup::setup(),
        Cmd::Run { args } => {
            setup::setup()?;
            build_release()?;
            let args = if args.is_empty() {
                [
                    "exec",
                    "--rules",
                    "rules",
                    "--name",
                    "demo-agent",
                    "--protect",
                    "/tmp/agentmon-demo/agent",
                    "--",
                    "bash",
                    "examples/demo-agent.sh",
                ]
                .map(String::from)
                .to_vec()
            } else {
                args
            };
            let status = Command::new(agentmon_release())
                .args(&args)
                .current_dir(workspace_root())
                .status()?;
            std::process::exit(status.code().unwrap_or(1));
        }
        Cmd::Test { args } => test(&args),
        Cmd::TestVm(a) => {
            setup::setup()?;
            test_vm::test_vm(&a)
        }
        Cmd::Image(a) => image::image(&a),
        Cmd::Bench(a) => {
            setup::setup()?;
            build_release()?;
            run(cargo().args(["build", "--release", "-p", "xtask", "-p", "agentmon-bench"]))?;
            bench::bench(a)
        }
        Cmd::Storm(a) => storm::storm(a),
        Cmd::Install { prefix } => {
            setup::setup()?;
            build_release()?;
            setup::install(&prefix)
        }
    }
}
