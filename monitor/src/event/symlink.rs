//! `symlink` events (the record and fields shared with the other file operations: [`super::file_op`]).
use super::{
    Line,
    file_op::{Carries, file_op_kind},
};

file_op_kind! {
    /// A symbolic link made: `path` is the link, `source` the target text stored in it.
    SymlinkInfo, Symlink, carries: Carries::SOURCE, extra: [FileSource, FileRawSource]
}

impl SymlinkInfo {
    fn describe_body(&self, line: &mut Line<'_>) {
        line.lit("symlink ")
            .val(&self.0.path)
            .lit(" -> ")
            .val(self.0.source.as_deref().unwrap_or_default());
    }
}
