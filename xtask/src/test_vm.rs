//! `cargo xtask test-vm`: agentmon's kernel tests on the kernels users run, under QEMU.
//!
//! Contract: for each requested kernel (Debian's 6.1 and 6.12 packages, downloaded once with
//! `apt-get download` and cached under `target/vm/kernels/`), boot it under `qemu-system-x86_64`
//! (TCG: KVM hangs after the boot loader on these machines) with an initramfs that holds agentmon,
//! the `agentmon-e2e` test binaries, the rules and fixtures they read (at the same absolute paths as
//! on the host, so `CARGO_MANIFEST_DIR` paths resolve), and the host tools the tests call (bash,
//! python3 and its standard library, coreutils, util-linux, iproute2) with their shared libraries;
//! busybox-static fills the rest. The guest's `/init` mounts proc/sys/dev/tmp, cgroup2, bpffs,
//! tracefs, debugfs and securityfs, brings loopback up, runs the plan (one test binary and filter per
//! line) and prints marker lines on the serial console, which is streamed here:
//! `AGENTMON-VM-END <name> rc=<n>` per binary and `AGENTMON-VM-RESULT rc=<n>` at the end. The
//! kernel's result is that last marker; no marker (a panic, a hang past the timeout) is a failure.
//!
//! No 9p or virtio-fs: packing files into the initramfs avoids the module-order and EINVAL trouble
//! 9p had here, and the guest needs no drivers beyond the built-in serial port.
//!
//! Every plan starts with `agentmon doctor` (the capability table, kept in the console log) and one
//! load of all programs (`agentmon exec -- /bin/true`); when that fails the guest skips the tests.
//! The fast subset (default) is then the capability test, one event per kind and the deny tests;
//! `--full` runs every kernel test binary except the container ones (no docker in the guest).
use std::{
    collections::BTreeSet,
    fs,
    io::{BufRead, BufReader, Write},
    os::unix::fs::{PermissionsExt, symlink},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{cargo, workspace_root};

#[derive(clap::Args)]
pub(crate) struct VmArgs {
    /// Which kernel(s): 6.1, 6.12 or all.
    #[arg(long, default_value = "all")]
    kernel: String,
    /// Run every kernel test binary (except container tests) instead of the fast subset.
    #[arg(long)]
    full: bool,
    /// Minutes to wait for one guest before declaring it hung.
    #[arg(long, default_value_t = 20)]
    timeout_min: u64,
    /// Run this shell command in the guest instead of tests (debugging: `--shell 'agentmon doctor'`).
    #[arg(long, value_name = "CMD")]
    shell: Option<String>,
    /// Replace the plan's filters: `cargo xtask test-vm -- enforce denied_open`. The first word
    /// names the test binary, the rest are libtest filters.
    #[arg(last = true)]
    only: Vec<String>,
    /// `cargo xtask test`'s smaller plan ([`IN_TEST`]) instead of [`FAST`].
    #[arg(skip)]
    in_test: bool,
}

/// One kernel the matrix knows: its short name and the Debian package name pattern (newest wins).
struct Kernel {
    name: &'static str,
    package_regex: &'static str,
    /// Start of the package's name, to find a cached download when apt has no lists.
    cache_prefix: &'static str,
}

const KERNELS: &[Kernel] = &[
    Kernel {
        name: "6.1",
        package_regex: r"^linux-image-6\.1\.0-[0-9]+-amd64$",
        cache_prefix: "linux-image-6.1.0-",
    },
    Kernel {
        name: "6.12",
        package_regex: r"^linux-image-6\.12\.[0-9]+\+deb12-amd64$",
        cache_prefix: "linux-image-6.12.",
    },
];

/// The fast subset: (test binary, libtest filters; empty = all of it). Load + one event per kind
/// (`events`), the deny tests (`enforce`, `vm_deny`) and the capability table (`capabilities`).
const FAST: &[(&str, &[&str])] = &[
    ("capabilities", &[]),
    // Every agentmon start verifies ~100 programs, ≈ 30 s under TCG: one test per kind only.
    (
        "events",
        &[
            "exec_reports_filename_argv_and_ancestry",
            "open_reports_path_flags_and_resolved_path",
            "connect_reports_ipv4_address_and_port",
            "mount_reports_source_target_and_fstype",
        ],
    ),
    (
        "enforce",
        &[
            "denied_exec_never_runs",
            "denied_open_content_is_never_read",
            "deny_connect_is_refused",
        ],
    ),
    ("vm_deny", &[]),
];

/// The plan `cargo xtask test` boots (on [`TEST_KERNELS`], beside the host's tests): after the load
/// of every program, the capability table, one event of the four kinds every rule set leans on,
/// and the synchronous deny of open (the `O_TRUNC` left intact), exec and mount, plus the LSM and
/// fallback paths compared. Each agentmon start costs ≈ 30 s under TCG, so the rest of [`FAST`]
/// (read open, move_mount, the connect gap, the kill fallbacks) waits for `cargo xtask test-vm`.
const IN_TEST: &[(&str, &[&str])] = &[
    ("capabilities", &[]),
    (
        "events",
        &[
            "exec_reports_filename_argv_and_ancestry",
            "open_reports_path_flags_and_resolved_path",
            "connect_reports_ipv4_address_and_port",
            "mount_reports_source_target_and_fstype",
        ],
    ),
    (
        "vm_deny",
        &[
            "a_denied_truncating_open_is_refused_before_it_truncates_where_bpf_lsm_runs",
            "a_denied_mount_never_appears_in_mountinfo_and_fails_with_eperm_where_bpf_lsm_runs",
            "an_open_of_a_path_in_an_unfaulted_page_is_seen_with_its_path_and_denied",
            "both_paths_give_the_same_events",
        ],
    ),
    ("enforce", &["denied_exec_never_runs"]),
];

/// Test binaries the guest cannot run: they need docker/podman and images.
const NOT_IN_GUEST: &[&str] = &["containers", "image"];

/// Host programs the tests call (absolute paths as the tests spell them, or names found in PATH).
const HOST_TOOLS: &[&str] = &[
    "bash", "sh", "python3", "cat", "true", "false", "sleep", "env", "touch", "cp", "mv", "rm", "ls", "head", "id",
    "chmod", "ln", "echo", "mkdir", "dd", "printf", "mount", "umount", "unshare", "setpriv", "nsenter", "chrt", "ip",
    "stat", "readlink", "uname",
];

/// Python's standard library minus what no test imports (keeps the initramfs small).
const PYTHON_SKIP: &[&str] = &[
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
    "config-3.11-x86_64-linux-gnu",
];

pub(crate) fn test_vm(args: &VmArgs) -> Result<()> {
    let (busybox, kernels) = tools_and_kernels(args)?;
    let prepared = prepare(args, &busybox, kernels)?;
    finish(&boot_all(&prepared), if args.full { "full" } else { "fast subset" })
}

/// The host tools the matrix needs (an error naming the package when one is missing), busybox's
/// path, and the kernels asked for.
fn tools_and_kernels(args: &VmArgs) -> Result<(PathBuf, Vec<&'static Kernel>)> {
    for tool in ["qemu-system-x86_64", "apt-get", "apt-cache", "dpkg-deb", "cpio"] {
        if which(tool).is_none() {
            bail!(
                "`{tool}` is missing: install it with \
                 `apt-get install -y --no-install-recommends qemu-system-x86 busybox-static cpio` \
                 (apt-get/dpkg-deb come with Debian; this command needs a Debian-like host)"
            );
        }
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .context("busybox is missing: `apt-get install -y busybox-static`")?;
    let kernels: Vec<&'static Kernel> = match args.kernel.as_str() {
        "all" => KERNELS.iter().collect(),
        k => vec![
            KERNELS
                .iter()
                .find(|x| x.name == k)
                .with_context(|| format!("unknown kernel {k:?}: one of 6.1, 6.12, all"))?,
        ],
    };
    Ok((busybox, kernels))
}

/// Everything a boot needs, built and fetched: the initramfs and each kernel's vmlinuz.
pub(crate) struct Prepared {
    initramfs: PathBuf,
    kernels: Vec<(&'static str, PathBuf)>,
    timeout: Duration,
    /// Stream each guest's console here (else only into its log, printed whole if it fails).
    echo: bool,
}

/// Builds agentmon, the kernel tests and the initramfs, and fetches the kernels (cargo and apt run
/// here, so that the boots can run beside other work).
fn prepare(args: &VmArgs, busybox: &Path, kernels: Vec<&'static Kernel>) -> Result<Prepared> {
    let t = Instant::now();
    crate::run(cargo().args(["build", "-p", "monitor", "--bin", "agentmon"]))?;
    let tests = build_tests()?;
    let plan = plan(args, &tests)?;
    let vm = workspace_root().join("target/vm");
    let initramfs = build_initramfs(&vm, busybox, &tests, &plan)?;
    eprintln!(
        "xtask: test-vm: build + initramfs ({} MiB) in {:.0} s",
        fs::metadata(&initramfs)?.len() >> 20,
        t.elapsed().as_secs_f64()
    );
    let kernels = kernels
        .into_iter()
        .map(|k| Ok((k.name, fetch_kernel(&vm.join("kernels"), k)?)))
        .collect::<Result<_>>()?;
    Ok(Prepared {
        initramfs,
        kernels,
        timeout: Duration::from_secs(args.timeout_min * 60),
        echo: true,
    })
}

/// Boots each kernel in turn: (kernel, outcome, wall time).
type Results = Vec<(&'static str, Result<Outcome>, Duration)>;

fn boot_all(p: &Prepared) -> Results {
    p.kernels
        .iter()
        .map(|(name, vmlinuz)| {
            let t = Instant::now();
            let r = boot(name, vmlinuz, &p.initramfs, p.timeout, p.echo);
            (*name, r, t.elapsed())
        })
        .collect()
}

/// Prints the per-kernel summary; fails if any kernel failed.
fn finish(results: &Results, what: &str) -> Result<()> {
    eprintln!("\nxtask: test-vm summary ({what}):");
    let mut failed = false;
    for (name, r, took) in results {
        match r {
            Ok(o) => {
                failed |= o.rc != 0;
                eprintln!(
                    "  {name:<5} {} in {:.0} s (boot to init {:.1} s); {}",
                    if o.rc == 0 { "PASS" } else { "FAIL" },
                    took.as_secs_f64(),
                    o.boot.as_secs_f64(),
                    o.per_binary.join(", ")
                );
            }
            Err(e) => {
                failed = true;
                eprintln!("  {name:<5} FAIL in {:.0} s: {e:#}", took.as_secs_f64());
            }
        }
    }
    if failed {
        bail!("test-vm: a kernel failed (see above)");
    }
    Ok(())
}

/// The kernels `cargo xtask test` boots its fast subset on.
pub(crate) const TEST_KERNELS: &str = "all";

/// `cargo xtask test`'s share of the matrix: the fast subset's build and downloads now, then the
/// boots on a thread of their own, beside the host's tests; join the handle for the result.
pub(crate) fn spawn_fast_subset() -> Result<std::thread::JoinHandle<Result<()>>> {
    let args = VmArgs {
        kernel: TEST_KERNELS.into(),
        full: false,
        timeout_min: 20,
        shell: None,
        only: Vec::new(),
        in_test: true,
    };
    let (busybox, kernels) = tools_and_kernels(&args)?;
    let mut prepared = prepare(&args, &busybox, kernels)?;
    prepared.echo = false;
    Ok(std::thread::spawn(move || finish(&boot_all(&prepared), "fast subset")))
}

fn which(tool: &str) -> Option<PathBuf> {
    if tool.starts_with('/') {
        return Path::new(tool).exists().then(|| PathBuf::from(tool));
    }
    // The system's own programs first: the tests name /usr/bin/python3, and a PATH shim (pyenv)
    // would bring a different interpreter than the /usr/lib/python3.11 copied with it.
    let path = std::env::var_os("PATH")?;
    ["/usr/bin".into(), "/usr/sbin".into()]
        .into_iter()
        .chain(std::env::split_paths(&path))
        .map(|d: PathBuf| d.join(tool))
        .find(|p| p.is_file())
}

/// `cargo test -p agentmon-e2e --no-run`: test name → executable.
fn build_tests() -> Result<Vec<(String, PathBuf)>> {
    let out = cargo()
        .args(["test", "-p", "agentmon-e2e", "--no-run", "--message-format=json"])
        .current_dir(workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo test --no-run")?;
    if !out.status.success() {
        bail!("building the kernel tests failed");
    }
    let mut tests = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_test = v["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|x| x == "test"));
        if let (true, Some(name), Some(exe)) = (is_test, v["target"]["name"].as_str(), v["executable"].as_str()) {
            tests.push((name.to_string(), PathBuf::from(exe)));
        }
    }
    Ok(tests)
}

/// The guest's plan: lines of `<name> <executable> [filters…]`.
fn plan(args: &VmArgs, tests: &[(String, PathBuf)]) -> Result<Vec<String>> {
    let exe = |name: &str| -> Result<&PathBuf> {
        tests
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
            .with_context(|| format!("no kernel test binary named {name:?}"))
    };
    // Every plan starts with the capability table and one load of every program: a kernel that
    // cannot load agentmon fails there, once, instead of in every test (a failing load retries
    // with the verifier's log, minutes under TCG).
    let mut lines = vec![
        "sh - agentmon doctor".to_string(),
        "preflight - agentmon exec --no-rules -- /bin/true".to_string(),
    ];
    if let Some(cmd) = &args.shell {
        lines.push(format!("sh - {cmd}"));
    } else if let Some((name, filters)) = args.only.split_first() {
        lines.push(format!("{name} {} {}", exe(name)?.display(), filters.join(" ")));
    } else if args.full {
        for (name, p) in tests {
            if !NOT_IN_GUEST.contains(&name.as_str()) {
                lines.push(format!("{name} {}", p.display()));
            }
        }
    } else {
        for (name, filters) in if args.in_test { IN_TEST } else { FAST } {
            lines.push(format!("{name} {} {}", exe(name)?.display(), filters.join(" ")));
        }
    }
    Ok(lines)
}

/// Newest Debian package matching the kernel's pattern, downloaded once; returns its vmlinuz.
fn fetch_kernel(dir: &Path, k: &Kernel) -> Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let search = || -> Result<Vec<String>> {
        let out = Command::new("apt-cache")
            .args(["search", "--names-only", k.package_regex])
            .output()
            .context("running apt-cache search")?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect())
    };
    let mut names = search()?;
    if names.is_empty() {
        // A fresh machine may have no package lists yet.
        eprintln!("xtask: test-vm: no {} in apt's lists: apt-get update", k.package_regex);
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        names = search()?;
    }
    names.sort_by_key(|n| version_key(n));
    let pkg = match names.last() {
        Some(p) => p.clone(),
        None => {
            // No package lists (or none matching): use a cached download if there is one.
            let cached = fs::read_dir(dir)?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("vmlinuz").exists())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(k.cache_prefix))
                })
                .max();
            return cached
                .map(|p| p.join("vmlinuz"))
                .with_context(|| format!("no Debian package matches {} (run `apt-get update`?)", k.package_regex));
        }
    };
    let out = dir.join(&pkg);
    let vmlinuz = out.join("vmlinuz");
    if vmlinuz.exists() {
        return Ok(vmlinuz);
    }
    eprintln!("xtask: test-vm: downloading {pkg}");
    let dl = dir.join("dl");
    fs::create_dir_all(&dl)?;
    // apt-get download writes into its working directory.
    let s = Command::new("apt-get")
        .args(["download", &pkg])
        .current_dir(&dl)
        .status()
        .context("running apt-get download")?;
    if !s.success() {
        bail!("apt-get download {pkg} failed (no network to Debian's mirror?)");
    }
    let deb = fs::read_dir(&dl)?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{pkg}_")))
        })
        .with_context(|| format!("apt-get download left no {pkg}_*.deb in {}", dl.display()))?;
    let x = out.join("x");
    fs::create_dir_all(&x)?;
    let s = Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x).status()?;
    if !s.success() {
        bail!("dpkg-deb -x {} failed", deb.display());
    }
    let boot = x.join("boot");
    for e in fs::read_dir(&boot)?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("vmlinuz-") {
            fs::copy(e.path(), out.join("vmlinuz.tmp"))?;
        } else if n.starts_with("config-") {
            fs::copy(e.path(), out.join("config"))?;
        }
    }
    // Modules are not needed (everything the tests use is built in): drop the bulky tree.
    let _ = fs::remove_dir_all(&x);
    let _ = fs::remove_file(&deb);
    fs::rename(out.join("vmlinuz.tmp"), &vmlinuz).with_context(|| format!("{pkg} has no boot/vmlinuz-*"))?;
    Ok(vmlinuz)
}

