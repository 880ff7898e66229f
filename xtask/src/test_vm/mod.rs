//! `cargo xtask test-vm`: agentmon's kernel tests on the kernels users run, under QEMU.
//!
//! Contract: for each requested kernel (Debian's 6.1 and 6.12 packages, downloaded once with
//! `apt-get download` and cached under `target/vm/kernels/`), boot it under `qemu-system-x86_64`
//! (TCG: KVM hangs after the boot loader on these machines) with an initramfs that holds agentmon,
//! the `agentmon-e2e` test binaries, the rules and fixtures they read (at the same absolute paths as
//! on the host, so `CARGO_MANIFEST_DIR` paths resolve), and the host tools the tests call (bash,
//! python3 and its standard library, coreutils, util-linux, iproute2) with their shared libraries;
//! busybox-static fills the rest. The guest's `/init` copies the initramfs onto a tmpfs and
//! `switch_root`s there (`pivot_root(2)`, which tests use, refuses rootfs; /tmp stays a directory of
//! that root, so a checkout under /tmp keeps its binaries), mounts proc/sys/dev, cgroup2, bpffs,
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
    fs,
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

mod boot;
mod initramfs;
mod kernel;

use boot::{KernelLockup, Outcome, boot};
use initramfs::build_initramfs;
use kernel::fetch_kernel;

use crate::{cargo, workspace_root};

#[derive(clap::Args)]
pub(crate) struct VmArgs {
    /// Which kernel(s): 6.1, 6.12 or all.
    #[arg(long, default_value = "all")]
    kernel: String,
    /// Run every kernel test binary (except container tests) instead of the fast subset.
    #[arg(long)]
    full: bool,
    /// Minutes to wait for one guest before declaring it hung (default 20; 180 with `--full`,
    /// whose plan runs for well over an hour per kernel under TCG).
    #[arg(long)]
    timeout_min: Option<u64>,
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

/// One event each of the kinds every rule set leans on: exec, open, connect, mount (each test is an
/// agentmon start, ≈ 30 s under TCG).
const ONE_EVENT_EACH: (&str, &[&str]) = (
    "events",
    &[
        "exec_reports_filename_argv_and_ancestry",
        "open_reports_path_flags_and_resolved_path",
        "connect_reports_ipv4_address_and_port",
        "mount_reports_source_target_and_fstype",
    ],
);

/// The fast subset: (test binary, libtest filters; empty = all of it). Load + one event per kind
/// (`events`), the deny tests (`enforce`, `vm_deny`) and the capability table (`capabilities`).
const FAST: &[(&str, &[&str])] = &[
    ("capabilities", &[]),
    // Every agentmon start verifies ~100 programs, ≈ 30 s under TCG: one test per kind only.
    ONE_EVENT_EACH,
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
/// (read open, `move_mount`, the connect gap, the kill fallbacks) waits for `cargo xtask test-vm`.
const IN_TEST: &[(&str, &[&str])] = &[
    ("capabilities", &[]),
    ONE_EVENT_EACH,
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

/// The full plan's first line: an agentmon that watches an empty cgroup for the whole plan. TCG
/// twice ended a long guest run in a kernel `Oops: int3` at a static-branch site (in
/// `syscall_trace_enter`, in `__inet_stream_connect`'s cgroup connect hook): each agentmon that
/// starts or stops flips the static keys of the tracepoints and cgroup hooks it attaches, the
/// kernel patches those sites live through an int3, and the emulator (not the kernel, which does
/// this on every machine) sometimes lets another vCPU run the half-patched code. With one
/// agentmon attached throughout, the keys stay on and the tests' attaches patch nothing there.
const HOLD: &str = "hold - agentmon run --no-rules --metrics-addr off --cgroup /sys/fs/cgroup/agentmon-vm-hold";

/// Tests of the full plan the guest cannot run, given to libtest as `--skip`: the benign coding
/// session builds with gcc and sqlite3, three agent rule tests run git, curl and ssh-add, none of
/// which the initramfs carries; the kill-in-progress
/// test bounds how late a bystander's events come out during a 1,000-process kill, and under TCG
/// every event comes out most of a second late (it is a test of the consumer, not the kernel).
const SKIP_IN_GUEST: &[(&str, &str)] = &[
    ("benign", "coding_agent_session_raises_nothing_severe"),
    ("respond", "a_kill_in_progress_does_not_hold_back_another_agents_events"),
    (
        "agent_rules",
        "git_hook_written_and_renamed_into_place_but_not_the_sample_hooks",
    ),
    (
        "agent_rules",
        "download_piped_into_a_shell_but_not_a_download_saved_to_a_file",
    ),
    (
        "agent_rules",
        "ssh_agent_socket_used_by_a_non_ssh_program_but_not_by_ssh_add",
    ),
];

/// Test binaries the guest cannot run: `containers` and `image` need docker/podman and images,
/// `sandbox` builds its workload with make and a C compiler, `techniques` (detection content, on
/// the host) runs ssh, debugfs and a raw disk the initramfs does not have.
const NOT_IN_GUEST: &[&str] = &["containers", "image", "sandbox", "techniques"];

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
        timeout: Duration::from_secs(args.timeout_min.unwrap_or(if args.full { 180 } else { 20 }) * 60),
        echo: true,
    })
}

