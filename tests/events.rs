//! Each hook, on the real kernel: a process in a watched cgroup does the thing, and agentmon reports
//! it with the right fields.
use std::{
    net::{TcpListener, UdpSocket},
    os::unix::net::UnixListener,
};

use agentmon_e2e::*;

#[test]
fn exec_reports_filename_argv_and_ancestry() {
    let run = exec_json(&[], &["/bin/sh", "-c", "exec /bin/echo hello 'two words' >/dev/null"]);
    assert!(run.status.success(), "{}", run.stderr);
    let echo = run
        .of_kind("exec")
        .into_iter()
        .find(|e| e["filename"] == "/bin/echo")
        .unwrap_or_else(|| panic!("no exec of /bin/echo in {:?}", run.events));
    assert_eq!(echo["argv"], serde_json::json!(["/bin/echo", "hello", "two words"]));
    assert_eq!(echo["comm"], "echo");
    assert!(echo["cgroup_id"].as_u64().unwrap() > 0);
    // The sh that exec'd echo is the same process: its parent is agentmon itself.
    let sh = run
        .of_kind("exec")
        .into_iter()
        .find(|e| e["filename"] == "/bin/sh")
        .expect("exec of sh");
    assert_eq!(sh["pid"], echo["pid"]);
    assert!(sh["ppid"].as_u64().unwrap() > 0);
    let ancestors = echo["ancestors"].as_array().expect("ancestors");
    assert!(
        ancestors[0]["exe"].as_str().unwrap().ends_with("agentmon"),
        "{ancestors:?}"
    );
}

#[test]
fn exec_of_child_names_its_parent() {
    let run = exec_json(&[], &["/bin/sh", "-c", "/bin/true first; /bin/true second"]);
    assert!(run.status.success());
    let sh = run
        .of_kind("exec")
        .into_iter()
        .find(|e| e["filename"] == "/bin/sh")
        .expect("sh");
    let trues: Vec<_> = run
        .of_kind("exec")
        .into_iter()
        .filter(|e| e["filename"] == "/bin/true")
        .collect();
    assert_eq!(trues.len(), 2, "{trues:?}");
    assert_eq!(trues[0]["argv"], serde_json::json!(["/bin/true", "first"]));
    assert_eq!(trues[1]["argv"], serde_json::json!(["/bin/true", "second"]));
    // The parent is named by the binary the kernel runs for it (/bin/sh is a symlink, on most
    // systems to dash), not by the name it was started as.
    let sh_binary = std::fs::canonicalize("/bin/sh").unwrap().display().to_string();
    assert_eq!(sh["exe_path"], sh_binary.as_str());
    for t in trues {
        assert_eq!(t["ppid"], sh["pid"], "ppid comes from the kernel (task->real_parent)");
        assert_eq!(t["ancestors"][0]["exe"], sh_binary.as_str());
    }
}

#[test]
fn open_reports_path_flags_and_resolved_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("written.txt");
    let script = format!(
        "cd {} && echo x > ./written.txt && cat written.txt >/dev/null",
        dir.path().display()
    );
    let run = exec_json(&[], &["/bin/sh", "-c", &script]);
    assert!(run.status.success());
    let opens = run.of_kind("open");
    let write = find(&run.events, |e| e["kind"] == "open" && e["path"] == "./written.txt")
        .unwrap_or_else(|| panic!("{opens:?}"));
    let flags = write["flags"].as_u64().unwrap() as i32;
    assert_eq!(flags & libc::O_ACCMODE, libc::O_WRONLY);
    assert_ne!(flags & libc::O_CREAT, 0);
    assert_ne!(flags & libc::O_TRUNC, 0);
    // The shell creates with 0666 (openat's fourth argument, the last slot the program reads).
    assert_eq!(write["mode"], 0o666, "{write}");
    assert_eq!(write["syscall"], "openat");
    let real = std::fs::canonicalize(&file).unwrap();
    assert_eq!(
        write["resolved_path"],
        real.to_string_lossy().as_ref(),
        "relative path resolved against the cwd"
    );
    let read = find(&run.events, |e| e["kind"] == "open" && e["path"] == "written.txt").expect("cat's open");
    assert_eq!(read["flags"].as_u64().unwrap() as i32 & libc::O_ACCMODE, libc::O_RDONLY);
}

#[test]
fn openat2_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("via-openat2");
    std::fs::write(&target, b"x").unwrap();
    // openat2(AT_FDCWD, path, {flags=O_RDONLY}, 24) through ctypes (syscall 437 on x86_64).
    let py = format!(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nhow = (ctypes.c_uint64 * 3)(0, 0, 0)\nfd = libc.syscall(437, -100, b'{}', ctypes.byref(how), 24)\nassert fd >= 0, ctypes.get_errno()\nos.close(fd)\n",
        target.display()
    );
    let run = exec_json(&[], &["/usr/bin/python3", "-c", &py]);
    assert!(run.status.success(), "{}", run.stderr);
    let ev = find(&run.events, |e| {
        e["kind"] == "open" && e["path"] == target.to_string_lossy().as_ref()
    })
    .unwrap_or_else(|| panic!("no openat2 event: {:?}", run.of_kind("open").len()));
    assert_eq!(ev["syscall"], "openat2");
}

