//! `mount` events: a mount made or changed, or an attempt to, through `mount(2)` or the new mount
//! API (`fsopen`, `fsmount`, `move_mount`, `open_tree`, `mount_setattr`), with the kernel's view
//! of the objects the call named.
use std::path::Path;

use monitor_common::{
    EventKind,
    mount::{
        MOUNT_DETACHED, MOUNT_SYSCALL_FSMOUNT, MOUNT_SYSCALL_FSOPEN, MOUNT_SYSCALL_MOUNT, MOUNT_SYSCALL_MOUNT_SETATTR,
        MOUNT_SYSCALL_MOVE_MOUNT, MOUNT_SYSCALL_OPEN_TREE, MOUNT_SYSCALL_OPEN_TREE_ATTR, MOUNT_SYSCALL_FSPICK, MountEvent,
    },
};
use serde::Serialize;

use super::{DecodeError, Field, KindInfo, Line, Notes, Value, read_record, tail_string, process_names::result_field};
use crate::{
    enrich::resolve::normalize_lexically,
    schema::{self, ConvertError},
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MountInfo {
    /// `mount`, `fsopen`, `fsmount`, `move_mount`, `open_tree` or `mount_setattr`.
    pub syscall: &'static str,
    /// The source as passed (`mount`: the device or, for a bind, the path; `move_mount`,
    /// `open_tree`: the path), or the device name of the mount object the call named by fd.
    pub source: String,
    /// The target as passed (`mount`, `move_mount`, `mount_setattr`).
    pub target: String,
    /// The filesystem type as passed (`mount`, `fsopen`) or the mount object's.
    pub fstype: String,
    /// The kernel's path of the source object (`open_tree` without a clone, or of its dirfd).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_source: Option<String>,
    /// The kernel's path of the directory a relative source starts from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dir: Option<String>,
    /// The kernel's path of the target object: where `move_mount` attached the mount, the mount
    /// `mount_setattr` changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_target: Option<String>,
    /// The kernel's path of the directory a relative target starts from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_dir: Option<String>,
    /// The syscall's result: 0 or a new fd, or `-errno`.
    pub result: i64,
    /// The call's flags (`MS_*`, `MOVE_MOUNT_*`, `FSMOUNT_*`, `OPEN_TREE_*`|`AT_*`, …).
    pub flags: u64,
    /// `fsmount`'s `attr_flags`, `mount_setattr`'s `attr_set` (`MOUNT_ATTR_*`).
    #[serde(skip_serializing_if = "is_zero")]
    pub attr_set: u64,
    /// `mount_setattr`'s `attr_clr`.
    #[serde(skip_serializing_if = "is_zero")]
    pub attr_clr: u64,
    /// `mount_setattr`'s `propagation`.
    #[serde(skip_serializing_if = "is_zero")]
    pub propagation: u64,
    /// The dirfd of the target (`open_tree`: of the source; `fsmount`: the context fd), -1: none.
    pub dfd: i32,
    /// `move_mount`'s `from_dfd`, -1 otherwise.
    #[serde(skip_serializing_if = "is_minus_one")]
    pub from_dfd: i32,
    /// The mount the call made or changed is attached nowhere (an `fsmount` or
    /// `open_tree(OPEN_TREE_CLONE)` fd): usable through its fd alone.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub detached: bool,
    /// What rules see as `mount.source` and `mount.target` ([`MountInfo::resolve`]).
    pub source_path: String,
    pub target_path: String,
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[expect(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_minus_one(v: &i32) -> bool {
    *v == -1
}

impl MountInfo {
    pub fn failed(&self) -> bool {
        self.result < 0
    }

    /// Fills `source_path` and `target_path`: the source and target as the kernel saw them — the
    /// object's path where the call named one, else the string as passed (joined to its starting
    /// directory when relative, `.`/`..` folded; a device name is not a path and stays as is).
    #[must_use]
    pub fn resolve(mut self) -> Self {
        let source_is_path = self.syscall != "mount" || self.source_dir.is_some();
        self.source_path = match &self.kernel_source {
            Some(k) => k.clone(),
            None if source_is_path => joined(&self.source, self.source_dir.as_deref()),
            None => self.source.clone(),
        };
        self.target_path = self
            .kernel_target
            .clone()
            .unwrap_or_else(|| joined(&self.target, self.target_dir.as_deref()));
        self
    }
}

/// `path` joined to `dir` when it is relative and `dir` is known, folded; else `path` itself.
fn joined(path: &str, dir: Option<&str>) -> String {
    match dir {
        Some(dir) if !path.is_empty() && !path.starts_with('/') => {
            normalize_lexically(&Path::new(dir).join(path)).to_string_lossy().into_owned()
        }
        _ => path.to_string(),
    }
}

const SYSCALLS: [(u8, &str, schema::MountSyscall); 8] = [
    (MOUNT_SYSCALL_MOUNT, "mount", schema::MountSyscall::Mount),
    (MOUNT_SYSCALL_MOVE_MOUNT, "move_mount", schema::MountSyscall::MoveMount),
    (MOUNT_SYSCALL_FSOPEN, "fsopen", schema::MountSyscall::Fsopen),
    (MOUNT_SYSCALL_FSMOUNT, "fsmount", schema::MountSyscall::Fsmount),
    (MOUNT_SYSCALL_OPEN_TREE, "open_tree", schema::MountSyscall::OpenTree),
    (MOUNT_SYSCALL_MOUNT_SETATTR, "mount_setattr", schema::MountSyscall::MountSetattr),
    (MOUNT_SYSCALL_OPEN_TREE_ATTR, "open_tree_attr", schema::MountSyscall::OpenTreeAttr),
    (MOUNT_SYSCALL_FSPICK, "fspick", schema::MountSyscall::Fspick),
];

/// The name of a `MOUNT_SYSCALL_*` value ("mount" for an unknown one).
fn syscall_name(v: u8) -> &'static str {
    SYSCALLS.iter().find(|(id, _, _)| *id == v).map_or("mount", |(_, n, _)| *n)
}

impl KindInfo for MountInfo {
    const KIND: EventKind = EventKind::Mount;
    const FIELDS: &'static [Field] = &[
        Field::MountSource,
        Field::MountTarget,
        Field::MountFstype,
        // mounts, scope, io_uring, code loading
        Field::MountSyscall,
        Field::EvtSyscall,
        Field::MountRawTarget,
        Field::MountFlags,
        Field::MountAttrSet,
        Field::MountAttrClr,
        Field::MountDetached,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: MountEvent = read_record(bytes, "mount event")?;
        let s = |t, what, notes: &mut Notes| tail_string(bytes, t, what, notes);
        Ok(MountInfo {
            syscall: syscall_name(ev.syscall),
            source: s(ev.source, "mount source", notes)?.unwrap_or_default(),
            target: s(ev.target, "mount target", notes)?.unwrap_or_default(),
            fstype: s(ev.fstype, "mount fstype", notes)?.unwrap_or_default(),
            kernel_source: s(ev.kernel_source, "mount kernel source", notes)?,
            source_dir: s(ev.source_dir, "mount source directory", notes)?,
            kernel_target: s(ev.kernel_target, "mount kernel target", notes)?,
            target_dir: s(ev.target_dir, "mount target directory", notes)?,
            result: ev.result,
            flags: ev.flags,
            attr_set: ev.attr_set,
            attr_clr: ev.attr_clr,
            propagation: ev.propagation,
            dfd: ev.dfd,
            from_dfd: ev.from_dfd,
            detached: ev.detached & MOUNT_DETACHED != 0,
            source_path: String::new(),
            target_path: String::new(),
        }
        .resolve())
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit(self.syscall).lit(" ").val(&self.source_path);
        if !self.target_path.is_empty() {
            line.lit(" on ").val(&self.target_path);
        }
        if self.detached {
            line.lit(" (detached)");
        }
        if !self.fstype.is_empty() {
            line.lit(" type ").val(&self.fstype);
        }
        line.lit(" flags=").num(format_args!("{:#x}", self.flags));
        if self.attr_set != 0 || self.attr_clr != 0 {
            line.lit(" attr_set=")
                .num(format_args!("{:#x}", self.attr_set))
                .lit(" attr_clr=")
                .num(format_args!("{:#x}", self.attr_clr));
        }
        if self.failed() {
            line.lit(" failed errno=").num(-self.result);
        }
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::MountSource => Value::Str(&self.source_path),
            Field::MountTarget => Value::Str(&self.target_path),
            Field::MountFstype => Value::Str(&self.fstype),
            Field::MountSyscall | Field::EvtSyscall => Value::Str(self.syscall),
            Field::MountRawTarget => Value::Str(&self.target),
            Field::MountFlags => Value::Num(self.flags),
            Field::MountAttrSet => Value::Num(self.attr_set),
            Field::MountAttrClr => Value::Num(self.attr_clr),
            Field::MountDetached => Value::Bool(self.detached),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::Mount;

    fn to_proto(&self) -> schema::Mount {
        schema::Mount {
            source: self.source.clone(),
            target: self.target.clone(),
            fstype: self.fstype.clone(),
            flags: self.flags,
            syscall: SYSCALLS
                .iter()
                .find(|(_, n, _)| *n == self.syscall)
                .map_or(schema::MountSyscall::Unspecified, |(_, _, p)| *p) as i32,
            result: self.result,
            attr_set: self.attr_set,
            attr_clr: self.attr_clr,
            propagation: self.propagation,
            dir_fd: self.dfd,
            from_dir_fd: self.from_dfd,
            detached: self.detached,
            kernel_source: self.kernel_source.clone(),
            source_dir: self.source_dir.clone(),
            kernel_target: self.kernel_target.clone(),
            target_dir: self.target_dir.clone(),
        }
    }

    fn from_proto(p: schema::Mount) -> Result<Self, ConvertError> {
        let syscall = schema::MountSyscall::try_from(p.syscall)
            .ok()
            .and_then(|v| SYSCALLS.iter().find(|(_, _, s)| *s == v))
            .map(|(_, n, _)| *n)
            .ok_or(ConvertError::UnknownEnum {
                what: "mount syscall",
                value: p.syscall,
            })?;
        Ok(Self {
            syscall,
            source: p.source,
            target: p.target,
            fstype: p.fstype,
            kernel_source: p.kernel_source,
            source_dir: p.source_dir,
            kernel_target: p.kernel_target,
            target_dir: p.target_dir,
            result: p.result,
            flags: p.flags,
            attr_set: p.attr_set,
            attr_clr: p.attr_clr,
            propagation: p.propagation,
            dfd: p.dir_fd,
            from_dfd: p.from_dir_fd,
            detached: p.detached,
            source_path: String::new(),
            target_path: String::new(),
        }
        .resolve())
    }
}

#[cfg(test)]
mod tests {
    use monitor_common::{EventKind, mount::*};

    use crate::event::{Body, Field, Value, decode, tests::*};

    /// A mount record of `syscall` with its tails in order source, kernel source, source dir,
    /// target, kernel target, target dir, fstype.
    fn record(syscall: u8, result: i64, strings: [Option<&[u8]>; 7]) -> Vec<u8> {
        let ([source, kernel_source, source_dir, target, kernel_target, target_dir, fstype], tail) =
            tails(size_of::<MountEvent>(), strings);
        let ev = MountEvent {
            header: header(EventKind::Mount, size_of::<MountEvent>() + tail.len()),
            result,
            flags: 0,
            attr_set: 0,
            attr_clr: 0,
            propagation: 0,
            dfd: -100,
            from_dfd: -1,
            syscall,
            detached: 0,
            _pad: [0; 6],
            source,
            kernel_source,
            source_dir,
            target,
            kernel_target,
            target_dir,
            fstype,
        };
        let mut bytes = bytes_of(&ev);
        bytes.extend_from_slice(&tail);
        bytes
    }

    fn mount_of(bytes: &[u8]) -> super::MountInfo {
        match decode(bytes).unwrap().body {
            Body::Mount(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_relative_target_is_joined_to_the_kernels_working_directory() {
        let m = mount_of(&record(
            MOUNT_SYSCALL_MOUNT,
            -1,
            [Some(b"none"), None, None, Some(b"../mnt"), None, Some(b"/home/a/work"), Some(b"tmpfs")],
        ));
        assert_eq!(m.syscall, "mount");
        assert_eq!(m.target_path, "/home/a/mnt");
        assert_eq!(m.source_path, "none", "a device name is not a path");
        assert!(m.failed());
    }

    #[test]
    fn the_kernels_target_wins_over_the_string_passed() {
        let m = mount_of(&record(
            MOUNT_SYSCALL_MOVE_MOUNT,
            0,
            [Some(b"src"), None, None, Some(b"t"), Some(b"/real/t"), Some(b"/x"), Some(b"tmpfs")],
        ));
        assert_eq!(m.syscall, "move_mount");
        assert_eq!(m.target_path, "/real/t");
        for f in [Field::MountSyscall, Field::EvtSyscall] {
            assert_eq!(crate::event::KindInfo::field(&m, f), Some(Value::Str("move_mount")));
        }
        let p = crate::event::KindInfo::to_proto(&m);
        assert_eq!(<super::MountInfo as crate::event::KindInfo>::from_proto(p).unwrap(), m);
    }

    #[test]
    fn every_syscall_decodes_by_name_and_round_trips_through_the_log() {
        for (id, name, _) in super::SYSCALLS {
            let m = mount_of(&record(id, 0, [Some(b"src"), None, None, Some(b"/t"), None, None, Some(b"tmpfs")]));
            assert_eq!(m.syscall, name);
            let p = crate::event::KindInfo::to_proto(&m);
            assert_eq!(<super::MountInfo as crate::event::KindInfo>::from_proto(p).unwrap(), m, "{name}");
        }
    }
}
