//! `chdir`: a successful `chdir(2)`/`fchdir(2)` (seen at syscall exit), so relative paths resolve.
use crate::EventHeader;

pub const CHDIR_PATH_LEN: usize = 256;

/// A successful `chdir(2)` (path set) or `fchdir(2)` (`fd` ≥ 0, path empty): userspace tracks each
/// process's working directory with these, so relative paths resolve even after the process is gone.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ChdirEvent {
    pub header: EventHeader,
    pub fd: i32,
    pub _pad: u32,
    pub path: [u8; CHDIR_PATH_LEN],
}
