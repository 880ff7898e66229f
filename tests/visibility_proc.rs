//! Processes, on the real kernel: a watched agent injects into another process (ptrace,
//! `process_vm_writev`), changes namespaces (unshare, setns, clone, clone3), identity (set*id,
//! capset), its name (prctl, /proc/self/comm, a binary symlinked as `sshd`), loads eBPF, tries to
//! load a kernel module, changes its root (chroot, `pivot_root`) — each in its plain form and in the
//! form that tries to dodge, and agentmon reports it as the kernel saw it: the target, the result,
//! the credentials before and after, and the kernel's path of the executable, not the name the
//! process gave itself.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::path::Path;

use agentmon_e2e::{ExecRun, as_nobody, canonical, exec_json, exec_rules, replay_json, rules_dir};
use serde_json::Value;

/// The Python interpreter, by a path that is not a shim (`/usr/bin/python3`).
const PYTHON: &str = "/usr/bin/python3";

/// The kernel's path of the Python interpreter (`/usr/bin/python3` is a symlink).
fn python_exe() -> String {
    std::fs::canonicalize(PYTHON)
        .expect("python3")
        .to_string_lossy()
        .into_owned()
}

/// Runs a Python script inside a fresh watched cgroup: every event it caused.
fn python(script: &str) -> ExecRun {
    exec_json(&[], &[PYTHON, "-c", script])
}

/// Runs a shell script inside a fresh watched cgroup.
fn shell(script: &str) -> ExecRun {
    exec_json(&[], &["/bin/sh", "-c", script])
}

/// Events of `kind` matching `pred`.
fn events<'a>(run: &'a ExecRun, kind: &str, pred: impl Fn(&Value) -> bool) -> Vec<&'a Value> {
    run.of_kind(kind).into_iter().filter(|e| pred(e)).collect()
}

/// The one event of `kind` matching `pred`, or a panic showing what was seen of that kind.
fn the<'a>(run: &'a ExecRun, kind: &str, what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    let found = events(run, kind, pred);
    assert!(
        !found.is_empty(),
        "no {kind} event {what}; {kind} events: {:#?}\nstderr: {}",
        run.of_kind(kind),
        run.stderr
    );
    found[0]
}

/// The pid of the process that renamed itself to `name` (scripts name their helpers that way).
fn pid_named(run: &ExecRun, name: &str) -> u64 {
    the(run, "rename_comm", &format!("to {name}"), |e| e["new_comm"] == name)["pid"]
        .as_u64()
        .expect("pid")
}

const PY_PRELUDE: &str = "
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
libc.syscall.restype = ctypes.c_long
def name(n):
    libc.prctl(15, n.encode(), 0, 0, 0)
def child(n, seconds=30):
    pid = os.fork()
    if pid == 0:
        name(n)
        time.sleep(seconds)
        os._exit(0)
    time.sleep(0.2)
    return pid
";

/// `ptrace(PTRACE_ATTACH)` from one child at its sibling: the request, the target's pid and the
/// target's executable (the kernel's, so the symlink the target was started through does not
/// show), the result.
#[test]
fn ptrace_attach_to_a_sibling_names_the_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = dir.path().join("sshd");
    std::os::unix::fs::symlink("/usr/bin/sleep", &sshd).expect("symlink");
    let script = format!(
        r#"{PY_PRELUDE}
import subprocess
target = subprocess.Popen(["{sshd}", "30"])
time.sleep(0.2)
pid = os.fork()
if pid == 0:
    name("attacker")
    r = libc.ptrace(16, target.pid, None, None)
    os.waitpid(target.pid, 0)
    libc.ptrace(17, target.pid, None, None)
    os._exit(0 if r == 0 else 1)
_, status = os.waitpid(pid, 0)
target.kill()
sys.exit(status >> 8)
"#,
        sshd = sshd.display()
    );
    let run = python(&script);
    assert!(run.status.success(), "the attach failed: {}", run.stderr);
    let target = the(&run, "exec", "of the target", |e| {
        e["filename"] == sshd.to_str().unwrap()
    })["pid"]
        .clone();
    let attacker = pid_named(&run, "attacker");
    let e = the(&run, "ptrace", "PTRACE_ATTACH", |e| e["request"] == "PTRACE_ATTACH");
    assert_eq!(e["pid"], attacker, "{e}");
    assert_eq!(e["target_pid"], target, "{e}");
    assert_eq!(
        e["target_exe"], "/usr/bin/sleep",
        "the kernel's path, not the symlink: {e}"
    );
    assert_eq!(e["result"], 0, "{e}");
    assert_eq!(e["exe"], python_exe(), "{e}");
    assert_eq!(e["comm"], "attacker", "{e}");
    assert!(
        !events(&run, "ptrace", |e| e["request"] == "PTRACE_DETACH").is_empty(),
        "the detach is an event too"
    );
}

