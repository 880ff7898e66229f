//! The guests' kernels: Debian's packages, found with apt, downloaded once and unpacked.
use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use super::Kernel;

/// Newest Debian package matching the kernel's pattern, downloaded once; returns its vmlinuz.
pub(super) fn fetch_kernel(dir: &Path, k: &Kernel) -> Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let search = || -> Result<Vec<String>> {
        let out = Command::new("apt-cache")
            .args(["search", "--names-only", k.package_regex])
            .output()
            .context("running apt-cache search")?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect())
    };
    let mut names = search()?;
    if names.is_empty() {
        // A fresh machine may have no package lists yet.
        eprintln!("xtask: test-vm: no {} in apt's lists: apt-get update", k.package_regex);
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        names = search()?;
    }
    names.sort_by_key(|n| version_key(n));
    let pkg = match names.last() {
        Some(p) => p.clone(),
        None => {
            // No package lists (or none matching): use a cached download if there is one.
            let cached = fs::read_dir(dir)?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("vmlinuz").exists())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(k.cache_prefix))
                })
                .max();
            return cached
                .map(|p| p.join("vmlinuz"))
                .with_context(|| format!("no Debian package matches {} (run `apt-get update`?)", k.package_regex));
        }
    };
    let out = dir.join(&pkg);
    let vmlinuz = out.join("vmlinuz");
    if vmlinuz.exists() {
        return Ok(vmlinuz);
    }
    eprintln!("xtask: test-vm: downloading {pkg}");
    let dl = dir.join("dl");
    fs::create_dir_all(&dl)?;
    // apt-get download writes into its working directory.
    let s = Command::new("apt-get")
        .args(["download", &pkg])
        .current_dir(&dl)
        .status()
        .context("running apt-get download")?;
    if !s.success() {
        bail!("apt-get download {pkg} failed (no network to Debian's mirror?)");
    }
    let deb = fs::read_dir(&dl)?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{pkg}_")))
        })
        .with_context(|| format!("apt-get download left no {pkg}_*.deb in {}", dl.display()))?;
    let x = out.join("x");
    fs::create_dir_all(&x)?;
    let s = Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x).status()?;
    if !s.success() {
        bail!("dpkg-deb -x {} failed", deb.display());
    }
    let boot = x.join("boot");
    for e in fs::read_dir(&boot)?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("vmlinuz-") {
            fs::copy(e.path(), out.join("vmlinuz.tmp"))?;
        } else if n.starts_with("config-") {
            fs::copy(e.path(), out.join("config"))?;
        }
    }
    // Modules are not needed (everything the tests use is built in): drop the bulky tree.
    let _ = fs::remove_dir_all(&x);
    let _ = fs::remove_file(&deb);
    fs::rename(out.join("vmlinuz.tmp"), &vmlinuz).with_context(|| format!("{pkg} has no boot/vmlinuz-*"))?;
    Ok(vmlinuz)
}

/// Sort key for package names: the numbers in them, in order (6.1.0-9 < 6.1.0-57).
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect()
}
