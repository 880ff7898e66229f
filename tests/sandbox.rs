//! The sandbox on the real kernel (issue 16). `agentmon learn` watches a benign workload — a small
//! C build, its test and a script run (`tests/fixtures/sandbox-workload/`) — and writes its profile;
//! `agentmon exec --sandbox PROFILE` then reruns it unchanged and undenied, while the same workload
//! hijacked (`run.sh attack …`: read a credential file it never read, mount, make a user namespace,
//! write outside its trees, remove the credentials) is refused by Landlock and seccomp before anything happens, each refusal
//! alerted as the sandbox's. `--sandbox-mode audit` lets the attack run and alerts on each
//! deviation. The exported OCI seccomp profile has Docker's schema and refuses mount in a real
//! container.
//!
//! The workload is learned once per test binary (the profile names its paths); the tests take turns
//! on it, and its directory is removed at exit.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
#![allow(
    clippy::significant_drop_tightening,
    reason = "each test holds the learned workload for its whole run: they take turns on it"
)]
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{Mutex, MutexGuard, PoisonError},
};

use agentmon_e2e::{
    ExecRun, agentmon,
    containers::{Container, Engine, TEST_IMAGE, skip},
    exec_raw,
};
use serde_json::Value;

/// `CLONE_NEWUSER`, as the attack passes it to unshare(2).
const CLONE_NEWUSER: u64 = 0x1000_0000;

/// The learned workload: its directory (a copy of the fixture) and what the attack aims at.
struct Learned {
    root: tempfile::TempDir,
    /// The copied fixture: `run.sh`, the C sources; the build writes here.
    proj: PathBuf,
    /// A credential file the workload never reads.
    secret: PathBuf,
    /// An empty directory the attack mounts a tmpfs on.
    mnt: PathBuf,
    /// A file outside every tree the workload wrote.
    outside: PathBuf,
    profile: PathBuf,
    /// The profile as written.
    text: String,
    /// `agentmon learn`'s exit status: the workload's.
    status: Option<i32>,
}

/// The secret's content: never seen by an enforced run.
const SECRET: &str = "AGENTMON-SANDBOX-TEST-SECRET";

static LEARNED: Mutex<Option<Learned>> = Mutex::new(None);

extern "C" fn remove_learned() {
    // Dropping the TempDir removes the workload's directory (also after a test failed holding it).
    drop(LEARNED.lock().unwrap_or_else(PoisonError::into_inner).take());
}

/// The learned workload, learned on first use; held for the test's whole run.
fn learned() -> MutexGuard<'static, Option<Learned>> {
    let mut g = LEARNED.lock().unwrap_or_else(PoisonError::into_inner);
    if g.is_none() {
        *g = Some(learn());
        // SAFETY: registering a plain extern "C" function.
        unsafe { libc::atexit(remove_learned) };
    }
    g
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        std::fs::copy(e.path(), &dest).unwrap_or_else(|err| panic!("copying {}: {err}", e.path().display()));
    }
}

/// The credential file (the audited attack removes it).
fn write_secret(path: &Path) {
    std::fs::write(path, format!("[default]\naws_secret_access_key = {SECRET}\n")).unwrap();
}

fn learn() -> Learned {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let proj = r.join("proj");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sandbox-workload"),
        &proj,
    );
    for d in ["creds", "mnt", "elsewhere"] {
        std::fs::create_dir(r.join(d)).unwrap();
    }
    let secret = r.join("creds/credentials");
    write_secret(&secret);
    let profile = r.join("profile.yaml");
    let out = agentmon()
        .arg("learn")
        .arg("--output")
        .arg(&profile)
        .arg("--")
        .arg(proj.join("run.sh"))
        .output()
        .expect("running agentmon learn");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "learning failed ({}): {stderr}\nworkload log: {}",
        out.status,
        std::fs::read_to_string(proj.join("out/run.log")).unwrap_or_default()
    );
    let text = std::fs::read_to_string(&profile).unwrap_or_else(|e| panic!("no profile written ({e}): {stderr}"));
    Learned {
        proj,
        secret,
        mnt: r.join("mnt"),
        outside: r.join("elsewhere/stolen"),
        profile,
        text,
        status: out.status.code(),
        root,
    }
}

