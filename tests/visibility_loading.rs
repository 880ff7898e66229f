//! Code loaded without an exec of the file: `memfd_create` (then `fexecve`, or an executable
//! mapping of it), and shared objects mapped executable (`LD_PRELOAD`, `dlopen`, `mprotect` adding
//! `PROT_EXEC`) — each an event naming the kernel's path of the mapped file, failed attempts (a
//! `noexec` mount) included.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{path::Path, process::Command};

use agentmon_e2e::*;

/// Builds a shared object at `dir/name` with gcc; `None` (the caller skips, saying why) without
/// a C compiler.
#[expect(clippy::print_stderr, reason = "the skip is the test's output")]
fn build_so(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    let src = dir.join("dropped.c");
    std::fs::write(
        &src,
        "__attribute__((constructor)) static void init(void) {}\nint agentmon_dropped(void) { return 42; }\n",
    )
    .unwrap();
    let out = dir.join(name);
    match Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
    {
        Ok(s) if s.success() => Some(out),
        Ok(s) => panic!("gcc failed: {s}"),
        Err(e) => {
            eprintln!("SKIPPED: no gcc to build a shared object ({e}); install gcc to run this test");
            None
        }
    }
}

#[test]
fn memfd_create_then_fexecve_is_seen_and_is_fileless_execution() {
    // Copy a binary into an anonymous memory file and run it from there.
    let py = r#"import os
fd = os.memfd_create("agentmon-payload", 0)
os.write(fd, open("/bin/true", "rb").read())
os.execve(fd, ["payload"], {})
"#;
    // The shipped rule's action is `kill`: the payload may die before it exits by itself.
    let run = exec_rules(&shipped_rules(), &[], &["/usr/bin/python3", "-c", py]);
    let memfd = run.of_kind("memfd");
    assert_eq!(memfd.len(), 1, "{memfd:?}");
    assert_eq!(memfd[0]["name"], "agentmon-payload");
    assert!(memfd[0]["result"].as_i64().unwrap() >= 0);
    assert!(
        !run.alerts_of("Fileless execution").is_empty(),
        "fired: {:?}",
        run.fired()
    );
}

#[test]
fn a_memfd_mapped_executable_is_seen() {
    let py = r#"import mmap, os
fd = os.memfd_create("agentmon-shellcode", os.MFD_CLOEXEC)
os.write(fd, b"\xc3" * 4096)
m = mmap.mmap(fd, 4096, mmap.MAP_PRIVATE, mmap.PROT_READ | mmap.PROT_EXEC)
"#;
    let run = exec_json(&[], &["/usr/bin/python3", "-c", py]);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.of_kind("memfd")[0]["name"], "agentmon-shellcode");
    let maps: Vec<_> = run
        .of_kind("mmap")
        .into_iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.contains("memfd:agentmon-shellcode"))
        })
        .collect();
    assert_eq!(maps.len(), 1, "{:?}", run.of_kind("mmap"));
    assert_eq!(maps[0]["prot"], 5, "PROT_READ | PROT_EXEC");
    assert_eq!(maps[0]["syscall"], "mmap");
}

#[test]
fn ld_preload_of_a_dropped_so_is_seen_by_its_kernel_path() {
    let dir = scratch_dir("agentmon-vis-load-");
    let Some(so) = build_so(dir.path(), "dropped.so") else {
        return;
    };
    let real = canonical(&so);
    // Plain: an absolute LD_PRELOAD. Dodging: a relative one from a working directory entered
    // through a symlink, and the file renamed away right after.
    std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
    let script = format!(
        "LD_PRELOAD={so} /bin/true && cd {link} && LD_PRELOAD=./dropped.so /bin/true",
        so = so.display(),
        link = dir.path().join("link").display()
    );
    let run = exec_json(&[], &["/bin/sh", "-c", &script]);
    assert!(run.status.success(), "{}", run.stderr);
    let maps = run.of_kind_with("mmap", "path", &real);
    assert_eq!(maps.len(), 2, "one per preload: {:?}", run.of_kind("mmap"));
    for m in maps {
        assert_eq!(m["comm"], "true", "mapped by the program it was preloaded into: {m}");
        assert_eq!(m["prot"].as_u64().unwrap() & 4, 4, "PROT_EXEC: {m}");
    }
}

