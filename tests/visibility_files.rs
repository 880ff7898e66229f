//! Every way in to a file (issue 11, files): each file operation performed by a process in a
//! watched cgroup, in its plain form and in a form meant to dodge a path check (a relative name
//! from another working directory, a symlinked directory, `/proc/self/cwd`, a descriptor whose
//! file was renamed, a failed attempt), is reported with the kernel's view of what it named.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::path::{Path, PathBuf};

use agentmon_e2e::*;
use serde_json::Value;

/// A scratch tree for one test, canonical (so paths compare with what the kernel walks).
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = std::fs::canonicalize(dir.path()).expect("canonical tempdir");
        Self { _dir: dir, root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn s(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }

    fn dir(&self, rel: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).expect("mkdir");
        p
    }

    fn file(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
        p
    }

    fn symlink(&self, target: &str, rel: &str) {
        std::os::unix::fs::symlink(target, self.path(rel)).expect("symlink");
    }
}

/// The events of `kind` whose `key` equals `value`.
fn events_where<'a>(run: &'a ExecRun, kind: &str, key: &str, value: &str) -> Vec<&'a Value> {
    run.of_kind_with(kind, key, value)
}

/// The one event of `kind` with `key` = `value` (panics with what was seen otherwise).
fn event<'a>(run: &'a ExecRun, kind: &str, key: &str, value: &str) -> &'a Value {
    let found = events_where(run, kind, key, value);
    assert!(
        !found.is_empty(),
        "no {kind} event with {key}={value}; {kind} events: {:#?}\nstderr: {}",
        run.of_kind(kind),
        run.stderr
    );
    found[0]
}

fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

fn py(code: &str) -> Vec<String> {
    vec!["/usr/bin/python3".into(), "-c".into(), code.into()]
}

