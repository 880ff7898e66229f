//! Mounts as the kernel saw them, through every API: `mount(2)`, and the new API's `fsopen`,
//! `fsmount` (a detached mount used through its fd, never attached), `move_mount`, `open_tree`
//! (bind clones) and `mount_setattr` — each seen at the syscall's exit with its result, its target
//! as the kernel's path (walked from the mount object, or the path as passed joined to the kernel's
//! path of its starting directory), and refused attempts with their errno. Every test runs in a
//! private mount namespace (`unshare -m`), so nothing it mounts is seen on the host.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use agentmon_e2e::*;
use serde_json::Value;

/// A scratch directory with `real/{a,b,src,dst,t}` directories (and a file `real/src/inside`),
/// reached through a symlinked directory `link/`.
fn tree() -> LinkedTree {
    let t = LinkedTree::new("agentmon-vis-mount-", &["a", "b", "src", "dst", "t"]);
    std::fs::write(t.dir.path().join("real/src/inside"), "x").unwrap();
    t
}

/// Python preamble: the new mount API through `syscall()`, each call asserting success.
const MOUNT_API: &str = r#"
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def sc(*a):
    r = libc.syscall(*a)
    if r < 0:
        raise OSError(ctypes.get_errno(), "syscall %d" % a[0])
    return r
FSOPEN, FSCONFIG, FSMOUNT, MOVE_MOUNT, OPEN_TREE, MOUNT_SETATTR, FSPICK = 430, 431, 432, 429, 428, 442, 433
AT_FDCWD, AT_EMPTY_PATH, AT_RECURSIVE = -100, 0x1000, 0x8000
MOVE_MOUNT_F_EMPTY_PATH, OPEN_TREE_CLONE, MOUNT_ATTR_RDONLY = 4, 1, 1
def fsmount(source):
    fs = sc(FSOPEN, b"tmpfs", 0)
    sc(FSCONFIG, fs, 1, b"source", source, 0)
    sc(FSCONFIG, fs, 6, None, None, 0)
    return sc(FSMOUNT, fs, 0, 0)
def setattr(dfd, path, flags, attr_set, attr_clr):
    attr = ctypes.create_string_buffer(struct.pack("QQQQ", attr_set, attr_clr, 0, 0), 32)
    sc(MOUNT_SETATTR, dfd, path, flags, attr, 32)
"#;

/// Runs `py` (after [`MOUNT_API`]) as a watched agent in a private mount namespace.
fn run_py(py: &str) -> ExecRun {
    let script = format!("{MOUNT_API}\n{py}");
    let run = exec_json(&[], &in_private_mount_ns(&["/usr/bin/python3", "-c", &script]));
    assert!(run.status.success(), "{}", run.stderr);
    run
}

/// The mount events of `syscall` in `run`.
fn mounts<'a>(run: &'a ExecRun, syscall: &str) -> Vec<&'a Value> {
    run.of_kind_with("mount", "syscall", syscall)
}

/// The one mount event of `syscall` matching `pred`.
fn mount_where<'a>(run: &'a ExecRun, syscall: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    let found: Vec<_> = mounts(run, syscall).into_iter().filter(|e| pred(e)).collect();
    assert_eq!(
        found.len(),
        1,
        "{syscall} events: {:?}\nstderr: {}",
        run.of_kind("mount"),
        run.stderr
    );
    found[0]
}

#[test]
fn mount_is_seen_at_exit_and_a_relative_target_through_a_symlink_is_the_kernels_path() {
    let t = tree();
    // Plain: an absolute target. Dodging: a relative target from a working directory entered
    // through a symlink (libc's mount(2) directly: util-linux would canonicalize it first).
    let py = format!(
        "libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]\n\
         assert libc.mount(b'agentmon-plain', b'{a}', b'tmpfs', 0, None) == 0, ctypes.get_errno()\n\
         os.chdir('{link}')\n\
         assert libc.mount(b'agentmon-rel', b'./b', b'tmpfs', 0, None) == 0, ctypes.get_errno()\n",
        a = t.path("real/a"),
        link = t.path("link"),
    );
    let run = run_py(&py);
    let plain = mount_where(&run, "mount", |e| e["source"] == "agentmon-plain");
    assert_eq!(plain["target_path"], t.real("a").as_str());
    assert_eq!(plain["fstype"], "tmpfs");
    assert_eq!(plain["result"], 0);
    let rel = mount_where(&run, "mount", |e| e["source"] == "agentmon-rel");
    assert_eq!(rel["target"], "./b", "the target as passed");
    assert_eq!(
        rel["target_dir"],
        t.real("").trim_end_matches('/'),
        "the kernel's cwd, not the symlink"
    );
    assert_eq!(
        rel["target_path"],
        t.real("b").as_str(),
        "what rules see as mount.target"
    );
}

