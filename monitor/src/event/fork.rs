//! `fork` events: a new process; the header describes the parent.
use monitor_common::fork::ForkEvent;
use serde::Serialize;

use super::{DecodeError, read_record};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForkInfo {
    /// The new process; the header describes the parent.
    pub child_pid: u32,
}

pub(super) fn decode(bytes: &[u8]) -> Result<ForkInfo, DecodeError> {
    let ev: ForkEvent = read_record(bytes, "fork event")?;
    Ok(ForkInfo {
        child_pid: ev.child_tgid,
    })
}