#[test]
fn a_library_renamed_into_place_then_loaded_is_an_executable_mapping_of_a_file_the_agent_wrote() {
    // Built outside the agent, so no open of the agent's writes it: the agent only renames it under
    // a new name (the write-then-map sequence's other way in) and loads it from there.
    let dir = scratch_dir("agentmon-vis-load-");
    let Some(so) = build_so(dir.path(), "staged.so") else {
        return;
    };
    let placed = dir.path().join("placed.so");
    let py = format!(
        "import ctypes, os\nos.rename('{so}', '{placed}')\nassert ctypes.CDLL('{placed}').agentmon_dropped() == 42\n",
        so = so.display(),
        placed = placed.display()
    );
    let run = exec_rules(&shipped_rules(), &[], &["/usr/bin/python3", "-c", &py]);
    assert!(run.status.success(), "{}", run.stderr);
    let placed = canonical(&placed);
    assert!(
        !run.of_kind_with("mmap", "path", &placed).is_empty(),
        "{:?}",
        run.of_kind("mmap")
    );
    let alerts = run.alerts_of("Executable mapping of file written by agent");
    assert!(
        alerts
            .iter()
            .any(|a| a["output"].as_str().unwrap().contains(placed.as_str())),
        "fired: {:?}; renames: {:?}",
        run.fired(),
        run.of_kind("rename")
    );
}

#[test]
fn dlopen_and_mprotect_to_exec_are_seen() {
    let dir = scratch_dir("agentmon-vis-load-");
    let Some(so) = build_so(dir.path(), "plugin.so") else {
        return;
    };
    let data = dir.path().join("blob");
    std::fs::write(&data, vec![0xc3u8; 4096]).unwrap();
    // dlopen (ctypes.CDLL), then a plain read-only mapping made executable with mprotect.
    let py = format!(
        r#"import ctypes, mmap, os
assert ctypes.CDLL("{so}").agentmon_dropped() == 42
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
fd = os.open("{data}", os.O_RDONLY)
p = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_PRIVATE, fd, 0)
os.close(fd)
assert libc.mprotect(p, 4096, mmap.PROT_READ | mmap.PROT_EXEC) == 0, ctypes.get_errno()
"#,
        so = so.display(),
        data = data.display()
    );
    let run = exec_json(&[], &["/usr/bin/python3", "-c", &py]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        !run.of_kind_with("mmap", "path", &canonical(&so)).is_empty(),
        "{:?}",
        run.of_kind("mmap")
    );
    let prot = run.of_kind_with("mmap", "path", &canonical(&data));
    assert_eq!(prot.len(), 1, "{:?}", run.of_kind("mmap"));
    assert_eq!(prot[0]["syscall"], "mprotect");
    assert_eq!(
        prot[0]["fd"], -1,
        "found through the mapping, the fd was closed: {}",
        prot[0]
    );
    assert_eq!(prot[0]["result"], 0);
}

#[test]
fn an_executable_mapping_refused_by_a_noexec_mount_is_seen_with_its_errno() {
    let dir = scratch_dir("agentmon-vis-load-");
    let Some(so) = build_so(dir.path(), "dropped.so") else {
        return;
    };
    let mnt = dir.path().join("noexec");
    std::fs::create_dir(&mnt).unwrap();
    // A private mount namespace with a noexec tmpfs, as a hardened container has: the mapping is
    // refused (EPERM), and the attempt is an event.
    let py = format!(
        r#"import ctypes, mmap, os, shutil, subprocess
subprocess.run(["mount", "-t", "tmpfs", "-o", "noexec", "agentmon-noexec", "{mnt}"], check=True)
shutil.copy("{so}", "{mnt}/dropped.so")
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
fd = os.open("{mnt}/dropped.so", os.O_RDONLY)
p = libc.mmap(None, 4096, mmap.PROT_READ | mmap.PROT_EXEC, mmap.MAP_PRIVATE, fd, 0)
assert p == 2**64 - 1 and ctypes.get_errno() == 1, (p, ctypes.get_errno())
"#,
        mnt = mnt.display(),
        so = so.display()
    );
    let run = exec_json(&[], &in_private_mount_ns(&["/usr/bin/python3", "-c", &py]));
    assert!(run.status.success(), "{}", run.stderr);
    let target = format!("{}/dropped.so", mnt.display());
    let m = run.of_kind_with("mmap", "path", &target);
    assert_eq!(m.len(), 1, "{:?}", run.of_kind("mmap"));
    assert_eq!(m[0]["result"], -1, "EPERM: {}", m[0]);
}
