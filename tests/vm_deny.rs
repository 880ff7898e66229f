//! Synchronous deny where the kernel allows it, checked on the kernels `cargo xtask test-vm` boots
//! (and on this host, where the fallback is expected): with BPF LSM, a denied open fails with EPERM
//! before it has any effect, so an `O_TRUNC` open of a denied file leaves its content intact and
//! the caller lives on; with the tracepoint fallback, the caller is killed at the syscall instead
//! (and the truncation may already have happened: the documented cost of a kernel without BPF LSM).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code")]
use std::path::Path;

use agentmon_e2e::*;

/// A file holding `TOP-SECRET-CONTENT` (in a directory of its own) and rules that deny any open of
/// it: (directory, file, rules).
fn denied_secret() -> (tempfile::TempDir, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "TOP-SECRET-CONTENT").unwrap();
    let rules = rules_dir(&format!(
        "- rule: No secret\n  desc: test\n  condition: evt.kind = open and file.path = {}\n  output: denied %file.path\n  priority: CRITICAL\n  action: deny\n",
        secret.display()
    ));
    (dir, secret, rules)
}

#[test]
fn a_denied_truncating_open_is_refused_before_it_truncates_where_bpf_lsm_runs() {
    let (_dir, secret, rules) = denied_secret();
    // `echo x >` opens with O_WRONLY|O_CREAT|O_TRUNC; then the shell goes on (if it still lives).
    // (Not `: >`: a failed redirection of a special builtin ends a POSIX shell.)
    let script = format!("echo x > {}; echo status=$? >&2; echo alive >&2", secret.display());
    let r = exec_rules(rules.path(), &[], &["/bin/sh", "-c", &script]);
    let how = mechanism("open");
    assert!(
        r.events.iter().any(|e| e["kind"] == "deny" && e["what"] == "open"),
        "kernel deny notice ({how}): {}",
        r.stderr
    );
    if how.contains("lsm/file_open") {
        assert_eq!(
            std::fs::read_to_string(&secret).unwrap(),
            "TOP-SECRET-CONTENT",
            "the denied O_TRUNC open truncated the file"
        );
        assert!(
            refused_with_eperm(&r.stderr, &secret),
            "not refused with EPERM: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("alive"),
            "the caller should live on (EPERM, no kill): {}",
            r.stderr
        );
    } else {
        assert!(how.contains("tracepoint"), "{how}");
        // After the fact: the caller is killed before the open returns.
        assert!(
            r.stderr.contains("status=137") || !r.stderr.contains("alive"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_denied_read_open_returns_eperm_and_reads_nothing_where_bpf_lsm_runs() {
    let (_dir, secret, rules) = denied_secret();
    let script = format!("cat {} >&2; echo status=$? >&2", secret.display());
    let r = exec_rules(rules.path(), &[], &["/bin/sh", "-c", &script]);
    assert!(!r.stderr.contains("TOP-SECRET"), "{}", r.stderr);
    if mechanism("open").contains("lsm/file_open") {
        assert!(refused_with_eperm(&r.stderr, &secret), "{}", r.stderr);
        // The whole line: "status=1" is also the start of "status=137".
        assert!(
            r.stderr.lines().any(|l| l == "status=1"),
            "cat fails, is not killed: {}",
            r.stderr
        );
    } else {
        assert!(r.stderr.lines().any(|l| l == "status=137"), "{}", r.stderr);
    }
}

/// In agentmon's environment: BPF LSM counts as absent, every hook takes its tracepoint fallback
/// (`monitor::capabilities::NO_LSM_ENV`).
const NO_LSM: (&str, &str) = ("AGENTMON_NO_LSM", "1");

const NO_TMPFS: &str = "- rule: No tmpfs\n  desc: test\n  condition: evt.kind = mount and mount.fstype = tmpfs\n  output: denied %mount.target\n  priority: CRITICAL\n  action: deny\n";

/// An empty directory to mount on, and its path.
fn mount_target() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().display().to_string();
    (dir, target)
}

/// The `NAME=VALUE` line a test script printed on stderr.
fn reported<'a>(stderr: &'a str, name: &str) -> Option<&'a str> {
    stderr.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
}

#[test]
fn a_denied_mount_never_appears_in_mountinfo_and_fails_with_eperm_where_bpf_lsm_runs() {
    let (_dir, target) = mount_target();
    let rules = rules_dir(NO_TMPFS);
    // mount(2) in a private mount namespace (so the fallback's completed mount dies with it); the
    // shell lives on to say what the mount did and what its namespace holds afterwards.
    let script = format!(
        "mount -t tmpfs agentmon-lsm-mount {target}; echo status=$? >&2; echo mounted=$(grep -c ' {target} ' /proc/self/mountinfo) >&2"
    );
    let r = exec_rules(rules.path(), &[], &in_private_mount_ns(&["sh", "-c", &script]));
    let ev = find(&r.events, |e| {
        e["kind"] == "mount" && e["syscall"] == "mount" && e["target"] == target.as_str()
    })
    .unwrap_or_else(|| panic!("no mount event: {:?}\n{}", r.of_kind("mount"), r.stderr));
    assert_eq!(ev["denied"], true, "{ev}");
    let a = r.alerts_of("No tmpfs");
    assert!(!a.is_empty(), "{:?}", r.fired());
    let how = mechanism("mount");
    if how.contains("lsm/sb_mount") {
        assert_eq!(reported(&r.stderr, "mounted"), Some("0"), "{}", r.stderr);
        let status = reported(&r.stderr, "status").unwrap_or_else(|| panic!("{}", r.stderr));
        assert!(status != "0" && status != "137", "refused, not killed: {}", r.stderr);
        assert_eq!(ev["result"], -1, "EPERM: {ev}");
        assert_eq!(
            a[0]["action_result"],
            "denied in kernel: mount refused with EPERM before anything was mounted (BPF LSM)"
        );
    } else {
        assert!(how.contains("tracepoint"), "{how}");
        // After the fact: the mount is done when the SIGKILL lands (the documented cost).
        assert_eq!(reported(&r.stderr, "status"), Some("137"), "{}", r.stderr);
        assert_eq!(reported(&r.stderr, "mounted"), Some("1"), "{}", r.stderr);
    }
}

#[test]
fn a_denied_move_mount_is_refused_before_the_mount_moves_where_bpf_lsm_runs() {
    let (_dir, target) = mount_target();
    let rules = rules_dir(NO_TMPFS);
    // The new API's attach step: an existing tmpfs mount (/dev/shm, named by an `O_PATH` fd of its
    // root: no mount call before this one) moved onto the target with `move_mount`.
    let py = format!(
        r#"import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/dev/shm", os.O_PATH)
r = libc.syscall(429, fd, b"", -100, b"{target}", 4)
os.write(2, b"move_mount=%d,%d\n" % (r, ctypes.get_errno() if r < 0 else 0))
os.write(2, b"mounted=%d\n" % sum(" {target} " in l for l in open("/proc/self/mountinfo")))
"#
    );
    let script = format!("/usr/bin/python3 -S -c '{py}'; echo status=$? >&2");
    let r = exec_rules(rules.path(), &[], &in_private_mount_ns(&["sh", "-c", &script]));
    let ev = find(&r.events, |e| {
        e["kind"] == "mount" && e["syscall"] == "move_mount" && e["target"] == target.as_str()
    })
    .unwrap_or_else(|| panic!("no move_mount event: {:?}\n{}", r.of_kind("mount"), r.stderr));
    assert_eq!(ev["denied"], true, "{ev}");
    assert_eq!(ev["fstype"], "tmpfs", "{ev}");
    if mechanism("mount").contains("lsm/move_mount") {
        assert_eq!(reported(&r.stderr, "move_mount"), Some("-1,1"), "EPERM: {}", r.stderr);
        assert_eq!(reported(&r.stderr, "mounted"), Some("0"), "{}", r.stderr);
        assert_eq!(reported(&r.stderr, "status"), Some("0"), "{}", r.stderr);
    } else {
        // Killed at move_mount's exit, after the mount moved.
        assert_eq!(reported(&r.stderr, "status"), Some("137"), "{}", r.stderr);
        assert_eq!(reported(&r.stderr, "move_mount"), None, "{}", r.stderr);
    }
}

/// A Python program that maps `holder` (a file holding a NUL-terminated path) `MAP_PRIVATE` and,
/// without touching the page, reports whether it is present (`/proc/self/pagemap`, which does not
/// fault it in) and then runs `call` with `addr`, the path's address in that page.
fn unfaulted_page_py(holder: &Path, call: &str) -> String {
    format!(
        r#"import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
fd = os.open("{holder}", os.O_RDONLY)
addr = libc.mmap(None, 4096, 1, 2, fd, 0)
assert addr and addr != ctypes.c_void_p(-1).value, ctypes.get_errno()
with open("/proc/self/pagemap", "rb") as pm:
    pm.seek(addr // 4096 * 8)
    os.write(2, b"present=%d\n" % (struct.unpack("<Q", pm.read(8))[0] >> 63))
{call}
os.write(2, b"result=%d,%d\n" % (r, ctypes.get_errno() if r < 0 else 0))
"#,
        holder = holder.display()
    )
}

/// Runs [`unfaulted_page_py`] with `call` in a watched shell under `rules`, and checks the page was
/// still not present when the call was made.
fn run_unfaulted(rules: &Path, holder: &Path, call: &str) -> ExecRun {
    let py = unfaulted_page_py(holder, call);
    let script = format!("/usr/bin/python3 -S -c '{py}'; echo status=$? >&2");
    let r = exec_rules(rules, &[], &["sh", "-c", &script]);
    assert_eq!(
        reported(&r.stderr, "present"),
        Some("0"),
        "the page was faulted in: {}",
        r.stderr
    );
    r
}

/// A file of one page holding `path` NUL-terminated, for [`unfaulted_page_py`].
fn holder_of(dir: &Path, path: &Path) -> std::path::PathBuf {
    let holder = dir.join("holder");
    let mut bytes = path.as_os_str().as_encoded_bytes().to_vec();
    bytes.resize(4096, 0);
    std::fs::write(&holder, bytes).unwrap();
    holder
}

#[test]
fn an_open_of_a_path_in_an_unfaulted_page_is_seen_with_its_path_and_denied() {
    let (dir, secret, rules) = denied_secret();
    let holder = holder_of(dir.path(), &secret);
    // openat(AT_FDCWD, path, O_RDONLY) with the path in the page never touched.
    let r = run_unfaulted(
        rules.path(),
        &holder,
        "r = libc.syscall(257, -100, ctypes.c_void_p(addr), 0, 0)",
    );
    let s = secret.display().to_string();
    let ev = find(&r.events, |e| e["kind"] == "open" && e["path"] == s.as_str())
        .unwrap_or_else(|| panic!("open not seen with its path: {:?}\n{}", r.of_kind("open"), r.stderr));
    assert_eq!(ev["denied"], true, "{ev}");
    assert!(!r.alerts_of("No secret").is_empty(), "{:?}", r.fired());
    if mechanism("open").contains("lsm/file_open") {
        assert_eq!(reported(&r.stderr, "result"), Some("-1,1"), "EPERM: {}", r.stderr);
        assert_eq!(reported(&r.stderr, "status"), Some("0"), "{}", r.stderr);
    } else {
        assert_eq!(reported(&r.stderr, "status"), Some("137"), "{}", r.stderr);
        assert_eq!(reported(&r.stderr, "result"), None, "{}", r.stderr);
    }
}

#[test]
fn an_exec_of_a_path_in_an_unfaulted_page_is_seen_with_its_path_and_denied() {
    let dir = tempfile::tempdir().unwrap();
    let evil = dir.path().join("evil");
    std::fs::copy("/bin/touch", &evil).unwrap();
    let marker = dir.path().join("ran");
    let holder = holder_of(dir.path(), &evil);
    let rules = rules_dir(&format!(
        "- rule: No evil\n  desc: test\n  condition: evt.kind = exec and exec.path = {}\n  output: denied %exec.path\n  priority: CRITICAL\n  action: deny\n",
        evil.display()
    ));
    let call = format!(
        "argv = (ctypes.c_char_p * 3)(b\"evil\", b\"{}\", None)\nenvp = (ctypes.c_char_p * 1)(None)\nr = libc.execve(ctypes.c_void_p(addr), argv, envp)",
        marker.display()
    );
    let r = run_unfaulted(rules.path(), &holder, &call);
    assert!(!marker.exists(), "the denied program ran");
    let s = evil.display().to_string();
    let ev = find(&r.events, |e| e["kind"] == "exec" && e["filename"] == s.as_str())
        .unwrap_or_else(|| panic!("exec not seen with its path: {:?}\n{}", r.of_kind("exec"), r.stderr));
    assert_eq!(ev["denied"], true, "{ev}");
    if mechanism("exec").contains("lsm/") {
        assert_eq!(reported(&r.stderr, "result"), Some("-1,1"), "EPERM: {}", r.stderr);
    } else {
        assert_eq!(reported(&r.stderr, "status"), Some("137"), "{}", r.stderr);
    }
}

/// The listener's pending connections, without waiting (a connect that reached it is queued there
/// whether or not anyone accepts).
fn queued(listener: &std::net::TcpListener) -> usize {
    std::iter::from_fn(|| listener.accept().ok()).count()
}

/// The cgroup `connect4` hook refuses a denied connect on a socket created in the watched cgroup
/// (`enforce::deny_connect_is_refused_with_eperm_and_other_ports_still_work` checks the listener
/// never sees it). A socket created *outside* it and carried in (here: a process that makes its
/// socket, then moves itself into the cgroup) belongs to the cgroup it was made in, so no watched
/// cgroup's hook runs for it. Where BPF LSM runs, `lsm/socket_connect` checks the calling task
/// instead: the connect fails with EPERM, the listener never sees it, and the caller lives on.
/// Without it (this host), the documented gap: the connection reaches the listener, and agentmon,
/// seeing the connect at its syscall's exit, can only kill the caller from userspace.
#[test]
fn a_denied_connect_on_a_socket_made_outside_the_cgroup_is_refused_where_bpf_lsm_runs() {
    outside_connect(Route::Syscall);
}

/// The same through `io_uring`'s `IORING_OP_CONNECT`: `lsm/socket_connect` sits in the connect path
/// both routes share, so it refuses this one too. Without it no program checks it at all (no cgroup
/// hook runs for the socket, no `connect` syscall exits): the documented gap, in which the
/// connection is made, only the `io_uring_op` event tells, and no connect rule fires.
#[test]
fn a_denied_io_uring_connect_on_a_socket_made_outside_the_cgroup_is_refused_where_bpf_lsm_runs() {
    outside_connect(Route::IoUring);
}

#[derive(Clone, Copy, PartialEq)]
enum Route {
    Syscall,
    IoUring,
}

/// A process makes a socket, moves itself into the watched cgroup and connects it to a denied
/// port by `route`; it reports `connected` or `refused ERRNO`, then waits for its stdin to close.
fn outside_connect(route: Route) {
    let denied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    denied.set_nonblocking(true).unwrap();
    let dp = denied.local_addr().unwrap().port();
    let rule = format!("No loopback port {dp}");
    let rules = rules_dir(&format!(
        "- rule: {rule}\n  desc: test\n  condition: evt.kind = connect and net.addr in_cidr (127.0.0.1/32) and net.port = {dp}\n  output: denied %net.addr:%net.port\n  priority: CRITICAL\n  action: deny\n"
    ));
    let lsm = mechanism("connect").contains("lsm/socket_connect");
    let cg = TestCgroup::new("connect-outside");
    let cg_path = cg.path.to_string_lossy().into_owned();
    let rules_path = rules.path().to_string_lossy().into_owned();
    let m = Monitor::start(&["--rules", &rules_path, "--cgroup", &cg_path]);
    let connect = match route {
        Route::Syscall => format!(
            r#"try:
    s.connect(("127.0.0.1", {dp}))
    print("connected", flush=True)
except OSError as e:
    print("refused", e.errno, flush=True)"#
        ),
        Route::IoUring => format!(
            r#"sa = ctypes.create_string_buffer(struct.pack("!HH4s8x", 0, {dp}, bytes([127, 0, 0, 1])), 16)
struct.pack_into("H", sa, 0, socket.AF_INET)
res = ring.submit(IORING_OP_CONNECT, fd=s.fileno(), addr=ctypes.addressof(sa), off=16)
print("connected" if res == 0 else f"refused {{-res}}", flush=True)"#
        ),
    };
    // The socket (and the ring) are made outside the watched cgroup, where the child starts.
    let ring = if route == Route::IoUring { io_uring::RING } else { "" };
    let py = format!(
        r#"{ring}
import os, socket, sys
s = socket.socket()
{make_ring}
with open("{cg_path}/cgroup.procs", "w") as f:
    f.write(str(os.getpid()))
{connect}
sys.stdin.read()
"#,
        make_ring = if route == Route::IoUring { "ring = Ring()" } else { "" },
    );
    let mut child = std::process::Command::new("/usr/bin/python3")
        .args(["-S", "-c", &py])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut out).unwrap();
    // Stopped after the connect: every event and alert answered, any userspace kill sent.
    let (events, _) = m.stop();
    let alive = child.try_wait().unwrap().is_none();
    drop(child.stdin.take());
    let status = child.wait().unwrap();
    let alert = find(&events, |e| e["rule"] == rule.as_str());
    if lsm {
        let a = alert.unwrap_or_else(|| panic!("no alert: {events:?}"));
        assert_eq!(out.trim(), format!("refused {}", libc::EPERM), "EPERM");
        assert_eq!(queued(&denied), 0, "the refused connection reached the listener");
        assert_eq!(
            a["action_result"], "denied in kernel: connect() refused with EPERM",
            "{a}"
        );
        // The alert's event: reported by the LSM hook as a cgroup hook reports its refusals.
        let ev = &a["event"];
        assert_eq!(
            (ev["kind"].as_str(), ev["port"].as_u64()),
            (Some("connect"), Some(u64::from(dp))),
            "{ev}"
        );
        assert_eq!(ev["denied"], true, "{ev}");
        assert_eq!(ev["verdict"], "denied", "{ev}");
        assert!(alive, "the refused caller was killed: {status:?}");
        assert!(status.success(), "{status:?}");
        return;
    }
    assert!(mechanism("connect").contains("sock_addr"));
    assert_eq!(queued(&denied), 1, "the connection reached the listener");
    if route == Route::IoUring {
        assert_eq!(out.trim(), "connected");
        assert!(alert.is_none(), "{alert:?}");
        assert!(alive, "nothing killed it: {status:?}");
        return;
    }
    let a = alert.unwrap_or_else(|| panic!("no alert: {events:?}"));
    // The userspace kill may land between the connect and the print: "connected" or nothing,
    // never a refusal.
    assert!(matches!(out.trim(), "connected" | ""), "{out}");
    assert_eq!(
        a["action_result"], "kernel table did not match this path form; offending process killed from userspace",
        "{a}"
    );
    // Killed from userspace (SIGKILL), not ended by its stdin closing.
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status:?}"
    );
}

