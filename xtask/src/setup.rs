//! Installs what builds and tests need, only where it is missing.
use std::{fs, path::Path, process::Command};

use anyhow::{Context, Result, bail};

use crate::{run, workspace_root};

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// rust-src for the nightly, and bpf-linker linked against the nightly's own LLVM.
pub(crate) fn setup() -> Result<()> {
    nightly_component("rust-src")?;
    if !succeeds(Command::new("bpf-linker").arg("--version")) {
        install_bpf_linker()?;
    }
    Ok(())
}

/// Installs a component of the nightly toolchain if it is missing.
fn nightly_component(name: &str) -> Result<()> {
    let installed = output(Command::new("rustup").args(["component", "list", "--toolchain", "nightly", "--installed"]))
        .context("the `nightly` toolchain must be installed (rustup toolchain list)")?;
    if !installed.lines().any(|l| l.starts_with(name)) {
        eprintln!("xtask: installing {name} for the nightly toolchain");
        run(Command::new("rustup").args(["component", "add", name, "--toolchain", "nightly"]))?;
    }
    Ok(())
}

fn install_bpf_linker() -> Result<()> {
    eprintln!("xtask: building bpf-linker against the nightly's LLVM (about a minute)");
    let sysroot = output(Command::new("rustc").args(["+nightly", "--print", "sysroot"]))?;
    let lib = Path::new(&sysroot).join("lib");
    let llvm = fs::read_dir(&lib)
        .with_context(|| format!("reading {}", lib.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libLLVM.so."))
        })
        .with_context(|| format!("no libLLVM.so.* in {}", lib.display()))?;
    let major = llvm
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("libLLVM.so."))
        .and_then(|v| v.split('.').next())
        .context("cannot read the LLVM major version")?
        .to_string();
    let prefix = std::env::temp_dir().join(format!("agentmon-llvm-prefix-{}", std::process::id()));
    fs::create_dir_all(prefix.join("lib"))?;
    let link = prefix.join("lib/libLLVM.so");
    let _ = fs::remove_file(&link);
    std::os::unix::fs::symlink(&llvm, &link)?;
    let result = run(Command::new("cargo")
        .args(["install", "bpf-linker", "--no-default-features", "--features"])
        .arg(format!("llvm-{major}"))
        .env("LLVM_PREFIX", &prefix)
        .env("RUSTFLAGS", format!("-C link-arg=-Wl,-rpath,{}", lib.display())));
    let _ = fs::remove_dir_all(&prefix);
    result
}

/// Tools the test suite calls: rustfmt and clippy (the checks; clippy also for the nightly, which
/// lints the eBPF programs), kubernetes-validate (manifests), systemd-analyze (unit file), and a C
/// toolchain with the static C library (the sandbox tests' workload is a small C build).
pub(crate) fn setup_test_tools() -> Result<()> {
    for (tool, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        if !succeeds(crate::cargo().args([tool, "--version"])) {
            eprintln!("xtask: installing {component}");
            run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    nightly_component("clippy")?;
    if !succeeds(Command::new("kubernetes-validate").arg("--version")) {
        eprintln!("xtask: installing kubernetes-validate (PyPI)");
        let ok = succeeds(Command::new("python3").args(["-m", "pip", "install", "--quiet", "kubernetes-validate"]));
        if !ok {
            bail!("pip install kubernetes-validate failed");
        }
    }
    install_missing(
        &[
            ("gcc", "/usr/bin/cc"),
            ("make", "/usr/bin/make"),
            ("libc6-dev", "/usr/lib/x86_64-linux-gnu/libc.a"),
        ],
        "the sandbox tests' C workload",
    )?;
    install_missing(
        &[
            ("qemu-system-x86", "/usr/bin/qemu-system-x86_64"),
            ("busybox-static", "/bin/busybox"),
            ("cpio", "/usr/bin/cpio"),
        ],
        "the kernel matrix, `test-vm`",
    )?;
    if !succeeds(Command::new("systemd-analyze").arg("--version")) {
        eprintln!("xtask: installing systemd (for systemd-analyze verify)");
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends", "systemd"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    Ok(())
}

/// Installs, from Debian's packages, each (package, file it provides) whose file is missing (a
/// package that provides several missing files is named once).
pub(crate) fn install_missing(tools: &[(&str, &str)], what: &str) -> Result<()> {
    let mut missing: Vec<&str> = tools
        .iter()
        .filter(|(_, path)| !Path::new(path).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {} (for {what})", missing.join(" "));
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Copies binary, unit, config and rules under `prefix`.
pub(crate) fn install(prefix: &Path) -> Result<()> {
    let root = workspace_root();
    let put = |from: &Path, to: &str, mode: u32| -> Result<()> {
        let dest = prefix.join(to.trim_start_matches('/'));
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(from, &dest).with_context(|| format!("copying {} to {}", from.display(), dest.display()))?;
        fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        eprintln!("installed {}", dest.display());
        Ok(())
    };
    put(&crate::agentmon_release(), "/usr/local/bin/agentmon", 0o755)?;
    let unit = root.join("deploy/systemd/agentmon.service");
    if unit.exists() {
        put(&unit, "/etc/systemd/system/agentmon.service", 0o644)?;
    }
    let config = root.join("deploy/config.example.yaml");
    let dest_config = prefix.join("etc/agentmon/config.yaml");
    if config.exists() && !dest_config.exists() {
        put(&config, "/etc/agentmon/config.yaml", 0o644)?;
    }
    for entry in fs::read_dir(root.join("rules"))?.flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            put(&p, &format!("/etc/agentmon/rules/{name}"), 0o644)?;
        }
    }
    Ok(())
}