/// `agentmon exec` with `rules` (a YAML text) and the agent's protected paths, running `cmd`.
fn run_with(rules: &str, protect: &[&Path], cmd: &[String]) -> ExecRun {
    let dir = rules_dir(rules);
    let mut extra: Vec<String> = Vec::new();
    for p in protect {
        extra.push("--protect".into());
        extra.push(p.to_string_lossy().into_owned());
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let cmd: Vec<&str> = cmd.iter().map(String::as_str).collect();
    let run = exec_rules(dir.path(), &extra, &cmd);
    assert!(run.status.success(), "agent failed: {}", run.stderr);
    run
}

/// A copy of the shipped rules plus `extra` (YAML), for tests that need both.
fn shipped_plus(extra: &str) -> String {
    let mut all = String::new();
    for name in ["00-lists.yaml", "files.yaml"] {
        all.push_str(&std::fs::read_to_string(shipped_rules().join(name)).expect("shipped rules"));
        all.push('\n');
    }
    all.push_str(extra);
    all
}

const DRIFT: &str = "Agent code or config modified";

#[test]
fn rename_over_a_protected_file_through_a_symlinked_directory_and_a_relative_path() {
    let t = Tree::new();
    let protected = t.dir("agent");
    t.file("agent/config.yaml", "model: x\n");
    t.dir("work");
    t.dir("elsewhere");
    t.symlink("../agent", "work/cfgdir");
    // Plain: an absolute rename over the file. Dodging: from another working directory, a relative
    // name through a symlinked directory (`../work/cfgdir` → `agent`).
    let script = format!(
        "echo evil > {new1} && mv -f {new1} {target} && \
         cd {elsewhere} && echo evil2 > new2 && mv -f new2 ../work/cfgdir/config.yaml",
        new1 = t.s("work/new1"),
        target = t.s("agent/config.yaml"),
        elsewhere = t.s("elsewhere"),
    );
    let run = run_with(&shipped_plus(""), &[&protected], &sh(&script));
    let target = t.s("agent/config.yaml");

    // mv tries renameat2(RENAME_NOREPLACE) first: a failed attempt (EEXIST), then renameat.
    let renames = events_where(&run, "rename", "path", &target);
    assert!(
        renames
            .iter()
            .any(|e| e["syscall"] == "renameat2" && e["flags"] == 1 && e["result"] == -libc::EEXIST),
        "{renames:?}"
    );
    let plain = renames
        .iter()
        .find(|e| e["result"] == 0)
        .unwrap_or_else(|| panic!("no successful rename: {renames:?}"));
    assert_eq!(plain["resolved_path"], target.as_str());
    assert_eq!(plain["resolved_source"], t.s("work/new1").as_str());

    let dodge = events_where(&run, "rename", "path", "../work/cfgdir/config.yaml");
    let dodge = dodge
        .iter()
        .find(|e| e["result"] == 0)
        .unwrap_or_else(|| panic!("no successful relative rename: {dodge:?}"));
    assert_eq!(dodge["dir_path"], t.s("elsewhere").as_str(), "the kernel's cwd");
    assert_eq!(dodge["source"], "new2");
    assert_eq!(dodge["source_dir_path"], t.s("elsewhere").as_str());
    assert_eq!(
        dodge["resolved_path"],
        target.as_str(),
        "joined to the kernel's cwd, the symlinked directory resolved"
    );
    assert_eq!(dodge["resolved_source"], t.s("elsewhere/new2").as_str());

    // The drift rule (`file.write and file.path startswith agent.protected`) sees both.
    let drift: Vec<_> = run.alerts_of(DRIFT);
    for ev in [*plain, *dodge] {
        assert!(
            drift.iter().any(|a| a["event"]["ktime_ns"] == ev["ktime_ns"]),
            "no drift alert on {ev}; alerts: {:?}",
            run.alerts()
        );
    }
}

#[test]
fn rename_relative_to_a_dirfd_whose_symlink_is_gone() {
    let t = Tree::new();
    let protected = t.dir("agent");
    t.file("agent/config.yaml", "model: x\n");
    t.file("drop/payload", "evil\n");
    t.symlink("agent", "door");
    // renameat(srcfd, "payload", dstfd, "config.yaml") with dstfd opened through a symlink that is
    // removed before the rename: no name of the protected directory is passed, and none is left
    // for userspace to resolve. The kernel's walk of the dirfd names it.
    let code = format!(
        "import os\nsrc = os.open('{drop}', os.O_RDONLY | os.O_DIRECTORY)\n\
         dst = os.open('{door}', os.O_RDONLY | os.O_DIRECTORY)\nos.unlink('{door}')\n\
         os.rename('payload', 'config.yaml', src_dir_fd=src, dst_dir_fd=dst)\n",
        drop = t.s("drop"),
        door = t.s("door"),
    );
    let run = run_with(&shipped_plus(""), &[&protected], &py(&code));
    let ev = event(&run, "rename", "path", "config.yaml");
    assert_eq!(ev["syscall"], "renameat");
    assert_eq!(ev["result"], 0);
    assert_eq!(ev["dir_path"], t.s("agent").as_str(), "the dirfd, walked by the kernel");
    assert_eq!(ev["source_dir_path"], t.s("drop").as_str());
    assert_eq!(ev["resolved_path"], t.s("agent/config.yaml").as_str());
    assert_eq!(ev["resolved_source"], t.s("drop/payload").as_str());
    assert!(
        run.alerts_of(DRIFT)
            .iter()
            .any(|a| a["event"]["ktime_ns"] == ev["ktime_ns"]),
        "no drift alert: {:?}",
        run.alerts()
    );
}

#[test]
fn renameat2_exchange_writes_both_names() {
    let t = Tree::new();
    let protected = t.dir("agent");
    t.file("agent/config.yaml", "model: x\n");
    t.file("tmp/evil", "evil\n");
    // renameat2(AT_FDCWD, config, AT_FDCWD, evil, RENAME_EXCHANGE): the protected name is the
    // *source*, and gets the other file's content.
    let code = format!(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         rc = libc.syscall(316, -100, b'{}', -100, b'{}', 2)\nassert rc == 0, ctypes.get_errno()\n",
        t.s("agent/config.yaml"),
        t.s("tmp/evil")
    );
    let run = run_with(&shipped_plus(""), &[&protected], &py(&code));
    let ev = event(&run, "rename", "path", &t.s("tmp/evil"));
    assert_eq!(ev["syscall"], "renameat2");
    assert_eq!(ev["flags"], 2, "RENAME_EXCHANGE");
    assert_eq!(ev["resolved_source"], t.s("agent/config.yaml").as_str());
    assert!(
        run.alerts_of(DRIFT)
            .iter()
            .any(|a| a["event"]["ktime_ns"] == ev["ktime_ns"]),
        "exchanging the protected file away is drift; alerts: {:?}",
        run.alerts()
    );
}

#[test]
fn unlink_through_proc_self_cwd_names_the_kernels_cwd() {
    let t = Tree::new();
    let protected = t.dir("agent");
    t.file("agent/victim", "x");
    t.file("agent/plain", "x");
    t.dir("agent/sub");
    t.symlink("agent", "cwdlink");
    // Plain: `rm` by absolute name. Dodging: `cd` through a symlink, then remove through
    // `/proc/self/cwd` (rm's own /proc entry, gone when agentmon processes the event), and rmdir
    // with a relative name.
    let script = format!(
        "rm {plain} && cd {cwdlink} && rm /proc/self/cwd/victim && rmdir ./sub",
        plain = t.s("agent/plain"),
        cwdlink = t.s("cwdlink"),
    );
    let run = run_with(&shipped_plus(""), &[&protected], &sh(&script));

    let plain = event(&run, "unlink", "path", &t.s("agent/plain"));
    assert_eq!(plain["resolved_path"], t.s("agent/plain").as_str());

    let ev = event(&run, "unlink", "path", "/proc/self/cwd/victim");
    assert_eq!(ev["result"], 0);
    assert_eq!(
        ev["dir_path"],
        t.s("agent").as_str(),
        "the kernel's cwd, not the symlink"
    );
    assert_eq!(ev["resolved_path"], t.s("agent/victim").as_str());

    let rmdir = event(&run, "unlink", "path", "./sub");
    assert_eq!(rmdir["syscall"], "rmdir");
    assert_eq!(rmdir["flags"], 0x200, "rmdir is AT_REMOVEDIR");
    assert_eq!(rmdir["resolved_path"], t.s("agent/sub").as_str());

    for e in [plain, ev, rmdir] {
        assert!(
            run.alerts_of(DRIFT)
                .iter()
                .any(|a| a["event"]["ktime_ns"] == e["ktime_ns"]),
            "no drift alert on {e}"
        );
    }
}

const CREDENTIAL_LINK_RULE: &str = r#"
- rule: Link to a credential
  desc: test rule
  condition: evt.kind in (link, symlink) and file.source glob "*/.ssh/id_*"
  output: "link %file.path to %file.source"
  priority: WARNING
"#;

#[test]
fn hard_link_and_symlink_to_a_credential() {
    let t = Tree::new();
    t.file("home/.ssh/id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\n");
    t.dir("work");
    t.symlink("../home", "work/h");
    // Hard link by a relative name through a symlinked directory; a symlink whose target text is
    // relative to the link's own directory.
    let script = format!(
        "cd {work} && ln h/.ssh/id_rsa stolen && ln -s ../home/.ssh/id_rsa sl",
        work = t.s("work")
    );
    let run = run_with(CREDENTIAL_LINK_RULE, &[], &sh(&script));
    let key = t.s("home/.ssh/id_rsa");

    let link = event(&run, "link", "path", "stolen");
    assert_eq!(link["source"], "h/.ssh/id_rsa");
    assert_eq!(link["source_dir_path"], t.s("work").as_str());
    assert_eq!(link["resolved_source"], key.as_str());
    assert_eq!(link["resolved_path"], t.s("work/stolen").as_str());

    let sym = event(&run, "symlink", "path", "sl");
    assert_eq!(sym["source"], "../home/.ssh/id_rsa", "the target text as stored");
    assert_eq!(
        sym["resolved_source"],
        key.as_str(),
        "resolved against the link's directory"
    );
    assert_eq!(sym["resolved_path"], t.s("work/sl").as_str());

    let alerts = run.alerts_of("Link to a credential");
    for e in [link, sym] {
        assert!(
            alerts.iter().any(|a| a["event"]["ktime_ns"] == e["ktime_ns"]),
            "no alert on {e}: {alerts:?}"
        );
    }
}

#[test]
fn linkat_empty_path_names_the_descriptors_file() {
    let t = Tree::new();
    let secret = t.file("secret", "s3cr3t\n");
    t.symlink("secret", "decoy");
    // Open through a symlink, remove the symlink, then link the descriptor itself
    // (linkat(fd, "", AT_FDCWD, alias, AT_EMPTY_PATH)): no name of the file is ever passed.
    let code = format!(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         fd = os.open('{decoy}', os.O_RDONLY)\nos.unlink('{decoy}')\n\
         rc = libc.syscall(265, fd, b'', -100, b'{alias}', 0x1000)\nassert rc == 0, ctypes.get_errno()\n",
        decoy = t.s("decoy"),
        alias = t.s("alias"),
    );
    let run = run_with(CREDENTIAL_LINK_RULE, &[], &py(&code));
    let ev = event(&run, "link", "path", &t.s("alias"));
    assert_eq!(ev["source"], "");
    assert_eq!(ev["source_kernel_path"], secret.to_string_lossy().as_ref());
    assert_eq!(ev["resolved_source"], secret.to_string_lossy().as_ref());
}

const CHMOD_RULE: &str = r#"
- rule: Setuid bit set
  desc: test rule
  condition: evt.kind = chmod and file.setuid
  output: "setuid on %file.path mode %file.mode"
  priority: WARNING
"#;

#[test]
fn chmod_setuid_on_a_dropped_binary_by_name_and_by_descriptor() {
    let t = Tree::new();
    t.dir("bin");
    // Plain: chmod u+s by name (fchmodat). Dodging: open the binary, rename it, fchmod the
    // descriptor (no name passed; the kernel's path is the file's current one).
    let script = format!(
        "cp /bin/true {a} && chmod u+s {a} && cp /bin/true {b} && \
         exec /usr/bin/python3 -c \"import os; fd = os.open('{b}', os.O_RDONLY); os.rename('{b}', '{c}'); os.fchmod(fd, 0o4755)\"",
        a = t.s("bin/dropped"),
        b = t.s("bin/dropped2"),
        c = t.s("bin/renamed"),
    );
    let run = run_with(CHMOD_RULE, &[], &sh(&script));

    let by_name = event(&run, "chmod", "path", &t.s("bin/dropped"));
    assert_ne!(by_name["mode"].as_u64().unwrap() & 0o4000, 0, "{by_name}");
    assert_eq!(by_name["resolved_path"], t.s("bin/dropped").as_str());

    let by_fd = event(&run, "chmod", "syscall", "fchmod");
    assert_eq!(by_fd["mode"], 0o4755);
    assert_eq!(by_fd["path"], "");
    assert_eq!(
        by_fd["kernel_path"],
        t.s("bin/renamed").as_str(),
        "the descriptor's file, walked by the kernel"
    );
    assert_eq!(by_fd["resolved_path"], t.s("bin/renamed").as_str());

    let alerts = run.alerts_of("Setuid bit set");
    for e in [by_name, by_fd] {
        assert!(
            alerts.iter().any(|a| a["event"]["ktime_ns"] == e["ktime_ns"]),
            "no alert on {e}: {alerts:?}"
        );
    }
}

#[test]
fn chown_by_name_and_by_descriptor() {
    let t = Tree::new();
    let f = t.file("f", "x");
    let g = t.file("g", "x");
    t.symlink("g", "g-link");
    // By name; by a descriptor opened through a symlink (the kernel's path is the file's).
    let code = format!(
        "import os\nos.chown('{f}', 1234, 5678)\nfd = os.open('{l}', os.O_RDONLY)\nos.fchown(fd, 42, -1)\n",
        f = f.display(),
        l = t.s("g-link")
    );
    let run = run_with(
        "- rule: Chown\n  desc: t\n  condition: evt.kind = chown and file.uid = 42\n  output: x\n  priority: NOTICE\n",
        &[],
        &py(&code),
    );
    let by_name = event(&run, "chown", "path", &t.s("f"));
    assert_eq!(
        (by_name["uid"].as_u64(), by_name["gid"].as_u64()),
        (Some(1234), Some(5678))
    );
    let by_fd = event(&run, "chown", "syscall", "fchown");
    assert_eq!(by_fd["uid"], 42);
    assert_eq!(by_fd["gid"], u64::from(u32::MAX), "-1: unchanged");
    assert_eq!(by_fd["kernel_path"], g.to_string_lossy().as_ref(), "{by_fd}");
    assert_eq!(run.alerts_of("Chown").len(), 1);
}

#[test]
fn truncate_by_name_and_by_descriptor() {
    let t = Tree::new();
    let protected = t.dir("agent");
    t.file("agent/code.py", "print('hello')\n");
    t.file("agent/other.py", "x = 1\n");
    t.dir("elsewhere");
    t.symlink("../agent", "elsewhere/a");
    // truncate(2) by a relative name through a symlinked directory, and ftruncate on a
    // descriptor opened read-write (the open is a write too; the truncate is its own event).
    let code = format!(
        "import os\nos.chdir('{elsewhere}')\nos.truncate('a/code.py', 1)\n\
         fd = os.open('{other}', os.O_RDWR)\nos.ftruncate(fd, 2)\n",
        elsewhere = t.s("elsewhere"),
        other = t.s("agent/other.py"),
    );
    let run = run_with(&shipped_plus(""), &[&protected], &py(&code));
    let by_name = event(&run, "truncate", "path", "a/code.py");
    assert_eq!(by_name["syscall"], "truncate");
    assert_eq!(by_name["length"], 1);
    assert_eq!(by_name["dir_path"], t.s("elsewhere").as_str());
    assert_eq!(by_name["resolved_path"], t.s("agent/code.py").as_str());
    let by_fd = event(&run, "truncate", "syscall", "ftruncate");
    assert_eq!(by_fd["length"], 2);
    assert_eq!(by_fd["kernel_path"], t.s("agent/other.py").as_str());
    for e in [by_name, by_fd] {
        assert!(
            run.alerts_of(DRIFT)
                .iter()
                .any(|a| a["event"]["ktime_ns"] == e["ktime_ns"]),
            "no drift alert on {e}"
        );
    }
}

#[test]
fn mknod_of_a_fifo() {
    let t = Tree::new();
    t.dir("d");
    let code = format!(
        "import os, stat\nos.chdir('{d}')\nos.mknod('pipe', 0o600 | stat.S_IFIFO)\n",
        d = t.s("d")
    );
    let run = run_with(
        "- rule: FIFO made\n  desc: t\n  condition: evt.kind = mknod and file.type = fifo\n  output: x\n  priority: NOTICE\n",
        &[],
        &py(&code),
    );
    let ev = event(&run, "mknod", "path", "pipe");
    assert_eq!(ev["mode"].as_u64().unwrap() as u32 & libc::S_IFMT, libc::S_IFIFO);
    assert_eq!(ev["resolved_path"], t.s("d/pipe").as_str());
    assert_eq!(run.alerts_of("FIFO made").len(), 1);
}

#[test]
fn failed_attempts_carry_their_errno() {
    let t = Tree::new();
    // Readable and searchable by everyone, writable by root only.
    std::fs::set_permissions(&t.root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    t.file("rootfile", "x");
    // As nobody: unlink → EACCES (the directory is not writable), chmod → EPERM (not the owner);
    // as anyone: rename of a missing file → ENOENT.
    let script = format!(
        "setpriv --reuid 65534 --regid 65534 --clear-groups sh -c 'rm -f {f}; chmod 777 {f}'; \
         mv {missing} {dest}; true",
        f = t.s("rootfile"),
        missing = t.s("missing"),
        dest = t.s("dest"),
    );
    let run = run_with(
        "- rule: Refused unlink\n  desc: t\n  condition: evt.kind = unlink and evt.failed and evt.errno = 13\n  output: x\n  priority: NOTICE\n",
        &[],
        &sh(&script),
    );
    let unlink = event(&run, "unlink", "path", &t.s("rootfile"));
    assert_eq!(unlink["result"], -libc::EACCES, "{unlink}");
    assert_eq!(unlink["uid"], 65534);
    let chmod = event(&run, "chmod", "path", &t.s("rootfile"));
    assert_eq!(chmod["result"], -libc::EPERM, "{chmod}");
    let rename = events_where(&run, "rename", "source", &t.s("missing"));
    assert!(
        rename.iter().any(|e| e["result"] == -libc::ENOENT),
        "no failed rename: {rename:?}"
    );
    assert!(
        run.alerts_of("Refused unlink")
            .iter()
            .any(|a| a["event"]["ktime_ns"] == unlink["ktime_ns"])
    );
    assert!(t.path("rootfile").exists());
}

/// One rule per new kind.
const EVERY_KIND_RULES: &str = r#"
- rule: R rename
  desc: t
  condition: evt.kind = rename and file.path endswith /moved and file.source endswith /orig
  output: "rename %file.source %file.path"
  priority: NOTICE
- rule: R unlink
  desc: t
  condition: evt.kind = unlink and file.path endswith /moved
  output: "unlink %file.path"
  priority: NOTICE
- rule: R link
  desc: t
  condition: evt.kind = link and file.source endswith /orig2
  output: "link %file.path"
  priority: NOTICE
- rule: R symlink
  desc: t
  condition: evt.kind = symlink and file.raw_source = orig2
  output: "symlink %file.path"
  priority: NOTICE
- rule: R chmod
  desc: t
  condition: evt.kind = chmod and file.setgid
  output: "chmod %file.path %file.mode"
  priority: NOTICE
- rule: R chown
  desc: t
  condition: evt.kind = chown and file.gid = 7
  output: "chown %file.path %file.uid %file.gid"
  priority: NOTICE
- rule: R truncate
  desc: t
  condition: evt.kind = truncate and file.length = 3
  output: "truncate %file.path"
  priority: NOTICE
- rule: R mknod
  desc: t
  condition: evt.kind = mknod and file.type = fifo and evt.syscall = mknodat
  output: "mknod %file.path"
  priority: NOTICE
- rule: R failed
  desc: t
  condition: evt.kind = rename and evt.failed and evt.errno = 2
  output: "failed %file.path %evt.errno"
  priority: NOTICE
"#;

#[test]
fn file_operations_replay_to_the_live_alerts() {
    let t = Tree::new();
    t.dir("d");
    t.dir("other");
    t.symlink("../d", "other/dl");
    let rules = rules_dir(EVERY_KIND_RULES);
    let log = t.path("live.agentlog");
    let script = format!(
        "cd {other} && echo x > dl/orig && mv dl/orig dl/moved && rm dl/moved && echo y > dl/orig2 && \
         ln dl/orig2 dl/hard && ln -s orig2 dl/soft && chmod g+s dl/orig2 && chown 0:7 dl/orig2 && \
         truncate -s 3 dl/orig2 && mkfifo dl/fifo && mv dl/nothing dl/x 2>/dev/null; true",
        other = t.s("other")
    );
    let log_arg = log.to_str().expect("utf-8 path");
    let live = exec_rules(rules.path(), &["--record", log_arg], &["/bin/sh", "-c", &script]);
    assert!(live.status.success(), "{}", live.stderr);
    for kind in [
        "rename", "unlink", "link", "symlink", "chmod", "chown", "truncate", "mknod", "failed",
    ] {
        assert!(
            !live.alerts_of(&format!("R {kind}")).is_empty(),
            "R {kind} did not fire live; fired {:?}; events {:#?}",
            live.fired(),
            live.events
                .iter()
                .filter(|e| e["kind"] != "open" && e["kind"] != "exec")
                .collect::<Vec<_>>()
        );
    }
    let replayed = replay_json(rules.path(), log_arg);
    let key = |a: &Value| {
        (
            a["rule"].as_str().unwrap_or_default().to_string(),
            a["event"]["ktime_ns"].as_u64().unwrap_or_default(),
        )
    };
    let mut a: Vec<_> = live.alerts().into_iter().map(key).collect();
    let mut b: Vec<_> = replayed.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "replay gives the live alerts");
    for l in live.alerts() {
        let r = replayed.iter().find(|r| key(r) == key(l)).expect("matched above");
        assert_eq!(r["event"], l["event"], "event of {}", l["rule"]);
        assert_eq!(r["output"], l["output"], "output of {}", l["rule"]);
    }
}
