//! Decode: typed events from ring-buffer records (wire format in `monitor-common`).
//!
//! One file per kind, named as in `monitor-common` and `monitor-ebpf`. Each implements [`KindInfo`]:
//! how its record decodes, how it reads as text, which rule fields it carries. [`kinds!`] below is the
//! registry: one line per kind makes it a variant of [`Body`] and wires it into decoding, text output
//! and the rule engine. Decoding never trusts the record: sizes are checked and every string is
//! bounded by its buffer.
pub(crate) mod field;
// files: what the file-operation kinds share.
pub(crate) mod file_op;
mod line;
// network
mod net;
// processes
pub(crate) mod process_names;
// reading records
mod read;

pub(crate) use field::{Field, Value};
pub(crate) use line::{Esc, Line, escaped};
pub(crate) use read::{
    DecodeError, Notes, c_string, lossy_into, lossy_string, read_record, tail_string, tail_string_into,
};

use monitor_common::{EventHeader, EventKind, FLAG_DENIED, FLAG_READ_FAILED, FLAG_TRUNCATED};
use serde::Serialize;

use crate::schema::{self, ConvertError};

/// What one event kind provides; implemented in the kind's file and registered in [`kinds!`].
pub(crate) trait KindInfo: Sized {
    /// Its kind on the wire.
    const KIND: EventKind;
    /// Whether rules are evaluated on it (not on process lifecycle or deny notices, which the
    /// process table and the responder consume).
    const RULES: bool = true;
    /// The fields it carries besides the common ones ([`field::FieldInfo::common`]).
    const FIELDS: &'static [Field] = &[];
    /// Decodes the kind's record (header included; lengths are checked). Tail strings that were cut
    /// or unreadable are noted in `notes`.
    fn decode(record: &[u8], notes: &mut Notes) -> Result<Self, DecodeError>;
    /// Decodes a record of this kind over `self`, an earlier event of the same kind: a kind whose
    /// strings come every event (the high-volume ones) refills them in their buffers instead of
    /// allocating anew. Every field is overwritten; on an error `self` is left unspecified.
    fn decode_into(&mut self, record: &[u8], notes: &mut Notes) -> Result<(), DecodeError> {
        *self = Self::decode(record, notes)?;
        Ok(())
    }
    /// The readable form after the process: `open /etc/passwd flags=0o0`.
    fn describe(&self, line: &mut Line<'_>);
    /// The value of one of [`Self::FIELDS`].
    fn field(&self, _field: Field) -> Option<Value<'_>> {
        None
    }
    /// Its message in the log schema (`proto/agentmon.proto`, the `Event.body` case of the same
    /// name as the kind's variant).
    type Proto;
    fn to_proto(&self) -> Self::Proto;
    /// [`Self::to_proto`] over `out`, an earlier message of this kind: a high-volume kind copies its
    /// strings into the buffers `out` holds instead of allocating anew (the live recorder's path).
    fn to_proto_into(&self, out: &mut Self::Proto) {
        *out = self.to_proto();
    }
    /// Back from the log, checking what the schema cannot (enum values, ranges).
    fn from_proto(p: Self::Proto) -> Result<Self, ConvertError>;
}

