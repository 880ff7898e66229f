//! Execs as the kernel saw them: the binary that runs (not the name it was started by, nor the
//! `comm` it sets), its whole argv, the environment strings that change what it loads wherever they
//! sit, and attempts the kernel refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use agentmon_e2e::*;
use serde_json::Value;

#[test]
fn a_renamed_or_symlinked_binary_is_named_by_what_runs() {
    let dir = scratch_dir("agentmon-vis-exec-");
    let copy = dir.path().join("sshd");
    std::fs::copy("/bin/true", &copy).unwrap();
    let link = dir.path().join("cron");
    std::os::unix::fs::symlink("/bin/true", &link).unwrap();
    let (copy, link) = (copy.display().to_string(), link.display().to_string());
    let run = exec_json(&[], &["/bin/sh", "-c", &format!("{copy} && {link}")]);
    assert!(run.status.success(), "{}", run.stderr);
    let c = &run.of_kind_with("exec", "filename", &copy)[0];
    assert_eq!(c["exe_path"], copy.as_str(), "a copy is its own file");
    assert_eq!(c["comm"], "sshd");
    let l = &run.of_kind_with("exec", "filename", &link)[0];
    assert_eq!(
        l["exe_path"],
        canonical("/bin/true").as_str(),
        "a symlink is what it points to"
    );
    assert_eq!(
        l["exe"],
        canonical("/bin/true").as_str(),
        "the process table names the binary"
    );
}

#[test]
fn a_spoofed_comm_does_not_change_the_executable() {
    let dir = scratch_dir("agentmon-vis-exec-");
    let marker = dir.path().join("marker");
    std::fs::write(&marker, "").unwrap();
    let py = format!(
        "import ctypes; ctypes.CDLL(None).prctl(15, b'sshd', 0, 0, 0); open('{}').close()",
        marker.display()
    );
    let run = exec_json(&[], &["/usr/bin/python3", "-S", "-c", &py]);
    assert!(run.status.success(), "{}", run.stderr);
    let open = run
        .of_kind("open")
        .into_iter()
        .find(|e| e["path"] == marker.to_string_lossy().as_ref())
        .expect("the marker's open");
    assert_eq!(open["comm"], "sshd", "the name the process chose");
    assert_eq!(
        open["exe"],
        canonical("/usr/bin/python3").as_str(),
        "the binary it runs"
    );
}

#[test]
fn a_long_option_does_not_push_the_command_out_of_view() {
    let pad = format!("--{}", "x".repeat(3000));
    // bash takes `-c` after a long (ignored) argument to its `-c` string's $0 slot.
    let run = exec_json(&[], &["/bin/bash", "-c", "true # sneaky", &pad]);
    assert!(run.status.success(), "{}", run.stderr);
    let ev = &run.of_kind_with("exec", "filename", "/bin/bash")[0];
    let argv: Vec<&str> = ev["argv"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(argv, ["/bin/bash", "-c", "true # sneaky", pad.as_str()]);
    assert!(ev.get("argv_truncated").is_none());
}

#[test]
fn loader_variables_are_seen_anywhere_in_the_environment() {
    // LD_PRELOAD behind 40 KiB of padding, and a proxy variable.
    let mut cmd = vec!["/usr/bin/env".to_string()];
    for i in 0..40 {
        cmd.push(format!("PAD{i}={}", "p".repeat(1000)));
    }
    cmd.push("LD_PRELOAD=/tmp/agentmon-vis-none.so".into());
    cmd.push("https_proxy=http://127.0.0.1:9".into());
    cmd.push("/bin/true".into());
    let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let run = exec_json(&[], &args);
    let ev = &run.of_kind_with("exec", "filename", "/bin/true")[0];
    let env: Vec<&str> = ev["env"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(env.contains(&"LD_PRELOAD=/tmp/agentmon-vis-none.so"), "{env:?}");
    assert!(env.contains(&"https_proxy=http://127.0.0.1:9"), "{env:?}");
    assert!(
        !env.iter().any(|e| e.starts_with("PAD")),
        "only variables that change what runs"
    );
}

#[test]
fn a_refused_exec_is_an_event_with_its_errno() {
    let dir = scratch_dir("agentmon-vis-exec-");
    // No execute bit.
    let noexec = dir.path().join("payload");
    std::fs::copy("/bin/true", &noexec).unwrap();
    std::fs::set_permissions(&noexec, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let noexec = noexec.display().to_string();
    // A noexec mount, as a hardened container's /tmp is: in a private mount namespace.
    let mnt = dir.path().join("noexec-tmp");
    std::fs::create_dir(&mnt).unwrap();
    let mnt = mnt.display().to_string();
    let script = format!("{noexec}; mount -t tmpfs -o noexec none {mnt} && cp /bin/true {mnt}/t && {mnt}/t; true");
    let run = exec_json(
        &[],
        &[
            "/usr/bin/unshare",
            "-m",
            "--propagation",
            "private",
            "/bin/sh",
            "-c",
            &script,
        ],
    );
    let denied_bit = &run.of_kind_with("exec", "filename", &noexec)[0];
    assert_eq!(denied_bit["result"], -13, "EACCES: {denied_bit}");
    let on_noexec = format!("{mnt}/t");
    let denied_mount = &run.of_kind_with("exec", "filename", &on_noexec)[0];
    assert_eq!(denied_mount["result"], -13, "EACCES on a noexec mount: {denied_mount}");
    // The failed attempt did not change the process's identity.
    assert_ne!(denied_mount["exe"], on_noexec.as_str());
}

#[test]
fn a_script_is_named_by_its_own_path_and_runs_as_its_interpreter() {
    let dir = scratch_dir("agentmon-vis-exec-");
    std::fs::create_dir(dir.path().join("real")).unwrap();
    let script = dir.path().join("real/run.sh");
    std::fs::write(&script, "#!/bin/sh\ntrue\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link")).unwrap();
    let run = exec_json(
        &[],
        &[
            "/bin/sh",
            "-c",
            &format!("cd {} && ./run.sh", dir.path().join("link").display()),
        ],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let ev = &run.of_kind_with("exec", "filename", "./run.sh")[0];
    assert_eq!(ev["script"], true);
    assert_eq!(ev["exe_path"], canonical("/bin/sh").as_str(), "the interpreter runs");
    assert_eq!(
        ev["resolved_path"],
        canonical(script.display().to_string()).as_str(),
        "exec.path is the script, in the kernel's working directory"
    );
}

#[test]
fn a_memory_file_exec_is_named_as_such() {
    let py = "import os\nfd = os.memfd_create('payload')\nos.write(fd, open('/bin/true', 'rb').read())\nos.execve(fd, ['payload'], {})\n";
    let run = exec_json(&[], &["/usr/bin/python3", "-S", "-c", py]);
    assert!(run.status.success(), "{}", run.stderr);
    let ev = run
        .of_kind("exec")
        .into_iter()
        .find(|e| e["argv"][0] == "payload")
        .expect("the memfd exec");
    let exe = ev["exe_path"].as_str().unwrap();
    assert!(exe.starts_with("/memfd:payload"), "{exe}");
}
