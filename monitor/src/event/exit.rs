//! `exit` events: a process ended, with its exit code or signal.
use monitor_common::{EventKind, exit::ExitEvent};
use serde::Serialize;

use super::{Notes, DecodeError, KindInfo, Line, read_record};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExitInfo {
    /// Exit status (`WEXITSTATUS`) if the process exited normally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Terminating signal if it was killed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

impl KindInfo for ExitInfo {
    const KIND: EventKind = EventKind::Exit;
    const RULES: bool = false;

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: ExitEvent = read_record(bytes, "exit event")?;
        Ok(exit_status(ev.exit_code))
    }

    fn describe(&self, line: &mut Line<'_>) {
        match (self.exit_code, self.signal) {
            (Some(c), _) => line.lit("exit code=").num(c),
            (_, Some(s)) => line.lit("exit signal=").num(s),
            _ => line.lit("exit"),
        };
    }

    type Proto = schema::Exit;

    fn to_proto(&self) -> schema::Exit {
        schema::Exit {
            exit_code: self.exit_code,
            signal: self.signal,
        }
    }

    fn from_proto(p: schema::Exit) -> Result<Self, ConvertError> {
        Ok(Self {
            exit_code: p.exit_code,
            signal: p.signal,
        })
    }
}

/// Splits a wait status into exit code / signal (-1 = unknown).
pub(crate) fn exit_status(raw: i32) -> ExitInfo {
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
