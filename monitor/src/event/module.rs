//! `module` events: a kernel module loaded (`init_module`, `finit_module`) or removed
//! (`delete_module`), or an attempt to.
use monitor_common::{
    EventKind,
    module::{MODULE_SYSCALL_DELETE, MODULE_SYSCALL_FINIT, MODULE_SYSCALL_INIT, ModuleEvent},
};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    process_names::{describe_exe, describe_result, result_field, syscall_from_log, syscall_id, syscall_name},
    read_record, tail_string,
};
use crate::schema::{self, ConvertError};

const SYSCALLS: [(u8, &str); 3] = [
    (MODULE_SYSCALL_INIT, "init_module"),
    (MODULE_SYSCALL_FINIT, "finit_module"),
    (MODULE_SYSCALL_DELETE, "delete_module"),
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModuleInfo {
    pub syscall: &'static str,
    /// `finit_module`: the kernel's path of the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `delete_module`: the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The parameter string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<String>,
    /// `init_module`: the image's length.
    pub len: u64,
    pub flags: u32,
    pub fd: i32,
    pub result: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_exe: Option<String>,
}

impl KindInfo for ModuleInfo {
    const KIND: EventKind = EventKind::Module;
    const FIELDS: &'static [Field] = &[Field::ModulePath, Field::ModuleName, Field::EvtFailed, Field::EvtErrno];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: ModuleEvent = read_record(bytes, "module event")?;
        Ok(Self {
            syscall: syscall_name(&SYSCALLS, ev.syscall),
            path: tail_string(bytes, ev.path, "module path", notes)?,
            name: tail_string(bytes, ev.name, "module name", notes)?,
            params: tail_string(bytes, ev.args, "module parameters", notes)?,
            len: ev.len,
            flags: ev.flags,
            fd: ev.fd,
            result: ev.result,
            kernel_exe: tail_string(bytes, ev.exe, "module exe", notes)?,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit(self.syscall);
        if let Some(p) = &self.path {
            line.lit(" ").val(p);
        }
        if let Some(n) = &self.name {
            line.lit(" ").val(n);
        }
        if let Some(a) = self.params.as_deref().filter(|a| !a.is_empty()) {
            line.lit(" params=").val(a);
        }
        describe_result(line, self.result);
        describe_exe(line, self.kernel_exe.as_deref());
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::ModulePath => Value::Str(self.path.as_deref()?),
            Field::ModuleName => Value::Str(self.name.as_deref()?),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::Module;

    fn to_proto(&self) -> schema::Module {
        schema::Module {
            syscall: syscall_id(&SYSCALLS, self.syscall),
            result: self.result,
            len: self.len,
            flags: self.flags,
            fd: self.fd,
            path: self.path.clone(),
            name: self.name.clone(),
            params: self.params.clone(),
            kernel_exe: self.kernel_exe.clone(),
        }
    }

    fn from_proto(p: schema::Module) -> Result<Self, ConvertError> {
        Ok(Self {
            syscall: syscall_from_log(&SYSCALLS, p.syscall, "module syscall")?,
            path: p.path,
            name: p.name,
            params: p.params,
            len: p.len,
            flags: p.flags,
            fd: p.fd,
            result: p.result,
            kernel_exe: p.kernel_exe,
        })
    }
}