impl Learned {
    /// `agentmon exec --json --no-rules --sandbox PROFILE --sandbox-mode MODE -- run.sh ARGS…`: every
    /// event and the sandbox's alerts (its rules apply with `--no-rules`).
    fn exec(&self, mode: &str, args: &[&Path]) -> ExecRun {
        let _ = std::fs::remove_file(self.proj.join("out/result.txt"));
        let profile = self.profile.to_string_lossy().into_owned();
        let run = self.proj.join("run.sh").to_string_lossy().into_owned();
        let mut cmd = vec![run.as_str()];
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        if !args.is_empty() {
            cmd.push("attack");
            cmd.extend(args.iter().map(String::as_str));
        }
        exec_raw(&["--no-rules", "--sandbox", &profile, "--sandbox-mode", mode], &cmd)
    }

    /// `run.sh attack` against this workload's targets.
    fn attack(&self, mode: &str) -> (ExecRun, String) {
        let _ = std::fs::remove_file(&self.outside);
        write_secret(&self.secret);
        let r = self.exec(mode, &[&self.secret, &self.mnt, &self.outside]);
        (r, self.log())
    }

    /// The workload's output (`out/run.log`).
    fn log(&self) -> String {
        std::fs::read_to_string(self.proj.join("out/run.log")).unwrap_or_default()
    }

    /// The entries of one of the profile's path lists (`files.read`, …).
    fn entries(&self, section: &str, key: &str) -> Vec<String> {
        let (mut in_section, mut in_key) = (false, false);
        let mut out = Vec::new();
        for line in self.text.lines() {
            if !line.starts_with(' ') {
                in_section = line.trim_end() == format!("{section}:");
                in_key = false;
            } else if in_section && !line.starts_with("    ") {
                in_key = line.trim() == format!("{key}:");
            } else if in_section
                && in_key
                && let Some(item) = line.trim().strip_prefix("- ")
            {
                out.push(serde_json::from_str(item).unwrap_or_else(|e| panic!("profile item {item}: {e}")));
            }
        }
        out
    }
}

/// Whether a profile entry covers `path` (a trailing `/` is a tree).
fn covers(entry: &str, path: &Path) -> bool {
    let path = path.to_string_lossy();
    match entry.strip_suffix('/') {
        Some(dir) => path.starts_with(entry) || path == dir || entry == "/",
        None => path == entry,
    }
}

/// Whether something is mounted at `dir` (this process's mount namespace: the host's).
fn mounted(dir: &Path) -> bool {
    let d = dir.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some(&d))
}

/// Unmounts what an audit-mode attack mounted, even when the test fails.
struct Unmount<'a>(&'a Path);

impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        while mounted(self.0) {
            let Ok(c) = std::ffi::CString::new(self.0.to_string_lossy().as_bytes()) else {
                return;
            };
            // SAFETY: a NUL-terminated path we own.
            if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
                return;
            }
        }
    }
}

