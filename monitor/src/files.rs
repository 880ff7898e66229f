//! The files agentmon reads and writes on its own behalf, opened so that nobody else can redirect,
//! read or bloat them.
//!
//! - Inputs (config, rule files, token files) are read with a size limit ([`read_limited`]): a
//!   `--config /dev/zero` fails at once instead of filling memory.
//! - New files (recordings, temporary files) are created with `O_CREAT | O_EXCL | O_NOFOLLOW`, mode
//!   0600 ([`create_new`]): a symlink or a file planted at the name is an error, never followed.
//! - An output file that may already exist (the alerts file) is opened with `O_NOFOLLOW` and must be
//!   a regular file with one link, owned by agentmon's user; a looser mode is tightened to 0600
//!   ([`open_append`]).
//! - State lives in a directory only agentmon's user can enter ([`PrivateDir`]: 0700, owned by that
//!   user, opened with `O_NOFOLLOW`); its files are opened relative to it, with `O_NOFOLLOW`, and
//!   replaced atomically through an `O_EXCL` temporary file in the same directory.
use std::{
    ffi::CString,
    fs::File,
    io::{self, Read, Write},
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd},
        unix::{
            ffi::OsStrExt,
            fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt},
        },
    },
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

/// Reads all of `path`, refusing more than `limit` bytes (checked before reading when the file says
/// its size, while reading otherwise: a pipe, `/dev/zero`). `what` names the file's role in the
/// error (`config file`, `rule file`).
pub(crate) fn read_limited(path: &Path, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    let f = File::open(path)?;
    let meta = f.metadata()?;
    let too_large = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes, the limit for a {what}"),
        )
    };
    if meta.is_dir() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "is a directory"));
    }
    if meta.is_file() && meta.len() > limit {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len().min(limit)).unwrap_or(0));
    f.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(buf)
}

/// UTF-8 text of `bytes`, or where (line, column, both from 1) the first invalid byte is.
pub(crate) fn utf8_at(bytes: Vec<u8>) -> Result<String, (usize, usize)> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..valid];
        let line = memchr::memchr_iter(b'\n', before).count() + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        // Valid UTF-8 up to `valid`: count characters, not bytes.
        let col = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        (line, col)
    })
}

/// Creates `path`, which must not exist (not even as a dangling symlink), for appending, mode 0600.
pub(crate) fn create_new(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Opens `path` for appending, creating it (mode 0600) if it does not exist. An existing `path`
/// must be a regular file (not a symlink: `O_NOFOLLOW`) with a single link, owned by this process's
/// user; group and other permissions are removed from it.
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    let existing = std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path);
    let f = match existing {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => match create_new(path) {
            Ok(f) => return Ok(f),
            // Created by someone else meanwhile: check it as an existing file.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => std::fs::OpenOptions::new()
                .append(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
                .open(path)?,
            Err(e) => return Err(e),
        },
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a symbolic link (not followed)",
            ));
        }
        Err(e) => return Err(e),
    };
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    check_owner(&meta, "file")?;
    if meta.nlink() != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("has {} hard links (a link to another file?)", meta.nlink()),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    // Writes block as usual (O_NONBLOCK only kept a FIFO from hanging the open).
    set_blocking(&f)?;
    Ok(f)
}

fn set_blocking(f: &File) -> io::Result<()> {
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; F_GETFL/F_SETFL only change its status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn check_owner(meta: &std::fs::Metadata, what: &str) -> io::Result<()> {
    let me = euid();
    if meta.uid() != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the {what} belongs to uid {}, not to agentmon's user (uid {me}): refusing to use it",
                meta.uid()
            ),
        ));
    }
    Ok(())
}

