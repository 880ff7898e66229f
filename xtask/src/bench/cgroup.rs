//! The benchmarks' cgroups: temporary ones below the cgroup2 root, removed (and whatever is left
//! in them killed) on drop, and what the kernel accounts to them.
use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result};

/// A cgroup made below the root for one benchmark, emptied (killed) and removed on drop.
pub(super) struct TempCgroup(pub(super) PathBuf);

impl TempCgroup {
    pub(super) fn new(root: &Path, name: &str) -> Result<Self> {
        let p = root.join(format!("{name}-{}", std::process::id()));
        fs::create_dir(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(Self(p))
    }
}

impl Drop for TempCgroup {
    fn drop(&mut self) {
        // Whatever is left inside (a bench that failed half-way) is killed first.
        let _ = fs::write(self.0.join("cgroup.freeze"), "0");
        let _ = fs::write(self.0.join("cgroup.kill"), "1");
        for _ in 0..100 {
            if fs::remove_dir(&self.0).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Where cgroup v2 is mounted.
pub(super) fn cgroup2_root() -> Result<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo")?;
    info.lines()
        .find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount = pre.split_whitespace().nth(4)?;
            (post.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(mount))
        })
        .context("no cgroup2 mount")
}

impl TempCgroup {
    /// CPU time the cgroup's tasks have used, µs (`cpu.stat` `usage_usec`; always present on
    /// cgroup v2, with or without the cpu controller).
    pub(super) fn usage_usec(&self) -> Result<u64> {
        let p = self.0.join("cpu.stat");
        let text = fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        text.lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("{}: no usage_usec line", p.display()))
    }
}