/// The registry of event kinds: `Variant(InfoType) = module;` per kind.
macro_rules! kinds {
    ($($variant:ident($info:ident) = $module:ident;)*) => {
        $(mod $module;)*

        /// What happened: one variant per kind (JSON: `"kind": "<name>"` and the kind's fields).
        #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum Body {
            $($variant($info),)*
        }

        impl Body {
            pub(crate) fn kind(&self) -> EventKind {
                match self {
                    $(Body::$variant(_) => $info::KIND,)*
                }
            }

            pub fn kind_name(&self) -> &'static str {
                self.kind().name()
            }

            /// Whether rules are evaluated on this event.
            pub(crate) fn has_rules(&self) -> bool {
                match self {
                    $(Body::$variant(_) => $info::RULES,)*
                }
            }

            pub(crate) fn describe(&self, line: &mut Line<'_>) {
                match self {
                    $(Body::$variant(x) => x.describe(line),)*
                }
            }

            /// A kind field's value (`None`: this kind does not carry it).
            pub(crate) fn field(&self, field: Field) -> Option<Value<'_>> {
                match self {
                    $(Body::$variant(x) => x.field(field),)*
                }
            }

            /// The body as the log schema stores it.
            pub(crate) fn to_proto(&self) -> schema::event::Body {
                match self {
                    $(Body::$variant(x) => schema::event::Body::$variant(x.to_proto()),)*
                }
            }

            /// [`Self::to_proto`] over `out`: in place when it holds a message of the same kind
            /// ([`KindInfo::to_proto_into`]).
            pub(crate) fn to_proto_into(&self, out: &mut Option<schema::event::Body>) {
                match (self, out) {
                    $((Body::$variant(x), Some(schema::event::Body::$variant(p))) => x.to_proto_into(p),)*
                    (b, out) => *out = Some(b.to_proto()),
                }
            }

            pub(crate) fn from_proto(b: schema::event::Body) -> Result<Body, ConvertError> {
                Ok(match b {
                    $(schema::event::Body::$variant(p) => Body::$variant($info::from_proto(p)?),)*
                })
            }

            fn decode(kind: EventKind, record: &[u8], notes: &mut Notes) -> Result<Body, DecodeError> {
                $(if kind == $info::KIND {
                    return Ok(Body::$variant($info::decode(record, notes)?));
                })*
                Err(DecodeError::UnknownKind(kind as u16))
            }

            /// Decodes over `self`: in place when it is already of `kind` ([`KindInfo::decode_into`]).
            fn decode_into(&mut self, kind: EventKind, record: &[u8], notes: &mut Notes) -> Result<(), DecodeError> {
                match self {
                    $(Body::$variant(x) if kind == $info::KIND => x.decode_into(record, notes),)*
                    _ => {
                        *self = Body::decode(kind, record, notes)?;
                        Ok(())
                    }
                }
            }
        }

        /// Every registered kind: whether rules apply to it, and the fields it carries.
        pub(crate) const KINDS: &[(EventKind, bool, &[Field])] = &[$(($info::KIND, $info::RULES, $info::FIELDS),)*];
    };
}

kinds! {
    Exec(ExecInfo) = exec;
    Open(OpenInfo) = open;
    Connect(ConnectInfo) = connect;
    Mount(MountInfo) = mount;
    Fork(ForkInfo) = fork;
    Exit(ExitInfo) = exit;
    Deny(DenyInfo) = deny;
    Chdir(ChdirInfo) = chdir;
    // files
    Rename(RenameInfo) = rename;
    Unlink(UnlinkInfo) = unlink;
    Link(LinkInfo) = link;
    Symlink(SymlinkInfo) = symlink;
    Chmod(ChmodInfo) = chmod;
    Chown(ChownInfo) = chown;
    Truncate(TruncateInfo) = truncate;
    Mknod(MknodInfo) = mknod;
    // network
    Send(SendInfo) = send;
    Listen(ListenInfo) = listen;
    Socket(SocketInfo) = socket;
    // processes
    Ptrace(PtraceInfo) = ptrace;
    ProcessVm(ProcessVmInfo) = process_vm;
    Namespace(NamespaceInfo) = namespace;
    Cred(CredInfo) = cred;
    RenameComm(RenameCommInfo) = rename_comm;
    Prctl(PrctlInfo) = prctl;
    Bpf(BpfInfo) = bpf;
    Module(ModuleInfo) = module;
    Chroot(ChrootInfo) = chroot;
    // mounts, scope, io_uring, code loading
    CgroupMove(CgroupMoveInfo) = cgroup_move;
    IoUringSetup(IoUringSetupInfo) = io_uring_setup;
    IoUringOp(IoUringOpInfo) = io_uring_op;
    Memfd(MemfdInfo) = memfd;
    Mmap(MmapInfo) = mmap;
    // sandbox
    Syscall(SyscallInfo) = syscall;
}