/// The sandbox's alerts (its rules are tagged `sandbox`).
fn sandbox_alerts(r: &ExecRun) -> Vec<&Value> {
    r.alerts()
        .into_iter()
        .filter(|a| a["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == "sandbox")))
        .collect()
}

/// The one alert of `rule` whose event satisfies `pred`.
fn alert<'a>(r: &'a ExecRun, rule: &str, what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    let found: Vec<&Value> = r.alerts_of(rule).into_iter().filter(|a| pred(&a["event"])).collect();
    assert_eq!(
        found.len(),
        1,
        "one '{rule}' alert for {what}; the sandbox's alerts: {:#?}",
        sandbox_alerts(r).iter().map(|a| &a["output"]).collect::<Vec<_>>()
    );
    found[0]
}

/// A test on an event.
type Pred<'a> = Box<dyn Fn(&Value) -> bool + 'a>;

fn opened(e: &Value, path: &Path) -> bool {
    e["kind"] == "open" && e["resolved_path"].as_str() == Some(&*path.to_string_lossy())
}

fn removed(e: &Value, path: &Path) -> bool {
    e["kind"] == "unlink" && e["resolved_path"].as_str() == Some(&*path.to_string_lossy())
}

fn syscall(e: &Value, name: &str) -> bool {
    e["kind"] == "syscall" && e["name"] == name
}

#[test]
fn the_learned_workload_reruns_under_its_profile_as_it_ran_and_undenied() {
    let g = learned();
    let w = g.as_ref().unwrap();
    assert_eq!(w.status, Some(0), "the workload succeeded while learned: {}", w.log());
    for line in ["complete: true", "drops: 0", "exit_status: 0"] {
        assert!(w.text.contains(line), "profile coverage lacks `{line}`:\n{}", w.text);
    }
    for (section, key, p) in [("files", "read", &w.secret), ("files", "write", &w.outside)] {
        let entries = w.entries(section, key);
        assert!(!entries.is_empty(), "no {section}.{key} entries:\n{}", w.text);
        assert!(
            !entries.iter().any(|e| covers(e, p)),
            "the learned {section}.{key} covers {} (the attack would be allowed): {entries:?}",
            p.display()
        );
    }
    let check = agentmon().args(["profile", "check"]).arg(&w.profile).output().unwrap();
    assert!(
        check.status.success(),
        "profile check: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    let r = w.exec("enforce", &[]);
    assert!(
        r.stderr.contains("sandbox: enforce: Landlock ABI"),
        "the sandbox says what it applied: {}",
        r.stderr
    );
    assert_eq!(
        r.status.code(),
        w.status,
        "same exit status as learned; log: {}\n{}",
        w.log(),
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(w.proj.join("out/result.txt")).unwrap_or_default(),
        "8 words\n",
        "the workload did its work; log: {}",
        w.log()
    );
    let denials = sandbox_alerts(&r);
    assert!(
        denials.is_empty(),
        "no deviation and no denial: {:#?}",
        denials
            .iter()
            .map(|a| (&a["output"], &a["action_result"]))
            .collect::<Vec<_>>()
    );
    assert!(!r.events.iter().any(|e| e["kind"] == "syscall"), "no syscall refused");
    // The events were seen (the sandbox did not blind the monitor).
    assert!(r.of_kind("exec").len() >= 5, "{} execs", r.of_kind("exec").len());

    // Audit mode on the same workload: nothing to report either.
    let r = w.exec("audit", &[]);
    assert_eq!(r.status.code(), w.status, "{}", r.stderr);
    let deviations = sandbox_alerts(&r);
    assert!(
        deviations.is_empty(),
        "audit mode alerts on nothing the profile allows: {:#?}",
        deviations.iter().map(|a| &a["output"]).collect::<Vec<_>>()
    );
}

#[test]
fn the_enforced_profile_refuses_the_attack_before_it_happens_and_alerts_each_denial() {
    let g = learned();
    let w = g.as_ref().unwrap();
    let (r, log) = w.attack("enforce");
    assert!(r.status.success(), "the workload itself still ran: {log}\n{}", r.stderr);
    assert!(
        log.contains("read: errno 13"),
        "credential read refused with EACCES: {log}"
    );
    assert!(log.contains("mount: errno 1"), "mount refused with EPERM: {log}");
    assert!(
        log.contains("unshare: errno 1"),
        "unshare(CLONE_NEWUSER) refused with EPERM: {log}"
    );
    assert!(
        log.contains("write: errno 13"),
        "write outside refused with EACCES: {log}"
    );
    assert!(
        log.contains("unlink: errno 13"),
        "removing the credentials refused with EACCES: {log}"
    );
    // Synchronously: nothing happened.
    assert!(!log.contains("read: ok") && !r.stderr.contains(SECRET) && !log.contains(SECRET));
    assert!(!mounted(&w.mnt), "a mount exists at {}", w.mnt.display());
    assert!(!w.outside.exists(), "{} was created", w.outside.display());
    assert!(w.secret.exists(), "{} was removed", w.secret.display());
    let opens: Vec<&Value> = r.events.iter().filter(|e| opened(e, &w.secret)).collect();
    assert!(!opens.is_empty(), "the refused open is an event");
    assert!(
        opens.iter().all(|e| e["result"] == -13),
        "every open of the secret failed with EACCES: {opens:?}"
    );

    let landlock = "denied by sandbox (landlock)";
    let seccomp = "denied by sandbox (seccomp)";
    let read = alert(&r, "Profile deviation: file read", "the credential read", |e| {
        opened(e, &w.secret)
    });
    assert_eq!(read["action_result"], landlock);
    assert_eq!(read["event"]["result"], -13);
    let write = alert(&r, "Profile deviation: file write", "the write outside", |e| {
        opened(e, &w.outside)
    });
    assert_eq!(write["action_result"], landlock);
    assert_eq!(write["event"]["result"], -13);
    let unlink = alert(&r, "Profile deviation: file write", "the removal", |e| {
        removed(e, &w.secret)
    });
    assert_eq!(unlink["action_result"], landlock);
    assert_eq!(unlink["event"]["result"], -13);
    let mount = alert(&r, "Profile deviation: syscall", "mount", |e| syscall(e, "mount"));
    assert_eq!(mount["action_result"], seccomp);
    assert_eq!(
        (&mount["event"]["result"], &mount["event"]["refused"]),
        (&(-1).into(), &true.into())
    );
    let unshare = alert(&r, "Profile deviation: syscall", "unshare", |e| syscall(e, "unshare"));
    assert_eq!(unshare["action_result"], seccomp);
    assert_eq!(unshare["event"]["args"][0], format!("{CLONE_NEWUSER:#x}"));
    assert_eq!(unshare["event"]["result"], -1);
    assert_eq!(
        sandbox_alerts(&r).len(),
        5,
        "nothing else deviated: {:#?}",
        sandbox_alerts(&r).iter().map(|a| &a["output"]).collect::<Vec<_>>()
    );
}

#[test]
fn audit_mode_lets_the_attack_run_and_alerts_each_deviation() {
    let g = learned();
    let w = g.as_ref().unwrap();
    let _unmount = Unmount(&w.mnt);
    let (r, log) = w.attack("audit");
    assert!(r.status.success(), "{log}\n{}", r.stderr);
    assert!(
        r.stderr.contains("sandbox: audit mode: nothing applied"),
        "{}",
        r.stderr
    );
    for line in ["read: ok", "mount: ok", "unshare: ok", "write: ok", "unlink: ok"] {
        assert!(
            log.contains(line),
            "audit mode applies nothing: `{line}` missing from {log}"
        );
    }
    assert!(mounted(&w.mnt), "the audited mount happened");
    assert!(w.outside.exists(), "the audited write happened");
    assert!(!w.secret.exists(), "the audited removal happened");
    let _ = std::fs::remove_file(&w.outside);

    let audit = "alerted (audit mode: allowed)";
    let expected: [(&str, &str, Pred<'_>); 5] = [
        (
            "Profile deviation: file read",
            "the credential read",
            Box::new(|e: &Value| opened(e, &w.secret)),
        ),
        (
            "Profile deviation: file write",
            "the write outside",
            Box::new(|e: &Value| opened(e, &w.outside)),
        ),
        (
            "Profile deviation: file write",
            "the removal",
            Box::new(|e: &Value| removed(e, &w.secret)),
        ),
        (
            "Profile deviation: syscall",
            "mount",
            Box::new(|e: &Value| syscall(e, "mount")),
        ),
        (
            "Profile deviation: namespaces",
            "the user namespace",
            Box::new(|e: &Value| {
                e["kind"] == "namespace"
                    && e["syscall"] == "unshare"
                    && e["namespaces"]
                        .as_array()
                        .is_some_and(|n| n.iter().any(|t| t == "user"))
            }),
        ),
    ];
    for (rule, what, pred) in expected {
        let a = alert(&r, rule, what, pred);
        assert_eq!(a["action_result"], audit, "{what}");
        assert!(
            a["event"]["result"].as_i64().is_some_and(|r| r >= 0),
            "{what} succeeded: {}",
            a["event"]
        );
    }
    assert!(
        !sandbox_alerts(&r)
            .iter()
            .any(|a| a["action_result"].as_str().is_some_and(|s| s.starts_with("denied"))),
        "nothing is denied in audit mode"
    );
}

/// Why the exported profile is not Docker's seccomp JSON (`None`: it is).
fn oci_schema_problem(v: &Value) -> Option<String> {
    const ACTIONS: &[&str] = &[
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_LOG",
        "SCMP_ACT_NOTIFY",
    ];
    const OPS: &[&str] = &[
        "SCMP_CMP_NE",
        "SCMP_CMP_LT",
        "SCMP_CMP_LE",
        "SCMP_CMP_EQ",
        "SCMP_CMP_GE",
        "SCMP_CMP_GT",
        "SCMP_CMP_MASKED_EQ",
    ];
    const TOP: &[&str] = &[
        "defaultAction",
        "defaultErrnoRet",
        "architectures",
        "archMap",
        "syscalls",
        "flags",
        "listenerPath",
        "listenerMetadata",
    ];
    const GROUP: &[&str] = &["names", "action", "errnoRet", "args", "comment", "includes", "excludes"];
    let obj = v.as_object()?;
    if let Some(k) = obj.keys().find(|k| !TOP.contains(&k.as_str())) {
        return Some(format!("unknown top-level key {k}"));
    }
    if !v["defaultAction"].as_str().is_some_and(|a| ACTIONS.contains(&a)) {
        return Some(format!("defaultAction {}", v["defaultAction"]));
    }
    if !v["architectures"].as_array().is_some_and(|a| {
        !a.is_empty()
            && a.iter()
                .all(|x| x.as_str().is_some_and(|s| s.starts_with("SCMP_ARCH_")))
    }) {
        return Some(format!("architectures {}", v["architectures"]));
    }
    let Some(groups) = v["syscalls"].as_array().filter(|g| !g.is_empty()) else {
        return Some("no syscalls".into());
    };
    for g in groups {
        let Some(o) = g.as_object() else {
            return Some(format!("syscall group {g} is not an object"));
        };
        if let Some(k) = o.keys().find(|k| !GROUP.contains(&k.as_str())) {
            return Some(format!("unknown key {k} in {g}"));
        }
        let names_ok = g["names"].as_array().is_some_and(|n| {
            !n.is_empty()
                && n.iter().all(|x| {
                    x.as_str().is_some_and(|s| {
                        !s.is_empty()
                            && s.bytes()
                                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    })
                })
        });
        if !names_ok {
            return Some(format!("names of {g}"));
        }
        if !g["action"].as_str().is_some_and(|a| ACTIONS.contains(&a)) {
            return Some(format!("action of {g}"));
        }
        if o.contains_key("errnoRet") && !g["errnoRet"].is_u64() {
            return Some(format!("errnoRet of {g}"));
        }
        for a in g["args"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let ok = a["index"].as_u64().is_some_and(|i| i < 6)
                && a["value"].is_u64()
                && a.get("valueTwo").is_none_or(Value::is_u64)
                && a["op"].as_str().is_some_and(|op| OPS.contains(&op));
            if !ok {
                return Some(format!("argument condition {a} of {g}"));
            }
        }
    }
    None
}

/// The names an (unconditional) group with `action` lists.
fn names_with(v: &Value, action: &str) -> Vec<String> {
    v["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| g["action"] == action && g.get("args").is_none())
        .flat_map(|g| g["names"].as_array().into_iter().flatten())
        .filter_map(|n| n.as_str().map(String::from))
        .collect()
}

#[test]
fn the_exported_oci_seccomp_profile_is_dockers_schema_and_refuses_mount_in_a_container() {
    let g = learned();
    let w = g.as_ref().unwrap();
    let out = agentmon()
        .args(["profile", "export", "--format", "oci-seccomp"])
        .arg(&w.profile)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("the export is JSON");
    if let Some(problem) = oci_schema_problem(&v) {
        panic!("not Docker's seccomp schema: {problem}\n{v:#}");
    }
    assert_eq!(
        (&v["defaultAction"], &v["defaultErrnoRet"]),
        (&"SCMP_ACT_ERRNO".into(), &1.into())
    );
    let errno_groups: Vec<&Value> = v["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["action"] == "SCMP_ACT_ERRNO" && g["names"].as_array().unwrap().iter().any(|n| n == "mount"))
        .collect();
    assert!(
        errno_groups.len() == 1 && errno_groups[0]["errnoRet"] == 1,
        "mount refused with EPERM: {errno_groups:?}"
    );
    let allowed = names_with(&v, "SCMP_ACT_ALLOW");
    assert!(allowed.iter().any(|n| n == "execve") && !allowed.iter().any(|n| n == "mount" || n == "unshare"));
    let seccomp_file = w.root.path().join("seccomp.json");
    std::fs::write(&seccomp_file, &out.stdout).unwrap();

    let engine = match Engine::docker() {
        Ok(e) => e,
        Err(docker) => match Engine::podman() {
            Ok(e) => e,
            Err(podman) => {
                skip(
                    "sandbox::the_exported_oci_seccomp_profile_is_dockers_schema_and_refuses_mount_in_a_container",
                    &format!("neither docker ({docker}) nor podman ({podman}) runs here"),
                );
                return;
            }
        },
    };
    // The workload's own program, static: the image holds busybox only.
    let agent = w.root.path().join("agent-static");
    let cc = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(&agent)
        .arg(w.proj.join("agent.c"))
        .arg(w.proj.join("words.c"))
        .output()
        .expect("running cc");
    assert!(
        cc.status.success(),
        "cc -static: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let volume = format!("{}:/agent:ro", agent.display());
    let run = |seccomp: &str| -> String {
        let c = Container {
            engine: engine.clone(),
            name: Engine::unique_name("sandbox-oci"),
        };
        // CAP_SYS_ADMIN, so that only the seccomp profile stands between the container and a mount.
        let out = engine
            .cmd(&[
                "run",
                "--name",
                &c.name,
                "--network",
                "none",
                "--cap-drop=ALL",
                "--cap-add=SYS_ADMIN",
                "--security-opt",
                "apparmor=unconfined",
                "--security-opt",
                &format!("seccomp={seccomp}"),
                "-v",
                &volume,
                TEST_IMAGE,
                "/agent",
                "attack",
                "/etc/secret",
                "/tmp",
                "/tmp/written",
            ])
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "{} run with seccomp={seccomp}: {text}",
            engine.name()
        );
        text
    };
    // Without the profile the same container mounts: what refuses it below is the profile.
    let unconfined = run("unconfined");
    assert!(unconfined.contains("mount: ok"), "{unconfined}");
    let confined = run(&seccomp_file.to_string_lossy());
    assert!(
        confined.contains("mount: errno 1"),
        "{}: mount refused with EPERM under the exported profile: {confined}",
        engine.name()
    );
    assert!(confined.contains("unshare: errno 1"), "{confined}");
    assert!(confined.contains("read: ok"), "seccomp does not see paths: {confined}");
}