/// A directory `protected/` holding `config` (`ORIGINAL`, mode 0644), a free directory beside it,
/// and a rule that denies every change under `protected/`: (directory, rules).
fn protected_tree() -> (tempfile::TempDir, tempfile::TempDir) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::create_dir(p("protected")).unwrap();
    std::fs::create_dir(p("free")).unwrap();
    std::fs::write(p("protected/config"), "ORIGINAL").unwrap();
    std::fs::set_permissions(p("protected/config"), std::fs::Permissions::from_mode(0o644)).unwrap();
    for n in ["evil", "free/a", "evil2"] {
        std::fs::write(p(n), "EVIL").unwrap();
    }
    let rules = rules_dir(&format!(
        "- rule: {KEEP}\n  desc: test\n  condition: evt.kind in (rename, link, symlink, unlink, chmod, chown, truncate) and file.path startswith {d}/protected/\n  output: denied %evt.kind %file.path\n  priority: CRITICAL\n  action: deny\n",
        d = dir.path().display()
    ));
    (dir, rules)
}

const KEEP: &str = "Keep protected";

/// Each change of `protected/config`, by a plain name, a dirfd-relative name, a `..` detour, a
/// descriptor (`ftruncate`, an `O_TRUNC` open) and `io_uring` (`IORING_OP_RENAMEAT`), then one allowed rename elsewhere: `NAME=errno` lines on stderr (0: it went through).
fn changes_py(dir: &Path) -> String {
    format!(
        r#"{ring}
import os, sys
d = "{d}"
def attempt(name, f):
    try:
        f(); e = 0
    except OSError as x:
        e = x.errno
    os.write(2, f"{{name}}={{e}}\n".encode())
pfd = os.open(d + "/protected", os.O_RDONLY | os.O_DIRECTORY)
dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
attempt("rename_over", lambda: os.rename(d + "/evil", d + "/protected/config"))
attempt("rename_dirfd", lambda: os.rename("evil2", "config", src_dir_fd=dfd, dst_dir_fd=pfd))
attempt("link", lambda: os.link(d + "/evil", d + "/protected/hard"))
attempt("symlink", lambda: os.symlink("/etc/passwd", d + "/protected/sym"))
attempt("unlink_detour", lambda: os.unlink(d + "/free/../protected/config"))
attempt("chmod", lambda: os.chmod(d + "/protected/config", 0o777))
attempt("chown", lambda: os.chown(d + "/protected/config", os.getuid(), os.getgid()))
attempt("truncate", lambda: os.truncate(d + "/protected/config", 0))
wfd = os.open(d + "/protected/config", os.O_WRONLY)
attempt("ftruncate", lambda: os.ftruncate(wfd, 0))
attempt("open_trunc", lambda: os.close(os.open(d + "/protected/config", os.O_WRONLY | os.O_TRUNC)))
def uring_rename():
    res = ring.submit(IORING_OP_RENAMEAT, fd=-100, addr=ring.path(d + "/evil"), length=-100 & 0xffffffff,
                      off=ring.path(d + "/protected/config"))
    if res < 0:
        raise OSError(-res, "io_uring rename")
ring = Ring()
attempt("uring_rename", uring_rename)
attempt("allowed_rename", lambda: os.rename(d + "/free/a", d + "/free/b"))
os.write(2, b"alive\n")
"#,
        ring = io_uring::RING,
        d = dir.display()
    )
}