/// The quieter form: `PTRACE_SEIZE` (no stop signal), then `PTRACE_INTERRUPT`, a memory read and a
/// write of the same word (PEEKDATA/POKEDATA), from a process that calls itself `systemd`.
#[test]
fn ptrace_seize_and_poke_are_seen_under_a_spoofed_name() {
    let script = format!(
        r#"{PY_PRELUDE}
target = child("victim")
name("systemd")
assert libc.ptrace(0x4206, target, None, None) == 0, "seize"
assert libc.ptrace(0x4207, target, None, None) == 0, "interrupt"
os.waitpid(target, 0x40000000)
addr = next(int(l.split("-")[0], 16) for l in open(f"/proc/{{target}}/maps") if " rw-p " in l)
ctypes.set_errno(0)
word = libc.ptrace(2, target, ctypes.c_void_p(addr), None)
assert ctypes.get_errno() == 0, "peek"
assert libc.ptrace(5, target, ctypes.c_void_p(addr), ctypes.c_void_p(word & 0xffffffffffffffff)) == 0, "poke"
libc.ptrace(17, target, None, None)
os.kill(target, 9)
"#
    );
    let run = python(&script);
    assert!(run.status.success(), "{}", run.stderr);
    let victim = pid_named(&run, "victim");
    for request in ["PTRACE_SEIZE", "PTRACE_INTERRUPT", "PTRACE_PEEKDATA", "PTRACE_POKEDATA"] {
        let e = the(&run, "ptrace", request, |e| e["request"] == request);
        assert_eq!(e["target_pid"], victim, "{e}");
        assert_eq!(e["result"].as_i64().map(|r| r >= 0), Some(true), "{e}");
        assert_eq!(e["comm"], "systemd", "{e}");
        assert_eq!(e["exe"], python_exe(), "the executable, not the name: {e}");
        assert_eq!(e["target_exe"], python_exe(), "{e}");
    }
}

