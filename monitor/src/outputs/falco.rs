//! Falco's JSON output format (what `falco -o json_output=true` prints and falcosidekick accepts).
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::{
    event::Body,
    rules::{Alert, Priority},
};

/// One alert as Falco would post it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct FalcoPayload {
    pub output: String,
    pub priority: &'static str,
    pub rule: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub output_fields: BTreeMap<&'static str, Value>,
    pub source: &'static str,
    pub tags: Vec<String>,
    pub hostname: String,
}

/// Falco's capitalisation of a priority.
pub(crate) fn falco_priority(p: Priority) -> &'static str {
    match p {
        Priority::Emergency => "Emergency",
        Priority::Alert => "Alert",
        Priority::Critical => "Critical",
        Priority::Error => "Error",
        Priority::Warning => "Warning",
        Priority::Notice => "Notice",
        Priority::Informational => "Informational",
        Priority::Debug => "Debug",
    }
}

/// This machine's host name (`hostname` of the payload).
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `registry:5000/repo:tag` → (`registry:5000/repo`, `tag`); a digest (`repo@sha256:…`) is no tag.
fn split_image(image: &str) -> (&str, &str) {
    let image = image.split('@').next().unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => (&image[..image.len() - tag.len() - 1], tag),
        None => (image, ""),
    }
}

