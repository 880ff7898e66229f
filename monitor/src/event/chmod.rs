//! `chmod` events (the record and fields shared with the other file operations: [`super::file_op`]).
use super::{
    Line,
    file_op::{Carries, file_op_kind},
};

file_op_kind! {
    /// A mode changed (setuid and setgid bits included).
    ChmodInfo, Chmod, carries: Carries::MODE, extra: [FileMode, FileSetuid, FileSetgid]
}

impl ChmodInfo {
    fn describe_body(&self, line: &mut Line<'_>) {
        line.lit("chmod ")
            .val(self.0.shown_path())
            .lit(" mode=")
            .num(format_args!("{:#o}", self.0.mode.unwrap_or_default()));
    }
}
