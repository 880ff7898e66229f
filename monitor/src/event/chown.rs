//! `chown` events (the record and fields shared with the other file operations: [`super::file_op`]).
use super::{
    Line,
    file_op::{Carries, file_op_kind},
};

file_op_kind! {
    /// An owner or group changed (`u32::MAX`: that one unchanged).
    ChownInfo, Chown, carries: Carries::OWNER, extra: [FileUid, FileGid]
}

impl ChownInfo {
    fn describe_body(&self, line: &mut Line<'_>) {
        line.lit("chown ").val(self.0.shown_path());
        for (name, id) in [(" uid=", self.0.uid), (" gid=", self.0.gid)] {
            if let Some(id) = id.filter(|id| *id != u32::MAX) {
                line.lit(name).num(id);
            }
        }
    }
}