/// `process_vm_writev` into a child's copy of a buffer (the child checks it changed), and
/// `process_vm_readv` back: the target pid and the bytes moved.
#[test]
fn process_vm_writev_into_a_child_is_seen_with_its_bytes() {
    let script = format!(
        r#"{PY_PRELUDE}
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(b"before-before-xx", 16)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    name("vmchild")
    os.read(r, 1)
    os._exit(0 if buf.raw == b"injected-payload" else 3)
time.sleep(0.2)
src = ctypes.create_string_buffer(b"injected-payload", 16)
local = iovec(ctypes.cast(src, ctypes.c_void_p), 16)
remote = iovec(ctypes.cast(buf, ctypes.c_void_p), 16)
n = libc.syscall(311, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
assert n == 16, n
back = ctypes.create_string_buffer(16)
n = libc.syscall(310, pid, ctypes.byref(iovec(ctypes.cast(back, ctypes.c_void_p), 16)), 1, ctypes.byref(remote), 1, 0)
assert n == 16 and back.raw == b"injected-payload", n
os.write(w, b"x")
_, status = os.waitpid(pid, 0)
sys.exit(status >> 8)
"#
    );
    let run = python(&script);
    assert!(run.status.success(), "the child did not see the write: {}", run.stderr);
    let child = pid_named(&run, "vmchild");
    let write = the(&run, "process_vm", "write", |e| e["write"] == true);
    assert_eq!(write["target_pid"], child, "{write}");
    assert_eq!(write["result"], 16, "{write}");
    assert_eq!(write["target_exe"], python_exe(), "{write}");
    assert_eq!(write["exe"], python_exe(), "{write}");
    let read = the(&run, "process_vm", "read", |e| e["write"] == false);
    assert_eq!(read["target_pid"], child, "{read}");
    assert_eq!(read["result"], 16, "{read}");
}

/// `unshare -U -r` (a user namespace, root inside it) and `unshare -m`.
#[test]
fn unshare_of_user_and_mount_namespaces_is_seen() {
    let run = shell("unshare -U -r true && unshare -m true");
    assert!(run.status.success(), "{}", run.stderr);
    let user = the(&run, "namespace", "unshare(CLONE_NEWUSER)", |e| {
        e["syscall"] == "unshare" && e["namespaces"].as_array().is_some_and(|n| n.contains(&"user".into()))
    });
    assert_eq!(user["result"], 0, "{user}");
    assert_eq!(user["exe"], "/usr/bin/unshare", "{user}");
    let mnt = the(&run, "namespace", "unshare(CLONE_NEWNS)", |e| {
        e["syscall"] == "unshare" && e["namespaces"] == serde_json::json!(["mnt"])
    });
    assert_eq!(mnt["result"], 0, "{mnt}");
}

/// The same without a tool: raw clone(2) with `CLONE_NEWUSER|CLONE_NEWNET` and clone3(2) with
/// `CLONE_NEWUSER` (its flags read from `struct clone_args` in user memory); the child's pid is the
/// result. A plain fork (no `CLONE_NEW`* flag) is not an event.
#[test]
fn clone_and_clone3_with_new_namespaces_are_seen() {
    let script = format!(
        "{PY_PRELUDE}
pid = libc.syscall(56, 0x10000000 | 0x40000000 | 17, 0, 0, 0, 0)
if pid == 0:
    os._exit(0)
assert pid > 0, ctypes.get_errno()
os.waitpid(pid, 0)
args = (ctypes.c_uint64 * 8)(0x10000000, 0, 0, 0, 17, 0, 0, 0)
pid3 = libc.syscall(435, ctypes.byref(args), 64)
if pid3 == 0:
    os._exit(0)
assert pid3 > 0, ctypes.get_errno()
os.waitpid(pid3, 0)
if os.fork() == 0:
    os._exit(0)
os.wait()
"
    );
    let run = python(&script);
    assert!(run.status.success(), "{}", run.stderr);
    let clone = the(&run, "namespace", "clone", |e| e["syscall"] == "clone");
    assert_eq!(clone["namespaces"], serde_json::json!(["user", "net"]), "{clone}");
    assert!(
        clone["result"].as_i64().is_some_and(|r| r > 0),
        "the child's pid: {clone}"
    );
    let clone3 = the(&run, "namespace", "clone3", |e| e["syscall"] == "clone3");
    assert_eq!(clone3["namespaces"], serde_json::json!(["user"]), "{clone3}");
    assert_eq!(clone3["flags"], 0x1000_0000, "{clone3}");
    assert!(clone3["result"].as_i64().is_some_and(|r| r > 0), "{clone3}");
    let clones = events(&run, "namespace", |e| {
        e["syscall"] == "clone" || e["syscall"] == "clone3"
    });
    assert_eq!(clones.len(), 2, "the plain fork is no event: {clones:#?}");
}

/// setns via `nsenter` into a network namespace the test created: the namespace file's type and
/// inode as the kernel holds them; then, from a private mount namespace, back into the host's
/// (what a container escape does: `nsenter -t 1 -m`; pid 1 is hidden from this sandbox, so the
/// host's namespace is this test's, which agentmon shares), flagged as the host's.
#[test]
fn setns_names_the_namespace_entered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ino = dir.path().join("ino");
    let script = format!(
        "unshare -n sleep 30 & holder=$!; sleep 0.3; \
         stat -L -c %i /proc/$holder/ns/net > {ino}; \
         nsenter -t $holder -n true && unshare -m nsenter -t {me} -m true; kill $holder",
        ino = ino.display(),
        me = std::process::id()
    );
    let run = shell(&script);
    assert!(run.status.success(), "{}", run.stderr);
    let inode: u64 = std::fs::read_to_string(&ino)
        .expect("inode file")
        .trim()
        .parse()
        .expect("inode");
    let net = the(&run, "namespace", "setns into the test's net namespace", |e| {
        e["syscall"] == "setns" && e["ns_type"] == "net"
    });
    assert_eq!(net["ns_inode"], inode, "{net}");
    assert_eq!(net["fd_kind"], "nsfs", "{net}");
    assert_eq!(net["ns_host"], false, "{net}");
    assert_eq!(net["result"], 0, "{net}");
    assert_eq!(net["exe"], "/usr/bin/nsenter", "{net}");
    let host = the(&run, "namespace", "setns into the host's mnt namespace", |e| {
        e["syscall"] == "setns" && e["ns_type"] == "mnt"
    });
    assert_eq!(host["ns_host"], true, "{host}");
    assert_eq!(host["result"], 0, "{host}");
    let own_mnt = std::fs::metadata("/proc/self/ns/mnt").map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    assert_eq!(host["ns_inode"], own_mnt.expect("our mnt namespace"), "{host}");
}