#[test]
fn fsmount_used_through_its_fd_without_move_mount_is_a_detached_mount() {
    // The mount is never attached: files are written through the mount fd alone.
    let py = "mnt = fsmount(b'agentmon-detached')\n\
              fd = os.open('dropped', os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=mnt)\n\
              os.write(fd, b'payload')\n";
    let run = run_py(py);
    let m = mount_where(&run, "fsmount", |_| true);
    assert_eq!(m["detached"], true);
    assert_eq!(m["fstype"], "tmpfs", "the mount object's own filesystem type");
    assert_eq!(m["source"], "agentmon-detached", "the mount object's device name");
    assert!(m["result"].as_i64().unwrap() >= 0, "{m}");
    let f = mount_where(&run, "fsopen", |_| true);
    assert_eq!(f["fstype"], "tmpfs");
    assert!(mounts(&run, "move_mount").is_empty(), "never attached");
}

#[test]
fn move_mount_names_where_the_mount_went_even_through_a_symlink_and_a_relative_path() {
    let t = tree();
    let py = format!(
        "mnt = fsmount(b'agentmon-moved')\n\
         os.chdir('{link}')\n\
         sc(MOVE_MOUNT, mnt, b'', AT_FDCWD, b'./dst', MOVE_MOUNT_F_EMPTY_PATH)\n",
        link = t.path("link")
    );
    let run = run_py(&py);
    let m = mount_where(&run, "move_mount", |_| true);
    assert_eq!(m["target"], "./dst");
    assert_eq!(
        m["kernel_target"],
        t.real("dst").as_str(),
        "walked from the moved mount itself"
    );
    assert_eq!(m["target_path"], t.real("dst").as_str());
    assert_eq!(m["source"], "agentmon-moved");
    assert_eq!(m["fstype"], "tmpfs");
    assert_eq!(m["result"], 0);
}

#[test]
fn open_tree_clone_is_a_detached_bind_mount_and_its_attachment_is_seen() {
    let t = tree();
    // Plain: an absolute source; dodging: a relative one from a symlinked working directory.
    let py = format!(
        "a = sc(OPEN_TREE, AT_FDCWD, b'{src}', OPEN_TREE_CLONE | AT_RECURSIVE)\n\
         os.chdir('{link}')\n\
         b = sc(OPEN_TREE, AT_FDCWD, b'src', OPEN_TREE_CLONE)\n\
         sc(MOVE_MOUNT, b, b'', AT_FDCWD, b'dst', MOVE_MOUNT_F_EMPTY_PATH)\n\
         assert os.path.exists('dst/inside')\n",
        src = t.path("real/src"),
        link = t.path("link"),
    );
    let run = run_py(&py);
    let trees = mounts(&run, "open_tree");
    assert_eq!(trees.len(), 2, "{trees:?}");
    for tree in &trees {
        assert_eq!(tree["detached"], true, "a clone is attached nowhere: {tree}");
        assert!(tree["result"].as_i64().unwrap() >= 0);
        assert!(
            !tree["fstype"].as_str().unwrap().is_empty(),
            "the source's filesystem type: {tree}"
        );
    }
    let rel = mount_where(&run, "open_tree", |e| e["source"] == "src");
    assert_eq!(rel["source_path"], t.real("src").as_str(), "joined to the kernel's cwd");
    let abs = mount_where(&run, "open_tree", |e| e["source"] != "src");
    assert_eq!(abs["source_path"], t.path("real/src").as_str());
    let moved = mount_where(&run, "move_mount", |_| true);
    assert_eq!(moved["kernel_target"], t.real("dst").as_str());
}