/// Where the BPF LSM `path_*` hooks load, every change of a protected path fails with EPERM
/// before it happens — whatever name form reaches it — the file keeps its content and mode, the
/// caller lives on, and an allowed rename elsewhere still works. Without them (this host) the
/// change is made, and the caller is killed from userspace after its event.
#[test]
fn a_denied_change_of_a_protected_path_is_refused_before_it_changes_where_bpf_lsm_runs() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, rules) = protected_tree();
    let config = dir.path().join("protected/config");
    let r = exec_rules(rules.path(), &[], &["python3", "-c", &changes_py(dir.path())]);
    let how = mechanism("change");
    let alerts = r.alerts_of(KEEP);
    assert!(!alerts.is_empty(), "no alert ({how}): {}", r.stderr);
    if how.contains("lsm/path_") {
        for op in [
            "rename_over",
            "rename_dirfd",
            "link",
            "symlink",
            "unlink_detour",
            "chmod",
            "chown",
            "truncate",
            "ftruncate",
            "open_trunc",
            "uring_rename",
        ] {
            assert_eq!(
                reported(&r.stderr, op),
                Some("1"),
                "{op} not refused with EPERM: {}",
                r.stderr
            );
        }
        assert_eq!(reported(&r.stderr, "allowed_rename"), Some("0"), "{}", r.stderr);
        assert!(r.stderr.contains("alive"), "the caller should live on: {}", r.stderr);
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "ORIGINAL");
        assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o644);
        for n in ["hard", "sym"] {
            assert!(!dir.path().join("protected").join(n).exists(), "{n} was made");
        }
        // Each refusal: a deny notice, the syscall's event flagged denied, and the rule's alert.
        let notices = r
            .events
            .iter()
            .filter(|e| e["kind"] == "deny" && e["what"] == "change")
            .count();
        assert!(notices >= 10, "{notices} change deny notices: {}", r.stderr);
        // The truncating open refused by the truncate hook is a refused open too.
        let trunc = libc::O_TRUNC as u64;
        assert!(
            r.of_kind("open")
                .iter()
                .any(|e| e["path"] == config.to_string_lossy().as_ref()
                    && e["flags"].as_u64().is_some_and(|f| f & trunc != 0)
                    && e["denied"] == true),
            "no refused O_TRUNC open: {:?}",
            r.of_kind("open")
        );
        let renames: Vec<_> = r
            .of_kind("rename")
            .into_iter()
            .filter(|e| e["resolved_path"] == config.to_string_lossy().as_ref())
            .collect();
        assert!(
            renames.len() >= 2 && renames.iter().all(|e| e["denied"] == true),
            "{renames:?}"
        );
        assert!(
            alerts.iter().all(|a| a["action_result"]
                == "denied in kernel: refused with EPERM before the path changed (BPF LSM)"),
            "{alerts:?}"
        );
    } else {
        assert!(how.contains("tracepoint"), "{how}");
        // After the fact: the first change went through (the later ones too, if the kill from
        // userspace lands after them) and its caller was then killed — whether or not it still
        // had time to report, the file now holds what was renamed over it.
        assert_ne!(reported(&r.stderr, "rename_over"), Some("1"), "{}", r.stderr);
        assert_ne!(std::fs::read_to_string(&config).ok().as_deref(), Some("ORIGINAL"));
        assert_eq!(r.status.code(), Some(128 + 9), "killed: {}", r.stderr);
        assert!(
            alerts.iter().any(|a| a["event"]["kind"] == "rename"
                && a["action_result"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("no BPF LSM path hooks here: the change was made"))),
            "{alerts:?}"
        );
    }
}

