//! cgroup v2 plumbing: find the hierarchy, name cgroups by id, create/remove agent cgroups, and the
//! cgroup-wide responses (freeze, thaw, kill).
use std::{
    fs, io,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    time::Duration,
};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum CgroupError {
    #[error("no cgroup2 filesystem is mounted (looked in /proc/self/mountinfo)")]
    NoCgroup2,
    #[error("cgroup {0} does not exist")]
    Missing(PathBuf),
    #[error("{path} is not inside the cgroup2 hierarchy at {root}")]
    Outside { path: PathBuf, root: PathBuf },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Mount point of the cgroup v2 hierarchy, from `mountinfo` text (hybrid layouts included).
pub(crate) fn cgroup2_mount_from(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (pre, post) = line.split_once(" - ")?;
        let fstype = post.split_whitespace().next()?;
        if fstype != "cgroup2" {
            return None;
        }
        pre.split_whitespace()
            .nth(4)
            .map(|p| PathBuf::from(unescape_mountinfo(p)))
    })
}

fn unescape_mountinfo(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup2 mount point of this machine.
pub fn cgroup2_root() -> Result<PathBuf, CgroupError> {
    let info =
        fs::read_to_string("/proc/self/mountinfo").map_err(io_err("reading", Path::new("/proc/self/mountinfo")))?;
    cgroup2_mount_from(&info).ok_or(CgroupError::NoCgroup2)
}

/// A cgroup v2 directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup {
    /// Absolute path in the filesystem.
    pub path: PathBuf,
    /// Path relative to the hierarchy root, starting with `/` (as in `/proc/PID/cgroup`).
    pub rel: String,
    /// Inode number = `bpf_get_current_cgroup_id()` of its tasks.
    pub id: u64,
    /// Depth below the root (root = 0).
    pub(crate) level: u32,
}

impl Cgroup {
    /// Opens an existing cgroup given as an absolute path or a path relative to the cgroup2 root.
    pub fn open(root: &Path, arg: &Path) -> Result<Self, CgroupError> {
        let path = if arg.is_absolute() && arg.starts_with(root) {
            arg.to_path_buf()
        } else {
            root.join(arg.strip_prefix("/").unwrap_or(arg))
        };
        let meta = fs::metadata(&path).map_err(|_| CgroupError::Missing(path.clone()))?;
        if !path.join("cgroup.procs").exists() {
            return Err(CgroupError::Outside {
                path,
                root: root.to_path_buf(),
            });
        }
        let rel_path = path.strip_prefix(root).map_err(|_| CgroupError::Outside {
            path: path.clone(),
            root: root.to_path_buf(),
        })?;
        let level = rel_path.components().count() as u32;
        let rel = format!("/{}", rel_path.display());
        Ok(Self {
            id: meta.ino(),
            path,
            rel,
            level,
        })
    }

    /// Creates `parent/name` (which must not exist) and opens it.
    pub fn create(root: &Path, parent: &Path, name: &str) -> Result<Self, CgroupError> {
        let dir = parent.join(name);
        fs::create_dir(&dir).map_err(io_err("creating cgroup", &dir))?;
        Self::open(root, &dir)
    }