#[test]
fn open_tree_attr_clones_and_sets_attributes_in_one_call() {
    let t = tree();
    // Linux 6.15+: the clone and its attributes in one syscall (no mount_setattr to see).
    let py = format!(
        "attr = ctypes.create_string_buffer(struct.pack('QQQQ', MOUNT_ATTR_RDONLY, 0, 0, 0), 32)\n\
         r = libc.syscall(467, AT_FDCWD, b'{src}', OPEN_TREE_CLONE, attr, 32)\n\
         if r < 0 and ctypes.get_errno() == 38:\n    print('ENOSYS', file=sys.stderr); sys.exit(0)\n\
         assert r >= 0, ctypes.get_errno()\n",
        src = t.path("real/src"),
    );
    let run = run_py(&py);
    if run.stderr.contains("ENOSYS") {
        eprintln!("SKIPPED: this kernel has no open_tree_attr (Linux 6.15+)");
        return;
    }
    let m = mount_where(&run, "open_tree_attr", |_| true);
    assert_eq!(m["detached"], true, "{m}");
    assert_eq!(m["attr_set"], 1, "MOUNT_ATTR_RDONLY: {m}");
    assert_eq!(m["source_path"], t.path("real/src").as_str());
}

#[test]
fn mount_setattr_on_a_detached_mount_fd_and_on_a_relative_path() {
    let t = tree();
    let py = format!(
        "mnt = fsmount(b'agentmon-attr')\n\
         setattr(mnt, b'', AT_EMPTY_PATH, MOUNT_ATTR_RDONLY, 0)\n\
         sc(MOVE_MOUNT, mnt, b'', AT_FDCWD, b'{target}', MOVE_MOUNT_F_EMPTY_PATH)\n\
         os.chdir('{link}')\n\
         setattr(AT_FDCWD, b't', 0, 0, MOUNT_ATTR_RDONLY)\n",
        target = t.path("real/t"),
        link = t.path("link"),
    );
    let run = run_py(&py);
    let on_fd = mount_where(&run, "mount_setattr", |e| e["attr_set"] == 1);
    assert_eq!(on_fd["detached"], true, "{on_fd}");
    assert_eq!(on_fd["fstype"], "tmpfs");
    assert_eq!(on_fd["source"], "agentmon-attr");
    let on_path = mount_where(&run, "mount_setattr", |e| e["attr_clr"] == 1);
    assert_eq!(on_path["target"], "t");
    assert_eq!(on_path["target_path"], t.real("t").as_str());
    assert_eq!(on_path["result"], 0);
}

#[test]
fn fspick_reconfiguring_a_mount_is_seen_by_path_through_a_symlinked_cwd_and_by_fd() {
    // fspick + fsconfig(FSCONFIG_CMD_RECONFIGURE): an existing mount's superblock remounted
    // (read-only here; read-write is the attack), without mount(2). Plain: an absolute path.
    // Dodging: a relative path from a working directory entered through a symlink, and an `O_PATH`
    // fd of the mount (`FSPICK_EMPTY_PATH`) opened through the symlink.
    let t = tree();
    let py = format!(
        "libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]\n\
         assert libc.mount(b'agentmon-pick', b'{a}', b'tmpfs', 0, None) == 0, ctypes.get_errno()\n\
         assert libc.mount(b'agentmon-pick-fd', b'{b}', b'tmpfs', 0, None) == 0, ctypes.get_errno()\n\
         def reconfigure_ro(fs):\n\
         \x20   sc(FSCONFIG, fs, 0, b'ro', None, 0)\n\
         \x20   sc(FSCONFIG, fs, 7, None, None, 0)\n\
         reconfigure_ro(sc(FSPICK, AT_FDCWD, b'{a}', 0))\n\
         assert os.statvfs('{a}').f_flag & os.ST_RDONLY\n\
         os.chdir('{link}')\n\
         sc(FSPICK, AT_FDCWD, b'a', 0)\n\
         d = os.open('{link}/b', os.O_PATH)\n\
         reconfigure_ro(sc(FSPICK, d, b'', 8))\n\
         assert os.statvfs('{b}').f_flag & os.ST_RDONLY\n",
        a = t.path("real/a"),
        b = t.path("real/b"),
        link = t.path("link"),
    );
    let run = run_py(&py);
    let picks = mounts(&run, "fspick");
    assert_eq!(picks.len(), 3, "{picks:?}");
    let plain = mount_where(&run, "fspick", |e| e["target"] == t.path("real/a").as_str());
    assert_eq!(plain["target_path"], t.real("a").as_str());
    assert!(plain["result"].as_i64().unwrap() >= 0, "{plain}");
    assert_eq!(
        plain["fstype"], "tmpfs",
        "from the filesystem context the call returned"
    );
    let rel = mount_where(&run, "fspick", |e| e["target"] == "a");
    assert_eq!(rel["target_path"], t.real("a").as_str(), "joined to the kernel's cwd");
    let by_fd = mount_where(&run, "fspick", |e| e["flags"] == 8);
    assert_eq!(by_fd["target_path"], t.real("b").as_str(), "the fd's kernel path");
    assert_eq!(by_fd["source"], "agentmon-pick-fd", "the mount's own device name");
    assert_eq!(by_fd["fstype"], "tmpfs");
}

