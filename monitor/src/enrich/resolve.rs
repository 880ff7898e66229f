//! Turns the path string a process passed into what it actually names: relative paths are joined to
//! the process's cwd or `dirfd` (read from `/proc`), `.`/`..` are folded, and symlinks are resolved
//! when the process shares our root. Best effort: a process that is already gone keeps its lexical
//! path, and the result says whether it was fully resolved.
use std::{
    collections::HashMap,
    path::{Component, Path, PathBuf},
    time::{Duration, Instant},
};

const AT_FDCWD: i32 = -100;

/// Folds `.` and `..` without touching the filesystem (`/a/../b` → `/b`; never above `/`).
pub(crate) fn normalize_lexically(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir => out.push("/"),
            Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if !out.pop() && !path.is_absolute() {
                    out.push("..");
                }
                if out.as_os_str().is_empty() && path.is_absolute() {
                    out.push("/");
                }
            }
            Component::Normal(n) => out.push(n),
        }
    }
    out
}

/// The directory a relative path of `pid` is relative to.
fn base_dir(pid: u32, dfd: i32) -> Option<PathBuf> {
    let link = if dfd == AT_FDCWD {
        format!("/proc/{pid}/cwd")
    } else {
        format!("/proc/{pid}/fd/{dfd}")
    };
    std::fs::read_link(link).ok()
}

/// How long a cached directory or root answer is trusted (a directory symlink swapped later is seen
/// after at most this long).
const CACHE_TTL: Duration = Duration::from_secs(1);
const CACHE_CAP: usize = 8192;

/// Resolves paths with small time-bounded caches (canonical directories, per-process "same root"),
/// so the hot path costs one `lstat` per event instead of a `/proc` walk and a full canonicalize.
#[derive(Default)]
pub(crate) struct Resolver {
    dirs: HashMap<PathBuf, (Option<PathBuf>, Instant), crate::FastHash>,
    roots: HashMap<u32, (bool, Instant), crate::FastHash>,
    our_root: Option<PathBuf>,
}

impl Resolver {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn shares_our_root(&mut self, pid: u32) -> bool {
        let now = Instant::now();
        if let Some((same, at)) = self.roots.get(&pid)
            && now.duration_since(*at) < CACHE_TTL
        {
            return *same;
        }
        if self.our_root.is_none() {
            self.our_root = std::fs::read_link("/proc/self/root").ok();
        }
        let same = match (std::fs::read_link(format!("/proc/{pid}/root")), &self.our_root) {
            (Ok(a), Some(b)) => &a == b,
            // The process is gone: assume it shared our root if it was never seen chrooted.
            (Err(_), Some(_)) => true,
            _ => false,
        };
        if self.roots.len() >= CACHE_CAP {
            self.roots.clear();
        }
        self.roots.insert(pid, (same, now));
        same
    }

    fn real_dir(&mut self, dir: &Path) -> Option<PathBuf> {
        let now = Instant::now();
        if let Some((real, at)) = self.dirs.get(dir)
            && now.duration_since(*at) < CACHE_TTL
        {
            return real.clone();
        }
        let real = std::fs::canonicalize(dir).ok();
        if self.dirs.len() >= CACHE_CAP {
            self.dirs.clear();
        }
        self.dirs.insert(dir.to_path_buf(), (real.clone(), now));
        real
    }

    /// Absolute, normalized form of `path` as seen by `pid` (`dfd` for `*at()` syscalls, else
    /// `AT_FDCWD`). `cwd` is the process's tracked working directory, used for `AT_FDCWD` instead of
    /// `/proc` (which is gone once a short-lived process exits).
    pub(crate) fn resolve(&mut self, pid: u32, dfd: i32, path: &str, cwd: Option<&str>) -> String {
        if path.is_empty() {
            return String::new();
        }
        let p = Path::new(path);
        let joined = if p.is_absolute() {
            p.to_path_buf()
        } else {
            let tracked = cwd.filter(|c| dfd == AT_FDCWD && c.starts_with('/')).map(PathBuf::from);
            match tracked.or_else(|| base_dir(pid, dfd)) {
                Some(base) => base.join(p),
                None => return normalize_lexically(p).to_string_lossy().into_owned(),
            }
        };
        // Paths that mean "this process" must name the agent's process, not agentmon's.
        if let Some(own) = self_reference(pid, &normalize_lexically(&joined)) {
            return own;
        }
        let lexical = || normalize_lexically(&joined).to_string_lossy().into_owned();
        if !self.shares_our_root(pid) {
            return lexical();
        }
        // Resolve symlinks in the directory part (cached), then look at the last component only: it
        // may be a symlink itself, or not exist yet (O_CREAT).
        let (Some(parent), Some(name)) = (joined.parent(), joined.file_name()) else {
            return std::fs::canonicalize(&joined).map_or_else(|_| lexical(), |r| r.to_string_lossy().into_owned());
        };
        let Some(real_parent) = self.real_dir(parent) else {
            return lexical();
        };
        let candidate = real_parent.join(name);
        match std::fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(&candidate).unwrap_or(candidate),
            _ => candidate,
        }
        .to_string_lossy()
        .into_owned()
    }
}

