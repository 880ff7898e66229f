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
    build_ebpf_shared(root_dir)
}

/// The eBPF object, built once for every profile of this package. Cargo gives the `check` (clippy),
/// `dev` and `test` builds of `monitor` an `OUT_DIR` each, and aya-build builds under `OUT_DIR`, so
/// a fresh clone compiled the eBPF programs, and `core` for the BPF target, once per profile. They
/// are built in one directory under the target directory instead (the inner cargo locks it, and is
/// a no-op when nothing changed) and the object is copied into this build's `OUT_DIR`.
fn build_ebpf_shared(root_dir: &str) -> anyhow::Result<()> {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").context("OUT_DIR")?);
    // The target directory is the nearest ancestor holding cargo's CACHEDIR.TAG.
    let shared = out_dir
        .ancestors()
        .find(|d| d.join("CACHEDIR.TAG").is_file())
        .map_or_else(|| out_dir.clone(), |t| t.join("ebpf-build"));
    std::fs::create_dir_all(&shared).with_context(|| shared.display().to_string())?;
    // SAFETY: the build script is single-threaded here; aya-build reads OUT_DIR from the
    // environment and nothing else in this process reads it afterwards.
    unsafe { std::env::set_var("OUT_DIR", &shared) };
    let built = aya_build::build_ebpf(
        [Package {
            name: "monitor-ebpf",
            root_dir,
            no_default_features: false,
            features: &[],
        }],
        Toolchain::default(),
    );
    // SAFETY: as above.
    unsafe { std::env::set_var("OUT_DIR", &out_dir) };
    built.context("building the eBPF programs (run `cargo xtask setup` to install rust-src and bpf-linker)")?;
    // The one binary of monitor-ebpf (its `[[bin]]`), which `probes` embeds.
    let name = "agentmon-ebpf";
    std::fs::copy(shared.join(name), out_dir.join(name))
        .with_context(|| format!("copying {name} from {}", shared.display()))?;
    Ok(())
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
