//! Builds the eBPF programs (`monitor-ebpf`) with the nightly toolchain and bpf-linker so the
//! `agentmon` binary can embed them. `cargo xtask setup` installs what this needs.
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use aya_build::{Package, Toolchain};

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").context("CARGO_MANIFEST_DIR")?);
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