    /// Tgids currently in this cgroup (not its children).
    pub fn procs(&self) -> Result<Vec<u32>, CgroupError> {
        let f = self.path.join("cgroup.procs");
        let text = fs::read_to_string(&f).map_err(io_err("reading", &f))?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// This cgroup and every descendant, deepest first.
    pub(crate) fn subtree(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(entries) = fs::read_dir(dir) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        walk(&e.path(), out);
                    }
                }
            }
            out.push(dir.to_path_buf());
        }
        let mut out = Vec::new();
        walk(&self.path, &mut out);
        out
    }

    fn write(&self, file: &str, value: &str) -> Result<(), CgroupError> {
        let f = self.path.join(file);
        fs::write(&f, value).map_err(io_err("writing", &f))
    }

    /// Freezes (`true`) or thaws every task of the subtree (`cgroup.freeze`).
    pub(crate) fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        self.write("cgroup.freeze", if frozen { "1" } else { "0" })
    }

    /// Whether `cgroup.events` reports the subtree frozen.
    pub(crate) fn is_frozen(&self) -> bool {
        fs::read_to_string(self.path.join("cgroup.events")).is_ok_and(|t| t.lines().any(|l| l.trim() == "frozen 1"))
    }

    /// Whether any task is in the subtree (`populated` of `cgroup.events`; an unreadable file reads
    /// as empty, e.g. a cgroup that is gone).
    pub(crate) fn is_populated(&self) -> bool {
        fs::read_to_string(self.path.join("cgroup.events")).is_ok_and(|t| t.lines().any(|l| l.trim() == "populated 1"))
    }

    /// Tgids of the whole subtree.
    pub(crate) fn subtree_procs(&self) -> Vec<u32> {
        let mut pids = Vec::new();
        for dir in self.subtree() {
            if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
                pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
            }
        }
        pids
    }

    /// Kills every task of the subtree and waits (up to `timeout`) until it is empty. Returns how
    /// many processes it held. `cgroup.kill` (kernel 5.14+) kills them all at once, forks in flight
    /// included; without it each task found is sent SIGKILL, again on every look until none is left.
    /// The wait backs off from 100 µs to 5 ms between looks: a traced or slow-to-exit task can take
    /// long, and the wait must not take a CPU from the monitor meanwhile.
    pub fn kill_all(&self, timeout: Duration) -> Result<usize, CgroupError> {
        let deadline = std::time::Instant::now() + timeout;
        let held = self.subtree_procs().len();
        let kernel_kill = self.path.join("cgroup.kill").exists();
        if kernel_kill {
            self.write("cgroup.kill", "1")?;
        }
        let mut pause = Duration::from_micros(100);
        loop {
            if !kernel_kill {
                for pid in self.subtree_procs() {
                    // SAFETY: kill(2) with a pid read from the cgroup; failures (already gone) are fine.
                    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                }
            }
            if !self.is_populated() || std::time::Instant::now() >= deadline {
                return Ok(held);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }

    /// Removes the cgroup and its descendants (they must be empty of tasks), waiting briefly for
    /// exiting tasks to leave.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let mut last = Ok(());
        for _ in 0..200 {
            last = Ok(());
            for dir in self.subtree() {
                if let Err(e) = fs::remove_dir(&dir)
                    && e.kind() != io::ErrorKind::NotFound
                {
                    last = Err(CgroupError::Io {
                        op: "removing cgroup",
                        path: dir.clone(),
                        source: e,
                    });
                }
            }
            if last.is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        last
    }
}

/// The cgroup v2 path (relative to the root) of a process, from `/proc/PID/cgroup`.
pub fn cgroup_of_pid(pid: u32) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("0::").map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cgroup2_in_hybrid_and_unified_layouts() {
        let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                      32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount_from(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let unified = "25 30 0:23 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(cgroup2_mount_from(unified), Some(PathBuf::from("/sys/fs/cgroup")));
        assert_eq!(cgroup2_mount_from("25 30 0:23 / /x rw - tmpfs tmpfs rw\n"), None);
        let escaped = "25 30 0:23 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup2_mount_from(escaped), Some(PathBuf::from("/mnt/with space")));
    }

    #[test]
    fn opens_root_and_reports_level_and_inode() {
        let root = cgroup2_root().expect("cgroup2 mounted");
        let cg = Cgroup::open(&root, Path::new("/")).expect("root opens");
        assert_eq!(cg.level, 0);
        assert_eq!(cg.id, fs::metadata(&root).unwrap().ino());
        assert!(matches!(
            Cgroup::open(&root, Path::new("/agentmon-does-not-exist")),
            Err(CgroupError::Missing(_))
        ));
    }
}
