//! `mknod` events (the record and fields shared with the other file operations: [`super::file_op`]).
use super::{
    Line,
    file_op::{Carries, file_op_kind},
};

file_op_kind! {
    /// A node made: a FIFO, a character or block device, a socket node or a regular file.
    MknodInfo, Mknod, carries: Carries::MODE.and(Carries::DEV), extra: [FileMode, FileSetuid, FileSetgid, FileDev, FileType]
}

impl MknodInfo {
    fn describe_body(&self, line: &mut Line<'_>) {
        let mode = self.0.mode.unwrap_or_default();
        line.lit("mknod ")
            .val(&self.0.path)
            .lit(" type=")
            .lit(super::file_op::file_type(mode))
            .lit(" mode=")
            .num(format_args!("{:#o}", mode & 0o7777));
        if mode & libc::S_IFMT == libc::S_IFCHR || mode & libc::S_IFMT == libc::S_IFBLK {
            line.lit(" dev=").num(self.0.dev.unwrap_or_default());
        }
    }
}