/// The cred event of `syscall` in `run`.
fn cred<'a>(run: &'a ExecRun, syscall: &str) -> &'a Value {
    the(run, "cred", syscall, |e| e["syscall"] == syscall)
}

/// setpriv from root to nobody: the credentials before and after, the capabilities lost.
#[test]
fn setuid_from_root_to_nobody_shows_before_and_after() {
    let run = exec_json(&[], &as_nobody(&["/bin/true"]));
    assert!(run.status.success(), "{}", run.stderr);
    let uid = cred(&run, "setresuid");
    assert_eq!(uid["result"], 0, "{uid}");
    assert_eq!(uid["old"]["uid"], 0, "{uid}");
    assert_eq!(uid["old"]["euid"], 0, "{uid}");
    assert_eq!(uid["new"]["uid"], 65534, "{uid}");
    assert_eq!(uid["new"]["euid"], 65534, "{uid}");
    assert_eq!(uid["new"]["suid"], 65534, "{uid}");
    assert!(
        uid["old"]["cap_effective"]
            .as_array()
            .is_some_and(|c| c.contains(&"CAP_SYS_ADMIN".into())),
        "{uid}"
    );
    assert_eq!(
        uid["new"]["cap_effective"],
        serde_json::json!([]),
        "root's capabilities go: {uid}"
    );
    assert_eq!(uid["exe"], "/usr/bin/setpriv", "{uid}");
    let gid = cred(&run, "setresgid");
    assert_eq!(gid["new"]["gid"], 65534, "{gid}");
    assert_eq!(gid["old"]["gid"], 0, "{gid}");
}

