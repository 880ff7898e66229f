//! `namespace` events: `unshare`, `setns`, and `clone`/`clone3` creating namespaces.
use monitor_common::{
    EventKind,
    namespace::{
        NS_FD_NSFS, NS_FD_PIDFD, NS_SYSCALL_CLONE, NS_SYSCALL_CLONE3, NS_SYSCALL_SETNS, NS_SYSCALL_UNSHARE,
        NamespaceEvent,
    },
};
use serde::Serialize;

use super::{
    DecodeError, Field, KindInfo, Line, Notes, Value,
    process_names::{describe_exe, describe_result, namespace_names, result_field},
    read_record, tail_string,
};
use crate::schema::{self, ConvertError};

const SYSCALLS: [(u8, &str); 4] = [
    (NS_SYSCALL_UNSHARE, "unshare"),
    (NS_SYSCALL_SETNS, "setns"),
    (NS_SYSCALL_CLONE, "clone"),
    (NS_SYSCALL_CLONE3, "clone3"),
];

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamespaceInfo {
    /// `unshare`, `setns`, `clone` or `clone3`.
    pub syscall: &'static str,
    /// The flags passed (setns: its nstype).
    pub flags: u64,
    /// Namespaces created or entered: from the flags, or (setns with nstype 0) the descriptor's.
    pub namespaces: Vec<String>,
    pub result: i64,
    /// setns: the descriptor, what it is (`nsfs`, `pidfd`, `other`), and for a namespace file its
    /// inode and the kernel's name of its type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ns_inode: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ns_type: Option<String>,
    /// setns on a namespace file: it is one of pid 1's namespaces (enrich stage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ns_host: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_exe: Option<String>,
}

fn fd_kind_name(kind: u8) -> &'static str {
    match kind {
        NS_FD_NSFS => "nsfs",
        NS_FD_PIDFD => "pidfd",
        _ => "other",
    }
}

fn fd_kind_wire(name: &str) -> u32 {
    match name {
        "nsfs" => u32::from(NS_FD_NSFS),
        "pidfd" => u32::from(NS_FD_PIDFD),
        _ => 0,
    }
}

impl NamespaceInfo {
    fn build(
        syscall: u8,
        flags: u64,
        result: i64,
        fd: i32,
        fd_kind: u8,
        ns_inode: u64,
        ns_type: Option<String>,
    ) -> Self {
        let name = SYSCALLS.iter().find(|(id, _)| *id == syscall).map_or("unknown", |(_, n)| *n);
        let setns = syscall == NS_SYSCALL_SETNS;
        let mut namespaces = namespace_names(flags, syscall != NS_SYSCALL_CLONE);
        if setns && namespaces.is_empty()
            && let Some(t) = &ns_type
        {
            namespaces.push(t.clone());
        }
        Self {
            syscall: name,
            flags,
            namespaces,
            result,
            fd: setns.then_some(fd),
            fd_kind: setns.then(|| fd_kind_name(fd_kind)),
            ns_inode: (setns && ns_inode != 0).then_some(ns_inode),
            ns_type,
            ns_host: None,
            kernel_exe: None,
        }
    }

    /// How `/proc/PID/ns/*` links name the namespace (`mnt:[4026531841]`), for setns on a
    /// namespace file.
    pub fn ns_link(&self) -> Option<String> {
        Some(format!("{}:[{}]", self.ns_type.as_deref()?, self.ns_inode?))
    }
}

impl KindInfo for NamespaceInfo {
    const KIND: EventKind = EventKind::Namespace;
    const FIELDS: &'static [Field] = &[
        Field::NsSyscall,
        Field::NsType,
        Field::NsFlags,
        Field::NsHost,
        Field::EvtFailed,
        Field::EvtErrno,
    ];

    fn decode(bytes: &[u8], notes: &mut Notes) -> Result<Self, DecodeError> {
        let ev: NamespaceEvent = read_record(bytes, "namespace event")?;
        let ns_type = tail_string(bytes, ev.ns_type, "namespace type", notes)?;
        let mut info = Self::build(ev.syscall, ev.flags, ev.result, ev.fd, ev.fd_kind, ev.ns_inode, ns_type);
        info.kernel_exe = tail_string(bytes, ev.exe, "namespace exe", notes)?;
        Ok(info)
    }

    fn describe(&self, line: &mut Line<'_>) {
        line.lit(self.syscall).lit(" ns=").list(&self.namespaces);
        line.lit(" flags=").num(format_args!("{:#x}", self.flags));
        if let Some(fd) = self.fd {
            line.lit(" fd=").num(fd);
        }
        if let Some(link) = self.ns_link() {
            line.lit(" target=").val(&link);
        } else if let Some(kind) = self.fd_kind {
            line.lit(" fd_kind=").lit(kind);
        }
        if self.ns_host == Some(true) {
            line.lit(" (pid 1's namespace)");
        }
        if self.result > 0 {
            line.lit(" child=").num(self.result);
        }
        describe_result(line, self.result);
        describe_exe(line, self.kernel_exe.as_deref());
    }

    fn field(&self, field: Field) -> Option<Value<'_>> {
        Some(match field {
            Field::NsSyscall => Value::Str(self.syscall),
            Field::NsType => Value::Strs(&self.namespaces),
            Field::NsFlags => Value::Num(self.flags),
            Field::NsHost => Value::Bool(self.ns_host?),
            _ => return result_field(self.result, field),
        })
    }

    type Proto = schema::Namespace;

    fn to_proto(&self) -> schema::Namespace {
        schema::Namespace {
            syscall: SYSCALLS
                .iter()
                .find(|(_, n)| *n == self.syscall)
                .map_or(0, |(id, _)| u32::from(*id)),
            result: self.result,
            flags: self.flags,
            fd: self.fd.unwrap_or(-1),
            fd_kind: self.fd_kind.map_or(0, fd_kind_wire),
            ns_inode: self.ns_inode.unwrap_or(0),
            ns_type: self.ns_type.clone(),
            ns_host: self.ns_host,
            kernel_exe: self.kernel_exe.clone(),
        }
    }

    fn from_proto(p: schema::Namespace) -> Result<Self, ConvertError> {
        let syscall = u8::try_from(p.syscall)
            .ok()
            .filter(|s| SYSCALLS.iter().any(|(id, _)| id == s))
            .ok_or_else(|| ConvertError::OutOfRange {
                what: "namespace syscall",
                value: u64::from(p.syscall),
            })?;
        let fd_kind = u8::try_from(p.fd_kind).unwrap_or(0);
        let mut info = Self::build(syscall, p.flags, p.result, p.fd, fd_kind, p.ns_inode, p.ns_type);
        info.ns_host = p.ns_host;
        info.kernel_exe = p.kernel_exe;
        Ok(info)
    }
}
