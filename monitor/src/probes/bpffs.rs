//! bpffs: pinned maps (the quarantine set) live at /sys/fs/bpf; mount it there if it is missing.
use anyhow::{Context, Result};

pub(crate) const BPFFS: &str = "/sys/fs/bpf";

/// Mounts bpffs at /sys/fs/bpf unless a bpf filesystem is already mounted there.
pub(crate) fn ensure_mounted() -> Result<()> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    let mounted = mounts.lines().any(|l| {
        l.split_once(" - ").is_some_and(|(pre, post)| {
            post.split_whitespace().next() == Some("bpf") && pre.split_whitespace().nth(4) == Some(BPFFS)
        })
    });
    if mounted {
        return Ok(());
    }
    std::fs::create_dir_all(BPFFS).with_context(|| format!("creating {BPFFS}"))?;
    let fs = c"bpf";
    let target = c"/sys/fs/bpf";
    // SAFETY: plain mount(2) with static NUL-terminated strings.
    let rc = unsafe { libc::mount(fs.as_ptr(), target.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("mounting bpffs at /sys/fs/bpf");
    }
    Ok(())
}