/// One run of the same actions for [`both_paths_give_the_same_events`]: each action's event as
/// (kind, path, denied) and each alert as (rule, kind, path), for paths under `dir` only.
type Seen = (
    std::collections::BTreeSet<(String, String, bool)>,
    std::collections::BTreeSet<(String, String, String)>,
);

fn actions_seen(env: &[(&str, &str)], rules: &Path, dir: &Path) -> Seen {
    let d = dir.display();
    // Each action in its own process, so the fallback's kills end only that one; the shell goes on.
    let script = format!(
        "cat {d}/allowed >/dev/null; cat {d}/secret >/dev/null; {d}/ok; {d}/evil {d}/ran; \
         unshare -m --propagation private mount -t tmpfs agentmon-cmp {d}/mnt; \
         unshare -m --propagation private mount --bind {d}/mnt {d}/bind; echo done >&2"
    );
    let r = exec_raw_env(
        env,
        &["--events", "--rules", &rules.to_string_lossy()],
        &["/bin/sh", "-c", &script],
    );
    assert!(r.stderr.contains("done"), "{}", r.stderr);
    if env.contains(&NO_LSM) {
        // The run itself (not only `doctor`) took the fallback: its logged capability table says so.
        assert!(
            r.stderr
                .lines()
                .any(|l| l.trim_start().starts_with("open") && l.contains("tracepoint (deny")),
            "{NO_LSM:?} did not force the fallback: {}",
            r.stderr
        );
    }
    let path_of = |e: &serde_json::Value| -> Option<String> {
        let p = match e["kind"].as_str()? {
            "open" => &e["path"],
            "exec" => &e["filename"],
            "mount" => &e["target"],
            _ => return None,
        };
        p.as_str().filter(|p| p.starts_with(&d.to_string())).map(String::from)
    };
    let mut events = std::collections::BTreeSet::new();
    let mut alerts = std::collections::BTreeSet::new();
    for e in &r.events {
        if let Some(rule) = e["rule"].as_str() {
            let ev = &e["event"];
            if let Some(p) = path_of(ev) {
                alerts.insert((rule.to_string(), ev["kind"].as_str().unwrap_or("").to_string(), p));
            }
        } else if let Some(p) = path_of(e) {
            events.insert((e["kind"].as_str().unwrap_or("").to_string(), p, e["denied"] == true));
        }
    }
    (events, alerts)
}