/// As nobody, setuid(0) is refused: the attempt is an event, with EPERM and unchanged ids.
#[test]
fn a_refused_setuid_is_seen_with_eperm() {
    let run = exec_json(
        &[],
        &as_nobody(&[
            PYTHON,
            "-c",
            "import os\ntry:\n    os.setuid(0)\nexcept PermissionError:\n    pass",
        ]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let e = cred(&run, "setuid");
    assert_eq!(e["result"], -1, "EPERM: {e}");
    assert_eq!(e["args"], serde_json::json!([0]), "{e}");
    assert_eq!(e["old"]["euid"], 65534, "{e}");
    assert_eq!(e["new"]["euid"], 65534, "{e}");
    assert_eq!(e["uid"], 65534, "{e}");
    assert_eq!(e["exe"], python_exe(), "{e}");
}

/// capset dropping `CAP_SYS_ADMIN` from the effective set (ctypes, no tool): the sets passed and the
/// effective capabilities after.
#[test]
fn capset_is_seen_with_the_capabilities_after() {
    let script = format!(
        "{PY_PRELUDE}
hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
data = (ctypes.c_uint32 * 6)()
assert libc.capget(ctypes.byref(hdr), ctypes.byref(data)) == 0
data[0] &= ~(1 << 21)
assert libc.capset(ctypes.byref(hdr), ctypes.byref(data)) == 0, ctypes.get_errno()
"
    );
    let run = python(&script);
    assert!(run.status.success(), "{}", run.stderr);
    let e = cred(&run, "capset");
    assert_eq!(e["result"], 0, "{e}");
    let after = e["new"]["cap_effective"].as_array().expect("caps");
    assert!(!after.contains(&"CAP_SYS_ADMIN".into()), "{e}");
    assert!(after.contains(&"CAP_SYS_PTRACE".into()), "{e}");
    let before = e["old"]["cap_effective"].as_array().expect("caps");
    assert!(before.contains(&"CAP_SYS_ADMIN".into()), "{e}");
    assert_eq!(e["args"][0].as_u64().map(|eff| eff & (1 << 21)), Some(0), "{e}");
}

/// A rule that tells the name from the executable: a process calling itself sshd that is not
/// /usr/sbin/sshd.
const SPOOF_RULE: &str = r#"
- rule: Process pretends to be sshd
  desc: the command name says sshd, the executable is something else
  condition: evt.kind in (prctl, rename_comm) and (proc.name = sshd or comm.new = sshd) and proc.exe != /usr/sbin/sshd
  output: "%proc.name is %proc.exe"
  priority: WARNING
"#;

/// `prctl(PR_SET_NAME`, "sshd"): a `rename_comm` event with the old and new names and the kernel's
/// path of the executable; the next event of the process says `sshd` but runs python.
#[test]
fn prctl_set_name_is_a_rename_and_the_executable_stays_known() {
    let rules = rules_dir(SPOOF_RULE);
    let script = format!("{PY_PRELUDE}\nname('sshd')\nlibc.prctl(4, 1, 0, 0, 0)\n");
    let run = exec_rules(rules.path(), &[], &[PYTHON, "-c", &script]);
    assert!(run.status.success(), "{}", run.stderr);
    let r = the(&run, "rename_comm", "to sshd", |e| e["new_comm"] == "sshd");
    assert_eq!(r["old_comm"], "python3", "{r}");
    assert_eq!(r["kernel_exe"], python_exe(), "{r}");
    assert_eq!(r["exe"], python_exe(), "{r}");
    assert_eq!(r["syscall_nr"], 157, "prctl: {r}");
    let p = the(&run, "prctl", "PR_SET_DUMPABLE", |e| e["option"] == "PR_SET_DUMPABLE");
    assert_eq!(p["comm"], "sshd", "{p}");
    assert_eq!(p["exe"], python_exe(), "{p}");
    assert!(
        run.fired().contains(&"Process pretends to be sshd".to_string()),
        "fired: {:?}",
        run.fired()
    );
}

/// The dodges: a binary started through a symlink named `sshd` (comm is `sshd` from the start, no
/// rename at all), and a rename by writing /proc/self/comm instead of prctl. The events carry the
/// kernel's path of what runs.
#[test]
fn a_binary_symlinked_as_sshd_shows_its_real_executable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sshd = dir.path().join("sshd");
    std::os::unix::fs::symlink(python_exe(), &sshd).expect("symlink");
    let rules = rules_dir(SPOOF_RULE);
    let script = format!(
        "{PY_PRELUDE}\nlibc.prctl(4, 1, 0, 0, 0)\nopen('/proc/self/comm', 'w').write('cron')\nlibc.prctl(38, 1, 0, 0, 0)\n"
    );
    let run = exec_rules(rules.path(), &[], &[sshd.to_str().unwrap(), "-c", &script]);
    assert!(run.status.success(), "{}", run.stderr);
    let p = the(&run, "prctl", "PR_SET_DUMPABLE", |e| e["option"] == "PR_SET_DUMPABLE");
    assert_eq!(p["comm"], "sshd", "{p}");
    assert_eq!(p["kernel_exe"], python_exe(), "{p}");
    assert_eq!(
        p["exe"],
        python_exe(),
        "proc.exe is the kernel's path, not the symlink: {p}"
    );
    assert!(
        events(&run, "rename_comm", |e| e["new_comm"] == "sshd").is_empty(),
        "exec's own rename (to the symlink's name) is the exec event, not a rename_comm"
    );
    let r = the(&run, "rename_comm", "to cron", |e| e["new_comm"] == "cron");
    assert_eq!(r["old_comm"], "sshd", "{r}");
    assert_eq!(r["syscall_nr"], 1, "a write(2) to /proc/self/comm: {r}");
    assert_eq!(r["exe"], python_exe(), "{r}");
    let nnp = the(&run, "prctl", "PR_SET_NO_NEW_PRIVS", |e| {
        e["option"] == "PR_SET_NO_NEW_PRIVS"
    });
    assert_eq!(nnp["comm"], "cron", "{nnp}");
    assert!(
        !run.alerts_of("Process pretends to be sshd").is_empty(),
        "fired: {:?}",
        run.fired()
    );
}

/// `bpf(BPF_MAP_CREATE)` from ctypes: the command, the map type and name read from the attribute
/// union; a refused `BPF_PROG_LOAD` is seen with its error.
#[test]
fn bpf_map_create_and_a_refused_prog_load_are_seen() {
    let script = format!(
        r#"{PY_PRELUDE}
attr = ctypes.create_string_buffer(128)
ctypes.memmove(attr, (ctypes.c_uint32 * 4)(2, 4, 4, 1), 16)
ctypes.memmove(ctypes.addressof(attr) + 28, b"vp_map", 6)
fd = libc.syscall(321, 0, attr, 128)
assert fd >= 0, ctypes.get_errno()
prog = ctypes.create_string_buffer(128)
ctypes.memmove(prog, (ctypes.c_uint32 * 2)(1, 0), 8)
ctypes.memmove(ctypes.addressof(prog) + 48, b"vp_prog", 7)
assert libc.syscall(321, 5, prog, 128) < 0
"#
    );
    let run = python(&script);
    assert!(run.status.success(), "{}", run.stderr);
    let map = the(&run, "bpf", "BPF_MAP_CREATE", |e| e["cmd"] == "BPF_MAP_CREATE");
    assert_eq!(map["attr_type"], 2, "an array map: {map}");
    assert_eq!(map["name"], "vp_map", "{map}");
    assert!(map["result"].as_i64().is_some_and(|fd| fd >= 0), "{map}");
    assert_eq!(map["exe"], python_exe(), "{map}");
    let prog = the(&run, "bpf", "BPF_PROG_LOAD", |e| e["cmd"] == "BPF_PROG_LOAD");
    assert_eq!(prog["attr_type"], 1, "a socket filter: {prog}");
    assert_eq!(prog["name"], "vp_prog", "{prog}");
    assert!(prog["result"].as_i64().is_some_and(|r| r < 0), "{prog}");
}

/// `finit_module` of a file that is no module. This kernel is built without module support (no
/// `*_module` tracepoints; the syscalls return ENOSYS, so nothing can be loaded): agentmon starts
/// without those programs and says so, and the attempt fails. On a kernel with modules the attempt
/// is an event with the kernel's path of the file.
#[test]
fn finit_module_of_a_non_module_fails_and_is_seen_where_the_kernel_has_modules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-module.ko");
    std::fs::write(&file, b"not an ELF module").expect("file");
    let link = dir.path().join("innocent.txt");
    std::os::unix::fs::symlink(&file, &link).expect("symlink");
    let script = format!(
        r#"{PY_PRELUDE}
fd = os.open("{link}", os.O_RDONLY)
r = libc.syscall(313, fd, b"", 0)
sys.exit(ctypes.get_errno() if r < 0 else 0)
"#,
        link = link.display()
    );
    let run = python(&script);
    let modules = Path::new("/sys/kernel/tracing/events/syscalls/sys_exit_finit_module").exists();
    let errno = run.status.code().expect("exit code");
    if !modules {
        assert_eq!(errno, libc::ENOSYS, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("sys_exit_finit_module: this kernel has no such tracepoint"),
            "{}",
            run.stderr
        );
        assert!(run.of_kind("module").is_empty());
        return;
    }
    assert_ne!(errno, 0, "a non-module cannot load");
    let e = the(&run, "module", "finit_module", |e| e["syscall"] == "finit_module");
    assert_eq!(e["path"], file.to_str().unwrap(), "the file, not the symlink: {e}");
    assert!(e["result"].as_i64().is_some_and(|r| r < 0), "{e}");
}

