//! `mount` events.
use monitor_common::{EventKind, mount::{MOUNT_SYSCALL_MOVE_MOUNT, MountEvent}};
use serde::Serialize;

use super::{Notes, DecodeError, Field, KindInfo, Line, Value, c_string, read_record};
use crate::schema::{self, ConvertError};

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

    fn decode(bytes: &[u8], _notes: &mut Notes) -> Result<Self, DecodeError> {
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

    type Proto = schema::Mount;

    fn to_proto(&self) -> schema::Mount {
        schema::Mount {
            source: self.source.clone(),
            target: self.target.clone(),
            fstype: self.fstype.clone(),
            flags: self.flags,
            syscall: match self.syscall {
                "move_mount" => schema::MountSyscall::MoveMount,
                "mount" => schema::MountSyscall::Mount,
                _ => schema::MountSyscall::Unspecified,
            } as i32,
        }
    }

    fn from_proto(p: schema::Mount) -> Result<Self, ConvertError> {
        Ok(Self {
            source: p.source,
            target: p.target,
            fstype: p.fstype,
            flags: p.flags,
            syscall: match schema::MountSyscall::try_from(p.syscall) {
                Ok(schema::MountSyscall::Mount) => "mount",
                Ok(schema::MountSyscall::MoveMount) => "move_mount",
                _ => {
                    return Err(ConvertError::UnknownEnum {
                        what: "mount syscall",
                        value: p.syscall,
                    });
                }
            },
        })
    }
}
