//! `exec` events: the file a process ran (or tried to), the binary that now runs as the kernel knows
//! it, its argv and the environment strings that change what runs.
use std::path::Path;

use monitor_common::{
    EventKind,
    exec::{EXEC_RAN, ExecEvent, env_is_selected},
    record::Tail,
};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Notes, Value, read_record, tail_string};
use crate::{
    enrich::resolve::normalize_lexically,
    schema::{self, ConvertError},
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExecInfo {
    /// The file name as passed to execve (may be relative).
    pub filename: String,
    /// The kernel's path of the binary that now runs (`mm->exe_file`): the executable itself, a
    /// script's interpreter, or `/memfd:NAME` for a memory file. Absent for a failed attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe_path: Option<String>,
    /// The kernel's path of the working directory a relative file name was taken in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd_path: Option<String>,
    pub argv: Vec<String>,
    /// argv was longer than what the kernel side copies.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub argv_truncated: bool,
    /// The environment strings that change what runs (`LD_*`, `*_PROXY`, `GLIBC_TUNABLES`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// 0, or `-errno` of a failed attempt (the process kept its old image).
    pub result: i64,
    /// The file run was a script: `exe_path` is its interpreter.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub script: bool,
}

/// Splits a NUL-separated area (argv, environment).
pub(crate) fn split_args(raw: &[u8]) -> Vec<String> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|&b| b == 0)
        .map(super::lossy_string)
        .collect()
}

impl ExecInfo {
    /// A successful exec of `filename` with `argv` and nothing else known (the kernel's paths,
    /// environment, script flag empty): what hand-made events start from.
    pub fn new(filename: impl Into<String>, argv: Vec<String>) -> Self {
        Self {
            filename: filename.into(),
            exe_path: None,
            cwd_path: None,
            argv,
            argv_truncated: false,
            env: Vec::new(),
            result: 0,
            script: false,
        }
    }

    pub fn failed(&self) -> bool {
        self.result < 0
    }

    /// The file that was run, as the kernel saw it: the running binary's path, except for a script,
    /// whose own path is its name joined to the kernel's path of the working directory (`..` folded).
    pub fn target(&self) -> Option<String> {
        if !self.script
            && let Some(exe) = &self.exe_path
        {
            return Some(exe.clone());
        }
        let p = Path::new(&self.filename);
        let joined = match (&self.cwd_path, p.is_absolute()) {
            (_, true) => p.to_path_buf(),
            (Some(dir), false) => Path::new(dir).join(p),
            (None, false) => return None,
        };
        Some(normalize_lexically(&joined).to_string_lossy().into_owned())
    }
}

/// The NUL-separated area a tail names.
fn tail_area(bytes: &[u8], t: Tail, what: &'static str, notes: &mut Notes) -> Result<Vec<String>, DecodeError> {
    Ok(tail_string(bytes, t, what, notes)?
        .map(|s| split_args(s.as_bytes()))
        .unwrap_or_default())
}

impl KindInfo for ExecInfo {
    const KIND: EventKind = EventKind::Exec;
    const FIELDS: &'static [Field] = &[
        Field::ProcArgs,
        Field::ProcArgv,
        Field::FilePath,
        Field::FileRawPath,
        Field::ExecPath,
        Field::ExecEnv,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: ExecEvent = read_record(bytes, "exec event")?;
        let argv = tail_area(bytes, ev.args, "exec argv", notes)?;
        let env = tail_area(bytes, ev.env, "exec environment", notes)?
            .into_iter()
            .filter(|e| env_is_selected(e))
            .collect();
        Ok(ExecInfo {
            filename: tail_string(bytes, ev.filename, "exec file name", notes)?.unwrap_or_default(),
            exe_path: tail_string(bytes, ev.exe_path, "exec binary path", notes)?,
            cwd_path: tail_string(bytes, ev.cwd_path, "exec working directory", notes)?,
            argv,
            argv_truncated: ev.origin == EXEC_RAN && u64::from(ev.args_total) > u64::from(ev.args.len),
            env,
            result: ev.result,
            script: ev.script != 0,
        })
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit("exec ").val(&self.filename);
        if let Some(exe) = self.exe_path.as_deref().filter(|e| *e != self.filename) {
            line.lit(" -> ").val(exe);
        }
        line.lit(" argv=").list(&self.argv);
        if !self.env.is_empty() {
            line.lit(" env=").list(&self.env);
        }
        if self.failed() {
            line.lit(" failed errno=").num(-self.result);
        }
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            // The enrich stage puts `target()` in `resolved_path`, which the rules read first.
            Field::FilePath | Field::ExecPath => Value::Str(self.exe_path.as_deref().unwrap_or(&self.filename)),
            Field::FileRawPath => Value::Str(&self.filename),
            Field::ProcArgv => Value::Strs(&self.argv),
            Field::ExecEnv => Value::Strs(&self.env),
            Field::EvtFailed => Value::Bool(self.failed()),
            Field::EvtErrno => Value::Num(self.result.unsigned_abs()),
            _ => return None,
        })
    }

    type Proto = schema::Exec;

    fn to_proto(&self) -> schema::Exec {
        schema::Exec {
            filename: self.filename.clone(),
            argv: self.argv.clone(),
            argv_truncated: self.argv_truncated,
            exe_path: self.exe_path.clone(),
            cwd_path: self.cwd_path.clone(),
            env: self.env.clone(),
            result: self.result,
            script: self.script,
        }
    }

    fn from_proto(p: schema::Exec) -> Result<Self, ConvertError> {
        Ok(Self {
            filename: p.filename,
            exe_path: p.exe_path,
            cwd_path: p.cwd_path,
            argv: p.argv,
            argv_truncated: p.argv_truncated,
            env: p.env,
            result: p.result,
            script: p.script,
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