/// The LSM path and the tracepoint fallback (forced with `AGENTMON_NO_LSM`) see the same actions
/// as the same events: kind, path, denied flag and the rule that fired, whatever else differs
/// (pids, times, results, and the after-the-fact effects: on the fallback the denied open and
/// mount complete and their callers die). On a kernel without BPF LSM both runs are the fallback.
#[test]
fn both_paths_give_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("allowed"), "fine").unwrap();
    std::fs::write(p("secret"), "TOP-SECRET-CONTENT").unwrap();
    std::fs::copy("/bin/true", p("ok")).unwrap();
    std::fs::copy("/bin/touch", p("evil")).unwrap();
    std::fs::create_dir(p("mnt")).unwrap();
    std::fs::create_dir(p("bind")).unwrap();
    let rules = rules_dir(&format!(
        "- rule: No secret\n  desc: test\n  condition: evt.kind = open and file.path = {s}\n  output: denied %file.path\n  priority: CRITICAL\n  action: deny\n\
         - rule: No evil\n  desc: test\n  condition: evt.kind = exec and exec.path = {e}\n  output: denied %exec.path\n  priority: CRITICAL\n  action: deny\n\
         {NO_TMPFS}\
         - rule: Any open here\n  desc: test\n  condition: evt.kind = open and file.path startswith {d}/\n  output: open %file.path\n  priority: INFO\n",
        s = p("secret").display(),
        e = p("evil").display(),
        d = dir.path().display(),
    ));
    let lsm = actions_seen(&[], rules.path(), dir.path());
    assert!(!p("ran").exists(), "the denied program ran");
    let fallback = actions_seen(&[NO_LSM], rules.path(), dir.path());
    assert!(!p("ran").exists(), "the denied program ran");
    assert!(
        mechanism_env("open", &[NO_LSM]).contains("tracepoint"),
        "{NO_LSM:?} forces the fallback"
    );
    let d = dir.path().display();
    // What both must hold (so that two equally empty runs do not pass).
    for want in [
        ("open", format!("{d}/allowed"), false),
        ("open", format!("{d}/secret"), true),
        ("exec", format!("{d}/ok"), false),
        ("exec", format!("{d}/evil"), true),
        ("mount", format!("{d}/mnt"), true),
        ("mount", format!("{d}/bind"), false),
    ] {
        let want = (want.0.to_string(), want.1, want.2);
        assert!(lsm.0.contains(&want), "default run lacks {want:?}: {:?}", lsm.0);
    }
    assert_eq!(lsm.0, fallback.0, "events differ (default run, then the fallback)");
    assert_eq!(lsm.1, fallback.1, "alerts differ (default run, then the fallback)");
}