/// Opens are submitted to the ring buffer without waking the reader, except when the last such
/// wakeup is old: a lone open after a quiet spell (nothing else happening in the cgroup, no exec or
/// exit around it) must still be delivered, not left in the ring until the next event.
#[test]
fn lone_open_after_idle_is_delivered() {
    let cg = TestCgroup::new("idle-open");
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("marker");
    for round in 0..3 {
        std::fs::write(format!("{}-{round}", base.display()), b"x").unwrap();
    }
    let m = Monitor::start(&["--cgroup", cg.path.to_str().unwrap()]);
    // A shell that opens `base-N` (a builtin redirection: no fork, no exec) for each line N it reads,
    // and otherwise sleeps in read(2).
    let mut sh = command_in(
        &cg.path,
        "/bin/sh",
        &["-c", "while read n; do : < \"$0-$n\"; done", base.to_str().unwrap()],
    )
    .stdin(std::process::Stdio::piped())
    .spawn()
    .expect("starting sh");
    let pid = sh.id();
    assert!(
        m.wait_event(std::time::Duration::from_secs(10), |e| e["kind"] == "exec"
            && e["pid"] == pid)
            .is_some(),
        "no exec of the shell; stderr: {}",
        m.stderr()
    );
    let mut stdin = sh.stdin.take().expect("stdin");
    for round in 0..3 {
        // Let the monitor go idle (its start-up and the shell's own events are long drained).
        std::thread::sleep(std::time::Duration::from_millis(200));
        std::io::Write::write_all(&mut stdin, format!("{round}\n").as_bytes()).unwrap();
        let path = format!("{}-{round}", base.display());
        assert!(
            m.wait_event(std::time::Duration::from_secs(10), |e| {
                e["kind"] == "open" && e["path"] == path.as_str() && e["pid"] == pid
            })
            .is_some(),
            "the lone open of {path} was not delivered; stderr: {}",
            m.stderr()
        );
    }
    drop(stdin);
    let _ = sh.wait();
    let (_, status) = m.stop();
    assert!(status.success());
}

/// Forks, exits and directory changes are batched like opens, and the batched records right behind
/// a record that woke the reader (an exec's library opens and its exit) wake nobody: the reader's
/// drain one window later must still pick each of them up when nothing else follows — a subshell's
/// lone fork and exit, a lone `cd`, and a short program's exec followed by its exit, each after a
/// quiet spell, with the shell then asleep in read(2).
#[test]
fn lone_lifecycle_records_and_those_behind_an_exec_are_delivered() {
    let cg = TestCgroup::new("idle-lifecycle");
    let dir = tempfile::tempdir().unwrap();
    let m = Monitor::start(&["--cgroup", cg.path.to_str().unwrap(), "--lifecycle"]);
    // One step per line read: a subshell (fork and exit, no exec), a `cd` (a builtin), an external
    // program (fork, exec, its loader's opens, exit).
    let mut sh = command_in(
        &cg.path,
        "/bin/sh",
        &[
            "-c",
            "while read step; do case $step in fork) ( : );; cd) cd \"$0\";; exec) /bin/true;; esac; done",
            dir.path().to_str().unwrap(),
        ],
    )
    .stdin(std::process::Stdio::piped())
    .spawn()
    .expect("starting sh");
    let pid = sh.id();
    let wait = |what: &str, pred: &dyn Fn(&serde_json::Value) -> bool| {
        m.wait_event(std::time::Duration::from_secs(10), pred)
            .unwrap_or_else(|| panic!("{what} was not delivered; stderr: {}", m.stderr()))
    };
    wait("the shell's exec", &|e| e["kind"] == "exec" && e["pid"] == pid);
    let mut stdin = sh.stdin.take().expect("stdin");
    let mut step = |line: &str| {
        // Let the monitor go idle (everything before is long drained).
        std::thread::sleep(std::time::Duration::from_millis(200));
        std::io::Write::write_all(&mut stdin, format!("{line}\n").as_bytes()).unwrap();
    };

    step("fork");
    let fork = wait("the subshell's fork", &|e| {
        e["kind"] == "fork" && e["pid"] == pid && e["child_pid"] != pid
    });
    let child = fork["child_pid"].clone();
    wait("the subshell's exit", &|e| e["kind"] == "exit" && e["pid"] == child);

    step("cd");
    let path = dir.path().to_str().unwrap().to_owned();
    wait("the lone chdir", &|e| {
        e["kind"] == "chdir" && e["pid"] == pid && e["path"] == path.as_str()
    });

    step("exec");
    let exec = wait("the exec of /bin/true", &|e| {
        e["kind"] == "exec" && e["filename"] == "/bin/true" && e["ppid"] == pid
    });
    let t = exec["pid"].clone();
    wait("the exit right behind the exec", &|e| {
        e["kind"] == "exit" && e["pid"] == t && e["exit_code"] == 0
    });

    drop(stdin);
    let _ = sh.wait();
    let (_, status) = m.stop();
    assert!(status.success());
}

