//! What the process kinds name but the kernel side cannot resolve: the executable of the process a
//! `ptrace` or `process_vm` call acts on (BPF has no lookup from a pid of the caller's namespace to
//! its task), and whether a `setns` enters one of pid 1's namespaces. Resolved once, live, and
//! kept in the event (so replay shows what was found then).
use std::os::unix::fs::MetadataExt;

use super::ProcessTable;
use crate::event::{Body, Event};

/// Fills the target's executable and the namespace verdict into `ev`'s body.
pub fn fill(ev: &mut Event, table: &ProcessTable) {
    let caller = ev.header.pid;
    match &mut ev.body {
        Body::Ptrace(p) if p.target_exe.is_none() => p.target_exe = target_exe(caller, p.target_pid, table),
        Body::ProcessVm(p) if p.target_exe.is_none() => p.target_exe = target_exe(caller, p.target_pid, table),
        Body::Namespace(n) if n.ns_host.is_none() => {
            if let (Some(kind), Some(inode)) = (n.ns_type.as_deref(), n.ns_inode) {
                n.ns_host = ns_inode(1, kind).map(|host| host == inode);
            }
        }
        _ => {}
    }
}

/// The inode of `/proc/PID/ns/KIND` (the namespace's identity), if readable.
fn ns_inode(pid: u32, kind: &str) -> Option<u64> {
    if !kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return None;
    }
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}")).ok().map(|m| m.ino())
}

/// The executable of `target` as the caller named it. The number is a pid of the caller's pid
/// namespace: it is looked up in `/proc` only when that is agentmon's own (else a pid of a
/// container would name an unrelated host process); then the process table, which holds what
/// agentmon saw of processes that have already gone.
fn target_exe(caller: u32, target: i32, table: &ProcessTable) -> Option<String> {
    let target = u32::try_from(target).ok().filter(|t| *t > 0)?;
    let own = std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino());
    let callers = std::fs::metadata(format!("/proc/{caller}/ns/pid")).ok().map(|m| m.ino());
    if own.is_some() && own == callers {
        if let Ok(exe) = std::fs::read_link(format!("/proc/{target}/exe")) {
            return Some(exe.to_string_lossy().into_owned());
        }
        return table.get(target).map(|p| p.exe.clone()).filter(|e| !e.is_empty());
    }
    None
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
    }

    #[test]
    fn our_own_namespace_is_pid_1s_here() {
        // The tests run in the host's namespaces (as root): ours are pid 1's.
        let mine = ns_inode(std::process::id(), "mnt");
        assert!(mine.is_some());
        assert_eq!(ns_inode(1, "mnt"), mine);
        assert_eq!(ns_inode(1, "../x"), None);
    }
}