pub use chdir::ChdirInfo;
pub use connect::ConnectInfo;
pub use deny::DenyInfo;
pub use exec::ExecInfo;
pub(crate) use exec::split_args;
pub use exit::ExitInfo;
pub use fork::ForkInfo;
// files
pub use chmod::ChmodInfo;
pub use chown::ChownInfo;
pub use file_op::FileOp;
pub use link::LinkInfo;
pub use mknod::MknodInfo;
pub use mount::MountInfo;
pub use open::OpenInfo;
pub(crate) use open::syscall_name as open_syscall_name;
pub use rename::RenameInfo;
pub use symlink::SymlinkInfo;
pub use syscall::SyscallInfo;
pub use truncate::TruncateInfo;
pub use unlink::UnlinkInfo;
// network
pub use listen::ListenInfo;
pub use net::{Destination, Family, Verdict};
pub use send::SendInfo;
pub use socket::SocketInfo;
// processes
pub use bpf::BpfInfo;
pub use chroot::ChrootInfo;
pub use cred::{CredInfo, Creds};
pub use module::ModuleInfo;
pub use monitor_common::cred::Ids as CredIds;
pub use namespace::NamespaceInfo;
pub use prctl::PrctlInfo;
pub use process_vm::ProcessVmInfo;
pub use ptrace::PtraceInfo;
pub use rename_comm::RenameCommInfo;

impl Body {
    /// The kernel's path of the acting process's executable, on the kinds that carry it (the
    /// process kinds): what the process table takes as the process's executable.
    pub fn kernel_exe(&self) -> Option<&str> {
        match self {
            Body::Ptrace(x) => x.kernel_exe.as_deref(),
            Body::ProcessVm(x) => x.kernel_exe.as_deref(),
            Body::Namespace(x) => x.kernel_exe.as_deref(),
            Body::Cred(x) => x.kernel_exe.as_deref(),
            Body::RenameComm(x) => x.kernel_exe.as_deref(),
            Body::Prctl(x) => x.kernel_exe.as_deref(),
            Body::Bpf(x) => x.kernel_exe.as_deref(),
            Body::Module(x) => x.kernel_exe.as_deref(),
            Body::Chroot(x) => x.kernel_exe.as_deref(),
            _ => None,
        }
    }
}
// mounts, scope, io_uring, code loading
pub use cgroup_move::CgroupMoveInfo;
pub use io_uring_op::IoUringOpInfo;
pub(crate) use io_uring_op::{opcode_name as io_uring_opcode_name, opcode_of as io_uring_opcode_of};
pub use io_uring_setup::IoUringSetupInfo;
pub use memfd::MemfdInfo;
pub use mmap::MmapInfo;

/// Fields common to every event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Nanoseconds since boot (`CLOCK_BOOTTIME`) at the hook.
    pub ktime_ns: u64,
    /// Process id (tgid).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cgroup_id: u64,
    pub comm: String,
    /// A string field was cut to fit its buffer.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// A user-memory read failed; some field is empty.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_failed: bool,
    /// The kernel already denied the action.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub denied: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    #[serde(flatten)]
    pub header: Header,
    #[serde(flatten)]
    pub body: Body,
}

/// The header's fields over `out`'s (its `comm` buffer reused).
fn decode_header(h: &EventHeader, notes: Notes, out: &mut Header) {
    let Header {
        ktime_ns,
        pid,
        tid,
        ppid,
        uid,
        gid,
        cgroup_id,
        comm,
        truncated,
        read_failed,
        denied,
    } = out;
    *ktime_ns = h.ktime_ns;
    *pid = h.tgid;
    *tid = h.pid;
    *ppid = h.ppid;
    *uid = h.uid;
    *gid = h.gid;
    *cgroup_id = h.cgroup_id;
    lossy_into(&h.comm[..monitor_common::c_str_len(&h.comm)], comm);
    *truncated = h.flags & FLAG_TRUNCATED != 0 || notes.truncated;
    *read_failed = h.flags & FLAG_READ_FAILED != 0 || notes.read_failed;
    *denied = h.flags & FLAG_DENIED != 0;
}

/// Decodes one ring-buffer record.
#[cfg(test)]
pub(crate) fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let mut ev = Event {
        header: Header::default(),
        body: Body::Fork(ForkInfo { child_pid: 0 }),
    };
    decode_into(bytes, &mut ev)?;
    Ok(ev)
}

/// Decodes one ring-buffer record over `out`, an earlier event whose buffers it reuses (the live
/// consumer decodes every record into one slot: no allocation or copy of the event in the steady
/// state). Every field is overwritten; on an error `out` is left unspecified.
pub(crate) fn decode_into(bytes: &[u8], out: &mut Event) -> Result<(), DecodeError> {
    let raw: EventHeader = read_record(bytes, "event header")?;
    let kind = EventKind::from_u16(raw.kind).ok_or(DecodeError::UnknownKind(raw.kind))?;
    // The record's own size, when it says it is shorter than what was read (ring-buffer records
    // are padded to 8 bytes).
    let record = bytes.get(..raw.size as usize).unwrap_or(bytes);
    let mut notes = Notes::default();
    out.body.decode_into(kind, record, &mut notes)?;
    decode_header(&raw, notes, &mut out.header);
    Ok(())
}

