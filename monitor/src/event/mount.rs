//! `mount` events.
use monitor_common::{EventKind, mount::{MOUNT_SYSCALL_MOVE_MOUNT, MountEvent}};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Value, c_string, read_record};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MountInfo {
    pub source: String,
    pub target: String,
    pub fstype: String,
    /// `MS_*` flags (`mount`) or `MOVE_MOUNT_*` flags (`move_mount`).
    pub flags: u64,
    /// `mount` or `move_mount` (new mount API; fstype/source from the earlier fsopen/fsconfig).
    pub syscall: &'static str,
}

impl KindInfo for MountInfo {
    const KIND: EventKind = EventKind::Mount;
    const FIELDS: &'static [Field] = &[Field::MountSource, Field::MountTarget, Field::MountFstype];

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let ev: MountEvent = read_record(bytes, "mount event")?;
        Ok(MountInfo {
            source: c_string(&ev.source),
            target: c_string(&ev.target),
            fstype: c_string(&ev.fstype),
            flags: ev.flags,
            syscall: if ev.syscall == MOUNT_SYSCALL_MOVE_MOUNT {
                "move_mount"
            } else {
                "mount"
            },
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("mount ")
            .val(&self.source)
            .lit(" on ")
            .val(&self.target)
            .lit(" type ")
            .val(&self.fstype);
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::MountSource => Value::Str(&self.source),
            Field::MountTarget => Value::Str(&self.target),
            Field::MountFstype => Value::Str(&self.fstype),
            _ => return None,
        })
    }
}
