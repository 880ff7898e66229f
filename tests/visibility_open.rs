//! Opens as the kernel saw them: whatever string, symlink, directory or page a process used to name
//! a file, the event carries the path of the file the kernel opened (`kernel_path`, which rules
//! match as `file.path`). Each test performs the plain form and the dodging form of a route.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use agentmon_e2e::*;
use serde_json::Value;

/// A scratch directory under /tmp with a "secret" file in `real/`, reached through a symlinked
/// directory `link/`; `real("secret")` is the path the kernel opens.
fn tree() -> LinkedTree {
    let t = LinkedTree::new("agentmon-vis-open-", &[]);
    std::fs::write(t.dir.path().join("real/secret"), "s3cret").unwrap();
    t
}

fn opens_of<'a>(run: &'a ExecRun, raw: &str) -> Vec<&'a Value> {
    run.of_kind_with("open", "path", raw)
}

/// The one open of `raw` in `run`.
fn open_of<'a>(run: &'a ExecRun, raw: &str) -> &'a Value {
    let found = opens_of(run, raw);
    assert_eq!(found.len(), 1, "opens of {raw}: {found:?}\nstderr: {}", run.stderr);
    found[0]
}

#[test]
fn a_symlink_chain_unlinked_at_once_still_names_the_real_file() {
    let t = tree();
    // a -> b -> real/secret; the agent opens a and removes both links before the event is read.
    let (a, b) = (t.path("a"), t.path("b"));
    let script = format!(
        "ln -s {real} {b} && ln -s {b} {a} && cat {a} >/dev/null && rm -f {a} {b}",
        real = t.path("real/secret")
    );
    let run = exec_json(&[], &["/bin/sh", "-c", &script]);
    assert!(run.status.success(), "{}", run.stderr);
    let ev = open_of(&run, &a);
    assert_eq!(ev["kernel_path"], t.real("secret").as_str());
    assert_eq!(
        ev["resolved_path"],
        t.real("secret").as_str(),
        "rules match the kernel's path"
    );
}

#[test]
fn proc_self_fd_and_cwd_forms_name_the_real_file() {
    let t = tree();
    // /proc/self/fd/N/secret through a directory fd opened via the symlinked directory, and a
    // relative path after cd through the symlink.
    let script = format!(
        "exec 3<{link} && cat /proc/self/fd/3/secret >/dev/null && cd {link} && cat ./secret >/dev/null \
         && cat /proc/self/cwd/secret >/dev/null",
        link = t.path("link")
    );
    let run = exec_json(&[], &["/bin/bash", "-c", &script]);
    assert!(run.status.success(), "{}", run.stderr);
    for raw in ["/proc/self/fd/3/secret", "./secret", "/proc/self/cwd/secret"] {
        let ev = open_of(&run, raw);
        assert_eq!(ev["kernel_path"], t.real("secret").as_str(), "{raw}");
    }
}

#[test]
fn a_3000_byte_path_is_read_whole_and_resolved() {
    let t = tree();
    let padded = format!("{}secret", "./".repeat(1500));
    assert!(padded.len() > 3000);
    let script = format!("cd {} && cat {padded} >/dev/null", t.path("link"));
    let run = exec_json(&[], &["/bin/sh", "-c", &script]);
    assert!(run.status.success(), "{}", run.stderr);
    let ev = open_of(&run, &padded);
    assert_eq!(ev["kernel_path"], t.real("secret").as_str());
    assert!(ev.get("truncated").is_none(), "the whole path was read: {ev}");
}

/// Python that opens the path written in file `argv[1]` through a private mapping of that file that
/// the process never touches: the path's page is not faulted in when the syscall starts.
const OPEN_FROM_UNTOUCHED_PAGE: &str = "
import ctypes, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.open.argtypes = [ctypes.c_void_p, ctypes.c_int]
fd = os.open(sys.argv[1], os.O_RDONLY)
# A fresh private mapping, never read by this process: its page is not in the page table yet.
p = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_PRIVATE, fd, 0)
# stderr: stdout is where agentmon writes its JSON lines.
os.write(2, b'%d\\n' % libc.open(p, os.O_RDONLY))
";

