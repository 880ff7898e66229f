//! `rename_comm` events: a task's command name changed other than by exec, with the kernel's path
//! of the executable, so rules can tell the name a process gave itself from what it runs.
use monitor_common::{EventKind, rename_comm::RenameCommEvent};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value, c_string, process_names::describe_exe, read_record,
    tail_string,
};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RenameCommInfo {
    pub old_comm: String,
    pub new_comm: String,
    /// The renamed task (a thread of the process).
    pub task_pid: i32,
    /// The syscall the task was in (x86-64 number; 157 `prctl`, 1 `write` to `/proc/PID/comm`; -1
    /// unknown).
    pub syscall_nr: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_exe: Option<String>,
}

impl KindInfo for RenameCommInfo {
    const KIND: EventKind = EventKind::RenameComm;
    const FIELDS: &'static [Field] = &[Field::CommOld, Field::CommNew];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: RenameCommEvent = read_record(bytes, "rename_comm event")?;
        Ok(Self {
            old_comm: c_string(&ev.old_comm),
            new_comm: c_string(&ev.new_comm),
            task_pid: ev.task_pid,
            syscall_nr: ev.syscall_nr,
            kernel_exe: tail_string(bytes, ev.exe, "rename_comm exe", notes)?,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("rename_comm ")
            .val(&self.old_comm)
            .lit(" -> ")
            .val(&self.new_comm)
            .lit(" task=")
            .num(self.task_pid);
        describe_exe(line, self.kernel_exe.as_deref());
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::CommOld => Value::Str(&self.old_comm),
            Field::CommNew => Value::Str(&self.new_comm),
            _ => return None,
        })
    }

    type Proto = schema::RenameComm;

    fn to_proto(&self) -> schema::RenameComm {
        schema::RenameComm {
            task_pid: self.task_pid,
            syscall_nr: self.syscall_nr,
            old_comm: self.old_comm.clone(),
            new_comm: self.new_comm.clone(),
            kernel_exe: self.kernel_exe.clone(),
        }
    }

    fn from_proto(p: schema::RenameComm) -> Result<Self, ConvertError> {
        Ok(Self {
            old_comm: p.old_comm,
            new_comm: p.new_comm,
            task_pid: p.task_pid,
            syscall_nr: p.syscall_nr,
            kernel_exe: p.kernel_exe,
        })
    }
}
