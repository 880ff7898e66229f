//! `exec` events: the executed file and its argv.
use monitor_common::{EventKind, exec::ExecEvent};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Value, c_string, read_record};
use crate::schema::{self, ConvertError};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExecInfo {
    /// Path the kernel executed, as passed to execve (may be relative).
    pub filename: String,
    pub argv: Vec<String>,
    /// argv was longer than what the kernel side copies.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub argv_truncated: bool,
}

/// Splits the raw NUL-separated argv area.
pub(crate) fn split_args(raw: &[u8]) -> Vec<String> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

impl KindInfo for ExecInfo {
    const KIND: EventKind = EventKind::Exec;
    const FIELDS: &'static [Field] = &[Field::ProcArgs, Field::ProcArgv, Field::FilePath, Field::FileRawPath, Field::ExecPath];

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let ev: ExecEvent = read_record(bytes, "exec event")?;
        let len = (ev.args_len as usize).min(ev.args.len());
        Ok(ExecInfo {
            filename: c_string(&ev.filename),
            argv: split_args(&ev.args[..len]),
            argv_truncated: ev.args_total > ev.args_len,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("exec ").val(&self.filename).lit(" argv=").list(&self.argv);
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::FilePath | Field::FileRawPath | Field::ExecPath => Value::Str(&self.filename),
            Field::ProcArgv => Value::Strs(&self.argv),
            _ => return None,
        })
    }

    type Proto = schema::Exec;

    fn to_proto(&self) -> schema::Exec {
        schema::Exec {
            filename: self.filename.clone(),
            argv: self.argv.clone(),
            argv_truncated: self.argv_truncated,
        }
    }

    fn from_proto(p: schema::Exec) -> Result<Self, ConvertError> {
        Ok(Self {
            filename: p.filename,
            argv: p.argv,
            argv_truncated: p.argv_truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::split_args;

    #[test]
    fn splits_nul_separated_args() {
        assert_eq!(split_args(b"sh\0-c\0echo hi\0"), vec!["sh", "-c", "echo hi"]);
        assert_eq!(split_args(b"ls"), vec!["ls"]);
        assert_eq!(split_args(b"a\0\0b\0"), vec!["a", "", "b"]);
        assert!(split_args(b"").is_empty());
    }
}
