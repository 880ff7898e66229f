//! Process lifecycle events (fork, exit) and in-kernel deny notices.
use monitor_common::process::{
    ChdirEvent, DENY_CONNECT, DENY_EXEC, DENY_MOUNT, DENY_OPEN, DenyEvent, ExitEvent, ForkEvent,
};
use serde::Serialize;

use super::{DecodeError, c_string, read_record};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForkInfo {
    /// The new process; the header describes the parent.
    pub child_pid: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExitInfo {
    /// Exit status (`WEXITSTATUS`) if the process exited normally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Terminating signal if it was killed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DenyInfo {
    /// exec, open, mount or connect.
    pub what: &'static str,
    pub rule_id: u32,
}

/// The working directory changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChdirInfo {
    /// chdir: the path passed (may be relative); fchdir: empty.
    pub path: String,
    /// fchdir: the directory fd; chdir: -1.
    pub fd: i32,
}

pub(super) fn decode_chdir(bytes: &[u8]) -> Result<ChdirInfo, DecodeError> {
    let ev: ChdirEvent = read_record(bytes, "chdir event")?;
    Ok(ChdirInfo {
        path: c_string(&ev.path),
        fd: ev.fd,
    })
}

pub(super) fn decode_fork(bytes: &[u8]) -> Result<ForkInfo, DecodeError> {
    let ev: ForkEvent = read_record(bytes, "fork event")?;
    Ok(ForkInfo {
        child_pid: ev.child_tgid,
    })
}

pub(super) fn decode_exit(bytes: &[u8]) -> Result<ExitInfo, DecodeError> {
    let ev: ExitEvent = read_record(bytes, "exit event")?;
    Ok(exit_status(ev.exit_code))
}

/// Splits a wait status into exit code / signal (-1 = unknown).
pub fn exit_status(raw: i32) -> ExitInfo {
    if raw < 0 {
        return ExitInfo {
            exit_code: None,
            signal: None,
        };
    }
    let signal = raw & 0x7f;
    if signal == 0 {
        ExitInfo {
            exit_code: Some((raw >> 8) & 0xff),
            signal: None,
        }
    } else {
        ExitInfo {
            exit_code: None,
            signal: Some(signal),
        }
    }
}

pub(super) fn decode_deny(bytes: &[u8]) -> Result<DenyInfo, DecodeError> {
    let ev: DenyEvent = read_record(bytes, "deny event")?;
    let what = match ev.what {
        DENY_EXEC => "exec",
        DENY_OPEN => "open",
        DENY_MOUNT => "mount",
        DENY_CONNECT => "connect",
        _ => "unknown",
    };
    Ok(DenyInfo {
        what,
        rule_id: ev.rule_id,
    })
}

#[cfg(test)]
mod tests {
    use super::exit_status;

    #[test]
    fn splits_wait_status() {
        assert_eq!(exit_status(3 << 8).exit_code, Some(3));
        assert_eq!(exit_status(9).signal, Some(9));
        assert_eq!(exit_status(-1).exit_code, None);
    }
}