#[test]
fn a_deny_rule_by_fstype_kills_fspick_by_path() {
    // The fstype of an fspick by path comes from the filesystem context the call returned, so a
    // deny rule by fstype holds there too (nothing is reconfigured: the caller dies at the exit).
    let rules = rules_dir(
        "- rule: No proc reconfiguration\n  desc: test\n  condition: evt.kind = mount and mount.fstype = proc\n  output: denied %mount.syscall %mount.target\n  priority: CRITICAL\n  action: deny\n",
    );
    let py = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nfd = libc.syscall(433, -100, b'/proc', 0)\nprint('fspick returned', fd)\n";
    let script = format!("/usr/bin/python3 -S -c \"{py}\" >&2; echo status=$? >&2");
    let run = exec_rules(rules.path(), &[], &in_private_mount_ns(&["sh", "-c", &script]));
    assert!(run.stderr.contains("status=137"), "{}", run.stderr);
    assert!(!run.stderr.contains("fspick returned"), "{}", run.stderr);
    let alerts = run.alerts_of("No proc reconfiguration");
    assert!(
        alerts.iter().any(|a| a["output"] == "denied fspick /proc"),
        "{:?}",
        run.fired()
    );
}

#[test]
fn mount_rules_fire_once_per_mount_not_on_a_context_or_a_tree_fd() {
    // A successful fsopen (only a filesystem context) and an open_tree without a clone (an fd of
    // /proc, nothing mounted) carry an fstype too, but mount nothing: the shipped mount rules
    // (`mount_change`) fire for the fsmount that follows, once.
    let py = format!(
        "{MOUNT_API}\n\
         os.close(sc(FSOPEN, b'proc', 0))\n\
         os.close(sc(OPEN_TREE, AT_FDCWD, b'/proc', 0))\n\
         fs = sc(FSOPEN, b'proc', 0)\n\
         sc(FSCONFIG, fs, 6, None, None, 0)\n\
         mnt = sc(FSMOUNT, fs, 0, 0)\n"
    );
    let run = exec_rules(
        &shipped_rules(),
        &[],
        &in_private_mount_ns(&["/usr/bin/python3", "-c", &py]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(mounts(&run, "fsopen").len(), 2, "{:?}", run.of_kind("mount"));
    assert_eq!(mount_where(&run, "open_tree", |_| true)["fstype"], "proc");
    mount_where(&run, "fsmount", |_| true);
    for rule in ["Sensitive filesystem mounted", "Mount attempt"] {
        // unshare's own propagation change (mount(2) of /) is a mount attempt too: only python's.
        let syscalls: Vec<&Value> = run
            .alerts_of(rule)
            .into_iter()
            .filter(|a| a["event"]["comm"] == "python3")
            .map(|a| &a["event"]["syscall"])
            .collect();
        assert_eq!(syscalls, ["fsmount"], "{rule}");
    }
}

#[test]
fn refused_mounts_are_seen_with_their_errno() {
    let t = tree();
    let target = t.path("real/a");
    // Without privilege (uid nobody), mount(2) and fsopen fail with EPERM.
    let py = format!(
        "libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]\n\
         os.setgid(65534); os.setuid(65534)\n\
         assert libc.mount(b'agentmon-refused', b'{target}', b'tmpfs', 0, None) == -1\n\
         assert libc.syscall(FSOPEN, b'tmpfs', 0) == -1\n"
    );
    let run = run_py(&py);
    let m = mount_where(&run, "mount", |e| e["source"] == "agentmon-refused");
    assert_eq!(m["result"], -1, "EPERM: {m}");
    assert_eq!(m["target_path"], target.as_str());
    assert_eq!(m["uid"], 65534);
    let f = mount_where(&run, "fsopen", |_| true);
    assert_eq!(f["result"], -1, "EPERM: {f}");
    // Root inside a user namespace that owns no mount namespace: EPERM too.
    let py = format!(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]\n\
         assert libc.mount(b'agentmon-userns', b'{target}', b'tmpfs', 0, None) == -1\n"
    );
    let run = exec_json(&[], &["unshare", "-U", "-r", "/usr/bin/python3", "-c", &py]);
    assert!(run.status.success(), "{}", run.stderr);
    let m = mount_where(&run, "mount", |e| e["source"] == "agentmon-userns");
    assert_eq!(m["result"], -1, "EPERM: {m}");
}

#[test]
fn mounts_refused_by_a_seccomp_filter_are_seen_at_exit_with_their_errno() {
    // seccomp runs before `sys_enter_*` and skips the syscall, but the syscall's exit still runs
    // (with the filter's errno as its result): the mount programs, at exit, see the attempt.
    let t = tree();
    let target = t.path("real/a");
    // Root in a private mount namespace: the same mount succeeds before the filter is installed.
    let py = format!(
        "libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]\n\
         assert libc.mount(b'agentmon-before', b'{target}', b'tmpfs', 0, None) == 0\n\
         {}\n\
         assert libc.mount(b'agentmon-seccomp', b'{target}', b'tmpfs', 0, None) == -1\n\
         assert ctypes.get_errno() == 1, ctypes.get_errno()\n\
         assert libc.syscall(FSOPEN, b'agentmon-seccomp-fs', 0) == -1\n",
        seccomp_refusing_py(&[165, 430]) // mount, fsopen
    );
    let run = run_py(&py);
    assert_eq!(
        mount_where(&run, "mount", |e| e["source"] == "agentmon-before")["result"],
        0
    );
    let m = mount_where(&run, "mount", |e| e["source"] == "agentmon-seccomp");
    assert_eq!(m["result"], -1, "EPERM from the filter: {m}");
    assert_eq!(m["target_path"], target.as_str());
    assert_eq!(m["fstype"], "tmpfs");
    let f = mount_where(&run, "fsopen", |e| e["fstype"] == "agentmon-seccomp-fs");
    assert_eq!(f["result"], -1, "EPERM from the filter: {f}");
}

#[test]
fn the_mount_attempt_rule_sees_the_new_api() {
    let rules = rules_dir(
        "- rule: Any mount\n  desc: test\n  condition: evt.kind = mount and not evt.failed and mount.syscall in (fsmount, move_mount)\n  output: \"%mount.syscall %mount.source on %mount.target (detached=%mount.detached)\"\n  priority: WARNING\n",
    );
    let t = tree();
    let script = format!(
        "{MOUNT_API}\nmnt = fsmount(b'agentmon-rule')\nsc(MOVE_MOUNT, mnt, b'', AT_FDCWD, b'{}', MOVE_MOUNT_F_EMPTY_PATH)\n",
        t.path("link/dst")
    );
    let run = exec_rules(
        rules.path(),
        &[],
        &in_private_mount_ns(&["/usr/bin/python3", "-c", &script]),
    );
    assert!(run.status.success(), "{}", run.stderr);
    let outputs: Vec<_> = run
        .alerts_of("Any mount")
        .iter()
        .map(|a| a["output"].as_str().unwrap().to_string())
        .collect();
    assert!(
        outputs.contains(&"fsmount agentmon-rule on  (detached=true)".to_string()),
        "{outputs:?}"
    );
    assert!(
        outputs.contains(&format!(
            "move_mount agentmon-rule on {} (detached=false)",
            t.real("dst")
        )),
        "{outputs:?}"
    );
}
