//! `truncate` events (the record and fields shared with the other file operations: [`super::file_op`]).
use super::{
    Line,
    file_op::{Carries, file_op_kind},
};

file_op_kind! {
    /// A file's size set, by name (truncate) or descriptor (ftruncate: the kernel's path of its file).
    TruncateInfo, Truncate, carries: Carries::LENGTH, extra: [FileLength]
}

impl TruncateInfo {
    fn describe_body(&self, line: &mut Line<'_>) {
        line.lit("truncate ")
            .val(self.0.shown_path())
            .lit(" length=")
            .num(self.0.length.unwrap_or_default());
    }
}
