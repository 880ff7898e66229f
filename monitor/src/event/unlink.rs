//! `unlink` events (the record and fields shared with the other file operations: [`super::file_op`]).
use super::{
    Line,
    file_op::{Carries, file_op_kind},
};

file_op_kind! {
    /// A name removed (a directory with rmdir or `AT_REMOVEDIR`).
    UnlinkInfo, Unlink, carries: Carries::NONE, extra: []
}

impl UnlinkInfo {
    fn describe_body(&self, line: &mut Line<'_>) {
        line.lit(if self.0.removes_dir() { "rmdir " } else { "unlink " }).val(&self.0.path);
    }
}