/// Sort key for package names: the numbers in them, in order (6.1.0-9 < 6.1.0-57).
fn version_key(name: &str) -> Vec<u64> {
    name.split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Stages the guest's root under `vm/root` and packs it as an uncompressed newc cpio (the guest
/// unpacks it faster than it would decompress it under TCG).
fn build_initramfs(vm: &Path, busybox: &Path, tests: &[(String, PathBuf)], plan: &[String]) -> Result<PathBuf> {
    let root = vm.join("root");
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("clearing {}", root.display()))?;
    }
    fs::create_dir_all(root.join("usr/bin"))?;
    for (link, target) in [
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
    ] {
        fs::create_dir_all(root.join(target))?;
        symlink(target, root.join(link))?;
    }
    for d in ["proc", "sys", "dev", "tmp", "run", "etc", "root", "var/tmp"] {
        fs::create_dir_all(root.join(d))?;
    }
    let mut stage = Stage {
        root: root.clone(),
        done: BTreeSet::new(),
    };
    stage.file(busybox, Path::new("/usr/bin/busybox"), false)?;
    for tool in HOST_TOOLS {
        if let Some(p) = which(tool) {
            stage.with_libs(&p)?;
        }
    }
    // Python's standard library (and the libraries of its extension modules).
    let pylib = Path::new("/usr/lib/python3.11");
    if pylib.is_dir() {
        stage.tree(pylib, PYTHON_SKIP)?;
    }
    // Busybox applets for whatever the host tools did not provide.
    let list = Command::new(busybox).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let dst = root.join("usr/bin").join(applet);
        if fs::symlink_metadata(&dst).is_err() {
            symlink("busybox", &dst)?;
        }
    }
    // agentmon and the test binaries at their host paths (the harness finds agentmon next to the
    // tests' target dir); debug info stripped, it is most of their size.
    let ws = workspace_root();
    let agentmon = ws.join("target/debug/agentmon");
    stage.binary(&agentmon)?;
    let wanted: BTreeSet<&str> = plan.iter().filter_map(|l| l.split_whitespace().nth(1)).collect();
    // The shell plan (`--shell`) finds agentmon in PATH.
    symlink(&agentmon, root.join("usr/bin/agentmon"))?;
    for (_, exe) in tests {
        if wanted.contains(exe.to_string_lossy().as_ref()) {
            stage.binary(exe)?;
        }
    }
    for dir in ["rules", "tests/fixtures", "examples"] {
        let src = ws.join(dir);
        if src.is_dir() {
            stage.tree(&src, &[])?;
        }
    }
    // A few /etc files programs look for.
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n::1 localhost\n")?;
    fs::write(
        root.join("etc/nsswitch.conf"),
        "passwd: files\ngroup: files\nhosts: files\n",
    )?;
    let mut plan_text = plan.join("\n");
    plan_text.push('\n');
    fs::write(root.join("plan"), plan_text)?;
    let init = root.join("init");
    fs::write(&init, INIT)?;
    fs::set_permissions(&init, fs::Permissions::from_mode(0o755))?;

    let out = vm.join("initramfs.cpio");
    let list = Command::new("find")
        .args([".", "-mindepth", "1"])
        .current_dir(&root)
        .output()
        .context("listing the initramfs")?;
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet"])
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(fs::File::create(&out)?)
        .spawn()
        .context("starting cpio")?;
    cpio.stdin.take().context("cpio stdin")?.write_all(&list.stdout)?;
    if !cpio.wait()?.success() {
        bail!("cpio failed");
    }
    Ok(out)
}

