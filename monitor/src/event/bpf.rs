//! `bpf` events: a `bpf(2)` command that loads, creates, attaches, pins, opens or changes eBPF
//! objects.
use monitor_common::{
    EventKind,
    bpf::{BPF_NO_TYPE, BpfEvent},
};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value, c_string,
    process_names::{BPF_CMDS, describe_exe, describe_result, name_of, result_field},
    read_record, tail_string,
};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BpfInfo {
    /// `BPF_*` name, or the number.
    pub cmd: String,
    pub cmd_nr: u32,
    /// `BPF_MAP_CREATE`: map type; `BPF_PROG_LOAD`: program type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attr_type: Option<u32>,
    /// `BPF_MAP_CREATE`/`BPF_PROG_LOAD`: the object's name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub result: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_exe: Option<String>,
}

impl KindInfo for BpfInfo {
    const KIND: EventKind = EventKind::Bpf;
    const FIELDS: &'static [Field] = &[
        Field::BpfCmd,
        Field::BpfType,
        Field::BpfName,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: BpfEvent = read_record(bytes, "bpf event")?;
        Ok(Self {
            cmd: name_of(BPF_CMDS, ev.cmd),
            cmd_nr: ev.cmd,
            attr_type: (ev.attr_type != BPF_NO_TYPE).then_some(ev.attr_type),
            name: c_string(&ev.name),
            result: ev.result,
            kernel_exe: tail_string(bytes, ev.exe, "bpf exe", notes)?,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("bpf ").val(&self.cmd);
        if let Some(t) = self.attr_type {
            line.lit(" type=").num(t);
        }
        if !self.name.is_empty() {
            line.lit(" name=").val(&self.name);
        }
        describe_result(line, self.result);
        describe_exe(line, self.kernel_exe.as_deref());
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::BpfCmd => Value::Str(&self.cmd),
            Field::BpfType => Value::Num(self.attr_type?.into()),
            Field::BpfName => Value::Str(&self.name),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::Bpf;

    fn to_proto(&self) -> schema::Bpf {
        schema::Bpf {
            cmd: self.cmd_nr,
            result: self.result,
            attr_type: self.attr_type,
            name: self.name.clone(),
            kernel_exe: self.kernel_exe.clone(),
        }
    }

    fn from_proto(p: schema::Bpf) -> Result<Self, ConvertError> {
        Ok(Self {
            cmd: name_of(BPF_CMDS, p.cmd),
            cmd_nr: p.cmd,
            attr_type: p.attr_type,
            name: p.name,
            result: p.result,
            kernel_exe: p.kernel_exe,
        })
    }
}
