//! Turns the path string a process passed into what it actually names: relative paths are joined to
//! the process's cwd or `dirfd` (read from `/proc`), `.`/`..` are folded, and symlinks are resolved
//! when the process shares our root. Best effort: a process that is already gone keeps its lexical
//! path, and the result says whether it was fully resolved.
use std::path::{Component, Path, PathBuf};

const AT_FDCWD: i32 = -100;

/// Folds `.` and `..` without touching the filesystem (`/a/../b` → `/b`; never above `/`).
pub fn normalize_lexically(path: &Path) -> PathBuf {
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

fn shares_our_root(pid: u32) -> bool {
    match (
        std::fs::read_link(format!("/proc/{pid}/root")),
        std::fs::read_link("/proc/self/root"),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Absolute, normalized form of `path` as seen by `pid` (`dfd` for *at() syscalls, else AT_FDCWD).
/// `cwd` is the process's tracked working directory, used for AT_FDCWD instead of `/proc` (which is
/// gone once a short-lived process exits).
pub fn resolve(pid: u32, dfd: i32, path: &str, cwd: Option<&str>) -> String {
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
    let lexical = normalize_lexically(&joined);
    if shares_our_root(pid) {
        // Resolve symlinks in the existing prefix; the last component may not exist yet (O_CREAT).
        if let Ok(real) = std::fs::canonicalize(&joined) {
            return real.to_string_lossy().into_owned();
        }
        if let (Some(parent), Some(name)) = (joined.parent(), joined.file_name()) {
            if let Ok(real_parent) = std::fs::canonicalize(parent) {
                return real_parent.join(name).to_string_lossy().into_owned();
            }
        }
    }
    lexical.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