/// Copies host files into the staged root at the same paths, following symlinks.
struct Stage {
    root: PathBuf,
    done: BTreeSet<PathBuf>,
}

impl Stage {
    fn dst(&self, p: &Path) -> PathBuf {
        self.root.join(p.strip_prefix("/").unwrap_or(p))
    }

    /// One file at guest path `at` (its symlinks recreated); `strip` removes debug info.
    fn file(&mut self, src: &Path, at: &Path, strip: bool) -> Result<()> {
        if !self.done.insert(at.to_path_buf()) {
            return Ok(());
        }
        let dst = self.dst(at);
        if let Some(parent) = dst.parent() {
            fs::create_dir_all(parent)?;
        }
        let meta = fs::symlink_metadata(src).with_context(|| format!("{}", src.display()))?;
        if meta.file_type().is_symlink() {
            let target = fs::read_link(src)?;
            let _ = fs::remove_file(&dst);
            symlink(&target, &dst)?;
            let resolved = if target.is_absolute() {
                target
            } else {
                src.parent().unwrap_or_else(|| Path::new("/")).join(target)
            };
            return self.file(&resolved, &resolved, strip);
        }
        if strip {
            let s = Command::new("objcopy").arg("--strip-debug").arg(src).arg(&dst).status();
            if s.is_ok_and(|s| s.success()) {
                return Ok(());
            }
        }
        fs::copy(src, &dst).with_context(|| format!("copying {}", src.display()))?;
        Ok(())
    }