/// chroot into a test directory, given as a relative symlink removed right after: the path as
/// passed and the kernel's path of the new root.
#[test]
fn chroot_into_a_test_dir_names_the_real_new_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = dir.path().join("real-root");
    std::fs::create_dir(&real).expect("dir");
    std::os::unix::fs::symlink("real-root", dir.path().join("link")).expect("symlink");
    let script = format!(
        r#"{PY_PRELUDE}
os.chdir("{dir}")
os.chroot("link")
# The working directory is still outside the new root: the name used is gone at once.
os.unlink("link")
try:
    os.chroot("/nonexistent")
except OSError:
    pass
"#,
        dir = dir.path().display()
    );
    let run = python(&script);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(!dir.path().join("link").exists(), "the script removed its symlink");
    let ok = the(&run, "chroot", "into link", |e| e["path"] == "link");
    assert_eq!(ok["result"], 0, "{ok}");
    assert_eq!(ok["root"], real.to_str().unwrap(), "{ok}");
    assert_eq!(ok["exe"], python_exe(), "{ok}");
    let failed = the(&run, "chroot", "refused", |e| e["path"] == "/nonexistent");
    assert_eq!(failed["result"], i64::from(-libc::ENOENT), "{failed}");
    assert!(failed.get("root").is_none(), "{failed}");
}

