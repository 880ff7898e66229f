//! The recorder's files: naming and creating them, their header and trailer frames, and rotation
//! by size.
use std::{
    ffi::OsString,
    fs::File,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use super::{Recorder, encode_into};
use crate::record::{
    RecordError,
    format::{FORMAT_VERSION, FRAME_HEADER_LEN, FrameKind, LOG_MAGIC},
    proto,
};

/// Who wrote the log (the header's identity fields).
#[derive(Clone, Debug)]
pub(super) struct Ident {
    host: String,
    boot_id: String,
}

impl Ident {
    pub(super) fn current() -> Self {
        Self {
            host: hostname(),
            boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let n = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The path of the `index`-th file of a rotated log: `FILE`, `FILE.1`, `FILE.2`, …
pub(crate) fn rotated_path(base: &Path, index: u32) -> PathBuf {
    if index == 0 {
        return base.to_path_buf();
    }
    let mut s = OsString::from(base.as_os_str());
    s.push(format!(".{index}"));
    PathBuf::from(s)
}

fn base_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
impl Recorder {
    pub(super) fn write_log_header(&mut self, prev_file: String) -> Result<(), RecordError> {
        let h = proto::LogHeader {
            magic: LOG_MAGIC.to_string(),
            format_version: FORMAT_VERSION,
            host: self.ident.host.clone(),
            boot_id: self.ident.boot_id.clone(),
            start_time_unix_ns: now_ns(),
            agentmon_version: env!("CARGO_PKG_VERSION").to_string(),
            file_index: self.file_index,
            prev_chain_hash: self.chain.to_vec(),
            prev_file,
        };
        let mut buf = Vec::with_capacity(256);
        encode_into(&mut buf, &h)?;
        self.append(FrameKind::Header, &mut buf)?;
        Ok(())
    }

    pub(super) fn write_trailer(
        &mut self,
        reason: proto::trailer::Reason,
        next_file: String,
    ) -> Result<(), RecordError> {
        let t = proto::Trailer {
            reason: reason as i32,
            next_file,
            frames: self.file_frames + 1,
            events: self.file_events,
            alerts: self.file_alerts,
            end_time_unix_ns: now_ns(),
            lost: self.file_lost,
        };
        let mut buf = Vec::with_capacity(128);
        encode_into(&mut buf, &t)?;
        self.append(FrameKind::Trailer, &mut buf)?;
        Ok(())
    }

    pub(super) fn needs_rotation(&self, frame_len: usize) -> bool {
        let Some(max) = self.opts.max_bytes else { return false };
        // Room for the trailer that closes this file: its payload is a few varints and a file name.
        let trailer = (FRAME_HEADER_LEN + 64 + base_name(&self.base).len() + 12) as u64;
        // A file holding only its header takes the frame however large: rotating would not help.
        let holds_records = self.file_frames > 1 || !self.batch.is_empty();
        holds_records && self.file_len + frame_len as u64 + trailer > max
    }

    /// Ends the file with a trailer and goes on in the next one. The next file is created first, so
    /// a name that is taken (or a symlink planted there) fails the rotation before the trailer is
    /// written; a header that cannot be written is written before the next frame.
    pub(super) fn rotate(&mut self) -> Result<(), RecordError> {
        let next_path = rotated_path(&self.base, self.file_index + 1);
        let file = open_new(&next_path)?;
        if let Err(e) = self.write_trailer(proto::trailer::Reason::Rotated, base_name(&next_path)) {
            drop(file);
            let _ = std::fs::remove_file(&next_path);
            return Err(e);
        }
        // The trailer is written: the rotation goes on whatever the sync says.
        if let Err(e) = self.sync() {
            tracing::error!(path = %self.path.display(), "syncing the recording before rotating: {e}");
        }
        let prev_file = base_name(&self.path);
        tracing::info!(from = %self.path.display(), to = %next_path.display(), "rotating the recording");
        self.file = file;
        self.path = next_path;
        self.file_index += 1;
        self.file_len = 0;
        self.file_frames = 0;
        self.file_events = 0;
        self.file_alerts = 0;
        self.file_records = 0;
        self.file_lost = 0;
        self.contexts.clear();
        self.prev_file.clone_from(&prev_file);
        self.write_log_header(prev_file)
    }
}

/// A new log file: `O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600 (an existing file or a symlink at the
/// name is an error).
pub(super) fn open_new(path: &Path) -> Result<File, RecordError> {
    crate::files::create_new(path).map_err(|e| RecordError::io(path, e))
}