impl FalcoPayload {
    pub(crate) fn from_alert(a: &Alert, hostname: &str) -> Self {
        let e = &a.event;
        let h = &e.event.header;
        let mut f: BTreeMap<&'static str, Value> = BTreeMap::new();
        f.insert("evt.type", e.event.body.kind_name().into());
        f.insert("proc.pid", h.pid.into());
        f.insert("proc.ppid", h.ppid.into());
        f.insert("proc.name", h.comm.clone().into());
        f.insert("proc.exepath", e.exe.clone().into());
        f.insert("user.uid", h.uid.into());
        f.insert("group.gid", h.gid.into());
        f.insert("agent.name", e.agent.clone().into());
        f.insert("cgroup.path", e.cgroup.clone().into());
        // As Falco: the 12-digit ID, the whole one, the name and the image (with its tag). Falco
        // says `host` for what runs outside containers; so does this.
        match e.container.as_deref() {
            Some(c) => {
                f.insert("container.id", c.id.clone().into());
                f.insert("container.full_id", c.full_id.clone().into());
                let or_null = |s: &str| if s.is_empty() { Value::Null } else { s.into() };
                f.insert("container.name", or_null(&c.name));
                f.insert("container.image", or_null(&c.image));
                let (repo, tag) = split_image(&c.image);
                f.insert("container.image.repository", or_null(repo));
                f.insert("container.image.tag", or_null(tag));
            }
            None => {
                f.insert("container.id", "host".into());
                f.insert("container.name", "host".into());
            }
        }
        f.insert("agentmon.action", serde_json::to_value(a.action).unwrap_or(Value::Null));
        f.insert("agentmon.action_result", a.action_result.clone().into());
        match &e.event.body {
            Body::Exec(x) => {
                f.insert("proc.cmdline", x.argv.join(" ").into());
            }
            Body::Open(o) => {
                let name = e.resolved_path.clone().unwrap_or_else(|| o.path.clone());
                f.insert("fd.name", name.into());
                f.insert("evt.arg.flags", o.flags.into());
            }
            Body::Connect(c) => {
                f.insert("fd.sip", c.dest.addr.clone().into());
                f.insert("fd.sport", c.dest.port.into());
            }
            // network
            Body::Send(s) => {
                f.insert("fd.sip", s.dest.addr.clone().into());
                f.insert("fd.sport", s.dest.port.into());
            }
            // The listening side is the server, and its own (local) end.
            Body::Listen(l) => {
                for (addr, port) in [("fd.sip", "fd.sport"), ("fd.lip", "fd.lport")] {
                    f.insert(addr, l.addr.clone().into());
                    f.insert(port, l.port.into());
                }
            }
            Body::Socket(s) => {
                f.insert("evt.arg.domain", s.af.into());
                f.insert("evt.arg.type", u32::from(s.sock_type).into());
                f.insert("evt.arg.proto", s.protocol.into());
            }
            Body::Mount(m) => {
                f.insert("evt.arg.source", m.source_path.clone().into());
                f.insert("evt.arg.target", m.target_path.clone().into());
                f.insert("evt.arg.fstype", m.fstype.clone().into());
            }
            Body::Chdir(c) => {
                f.insert("evt.arg.path", c.path.clone().into());
            }
            // mounts, scope, io_uring, code loading
            Body::CgroupMove(c) => {
                f.insert("evt.arg.dest", c.dest.clone().into());
                f.insert("evt.arg.pid", c.moved_pid.into());
            }
            Body::IoUringSetup(u) => {
                f.insert("evt.arg.entries", u.entries.into());
                f.insert("evt.arg.flags", u.flags.into());
            }
            Body::IoUringOp(u) => {
                f.insert("evt.arg.op", u.op.clone().into());
                if let Some(p) = &u.full_path {
                    f.insert("fd.name", p.clone().into());
                }
            }
            Body::Memfd(m) => {
                f.insert("evt.arg.name", m.name.clone().into());
            }
            Body::Mmap(m) => {
                f.insert("fd.name", m.path.clone().unwrap_or_default().into());
                f.insert("evt.arg.prot", m.prot.into());
            }
            // sandbox
            Body::Syscall(c) => {
                // Falco's `evt.type` of a syscall event is the syscall's name.
                f.insert("evt.type", c.name().into_owned().into());
                f.insert("evt.res", c.result.into());
            }
            // processes
            Body::Ptrace(p) => {
                f.insert("evt.arg.request", p.request.clone().into());
                f.insert("evt.arg.pid", p.target_pid.into());
            }
            Body::ProcessVm(p) => {
                f.insert("evt.arg.pid", p.target_pid.into());
            }
            Body::RenameComm(r) => {
                f.insert("evt.arg.name", r.new_comm.clone().into());
            }
            Body::Chroot(c) => {
                f.insert("evt.arg.path", c.root.clone().unwrap_or_else(|| c.path.clone()).into());
            }
            Body::Module(m) => {
                f.insert(
                    "evt.arg.path",
                    m.path.clone().or_else(|| m.name.clone()).unwrap_or_default().into(),
                );
            }
            Body::Fork(_)
            | Body::Exit(_)
            | Body::Deny(_)
            // processes without a Falco argument field
            | Body::Namespace(_)
            | Body::Cred(_)
            | Body::Prctl(_)
            | Body::Bpf(_) => {}
            // files: Falco names the object `fd.name` and a rename's or link's other name `oldpath`.
            b => {
                if let Some(op) = b.file_op() {
                    let name = e.resolved_path.clone().unwrap_or_else(|| op.shown_path().to_string());
                    f.insert("fd.name", name.into());
                    if let Some(src) = op.resolved_source.as_ref().or(op.source.as_ref()) {
                        f.insert("evt.arg.oldpath", src.clone().into());
                    }
                }
            }
        }
        Self {
            output: a.output.clone(),
            priority: falco_priority(a.priority),
            rule: a.rule.clone(),
            time: e.time.to_string(),
            output_fields: f,
            source: "syscall",
            tags: a.tags.clone(),
            hostname: hostname.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repository_and_tag() {
        assert_eq!(split_image("ai/coder:1.2"), ("ai/coder", "1.2"));
        assert_eq!(split_image("registry:5000/ai/coder"), ("registry:5000/ai/coder", ""));
        assert_eq!(split_image("registry:5000/ai/coder:2"), ("registry:5000/ai/coder", "2"));
        assert_eq!(split_image("busybox@sha256:abcd"), ("busybox", ""));
        assert_eq!(split_image(""), ("", ""));
    }

    #[test]
    fn a_listen_is_the_server_and_local_end() {
        use crate::{
            enrich::synthetic::{Process, listen},
            event::Family,
        };
        let event = Process::default().event(1, listen(Family::Inet, "0.0.0.0", 8080));
        let p = FalcoPayload::from_alert(&Alert::synthetic(&event), "h");
        for key in ["fd.sip", "fd.lip"] {
            assert_eq!(p.output_fields.get(key), Some(&Value::from("0.0.0.0")), "{key}");
        }
        for key in ["fd.sport", "fd.lport"] {
            assert_eq!(p.output_fields.get(key), Some(&Value::from(8080)), "{key}");
        }
        assert_eq!(p.output_fields.get("fd.cip"), None, "the client is not known at listen");
    }
}