#[cfg(test)]
mod test_tails;

#[cfg(test)]
pub(crate) mod tests {
    use monitor_common::EventHeader;

    pub(crate) use super::test_tails::tails;

    /// A header for hand-built records in unit tests.
    pub(crate) fn header(kind: monitor_common::EventKind, size: usize) -> EventHeader {
        let mut comm = [0u8; 16];
        comm[..4].copy_from_slice(b"test");
        EventHeader {
            kind: kind as u16,
            flags: 0,
            size: size as u32,
            ktime_ns: 42,
            pid: 11,
            tgid: 10,
            ppid: 1,
            uid: 0,
            gid: 0,
            _pad: 0,
            cgroup_id: 7,
            comm,
        }
    }

    pub(crate) fn bytes_of<T>(v: &T) -> Vec<u8> {
        // SAFETY: test-only view of a #[repr(C)] struct as bytes.
        unsafe { std::slice::from_raw_parts(std::ptr::from_ref::<T>(v).cast::<u8>(), size_of::<T>()) }.to_vec()
    }

    /// The JSON `kind` tag of every registered kind is its name in `monitor-common`, and every
    /// kind of the wire format is registered.
    #[test]
    fn json_kind_tags_are_the_kind_names() {
        use super::*;
        let samples = [
            Body::Exec(ExecInfo::new(String::new(), Vec::new())),
            Body::Open(OpenInfo {
                path: String::new(),
                flags: 0,
                mode: 0,
                dfd: -100,
                syscall: "openat",
                result: 0,
                kernel_path: None,
                dir_path: None,
            }),
            Body::Connect(ConnectInfo::new(Family::Other, "", 0)),
            Body::Mount(crate::enrich::synthetic::mount_info("", "", "")),
            Body::Fork(ForkInfo { child_pid: 1 }),
            Body::Exit(exit::exit_status(0)),
            Body::Deny(DenyInfo {
                what: "exec",
                rule_id: 0,
            }),
            Body::Chdir(ChdirInfo {
                path: String::new(),
                fd: -1,
            }),
            Body::Syscall(SyscallInfo {
                nr: 165,
                result: -1,
                args: [0; 6],
                refused: true,
            }),
            // files
            Body::Rename(RenameInfo(file_op::tests::sample("rename"))),
            Body::Unlink(UnlinkInfo(file_op::tests::sample("unlink"))),
            Body::Link(LinkInfo(file_op::tests::sample("link"))),
            Body::Symlink(SymlinkInfo(file_op::tests::sample("symlink"))),
            Body::Chmod(ChmodInfo(file_op::tests::sample("chmod"))),
            Body::Chown(ChownInfo(file_op::tests::sample("chown"))),
            Body::Truncate(TruncateInfo(file_op::tests::sample("truncate"))),
            Body::Mknod(MknodInfo(file_op::tests::sample("mknod"))),
            // network
            Body::Send(SendInfo::new(Family::Inet, "127.0.0.1", 53)),
            Body::Listen(ListenInfo::new(Family::Inet, "0.0.0.0", 80)),
            Body::Socket(SocketInfo {
                family: Family::Packet,
                af: 17,
                sock_type: 3,
                type_flags: 0,
                protocol: 0,
                result: Some(3),
            }),
            // mounts, scope, io_uring, code loading
            crate::enrich::synthetic::cgroup_move(1, "/elsewhere", true),
            crate::enrich::synthetic::io_uring_setup(8, 0),
            crate::enrich::synthetic::io_uring_op(18, Some("/etc/shadow")),
            crate::enrich::synthetic::memfd("x"),
            crate::enrich::synthetic::mmap("/tmp/x.so"),
        ];
        let samples: Vec<Body> = samples.into_iter().chain(process_samples()).collect();
        for b in &samples {
            let v = serde_json::to_value(b).unwrap();
            assert_eq!(v["kind"], b.kind_name());
        }
        let registered: Vec<_> = KINDS.iter().map(|(k, _, _)| *k).collect();
        assert_eq!(registered, EventKind::ALL);
        assert_eq!(samples.len(), KINDS.len(), "a sample per kind");
    }