fn c_path(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

/// A directory only agentmon's user can use, held open: its files are opened relative to it, so a
/// path component swapped for a symlink after the check cannot redirect them.
#[derive(Debug)]
pub(crate) struct PrivateDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl PrivateDir {
    /// Opens `path` (creating it, and its parents, if `create`): a directory, not a symlink, owned by
    /// this process's user, mode 0700 (a looser mode is tightened). `Ok(None)` if it does not exist
    /// and `create` is false.
    pub(crate) fn open(path: &Path, create: bool) -> io::Result<Option<Self>> {
        if create {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            match std::fs::DirBuilder::new().mode(0o700).create(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        let c = c_path(path)?;
        // SAFETY: open(2) with a NUL-terminated path we own; the descriptor is wrapped at once.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOENT) if !create => Ok(None),
                Some(libc::ELOOP | libc::ENOTDIR) => Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not a directory (a symbolic link is not followed)",
                )),
                _ => Err(e),
            };
        }
        // SAFETY: `fd` was just returned by open(2) and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let dir = File::from(fd);
        let meta = dir.metadata()?;
        check_owner(&meta, "directory")?;
        if meta.mode() & 0o077 != 0 {
            dir.set_permissions(std::fs::Permissions::from_mode(0o700))?;
        }
        Ok(Some(Self {
            fd: OwnedFd::from(dir),
            path: path.to_path_buf(),
        }))
    }

    /// The path of `name` inside the directory (for messages).
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn open_at(&self, name: &str, flags: libc::c_int) -> io::Result<File> {
        let c = CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name holds a NUL byte"))?;
        let mode: libc::c_uint = 0o600;
        // SAFETY: openat(2) relative to a directory descriptor we own, with a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                c.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                mode,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by openat(2) and is owned by nobody else.
        Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The contents of `name` (`None` if it does not exist), at most `limit` bytes; it must be a
    /// regular file owned by this process's user.
    pub(crate) fn read(&self, name: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let f = match self.open_at(name, libc::O_RDONLY | libc::O_NONBLOCK) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = f.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        check_owner(&meta, "file")?;
        let mut buf = Vec::new();
        f.take(limit + 1).read_to_end(&mut buf)?;
        if buf.len() as u64 > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("larger than {limit} bytes"),
            ));
        }
        Ok(Some(buf))
    }

    /// `name` opened for reading and writing, created (0600) if needed: a lock file.
    pub(crate) fn open_lock(&self, name: &str) -> io::Result<File> {
        let f = self.open_at(name, libc::O_RDWR | libc::O_CREAT | libc::O_NONBLOCK)?;
        let meta = f.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        check_owner(&meta, "file")?;
        Ok(f)
    }

    /// Replaces `name` with `bytes` atomically: written to a new temporary file in the same
    /// directory (`O_EXCL`, 0600), synced, renamed over `name`, and the directory synced.
    pub(crate) fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        static N: AtomicU64 = AtomicU64::new(0);
        let tmp = format!(
            ".{name}.{}.{}.tmp",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut f = self.open_at(&tmp, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL)?;
        let written = f.write_all(bytes).and_then(|()| f.sync_all());
        drop(f);
        let renamed = written.and_then(|()| self.rename(&tmp, name));
        if renamed.is_err() {
            let _ = self.unlink(&tmp);
        }
        renamed?;
        // SAFETY: fsync(2) on the directory descriptor we own.
        if unsafe { libc::fsync(self.fd.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (c_name(from)?, c_name(to)?);
        let dir = self.fd.as_raw_fd();
        // SAFETY: renameat(2) within the directory we hold, with NUL-terminated names.
        if unsafe { libc::renameat(dir, from.as_ptr(), dir, to.as_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn unlink(&self, name: &str) -> io::Result<()> {
        let name = c_name(name)?;
        // SAFETY: unlinkat(2) within the directory we hold, with a NUL-terminated name.
        if unsafe { libc::unlinkat(self.fd.as_raw_fd(), name.as_ptr(), 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn c_name(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name holds a NUL byte"))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn reads_are_bounded_even_without_a_size() {
        let err = read_limited(Path::new("/dev/zero"), 1 << 20, "config file").unwrap_err();
        assert!(err.to_string().contains("the limit for a config file"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'x'; 2000]).unwrap();
        read_limited(&p, 1999, "rule file").unwrap_err();
        assert_eq!(read_limited(&p, 2000, "rule file").unwrap().len(), 2000);
    }

    #[test]
    fn utf8_errors_have_a_position() {
        assert_eq!(utf8_at(b"ab\ncd\xffe".to_vec()), Err((2, 3)));
        assert_eq!(utf8_at("é\n\nxé".as_bytes().to_vec()), Ok("é\n\nxé".to_string()));
        assert_eq!(utf8_at(b"\xc3".to_vec()), Err((1, 1)));
        let mut b = "\nαé".as_bytes().to_vec();
        b.push(0xff);
        assert_eq!(utf8_at(b), Err((2, 3)));
    }

    #[test]
    fn new_files_refuse_symlinks_and_existing_names() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link");
        symlink(&target, &link).unwrap();
        create_new(&link).unwrap_err();
        create_new(&target).unwrap_err();
        let dangling = dir.path().join("dangling");
        symlink(dir.path().join("nowhere"), &dangling).unwrap();
        create_new(&dangling).unwrap_err();
        assert!(!dir.path().join("nowhere").exists());
        let f = create_new(&dir.path().join("new")).unwrap();
        assert_eq!(f.metadata().unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn append_refuses_links_and_tightens_modes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link");
        symlink(&target, &link).unwrap();
        let err = open_append(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let hard = dir.path().join("hard");
        std::fs::hard_link(&target, &hard).unwrap();
        assert!(open_append(&hard).unwrap_err().to_string().contains("hard links"));
        let loose = dir.path().join("loose");
        std::fs::write(&loose, "").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o666)).unwrap();
        open_append(&loose).unwrap();
        assert_eq!(std::fs::metadata(&loose).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }

    #[test]
    fn private_dirs_are_0700_and_replace_files_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state/sub");
        assert!(PrivateDir::open(&p, false).unwrap().is_none());
        let d = PrivateDir::open(&p, true).unwrap().unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o700);
        d.write_atomic("q.json", b"[1]").unwrap();
        d.write_atomic("q.json", b"[2]").unwrap();
        assert_eq!(d.read("q.json", 100).unwrap().unwrap(), b"[2]");
        assert_eq!(std::fs::metadata(p.join("q.json")).unwrap().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(&p).unwrap().count(), 1, "no temporary file left");
        assert!(d.read("missing", 100).unwrap().is_none());
        d.read("q.json", 2).unwrap_err();
        // A symlink planted in the directory is not followed.
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "secret").unwrap();
        symlink(&outside, p.join("evil")).unwrap();
        d.read("evil", 100).unwrap_err();
        d.open_lock("evil").unwrap_err();
        // Nor is a symlink in place of the directory.
        let alias = dir.path().join("alias");
        symlink(&p, &alias).unwrap();
        PrivateDir::open(&alias, true).unwrap_err();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        PrivateDir::open(&p, false).unwrap().unwrap();
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o700);
    }
}
