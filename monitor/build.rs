//! Builds the eBPF programs (`monitor-ebpf`) with the nightly toolchain and bpf-linker so the
//! `agentmon` binary can embed them. `cargo xtask setup` installs what this needs.
//!
//! Also generates the Rust types of the forensic log schema (`proto/agentmon.proto`) with prost-build,
//! parsed by protox (pure Rust: no `protoc` binary needed).
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use aya_build::{Package, Toolchain};

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?);
    compile_proto(&manifest)?;
    let ebpf = manifest
        .parent()
        .ok_or_else(|| anyhow!("monitor/ has no parent"))?
        .join("monitor-ebpf");
    let root_dir = ebpf
        .to_str()
        .ok_or_else(|| anyhow!("non-UTF-8 path {}", ebpf.display()))?;
    println!(
        "cargo:rerun-if-changed={}",
        manifest
            .parent()
            .unwrap_or(&manifest)
            .join("monitor-common/src")
            .display()
    );
    aya_build::build_ebpf(
        [Package {
            name: "monitor-ebpf",
            root_dir,
            no_default_features: false,
            features: &[],
        }],
        Toolchain::default(),
    )
    .context("building the eBPF programs (run `cargo xtask setup` to install rust-src and bpf-linker)")
}

/// `proto/agentmon.proto` → `$OUT_DIR/agentmon.v1.rs` (included by `src/record/proto.rs`).
fn compile_proto(manifest: &std::path::Path) -> anyhow::Result<()> {
    let dir = manifest.join("proto");
    let file = dir.join("agentmon.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let fds = protox::compile([&file], [&dir]).context("parsing proto/agentmon.proto")?;
    prost_build::Config::new()
        .compile_fds(fds)
        .context("generating Rust from proto/agentmon.proto")
}