    /// A program and every shared library `ldd` names for it.
    fn with_libs(&mut self, p: &Path) -> Result<()> {
        self.file(p, p, false)?;
        for lib in ldd(p) {
            self.file(&lib, &lib, false)?;
        }
        Ok(())
    }

    /// A binary of ours: stripped, with its libraries.
    fn binary(&mut self, p: &Path) -> Result<()> {
        self.file(p, p, true)?;
        for lib in ldd(p) {
            self.file(&lib, &lib, false)?;
        }
        Ok(())
    }

    /// A directory tree, skipping top-level entries named in `skip`; `.so` files bring their libraries.
    fn tree(&mut self, dir: &Path, skip: &[&str]) -> Result<()> {
        for e in fs::read_dir(dir)?.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if skip.contains(&name.as_str()) {
                continue;
            }
            let ft = e.file_type()?;
            if ft.is_dir() {
                self.tree(&p, &[])?;
            } else {
                self.file(&p, &p, false)?;
                // Extension modules and libraries: `.so` exactly, as the dynamic loader names them.
                if Path::new(&name).extension().is_some_and(|e| e == "so") {
                    for lib in ldd(&p) {
                        self.file(&lib, &lib, false)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Absolute library paths `ldd` prints for a program (empty for static ones).
fn ldd(p: &Path) -> Vec<PathBuf> {
    let Ok(out) = Command::new("ldd").arg(p).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .collect()
}

/// What one guest reported.
struct Outcome {
    rc: i32,
    boot: Duration,
    per_binary: Vec<String>,
}

/// Boots one kernel and streams its console, prefixed with the kernel's name.
fn boot(name: &str, vmlinuz: &Path, initramfs: &Path, timeout: Duration, echo: bool) -> Result<Outcome> {
    eprintln!("xtask: test-vm: booting {name} ({})", vmlinuz.display());
    let console = initramfs.with_file_name(format!("console-{name}.log"));
    let mut log = fs::File::create(&console).with_context(|| console.display().to_string())?;
    let result = read_console(name, vmlinuz, initramfs, timeout, echo, &mut log);
    if result.as_ref().map_or(true, |o| o.rc != 0) && !echo {
        eprintln!("xtask: test-vm: {name} failed; its console ({}):", console.display());
        eprint!("{}", fs::read_to_string(&console).unwrap_or_default());
    }
    result
}

/// Runs the guest, its console written to `log` (and echoed), until its result marker.
fn read_console(
    name: &str,
    vmlinuz: &Path,
    initramfs: &Path,
    timeout: Duration,
    echo: bool,
    log: &mut fs::File,
) -> Result<Outcome> {
    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "3G"])
        .args(["-nographic", "-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initramfs)
        .args([
            "-append",
            "console=ttyS0 lsm=lockdown,capability,landlock,bpf panic=-1 quiet loglevel=4 rdinit=/init",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let stdout = child.stdout.take().context("qemu stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut outcome = Outcome {
        rc: -1,
        boot: Duration::ZERO,
        per_binary: Vec::new(),
    };
    let mut seen_result = false;
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        match rx.recv_timeout(left.max(Duration::from_millis(1))) {
            Ok(line) => {
                let line = line.trim_end_matches('\r');
                if echo {
                    eprintln!("[{name}] {line}");
                }
                let _ = writeln!(log, "{line}");
                if line.contains("AGENTMON-VM-INIT") {
                    outcome.boot = start.elapsed();
                } else if line.starts_with("AGENTMON-VM-PREFLIGHT") {
                    outcome
                        .per_binary
                        .push("agentmon does not load (see the console)".into());
                } else if let Some(rest) = line.strip_prefix("AGENTMON-VM-END ") {
                    outcome.per_binary.push(rest.to_string());
                } else if let Some(rc) = line.strip_prefix("AGENTMON-VM-RESULT rc=") {
                    outcome.rc = rc.trim().parse().unwrap_or(-1);
                    seen_result = true;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("guest hung: no result after {} s", timeout.as_secs());
            }
        }
    }
    let _ = child.wait();
    if !seen_result {
        bail!("guest ended without a result marker (kernel panic or init failure; console above)");
    }
    Ok(outcome)
}

/// The guest's PID 1 (busybox sh): mounts, loopback, the plan, the markers, power off.
const INIT: &str = r#"#!/bin/busybox sh
# The guests boot with lsm=…,bpf on kernels built with CONFIG_BPF_LSM: capabilities.rs expects it.
export PATH=/usr/sbin:/usr/bin HOME=/root TMPDIR=/tmp AGENTMON_EXPECT_BPF_LSM=1
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t securityfs securityfs /sys/kernel/security
# The tests create cgroups with controllers enabled (freeze/kill are core; memory/pids if asked).
echo "+memory +pids" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
ip link set lo up
hostname agentmon-vm
echo "AGENTMON-VM-INIT kernel=$(uname -r) lsm=$(cat /sys/kernel/security/lsm) cpus=$(nproc)"
rc=0
while read -r name bin filters; do
  [ -n "$name" ] || continue
  echo "AGENTMON-VM-BEGIN $name"
  t0=$(cut -d' ' -f1 /proc/uptime)
  if [ "$name" = sh ] || [ "$name" = preflight ]; then
    sh -c "$filters" </dev/null 2>&1
  else
    "$bin" $filters --test-threads=2 </dev/null 2>&1
  fi
  r=$?
  t1=$(cut -d' ' -f1 /proc/uptime)
  echo "AGENTMON-VM-END $name rc=$r t=$(echo "$t0 $t1" | awk '{printf "%.0fs", $2-$1}')"
  [ "$r" = 0 ] || rc=1
  if [ "$name" = preflight ] && [ "$r" != 0 ]; then
    echo "AGENTMON-VM-PREFLIGHT agentmon does not load on this kernel: the tests are skipped"
    break
  fi
done < /plan
echo "AGENTMON-VM-RESULT rc=$rc"
sync
poweroff -f
"#;
