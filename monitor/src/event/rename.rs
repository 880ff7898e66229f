//! `rename` events (the record and fields shared with the other file operations: [`super::file_op`]).
use super::{
    Line,
    file_op::{Carries, file_op_kind},
};

file_op_kind! {
    /// A file renamed, or renamed over another: `path` is the new name (the object written), `source` the
/// old one.
    RenameInfo, Rename, carries: Carries::SOURCE, extra: [FileSource, FileRawSource, FileExchange]
}

impl RenameInfo {
    fn describe_body(&self, line: &mut Line<'_>) {
        line.lit("rename ")
            .val(self.0.source.as_deref().unwrap_or_default())
            .lit(" -> ")
            .val(&self.0.path);
        if self.0.exchanges() {
            line.lit(" exchange");
        }
    }
}
