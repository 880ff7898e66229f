//! `link` events (the record and fields shared with the other file operations: [`super::file_op`]).
use super::{
    Line,
    file_op::{Carries, file_op_kind},
};

file_op_kind! {
    /// A hard link made: `path` is the new name, `source` the existing file (with `AT_EMPTY_PATH`, the
/// kernel's path of the descriptor's file).
    LinkInfo, Link, carries: Carries::SOURCE, extra: [FileSource, FileRawSource]
}

impl LinkInfo {
    fn describe_body(&self, line: &mut Line<'_>) {
        line.lit("link ").val(&self.0.path).lit(" => ").val(
            self.0
                .source_kernel_path
                .as_deref()
                .or(self.0.source.as_deref())
                .unwrap_or_default(),
        );
    }
}