impl Resolver {
    /// `path` (absolute: a name joined to the kernel's path of its starting directory) with the
    /// symlinks of its directories resolved and `..` after them taken physically, and its last
    /// component followed only when `follow_last` (a rename, unlink or link acts on a symlink
    /// itself; chmod follows it). Against the filesystem as it is now: a directory symlink swapped
    /// or removed since the syscall resolves to what it is now, or stays lexical when it is gone.
    /// `kernel_parent`: `path` is one name in a directory whose path the kernel walked (physical
    /// already): then only a followed last component needs the filesystem.
    pub(crate) fn resolve_name(&mut self, pid: u32, path: &Path, follow_last: bool, kernel_parent: bool) -> String {
        // One name in the kernel's (absolute, physical) directory has nothing to fold.
        let kernel_parent = kernel_parent && path.is_absolute();
        let normal = if kernel_parent {
            std::borrow::Cow::Borrowed(path)
        } else {
            std::borrow::Cow::Owned(normalize_lexically(path))
        };
        let lexical = || normal.to_string_lossy().into_owned();
        if let Some(own) = self_reference(pid, &normal) {
            return own;
        }
        if kernel_parent && !follow_last {
            return lexical();
        }
        if !path.is_absolute() || !self.shares_our_root(pid) {
            return lexical();
        }
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return lexical();
        };
        let Some(real_parent) = self.real_dir(parent) else {
            return lexical();
        };
        let candidate = real_parent.join(name);
        // Only a followed symlink changes the answer: an unfollowed last component needs no lstat.
        let follows_link =
            follow_last && std::fs::symlink_metadata(&candidate).is_ok_and(|m| m.file_type().is_symlink());
        if follows_link {
            std::fs::canonicalize(&candidate).unwrap_or(candidate)
        } else {
            candidate
        }
        .to_string_lossy()
        .into_owned()
    }
}

/// `/proc/self/…`, `/proc/thread-self/…`, `/dev/fd/N` and `/dev/std{in,out,err}` rewritten for
/// `pid`; an fd link is followed while the process is alive (the file it really names).
fn self_reference(pid: u32, path: &Path) -> Option<String> {
    let s = path.to_str()?;
    let rest = s
        .strip_prefix("/proc/self/")
        .or_else(|| s.strip_prefix("/proc/thread-self/"))
        .map(str::to_string)
        .or_else(|| s.strip_prefix("/dev/fd/").map(|n| format!("fd/{n}")))
        .or_else(|| match s {
            "/dev/stdin" => Some("fd/0".to_string()),
            "/dev/stdout" => Some("fd/1".to_string()),
            "/dev/stderr" => Some("fd/2".to_string()),
            _ => None,
        })?;
    let own = format!("/proc/{pid}/{rest}");
    if rest.starts_with("fd/")
        && let Ok(target) = std::fs::read_link(&own)
    {
        return Some(target.to_string_lossy().into_owned());
    }
    Some(own)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One-off resolution without caches.
    fn resolve(pid: u32, dfd: i32, path: &str, cwd: Option<&str>) -> String {
        Resolver::new().resolve(pid, dfd, path, cwd)
    }

    #[test]
    fn self_references_name_the_process_not_agentmon() {
        // pid 0 has no /proc entry: the lexical rewrite is returned.
        assert_eq!(resolve(0, AT_FDCWD, "/proc/self/fd/3", None), "/proc/0/fd/3");
        assert_eq!(resolve(0, AT_FDCWD, "/dev/fd/4", None), "/proc/0/fd/4");
        assert_eq!(resolve(0, AT_FDCWD, "/dev/stdin", None), "/proc/0/fd/0");
        // A live process: the fd link is followed to the file it names.
        let f = tempfile::NamedTempFile::new().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(f.as_file());
        let real = std::fs::canonicalize(f.path()).unwrap();
        assert_eq!(
            resolve(std::process::id(), AT_FDCWD, &format!("/dev/fd/{fd}"), None),
            real.to_string_lossy()
        );
    }

    #[test]
    fn a_name_in_the_kernels_directory_is_resolved_only_where_it_is_followed() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir(root.join("real")).unwrap();
        std::fs::write(root.join("real/file"), "").unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).unwrap();
        std::os::unix::fs::symlink(root.join("real/file"), root.join("real/alias")).unwrap();
        let me = std::process::id();
        let s = |p: PathBuf| p.to_string_lossy().into_owned();
        let mut r = Resolver::new();
        // A directory named by a string: its symlinks are resolved.
        assert_eq!(
            r.resolve_name(me, &root.join("link/alias"), false, false),
            s(root.join("real/alias"))
        );
        // The kernel's own directory is taken as it is; the last component is followed when asked.
        assert_eq!(
            r.resolve_name(me, &root.join("real/alias"), false, true),
            s(root.join("real/alias"))
        );
        assert_eq!(
            r.resolve_name(me, &root.join("real/alias"), true, true),
            s(root.join("real/file"))
        );
        assert_eq!(
            r.resolve_name(me, &root.join("real/alias"), true, false),
            s(root.join("real/file"))
        );
    }

    #[test]
    fn folds_dot_and_dotdot() {
        assert_eq!(normalize_lexically(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(
            normalize_lexically(Path::new("/../../etc/passwd")),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(normalize_lexically(Path::new("a/../../b")), PathBuf::from("../b"));
    }

    #[test]
    fn resolves_relative_paths_and_symlinks_for_a_live_process() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("secret"), b"x").unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let canon_real = std::fs::canonicalize(&real).unwrap();
        // Our own process: an absolute path through a symlink and `..` resolves to the real file.
        let through_link = format!("{}/link/../link/secret", dir.path().display());
        assert_eq!(
            resolve(std::process::id(), AT_FDCWD, &through_link, None),
            canon_real.join("secret").to_string_lossy()
        );
        // A not-yet-existing file keeps its name under the resolved parent.
        let new = format!("{}/link/new-file", dir.path().display());
        assert_eq!(
            resolve(std::process::id(), AT_FDCWD, &new, None),
            canon_real.join("new-file").to_string_lossy()
        );
        // Relative to a dirfd.
        let f = std::fs::File::open(&real).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        assert_eq!(
            resolve(std::process::id(), fd, "./secret", None),
            canon_real.join("secret").to_string_lossy()
        );
    }
}
