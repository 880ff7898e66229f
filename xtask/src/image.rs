//! `cargo xtask image`: agentmon's container image, built here without any registry.
//!
//! The binary is built on the host (`cargo build -p monitor --bin agentmon`, whose build script
//! builds the eBPF programs with the nightly and the bpf-linker that `cargo xtask setup` installs),
//! so the image needs no Rust toolchain (none could be fetched into a build container here). The
//! base is made from this host as well: the binary's shared libraries (glibc, `libgcc_s`, as `ldd`
//! lists them), `/etc/passwd`, `/etc/nsswitch.conf` and the directories agentmon uses, imported
//! as `agentmon-base:host`. `deploy/Dockerfile` then adds the binary, the rules and the example
//! config; with a registry at hand, `--base debian:bookworm-slim` (or any glibc base at least as new
//! as the build host's) works too.
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::{cargo, containers, run, setup, workspace_root};

#[derive(clap::Args)]
pub(crate) struct ImageArgs {
    /// Image name and tag.
    #[arg(long, default_value = "agentmon:dev")]
    pub(crate) tag: String,
    /// `docker` or `podman` (default: docker when a dockerd answers, else podman).
    #[arg(long)]
    pub(crate) engine: Option<String>,
    /// Base image (default: `agentmon-base:host`, made from this host's libraries).
    #[arg(long)]
    pub(crate) base: Option<String>,
    /// Use the dev build (target/debug) instead of release: what the test suite does, since it has
    /// that build already. Either way the image's copy has its debug info stripped.
    #[arg(long)]
    pub(crate) dev: bool,
}

pub(crate) const HOST_BASE: &str = "agentmon-base:host";

pub(crate) fn image(a: &ImageArgs) -> Result<()> {
    setup::setup()?;
    let profile = if a.dev { "debug" } else { "release" };
    let mut build = cargo();
    build.args(["build", "-p", "monitor", "--bin", "agentmon"]);
    if !a.dev {
        build.arg("--release");
    }
    run(&mut build)?;
    let engine = containers::engine(a.engine.as_deref())?;
    let bin = workspace_root().join("target").join(profile).join("agentmon");
    let base = match &a.base {
        Some(b) => b.clone(),
        None => {
            host_base(&engine, &bin)?;
            HOST_BASE.to_string()
        }
    };
    let ctx = stage_context(&bin)?;
    eprintln!("xtask: building {} from {base} with {}", a.tag, engine.display());
    run(Command::new(&engine)
        .arg("build")
        .arg("-f")
        .arg(workspace_root().join("deploy/Dockerfile"))
        .args(["--build-arg", &format!("BASE={base}"), "-t", &a.tag])
        .arg(&ctx))?;
    eprintln!("xtask: built {}", a.tag);
    Ok(())
}

/// The build context: the binary (debug info stripped), the rules, the example config.
fn stage_context(bin: &Path) -> Result<PathBuf> {
    let root = workspace_root();
    let ctx = root.join("target/image-context");
    let _ = fs::remove_dir_all(&ctx);
    fs::create_dir_all(ctx.join("rules"))?;
    let dest = ctx.join("agentmon");
    run(Command::new("objcopy").arg("--strip-debug").arg(bin).arg(&dest))?;
    fs::copy(root.join("deploy/config.example.yaml"), ctx.join("config.example.yaml"))?;
    for e in fs::read_dir(root.join("rules"))?.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            fs::copy(&p, ctx.join("rules").join(e.file_name()))?;
        }
    }
    Ok(ctx)
}

/// The shared libraries `bin` loads, as `ldd` resolves them (the path it is loaded from).
fn shared_libraries(bin: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd").arg(bin).output().context("running ldd")?;
    if !out.status.success() {
        bail!("ldd {} failed: {}", bin.display(), String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let libs = text
        .lines()
        .filter_map(|l| {
            // `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.trim(),
                None => l,
            };
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect();
    Ok(libs)
}

/// Imports `agentmon-base:host`: this host's libraries for `bin` and little else.
fn host_base(engine: &Path, bin: &Path) -> Result<()> {
    let dir = workspace_root().join("target/image-base");
    let _ = fs::remove_dir_all(&dir);
    let rootfs = dir.join("rootfs");
    for d in [
        "etc/agentmon/rules",
        "usr/local/bin",
        "var/lib/agentmon",
        "var/log/agentmon",
        "tmp",
        "proc",
        "sys",
        "dev",
        "run",
        "root",
    ] {
        fs::create_dir_all(rootfs.join(d))?;
    }
    fs::set_permissions(rootfs.join("tmp"), std::os::unix::fs::PermissionsExt::from_mode(0o1777))?;
    fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/usr/sbin/nologin\n")?;
    fs::write(rootfs.join("etc/group"), "root:x:0:\n")?;
    fs::write(rootfs.join("etc/nsswitch.conf"), "hosts: files dns\n")?;
    for lib in shared_libraries(bin)? {
        let dest = rootfs.join(lib.strip_prefix("/").unwrap_or(&lib));
        if let Some(p) = dest.parent() {
            fs::create_dir_all(p)?;
        }
        // The file itself, not the symlink.
        fs::copy(&lib, &dest).with_context(|| format!("copying {}", lib.display()))?;
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["--owner=0", "--group=0", "-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("running tar")?;
    let Some(tar_out) = tar.stdout else {
        bail!("tar: no stdout")
    };
    let status = Command::new(engine)
        .args(["import", "-", HOST_BASE])
        .stdin(tar_out)
        .stdout(Stdio::null())
        .status()
        .context("importing the base")?;
    if !status.success() {
        bail!("{} import of the base failed: {status}", engine.display());
    }
    eprintln!("xtask: imported {HOST_BASE} (this host's libraries for agentmon)");
    Ok(())
}