/// `pivot_root` in a new mount namespace onto a tmpfs: both paths as passed and the new root.
#[test]
fn pivot_root_is_seen() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let script = format!(
        "unshare -m /bin/sh -c 'mount --make-rprivate / && mount -t tmpfs none {d} && mkdir {d}/old \
         && cd {d} && pivot_root . old'",
        d = dir.display()
    );
    let run = shell(&script);
    assert!(run.status.success(), "{}", run.stderr);
    let e = the(&run, "chroot", "pivot_root", |e| e["syscall"] == "pivot_root");
    assert_eq!(e["path"], ".", "{e}");
    assert_eq!(e["put_old"], "old", "{e}");
    assert_eq!(e["result"], 0, "{e}");
    assert_eq!(
        e["root"], "/",
        "the new root is the top of the namespace's mount tree: {e}"
    );
    // The executable as the kernel now reaches it: the old root is under put_old (util-linux's
    // pivot_root on a host, busybox's applet in the test-vm guest).
    let which = std::process::Command::new("sh")
        .args(["-c", "command -v pivot_root"])
        .output()
        .expect("sh");
    let program = canonical(String::from_utf8_lossy(&which.stdout).trim());
    assert_eq!(e["exe"], format!("/old{program}"), "{e}");
}

/// Rules on the process fields, for the record/replay test.
const PROCESS_RULES: &str = r#"
- rule: Injection into another process
  desc: a ptrace attach or memory write at another process
  condition: evt.kind = ptrace and ptrace.request in (PTRACE_ATTACH, PTRACE_SEIZE, PTRACE_POKEDATA)
  output: "%proc.exe (%proc.name) -> %target.pid %target.exe"
  priority: WARNING
- rule: Root dropped to another user
  desc: a cred change away from root
  condition: evt.kind = cred and cred.old_euid = 0 and cred.euid != 0 and not evt.failed
  output: "%cred.syscall %cred.old_euid -> %cred.euid caps %cap.effective"
  priority: NOTICE
"#;

/// A recording of process events replays to the live verdicts, on the same events: the target's
/// executable found live, the credentials, the kernel's path of the executable all travel in the
/// log.
#[test]
fn process_events_record_and_replay_to_the_same_verdicts() {
    let rules = rules_dir(&format!("{SPOOF_RULE}{PROCESS_RULES}"));
    let log = tempfile::tempdir().expect("tempdir");
    let log = log.path().join("proc.log");
    let log_arg = log.to_str().expect("path");
    let script = format!(
        r#"{PY_PRELUDE}
target = child("victim")
name("sshd")
assert libc.ptrace(0x4206, target, None, None) == 0
libc.ptrace(17, target, None, None)
os.kill(target, 9)
os.setresuid(65534, 65534, 65534)
"#
    );
    let live = exec_rules(rules.path(), &["--record", log_arg], &[PYTHON, "-c", &script]);
    assert!(live.status.success(), "{}", live.stderr);
    let fired = live.fired();
    for rule in [
        "Injection into another process",
        "Root dropped to another user",
        "Process pretends to be sshd",
    ] {
        assert!(fired.contains(&rule.to_string()), "{rule} not in {fired:?}");
    }
    let inject = &live.alerts_of("Injection into another process")[0];
    assert!(
        inject["output"]
            .as_str()
            .is_some_and(|o| o.contains(&python_exe()) && o.contains("(sshd)")),
        "{inject}"
    );
    let replayed = replay_json(rules.path(), log_arg);
    let key = |a: &Value| (a["rule"].to_string(), a["event"]["ktime_ns"].as_u64());
    let mut want: Vec<_> = live.alerts().into_iter().map(key).collect();
    let mut got: Vec<_> = replayed.iter().map(key).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    for l in live.alerts() {
        let r = replayed.iter().find(|r| key(r) == key(l)).expect("matched above");
        assert_eq!(r["event"], l["event"], "event of {}", l["rule"]);
        assert_eq!(r["output"], l["output"], "output of {}", l["rule"]);
    }
}