#[test]
fn connect_reports_ipv4_address_and_port() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
    let run = exec_json(&[], &["/bin/bash", "-c", &script]);
    assert!(run.status.success(), "{}", run.stderr);
    let c = find(&run.events, |e| e["kind"] == "connect" && e["port"] == port)
        .unwrap_or_else(|| panic!("{:?}", run.of_kind("connect")));
    assert_eq!(c["family"], "inet");
    assert_eq!(c["addr"], "127.0.0.1");
}

#[test]
fn connect_reports_ipv6_address_and_port() {
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        panic!("IPv6 loopback is required on the test machine");
    };
    let port = listener.local_addr().unwrap().port();
    let script = format!("exec 3<>/dev/tcp/::1/{port}");
    let run = exec_json(&[], &["/bin/bash", "-c", &script]);
    assert!(run.status.success(), "{}", run.stderr);
    let c = find(&run.events, |e| e["kind"] == "connect" && e["port"] == port)
        .unwrap_or_else(|| panic!("{:?}", run.of_kind("connect")));
    assert_eq!(c["family"], "inet6");
    assert_eq!(c["addr"], "::1");
}

#[test]
fn connect_reports_unix_socket_path() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let py = format!(
        "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('{}')\n",
        sock.display()
    );
    let run = exec_json(&[], &["/usr/bin/python3", "-c", &py]);
    assert!(run.status.success(), "{}", run.stderr);
    let c = find(&run.events, |e| {
        e["kind"] == "connect" && e["family"] == "unix" && e["addr"] == sock.to_string_lossy().as_ref()
    })
    .unwrap_or_else(|| panic!("{:?}", run.of_kind("connect")));
    assert_eq!(c["port"], 0);
}

#[test]
fn udp_connect_is_reported_too() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    let py = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.connect(('127.0.0.1', {port}))\n"
    );
    let run = exec_json(&[], &["/usr/bin/python3", "-c", &py]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        find(&run.events, |e| e["kind"] == "connect"
            && e["port"] == port
            && e["addr"] == "127.0.0.1")
        .is_some()
    );
}

#[test]
fn mount_reports_source_target_and_fstype() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().to_string_lossy().into_owned();
    // A private mount namespace: the tmpfs never shows up on the host.
    let script = format!("mount -t tmpfs agentmon-e2e-src {target}");
    let run = exec_json(&[], &in_private_mount_ns(&["sh", "-c", &script]));
    assert!(run.status.success(), "{}", run.stderr);
    let m = find(&run.events, |e| e["kind"] == "mount" && e["target"] == target.as_str())
        .unwrap_or_else(|| panic!("{:?}", run.of_kind("mount")));
    assert_eq!(m["fstype"], "tmpfs");
    assert_eq!(m["source"], "agentmon-e2e-src");
}

#[test]
fn new_mount_api_is_reported_with_fstype_and_target() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().to_string_lossy().into_owned();
    // fsopen("tmpfs") → fsconfig(SET_STRING "source") → fsconfig(CMD_CREATE) → fsmount → move_mount.
    let py = format!(
        r#"import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
fs = libc.syscall(430, b"tmpfs", 0)
assert fs >= 0, ctypes.get_errno()
assert libc.syscall(431, fs, 1, b"source", b"agentmon-newapi", 0) == 0, ctypes.get_errno()
assert libc.syscall(431, fs, 6, None, None, 0) == 0, ctypes.get_errno()
mnt = libc.syscall(432, fs, 0, 0)
assert mnt >= 0, ctypes.get_errno()
assert libc.syscall(429, mnt, b"", -100, b"{target}", 4) == 0, ctypes.get_errno()
"#
    );
    let run = exec_json(&[], &in_private_mount_ns(&["/usr/bin/python3", "-c", &py]));
    assert!(run.status.success(), "{}", run.stderr);
    let m = find(&run.events, |e| e["kind"] == "mount" && e["target"] == target.as_str())
        .unwrap_or_else(|| panic!("{:?}", run.of_kind("mount")));
    assert_eq!(m["syscall"], "move_mount");
    assert_eq!(m["fstype"], "tmpfs");
    assert_eq!(m["source"], "agentmon-newapi");
}