#[test]
fn a_path_in_a_page_not_faulted_in_is_still_seen_and_denied() {
    let t = tree();
    let holder = t.path("path-holder");
    // The path, NUL-terminated, at the start of the file the process maps.
    let mut bytes = t.real("secret").into_bytes();
    bytes.push(0);
    bytes.resize(4096, 0);
    std::fs::write(&holder, &bytes).unwrap();
    let cmd = [
        "/usr/bin/python3",
        "-S",
        "-c",
        OPEN_FROM_UNTOUCHED_PAGE,
        holder.as_str(),
    ];
    let run = exec_json(&[], &cmd);
    assert!(run.status.success(), "{}", run.stderr);
    let ev = open_of(&run, &t.real("secret"));
    assert_eq!(ev["kernel_path"], t.real("secret").as_str());

    // The same open under a deny rule for that file: refused with EPERM where BPF LSM runs (the
    // caller lives on and reports -1), else killed before the open returns.
    let rules = rules_dir(&format!(
        "- rule: Deny secret\n  desc: t\n  condition: evt.kind = open and file.path = {}\n  output: denied\n  priority: CRITICAL\n  action: deny\n",
        t.real("secret")
    ));
    let run = exec_rules(rules.path(), &[], &cmd);
    if mechanism("open").contains("lsm/file_open") {
        assert!(run.status.success(), "refused, not killed: {}", run.stderr);
        assert!(
            run.stderr.lines().any(|l| l == "-1"),
            "open returned -1: {}",
            run.stderr
        );
    } else {
        assert_eq!(run.status.code(), Some(128 + 9), "killed: {}", run.stderr);
    }
    let ev = open_of(&run, &t.real("secret"));
    assert_eq!(ev["denied"], true);
    let alert = &run.alerts_of("Deny secret")[0];
    assert!(
        alert["action_result"].as_str().unwrap().starts_with("denied in kernel"),
        "{alert}"
    );
}

#[test]
fn a_refused_open_is_an_event_with_its_errno_and_target() {
    let t = tree();
    std::fs::set_permissions(
        t.dir.path().join("real/secret"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    // As nobody, through the symlinked directory and a relative path: EACCES.
    let script = format!("cd {} && cat ./secret", t.path("link"));
    let run = exec_json(&[], &as_nobody(&["/bin/sh", "-c", &script]));
    assert!(!run.status.success());
    let ev = open_of(&run, "./secret");
    assert_eq!(ev["result"], -13, "EACCES: {ev}");
    assert!(ev.get("kernel_path").is_none());
    assert_eq!(ev["resolved_path"], t.real("secret").as_str(), "aimed at the real file");

    // A name that does not exist is a search, not an attempt: no event.
    let run = exec_json(&[], &["/bin/cat", &t.path("real/absent")]);
    assert!(opens_of(&run, &t.path("real/absent")).is_empty());
}

#[test]
fn a_deep_directory_is_walked_to_the_root() {
    let t = tree();
    // About 2 600 bytes of real directories: the kernel's path is long, not just the string.
    let mut deep = t.dir.path().join("real");
    for i in 0..50 {
        deep.push(format!("{i:02}-{}", "d".repeat(48)));
    }
    std::fs::create_dir_all(&deep).unwrap();
    let file = deep.join("secret");
    std::fs::write(&file, "").unwrap();
    let canonical = std::fs::canonicalize(&file).unwrap().display().to_string();
    assert!(canonical.len() > 2500);
    let script = format!("cd {} && cat secret >/dev/null", deep.display());
    let run = exec_json(&[], &["/bin/sh", "-c", &script]);
    assert!(run.status.success(), "{}", run.stderr);
    let ev = open_of(&run, "secret");
    assert_eq!(ev["kernel_path"], canonical.as_str());
}
