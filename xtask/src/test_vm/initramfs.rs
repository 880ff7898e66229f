//! The guest's root: agentmon, the kernel test binaries, their fixtures and the host tools they
//! call, packed as an initramfs with [`INIT`] as its PID 1.
use std::{
    collections::BTreeSet,
    fs,
    io::Write,
    os::unix::fs::{PermissionsExt, symlink},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use super::which;
use crate::workspace_root;

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

/// Stages the guest's root under `vm/root` and packs it as an uncompressed newc cpio (the guest
/// unpacks it faster than it would decompress it under TCG).
pub(super) fn build_initramfs(
    vm: &Path,
    busybox: &Path,
    tests: &[(String, PathBuf)],
    plan: &[String],
) -> Result<PathBuf> {
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
    fs::write(root.join("etc/hostname"), "agentmon-vm\n")?;
    fs::create_dir_all(root.join("var/log"))?;
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

/// The guest's PID 1 (busybox sh): mounts, loopback, the plan, the markers, power off.
const INIT: &str = r#"#!/bin/busybox sh
# The guests boot with lsm=…,bpf on kernels built with CONFIG_BPF_LSM: capabilities.rs expects it.
export PATH=/usr/sbin:/usr/bin HOME=/root TMPDIR=/tmp AGENTMON_EXPECT_BPF_LSM=1
# The initramfs is rootfs, which pivot_root(2) refuses (EINVAL) and the tests use: copy it onto a
# tmpfs and switch_root there first (switch_root frees the old copy).
if [ -z "$AGENTMON_VM_ROOT_IS_TMPFS" ]; then
  mkdir -p /newroot && mount -t tmpfs -o mode=0755 root /newroot
  for e in /*; do [ "$e" = /newroot ] || cp -a "$e" /newroot/; done
  export AGENTMON_VM_ROOT_IS_TMPFS=1
  exec switch_root /newroot /init
fi
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs shm /dev/shm
# /tmp stays a directory of the tmpfs root: a checkout under /tmp has its binaries there.
chmod 1777 /tmp /var/tmp
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
  elif [ "$name" = hold ]; then
    # An agentmon that stays up for the whole plan (see test_vm::HOLD): running until it watches.
    mkdir -p /sys/fs/cgroup/agentmon-vm-hold
    sh -c "$filters" </dev/null >/tmp/hold.log 2>&1 &
    i=0
    while ! grep -q watching /tmp/hold.log && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done
    grep -q watching /tmp/hold.log || { cat /tmp/hold.log; false; }
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
