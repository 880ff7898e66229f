//! What the process kinds name but the kernel side cannot resolve: the executable of the process a
//! `ptrace` or `process_vm` call acts on (BPF has no lookup from a pid of the caller's namespace to
//! its task), and whether a `setns` enters one of pid 1's namespaces. Resolved once, live, and
//! kept in the event (so replay shows what was found then).
use std::os::unix::fs::MetadataExt;

use super::ProcessTable;
use crate::event::{Body, Event};

/// Fills the target's executable and the namespace verdict into `ev`'s body.
pub(crate) fn fill(ev: &mut Event, table: &ProcessTable) {
    match &mut ev.body {
        Body::Ptrace(p) if p.target_exe.is_none() => {
            p.target_exe = target_exe(p.caller_pidns_level, p.target_pid, table);
        }
        Body::ProcessVm(p) if p.target_exe.is_none() => {
            p.target_exe = target_exe(p.caller_pidns_level, p.target_pid, table);
        }
        Body::Namespace(n) if n.ns_host.is_none() => {
            if let (Some(kind), Some(inode)) = (n.ns_type.as_deref(), n.ns_inode) {
                n.ns_host = host_ns_inode(kind).map(|host| host == inode);
            }
        }
        _ => {}
    }
}

/// The inode of `/proc/PID/ns/KIND` (the namespace's identity), if readable.
fn ns_inode(pid: &str, kind: &str) -> Option<u64> {
    if !kind
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(|m| m.ino())
}

/// The host's namespace of `kind`: pid 1's, or agentmon's own where pid 1's cannot be read (a
/// sandbox that hides its init).
fn host_ns_inode(kind: &str) -> Option<u64> {
    ns_inode("1", kind).or_else(|| ns_inode("self", kind))
}

/// The executable of `target` as the caller named it. The number is a pid of the caller's pid
/// namespace: it is looked up only when that is the initial one (level 0), whose pids agentmon's
/// `/proc` shows (else a pid of a container would name an unrelated host process): `/proc` first,
/// then the process table, which holds what agentmon saw of processes already gone.
fn target_exe(caller_pidns_level: Option<u32>, target: i32, table: &ProcessTable) -> Option<String> {
    let target = u32::try_from(target).ok().filter(|t| *t > 0)?;
    if caller_pidns_level != Some(0) {
        return None;
    }
    if let Ok(exe) = std::fs::read_link(format!("/proc/{target}/exe")) {
        return Some(exe.to_string_lossy().into_owned());
    }
    table.get(target).map(|p| p.exe.clone()).filter(|e| !e.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Header, PtraceInfo};

    #[test]
    fn names_a_target_of_our_own_pid_namespace_from_proc() {
        let me = std::process::id();
        let mut ev = Event {
            header: Header {
                pid: me,
                tid: me,
                ..Header::default()
            },
            body: Body::Ptrace(PtraceInfo {
                request: "PTRACE_ATTACH".into(),
                request_nr: 16,
                target_pid: me as i32,
                target_exe: None,
                caller_pidns_level: Some(0),
                addr: 0,
                data: 0,
                result: 0,
                kernel_exe: None,
            }),
        };
        fill(&mut ev, &ProcessTable::new());
        let Body::Ptrace(p) = &ev.body else { unreachable!() };
        let exe = std::env::current_exe().unwrap();
        assert_eq!(p.target_exe.as_deref(), Some(exe.to_str().unwrap()));
        // A caller in another pid namespace names pids agentmon's /proc does not show.
        let Body::Ptrace(p) = &mut ev.body else { unreachable!() };
        p.target_exe = None;
        p.caller_pidns_level = Some(1);
        fill(&mut ev, &ProcessTable::new());
        let Body::Ptrace(p) = &ev.body else { unreachable!() };
        assert_eq!(p.target_exe, None);
    }

    #[test]
    fn the_host_namespace_is_readable_and_names_are_checked() {
        // The tests run in the host's namespaces (as root): pid 1's, or ours where pid 1 is hidden.
        let host = host_ns_inode("mnt");
        assert!(host.is_some());
        assert_eq!(ns_inode("self", "mnt"), host);
        assert_eq!(ns_inode("1", "../x"), None);
    }
}