    /// One event of each process kind, for the registry tests.
    pub(crate) fn process_samples() -> Vec<super::Body> {
        use super::*;
        vec![
            Body::Ptrace(PtraceInfo::from_proto(schema::Ptrace::default()).unwrap()),
            Body::ProcessVm(ProcessVmInfo::from_proto(schema::ProcessVm::default()).unwrap()),
            Body::Namespace(NamespaceInfo::from_proto(schema::Namespace::default()).unwrap()),
            Body::Cred(
                CredInfo::from_proto(schema::Cred {
                    new: Some(schema::Creds::default()),
                    ..Default::default()
                })
                .unwrap(),
            ),
            Body::RenameComm(RenameCommInfo::from_proto(schema::RenameComm::default()).unwrap()),
            Body::Prctl(PrctlInfo::from_proto(schema::Prctl::default()).unwrap()),
            Body::Bpf(BpfInfo::from_proto(schema::Bpf::default()).unwrap()),
            Body::Module(ModuleInfo::from_proto(schema::Module::default()).unwrap()),
            Body::Chroot(ChrootInfo::from_proto(schema::Chroot::default()).unwrap()),
        ]
    }

    /// The process kinds survive the log schema: what replay shows is what live showed.
    #[test]
    fn process_kinds_round_trip_through_the_log_schema() {
        for b in process_samples() {
            assert_eq!(super::Body::from_proto(b.to_proto()).as_ref(), Ok(&b));
        }
    }

    /// A cred record: the arguments the syscall takes, the credentials before and after, the
    /// capabilities gained, the executable from the tail.
    #[test]
    fn decodes_a_cred_record() {
        use monitor_common::{
            cred::{CRED_SYSCALL_SETRESUID, CredEvent, Creds, Ids},
            record::Tail,
        };
        let exe = b"/usr/bin/setpriv";
        let ev = CredEvent {
            header: header(monitor_common::EventKind::Cred, size_of::<CredEvent>() + exe.len()),
            result: 0,
            args: [65534, u64::MAX, 7],
            old: Creds {
                cap_effective: 1 << 21,
                ..Creds::default()
            },
            new: Creds {
                ids: Ids {
                    uid: 65534,
                    euid: 65534,
                    ..Ids::default()
                },
                cap_effective: (1 << 21) | (1 << 19),
                ..Creds::default()
            },
            syscall: CRED_SYSCALL_SETRESUID,
            has_old: 1,
            _pad: [0; 6],
            exe: Tail {
                off: size_of::<CredEvent>() as u16,
                len: exe.len() as u16,
                flags: 0,
                _pad: 0,
            },
        };
        let mut bytes = bytes_of(&ev);
        bytes.extend_from_slice(exe);
        let super::Body::Cred(c) = super::decode(&bytes).unwrap().body else {
            panic!("not a cred event")
        };
        assert_eq!(c.syscall, "setresuid");
        assert_eq!(
            c.args,
            [65534, u64::from(u32::MAX), 7],
            "32-bit ids; -1 reads as u32::MAX"
        );
        assert_eq!(c.old.as_ref().map(|o| o.ids.uid), Some(0));
        assert_eq!(c.new.ids.euid, 65534);
        assert_eq!(c.cap_gained, ["CAP_SYS_PTRACE"]);
        assert_eq!(c.kernel_exe.as_deref(), Some("/usr/bin/setpriv"));
        assert_eq!(super::Body::Cred(c).kernel_exe(), Some("/usr/bin/setpriv"));
    }

    #[test]
    fn rejects_short_and_unknown_records() {
        assert!(matches!(
            super::decode(&[1, 2, 3]),
            Err(super::DecodeError::Short { .. })
        ));
        let mut h = header(monitor_common::EventKind::Open, 64);
        h.kind = 999;
        assert_eq!(super::decode(&bytes_of(&h)), Err(super::DecodeError::UnknownKind(999)));
        // A valid header announcing an open event but without its payload.
        let h = header(monitor_common::EventKind::Open, 64);
        assert!(matches!(
            super::decode(&bytes_of(&h)),
            Err(super::DecodeError::Short { .. })
        ));
    }
}