/// Boots each kernel in turn: (kernel, outcome, wall time).
type Results = Vec<(&'static str, Result<Outcome>, Duration)>;

/// A guest whose kernel locks up is booted once more, and only then: TCG's emulated CPUs have
/// stopped a guest kernel cold (one CI run: a soft lockup on CPU 0 a minute in, on a plan that had
/// passed many times), which says nothing about agentmon's tests. A test that fails is never
/// retried, and the lockup is printed with its console's path either way.
const BOOTS_ON_LOCKUP: u32 = 2;

fn boot_all(p: &Prepared) -> Results {
    p.kernels
        .iter()
        .map(|(name, vmlinuz)| {
            let t = Instant::now();
            let mut attempt = 1;
            let r = loop {
                let r = boot(name, vmlinuz, &p.initramfs, p.timeout, p.echo, attempt);
                match &r {
                    Err(e) if attempt < BOOTS_ON_LOCKUP => {
                        let Some(lockup) = e.downcast_ref::<KernelLockup>() else {
                            break r;
                        };
                        eprintln!("xtask: test-vm: {name}: {lockup}; booting it once more");
                        attempt += 1;
                    }
                    _ => break r,
                }
            };
            let r = r.map(|mut o| {
                if attempt > 1 {
                    o.per_binary
                        .insert(0, format!("boot {attempt} (boot 1: kernel lockup)"));
                }
                o
            });
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

/// The kernel `cargo xtask test` boots its plan on: the oldest (its verifier refuses the most), with
/// BPF LSM; `cargo xtask test-vm` covers 6.12 as well.
pub(crate) const TEST_KERNELS: &str = "6.1";

/// `cargo xtask test`'s share of the matrix: the fast subset's build and downloads now, then the
/// boots on a thread of their own, beside the host's tests; join the handle for the result.
pub(crate) fn spawn_in_test_plan() -> Result<std::thread::JoinHandle<Result<()>>> {
    let args = VmArgs {
        kernel: TEST_KERNELS.into(),
        full: false,
        timeout_min: None,
        shell: None,
        only: Vec::new(),
        in_test: true,
    };
    let (busybox, kernels) = tools_and_kernels(&args)?;
    let mut prepared = prepare(&args, &busybox, kernels)?;
    prepared.echo = false;
    Ok(std::thread::spawn(move || {
        finish(&boot_all(&prepared), "cargo xtask test's plan")
    }))
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
        lines.push(HOLD.to_string());
        for (name, p) in tests {
            if !NOT_IN_GUEST.contains(&name.as_str()) {
                let mut line = format!("{name} {}", p.display());
                for (_, t) in SKIP_IN_GUEST.iter().filter(|(bin, _)| bin == name) {
                    line.push_str(" --skip ");
                    line.push_str(t);
                }
                lines.push(line);
            }
        }
    } else {
        for (name, filters) in if args.in_test { IN_TEST } else { FAST } {
            lines.push(format!("{name} {} {}", exe(name)?.display(), filters.join(" ")));
        }
    }
    Ok(lines)
}
