//! Network visibility on the real kernel (issue 11, "every way in"): every route to a destination
//! is one event with the kernel's verdict — `connect(2)`, `io_uring` `IORING_OP_CONNECT`, TCP Fast
//! Open `sendto`, unconnected UDP `sendto` — plus where an agent listens, raw and packet sockets,
//! and unix sockets named by the socket the kernel connected them to.
//!
//! Traffic stays inside a network namespace each test creates (`unshare -n`), with the addresses
//! it needs (169.254.169.254 included) put on that namespace's `lo`, or on loopback. The agent side
//! is a Python script (ctypes for what the standard library lacks: `io_uring`, raw `connect`) run
//! under `agentmon exec`.
use std::{fmt::Write as _, net::TcpListener, path::Path, process::Stdio, time::Duration};

use agentmon_e2e::*;
use serde_json::Value;

/// Helpers every agent script imports: its own network namespace set up, `io_uring` by hand.
const NETLIB: &str = r#"
import ctypes, mmap, os, signal, socket, struct, subprocess, sys

# A script that blocks (a full socket queue, a connect that hangs) fails instead of hanging.
signal.alarm(60)

def say(*a):
    # stdout is agentmon's (JSON lines): the script reports on stderr, one write per line.
    sys.stderr.write(" ".join(str(x) for x in a) + "\n")
    sys.stderr.flush()

def netns(*addrs):
    """Inside the namespace `unshare -n` made: lo up, with `addrs` on it."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for a in addrs:
        subprocess.run(["ip", "addr", "add", a, "dev", "lo"], check=True)

def sockaddr_in(host, port):
    b = ctypes.create_string_buffer(16)
    struct.pack_into("=H", b, 0, socket.AF_INET)
    struct.pack_into("!H4s", b, 2, port, socket.inet_aton(host))
    return b

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

class Ring:
    """An io_uring with its rings mapped by hand; `op` submits one SQE and waits for its CQE."""
    def __init__(self):
        p = ctypes.create_string_buffer(120)
        self.fd = libc.syscall(425, ctypes.c_uint(4), p)  # io_uring_setup
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "io_uring_setup")
        raw = p.raw
        sq_entries, cq_entries = struct.unpack_from("II", raw, 0)
        self.sq_off = struct.unpack_from("IIIIIIIIQ", raw, 40)
        self.cq_off = struct.unpack_from("IIIIIIIIQ", raw, 80)
        rw, populate = mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED | 0x8000
        self.sq = mmap.mmap(self.fd, self.sq_off[6] + sq_entries * 4, populate, rw, offset=0)
        self.cq = mmap.mmap(self.fd, self.cq_off[5] + cq_entries * 16, populate, rw, offset=0x8000000)
        self.sqes = mmap.mmap(self.fd, sq_entries * 64, populate, rw, offset=0x10000000)

    def op(self, opcode, fd, addr=0, addr2=0, length=0):
        tail = struct.unpack_from("I", self.sq, self.sq_off[1])[0]
        idx = tail & struct.unpack_from("I", self.sq, self.sq_off[2])[0]
        # opcode, flags, ioprio, fd, off/addr2, addr, len, op_flags, user_data, buf_index,
        # personality, splice_fd_in, addr3, pad
        struct.pack_into("BBHiQQIIQHHiQQ", self.sqes, idx * 64, opcode, 0, 0, fd, addr2, addr, length, 0, 7, 0, 0, 0, 0, 0)
        struct.pack_into("I", self.sq, self.sq_off[6] + idx * 4, idx)
        struct.pack_into("I", self.sq, self.sq_off[1], tail + 1)
        if libc.syscall(426, self.fd, 1, 1, 1, None, 0) < 0:  # io_uring_enter, GETEVENTS
            raise OSError(ctypes.get_errno(), "io_uring_enter")
        head = struct.unpack_from("I", self.cq, self.cq_off[0])[0]
        cmask = struct.unpack_from("I", self.cq, self.cq_off[2])[0]
        _, res, _ = struct.unpack_from("QiI", self.cq, self.cq_off[5] + (head & cmask) * 16)
        struct.pack_into("I", self.cq, self.cq_off[0], head + 1)
        return res

IORING_OP_SENDMSG, IORING_OP_CONNECT, IORING_OP_SOCKET, IORING_OP_BIND, IORING_OP_LISTEN = 9, 16, 45, 56, 57

def iov_of(data):
    """A one-entry iovec over the ctypes buffer `data` (its string; the caller keeps both alive)."""
    return ctypes.create_string_buffer(struct.pack("QQ", ctypes.addressof(data), len(data.value)))

def mmsghdr(name, namelen, iov):
    """A struct mmsghdr (a msghdr, then msg_len): the destination at address `name`, one iovec."""
    return struct.pack("QIxxxxQQQQixxxx", name, namelen, ctypes.addressof(iov), 1, 0, 0, 0) + struct.pack("Ixxxx", 0)

def uring_connect(ring, sock, host, port):
    sa = sockaddr_in(host, port)
    return ring.op(IORING_OP_CONNECT, sock.fileno(), addr=ctypes.addressof(sa), addr2=16)

def fast_open(host, port):
    """TCP Fast Open: the connect happens inside sendto(MSG_FASTOPEN)."""
    s = socket.socket()
    s.sendto(b"hello", 0x20000000, (host, port))
    return s
"#;

/// Runs `script` (Python, with [`NETLIB`] importable) under `agentmon exec` in a network namespace
/// of its own, with `rules` or without any.
fn run_agent(script: &str, rules: Option<&Path>) -> ExecRun {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let lib_dir = dir.path().to_string_lossy().into_owned();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    };
    write("netlib.py", NETLIB);
    let main = write(
        "agent.py",
        &format!("import sys\nsys.path.insert(0, {lib_dir:?})\nfrom netlib import *\n{script}"),
    );
    let main = main.to_string_lossy().into_owned();
    let cmd = ["/usr/bin/unshare", "-n", "/usr/bin/python3", "-S", main.as_str()];
    let run = match rules {
        Some(r) => exec_rules(r, &[], &cmd),
        None => exec_json(&[], &cmd),
    };
    assert!(run.status.success(), "the agent script failed: {}", run.stderr);
    run
}

/// Runs `script` as the agent in a scratch directory it made `agents/` in (for unix socket paths,
/// relative ones too); the directory lasts as long as the returned handle.
fn run_agent_in_agents_dir(script: &str) -> (tempfile::TempDir, ExecRun) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let script = format!(
        "os.chdir({:?})\nos.mkdir(\"agents\")\n{script}",
        dir.path().to_string_lossy()
    );
    let run = run_agent(&script, None);
    (dir, run)
}

fn events_of<'a>(run: &'a ExecRun, kind: &str, pred: impl Fn(&Value) -> bool) -> Vec<&'a Value> {
    run.of_kind(kind).into_iter().filter(|e| pred(e)).collect()
}

/// Events in a line each, with only what these tests look at (for failure messages).
fn brief(evs: &[&Value]) -> String {
    let keys = [
        "kind",
        "comm",
        "family",
        "addr",
        "port",
        "raw_addr",
        "verdict",
        "seen_at",
        "result",
        "datagrams",
        "protocol",
    ];
    let mut out = String::new();
    for e in evs {
        out.push_str("\n  ");
        for k in keys {
            if let Some(v) = e.get(k) {
                let _ = write!(out, "{k}={v} ");
            }
        }
    }
    out
}

/// Connects to `addr:port` (the port as a JSON number).
fn to(e: &Value, addr: &str, port: u16) -> bool {
    e["addr"] == addr && e["port"] == port
}

/// The value after `key ` on a line the script wrote to stderr.
fn reported(run: &ExecRun, key: &str) -> String {
    run.stderr
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("the script did not report {key}: {}", run.stderr))
        .trim()
        .to_string()
}

const METADATA: &str = "169.254.169.254";

/// Every route to a TCP connect — the syscall, `io_uring`, TCP Fast Open — is exactly one `connect`
/// event, seen at the cgroup hook (no descriptor, no result: the hook sees the attempt) with the
/// kernel's copy of the destination and its verdict. Without the hook, the `io_uring` and Fast Open
/// forms produce no event at all; without the deduplication the syscall form produces two.
#[test]
fn every_route_to_the_metadata_service_is_one_connect_event_with_its_verdict() {
    let run = run_agent(
        r#"
netns("169.254.169.254/32")
listeners = []
for _ in range(3):
    l = socket.socket()
    l.bind(("169.254.169.254", 0))
    l.listen(8)
    listeners.append(l)
plain, uring, tfo = [l.getsockname()[1] for l in listeners]
c = socket.socket()
c.connect(("169.254.169.254", plain))
ring = Ring()
u = socket.socket()
say("URING", uring_connect(ring, u, "169.254.169.254", uring))
f = fast_open("169.254.169.254", tfo)
say("PORTS", plain, uring, tfo)
"#,
        None,
    );
    assert_eq!(reported(&run, "URING"), "0", "the io_uring connect succeeded");
    let ports: Vec<u16> = reported(&run, "PORTS")
        .split(' ')
        .map(|p| p.parse().expect("port"))
        .collect();
    for (route, port) in ["connect(2)", "IORING_OP_CONNECT", "sendto(MSG_FASTOPEN)"]
        .iter()
        .zip(&ports)
    {
        let evs = events_of(&run, "connect", |e| to(e, METADATA, *port));
        assert_eq!(evs.len(), 1, "{route}: exactly one connect event: {}", brief(&evs));
        let e = evs[0];
        assert_eq!(e["family"], "inet", "{route}");
        assert_eq!(e["sock_type"], "stream", "{route}");
        assert_eq!(e["protocol"], 6, "{route}: tcp");
        assert_eq!(e["verdict"], "allowed", "{route}");
        assert_eq!(e["fd"], -1, "{route}: seen at the cgroup hook");
        assert!(
            e.get("result").is_none(),
            "{route}: the hook reports intent and verdict"
        );
        assert_eq!(e["comm"], "python3", "{route}");
        assert!(
            e["ppid"].as_u64().unwrap_or(0) > 0,
            "{route}: the hook fills the parent"
        );
    }
}

/// An attempt the kernel refuses before its cgroup hook runs (an address shorter than a
/// `sockaddr_in`) is still seen, at the syscall's exit, with its error; so is a connect on a socket
/// created outside the watched cgroup, which no cgroup hook checks (the hooks follow the socket's
/// cgroup, not the caller's). Both carry the verdict `unchecked`.
#[test]
fn connects_the_hooks_do_not_see_are_reported_at_exit_with_their_result() {
    let run = run_agent(
        r#"
netns("169.254.169.254/32")
s = socket.socket()
sa = sockaddr_in("169.254.169.254", 81)
say("SHORT", libc.connect(s.fileno(), sa, 8), ctypes.get_errno())
"#,
        None,
    );
    assert_eq!(reported(&run, "SHORT"), "-1 22", "EINVAL");
    let evs = events_of(&run, "connect", |e| e["result"] == -22);
    assert_eq!(evs.len(), 1, "{}", brief(&run.of_kind("connect")));
    assert_eq!(evs[0]["verdict"], "unchecked");
    assert_eq!(evs[0]["addr"], METADATA, "the address as passed, read at exit");
    assert_eq!(evs[0]["port"], 81);

    // A socket made outside the cgroup and inherited by the watched process: loopback of the
    // test's own namespace, a listener of the test's.
    let cg = TestCgroup::new("net-outside-socket");
    let m = Monitor::start(&["--cgroup", &cg.path.to_string_lossy()]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // SAFETY: a plain socket(2) call; the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    let py = format!("import socket\ns = socket.socket(fileno={fd})\ns.connect(('127.0.0.1', {port}))\n");
    let status = command_in(&cg.path, "/usr/bin/python3", &["-S", "-c", &py])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    // SAFETY: our descriptor, closed once.
    unsafe { libc::close(fd) };
    assert!(status.success());
    let e = m
        .wait_event(Duration::from_secs(5), |e| e["kind"] == "connect" && e["port"] == port)
        .unwrap_or_else(|| panic!("no connect event: {}", m.stderr()));
    assert_eq!(
        (e["verdict"].as_str(), e["result"].as_i64()),
        (Some("unchecked"), Some(0)),
        "{e}"
    );
    assert_eq!(e["fd"], fd);
    assert_eq!(e["sock_type"], "stream", "read from the kernel's socket");
    let (events, _) = m.stop();
    let n = events
        .iter()
        .filter(|e| e["kind"] == "connect" && e["port"] == port)
        .count();
    assert_eq!(n, 1, "one event");
}

/// Unconnected UDP: the first datagram from a socket to each destination is an event; more to the
/// same destination within a second are counted into the next event for it; a new socket is a new
/// event. (Without the sendmsg hooks there is no event; without the rate limit, 30.)
#[test]
fn udp_sendto_is_one_event_per_socket_and_destination_and_second() {
    let run = run_agent(
        r#"
netns("169.254.169.254/32")
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(("169.254.169.254", 0))
port = r.getsockname()[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(30):
    u.sendto(b"q", ("169.254.169.254", port))
u.sendto(b"q", ("169.254.169.254", port + 1))
import time
time.sleep(1.2)
u.sendto(b"q", ("169.254.169.254", port))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v.sendto(b"q", ("169.254.169.254", port))
say("PORT", port)
"#,
        None,
    );
    let port: u16 = reported(&run, "PORT").parse().unwrap();
    let to_port = events_of(&run, "send", |e| to(e, METADATA, port));
    let counts: Vec<u64> = to_port.iter().map(|e| e["datagrams"].as_u64().unwrap()).collect();
    assert_eq!(
        counts,
        [1, 30, 1],
        "first, the 29 + 1 after a second, a new socket: {}",
        brief(&to_port)
    );
    assert_eq!(to_port[0]["socket_cookie"], to_port[1]["socket_cookie"]);
    assert_ne!(to_port[0]["socket_cookie"], to_port[2]["socket_cookie"]);
    for e in &to_port {
        assert_eq!(
            (e["protocol"].as_u64(), e["sock_type"].as_str()),
            (Some(17), Some("dgram"))
        );
        assert_eq!(e["verdict"], "allowed");
    }
    let other = events_of(&run, "send", |e| to(e, METADATA, port + 1));
    assert_eq!(other.len(), 1, "another destination of the same socket");
    assert!(
        events_of(&run, "connect", |e| e["addr"] == METADATA).is_empty(),
        "unconnected sends are not connects"
    );
    // The receiver's bind is where it listens.
    let bound = events_of(&run, "listen", |e| e["addr"] == METADATA && e["port"] == port);
    assert_eq!(bound.len(), 1, "{}", brief(&run.of_kind("listen")));
    assert_eq!(
        (bound[0]["seen_at"].as_str(), bound[0]["protocol"].as_u64()),
        (Some("cgroup/post_bind"), Some(17))
    );
}

/// Every route to send a UDP datagram without `connect` is a `send` event at the cgroup
/// `sendmsg4`/`sendmsg6` hooks, with the kernel's copy of the destination: `sendto`, `sendmsg`,
/// `sendmmsg` (two datagrams to one destination: one event), `io_uring` `IORING_OP_SENDMSG` (no
/// send syscall), IPv6, and an IPv4-mapped IPv6 destination from an IPv6 socket (the dodge around
/// IPv4 rules: the kernel sends it as IPv4). Each from its own socket to its own port.
#[test]
fn every_route_to_send_a_udp_datagram_is_a_send_event() {
    let run = run_agent(
        r#"
netns("169.254.169.254/32")
M = "169.254.169.254"
def udp(family=socket.AF_INET):
    return socket.socket(family, socket.SOCK_DGRAM)
say("SENDTO", udp().sendto(b"q", (M, 5301)))
say("SENDMSG", udp().sendmsg([b"q"], [], 0, (M, 5302)))
data = ctypes.create_string_buffer(b"q")
iov = iov_of(data)
dst = sockaddr_in(M, 5303)
vec = ctypes.create_string_buffer(mmsghdr(ctypes.addressof(dst), 16, iov) * 2)
mm = udp()
say("SENDMMSG", libc.syscall(307, mm.fileno(), vec, 2, 0))
ring = Ring()
dst_uring = sockaddr_in(M, 5304)
hdr = ctypes.create_string_buffer(mmsghdr(ctypes.addressof(dst_uring), 16, iov))
ur = udp()
say("URING", ring.op(IORING_OP_SENDMSG, ur.fileno(), addr=ctypes.addressof(hdr), length=1))
say("V6", udp(socket.AF_INET6).sendto(b"q", ("::1", 5305)))
say("MAPPED", udp(socket.AF_INET6).sendto(b"q", ("::ffff:" + M, 5306)))
"#,
        None,
    );
    let routes = [
        ("SENDTO", "1", "inet", METADATA, 5301),
        ("SENDMSG", "1", "inet", METADATA, 5302),
        ("SENDMMSG", "2", "inet", METADATA, 5303),
        ("URING", "1", "inet", METADATA, 5304),
        ("V6", "1", "inet6", "::1", 5305),
        ("MAPPED", "1", "inet", METADATA, 5306),
    ];
    let sends = run.of_kind("send");
    for (route, sent, family, addr, port) in routes {
        assert_eq!(reported(&run, route), sent, "{route}: datagrams sent");
        let evs = events_of(&run, "send", |e| e["port"] == port);
        assert_eq!(evs.len(), 1, "{route}: exactly one send event: {}", brief(&sends));
        let e = evs[0];
        assert_eq!(
            (e["family"].as_str(), e["addr"].as_str()),
            (Some(family), Some(addr)),
            "{route}: the kernel's destination"
        );
        assert_eq!(
            (e["protocol"].as_u64(), e["sock_type"].as_str(), e["verdict"].as_str()),
            (Some(17), Some("dgram"), Some("allowed")),
            "{route}"
        );
        assert_eq!(e["datagrams"], 1, "{route}");
    }
}

/// Unix datagrams sent without connect — `sendto` by a relative path (joined to the kernel's path
/// of the working directory), `sendmsg` to an abstract name, `sendmmsg` whose second message names
/// the destination — are `send` events, one per socket and destination and second.
#[test]
fn unix_datagrams_sent_without_connect_are_reported() {
    let (dir, run) = run_agent_in_agents_dir(
        r#"
rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
rx.bind("agents/d.sock")
ab = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ab.bind("\0agentmon-test-dgram")
tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
# The receiver queues at most 10 datagrams (net.unix.max_dgram_qlen): 5 here, 2 below.
for _ in range(5):
    tx.sendto(b"x", "agents/d.sock")
tx.sendmsg([b"y"], [], 0, "\0agentmon-test-dgram")
# sendmmsg: the first message to nowhere in particular (a connected peer is not needed: no name
# is an error only at send time), the second to the bound path.
mm = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
mm.connect("agents/d.sock")
target = ctypes.create_string_buffer(struct.pack("=H", socket.AF_UNIX) + os.path.abspath("agents/d.sock").encode() + b"\0", 110)
data = ctypes.create_string_buffer(b"z")
iov = iov_of(data)
vec = ctypes.create_string_buffer(mmsghdr(0, 0, iov) + mmsghdr(ctypes.addressof(target), 110, iov))
say("SENDMMSG", libc.syscall(307, mm.fileno(), vec, 2, 0))
"#,
    );
    assert_eq!(reported(&run, "SENDMMSG"), "2", "both messages sent");
    let path = dir.path().join("agents/d.sock").to_string_lossy().into_owned();
    let unix = events_of(&run, "send", |e| e["family"] == "unix");
    let to_path: Vec<&Value> = unix.iter().copied().filter(|e| e["addr"] == path.as_str()).collect();
    assert_eq!(
        to_path.len(),
        2,
        "sendto (five datagrams, one event) and sendmmsg: {}",
        brief(&unix)
    );
    assert_eq!(
        (to_path[0]["raw_addr"].as_str(), to_path[0]["datagrams"].as_u64()),
        (Some("agents/d.sock"), Some(1))
    );
    assert_eq!(to_path[0]["verdict"], "unchecked");
    assert_eq!(to_path[0]["sock_type"], "dgram", "read from the kernel's socket");
    assert!(to_path[1].get("raw_addr").is_none(), "an absolute path is its own");
    assert_ne!(to_path[0]["socket_cookie"], to_path[1]["socket_cookie"], "two sockets");
    let ab = unix.iter().filter(|e| e["addr"] == "@agentmon-test-dgram").count();
    assert_eq!(ab, 1, "sendmsg to an abstract name: {}", brief(&unix));
}

/// Where an agent listens: TCP after bind, TCP with the port the kernel picked at `listen`, IPv6,
/// a listen through `io_uring` (`IORING_OP_BIND` + `IORING_OP_LISTEN`, no `listen` syscall), unix
/// stream sockets by relative path and abstract name (the kernel's path and name), a unix datagram
/// socket bound to a path. Each exactly once.
#[test]
fn listen_reports_where_an_agent_listens_by_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let dir_s = dir.path().to_string_lossy().into_owned();
    let run = run_agent(
        &format!(
            r#"
netns("169.254.169.254/32")
a = socket.socket()
a.bind(("169.254.169.254", 0))
a.listen()
say("BOUND", a.getsockname()[1])
b = socket.socket()
b.listen()
say("PICKED", b.getsockname()[1])
c = socket.socket(socket.AF_INET6)
c.bind(("::1", 0))
c.listen()
say("V6", c.getsockname()[1])
ring = Ring()
d = socket.socket()
sa = sockaddr_in("127.0.0.1", 0)
say("UBIND", ring.op(IORING_OP_BIND, d.fileno(), addr=ctypes.addressof(sa), addr2=16))
say("ULISTEN", ring.op(IORING_OP_LISTEN, d.fileno(), length=8))
say("URING", d.getsockname()[1])
os.chdir({dir_s:?})
e = socket.socket(socket.AF_UNIX)
e.bind("agent.sock")
e.listen()
f = socket.socket(socket.AF_UNIX)
f.bind("\0agentmon-test-abstract")
f.listen()
g = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
g.bind("dgram.sock")
"#
        ),
        None,
    );
    let port = |key| -> u16 { reported(&run, key).parse().unwrap() };
    let one = |what: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        let evs = events_of(&run, "listen", pred);
        assert_eq!(
            evs.len(),
            1,
            "{what}: exactly one listen event: {}",
            brief(&run.of_kind("listen"))
        );
        evs[0].clone()
    };
    let e = one("bind + listen", &|e| {
        e["addr"] == METADATA && e["port"] == port("BOUND")
    });
    assert_eq!(
        (e["seen_at"].as_str(), e["protocol"].as_u64(), e["sock_type"].as_str()),
        (Some("sys_exit_listen"), Some(6), Some("stream"))
    );
    let e = one("listen without bind", &|e| {
        e["addr"] == "0.0.0.0" && e["port"] == port("PICKED")
    });
    assert_eq!(e["seen_at"], "sys_exit_listen");
    one("IPv6", &|e| {
        e["family"] == "inet6" && e["addr"] == "::1" && e["port"] == port("V6")
    });
    // IORING_OP_BIND and IORING_OP_LISTEN came in 6.11: older kernels (Debian's 6.1) refuse the
    // opcodes with EINVAL, and that route does not exist there.
    if kernel_at_least(6, 11) {
        assert_eq!(
            (reported(&run, "UBIND"), reported(&run, "ULISTEN")),
            ("0".into(), "0".into())
        );
        let e = one("io_uring", &|e| e["addr"] == "127.0.0.1" && e["port"] == port("URING"));
        assert_eq!(
            e["seen_at"], "inet_sock_set_state",
            "no listen syscall: seen at the state change"
        );
    } else {
        assert_eq!(
            (reported(&run, "UBIND"), reported(&run, "ULISTEN")),
            ("-22".into(), "-22".into())
        );
    }
    let sock = dir.path().join("agent.sock").to_string_lossy().into_owned();
    let e = one("unix by relative path", &|e| {
        e["family"] == "unix" && e["addr"] == sock.as_str()
    });
    assert_eq!(e["sock_type"], "stream");
    one("abstract", &|e| e["addr"] == "@agentmon-test-abstract");
    let dgram = dir.path().join("dgram.sock").to_string_lossy().into_owned();
    let e = one("unix datagram bind", &|e| e["addr"] == dgram.as_str());
    assert_eq!(
        (e["seen_at"].as_str(), e["sock_type"].as_str()),
        (Some("sys_exit_bind"), Some("dgram"))
    );
}

/// Whether the running kernel is `major.minor` or newer (`/proc/sys/kernel/osrelease`).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

/// Raw inet, packet and netlink sockets are events (a refused attempt too); raw inet sockets made
/// through `io_uring` (`IORING_OP_SOCKET`, no `socket` syscall) too, seen where the kernel creates
/// them. `NETLINK_ROUTE` (what every `getaddrinfo` opens) and ordinary TCP/UDP sockets are not.
#[test]
fn raw_packet_and_netlink_sockets_are_reported() {
    let run = run_agent(
        r#"
netns()
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
# io_uring makes raw sockets with no socket syscall: IPPROTO_RAW (inet), IPPROTO_UDP (inet6).
ring = Ring()
say("URING_RAW", ring.op(IORING_OP_SOCKET, socket.AF_INET, addr2=socket.SOCK_RAW, length=255))
say("URING_RAW6", ring.op(IORING_OP_SOCKET, socket.AF_INET6, addr2=socket.SOCK_RAW, length=17))
p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
d = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4)
n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
t = socket.socket()
pid = os.fork()
if pid == 0:
    os.setuid(65534)
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        say("RAW6 created")
    except PermissionError:
        say("RAW6 EPERM")
    os._exit(0)
os.waitpid(pid, 0)
"#,
        None,
    );
    let python = |e: &Value| e["comm"] == "python3";
    let socks: Vec<&Value> = events_of(&run, "socket", python);
    let find = |family: &str, protocol: u64| {
        socks
            .iter()
            .find(|e| e["family"] == family && e["protocol"] == protocol)
            .unwrap_or_else(|| panic!("no {family} socket of protocol {protocol}: {}", brief(&socks)))
    };
    // Raw inet sockets, by the syscall and through io_uring: created, seen at the cgroup hook
    // (no descriptor, no result), each once.
    for (route, family, protocol) in [
        ("socket(2)", "inet", 1),
        ("IORING_OP_SOCKET", "inet", 255),
        ("IORING_OP_SOCKET", "inet6", 17),
    ] {
        let raw = find(family, protocol);
        assert_eq!(raw["sock_type"], "raw", "{route}");
        assert!(raw.get("result").is_none(), "{route}: seen at the hook: {raw}");
        let n = socks
            .iter()
            .filter(|e| e["family"] == family && e["protocol"] == protocol)
            .count();
        assert_eq!(n, 1, "{route} {family} {protocol}: once: {}", brief(&socks));
    }
    for route in ["URING_RAW", "URING_RAW6"] {
        assert!(
            reported(&run, route).parse::<i32>().is_ok_and(|fd| fd >= 0),
            "{route}: {}",
            run.stderr
        );
    }
    assert_eq!(find("packet", u64::from(3u16.to_be()))["sock_type"], "raw");
    find("netlink", 4);
    assert!(
        !socks.iter().any(|e| e["family"] == "netlink" && e["protocol"] == 0),
        "NETLINK_ROUTE is not reported: {}",
        brief(&socks)
    );
    assert_eq!(
        socks
            .iter()
            .filter(|e| e["family"] == "inet" && e["sock_type"] != "raw")
            .count(),
        0
    );
    assert!(run.stderr.contains("RAW6 EPERM"), "{}", run.stderr);
    let refused = find("inet6", 58);
    assert_eq!(
        (refused["result"].as_i64(), refused["uid"].as_u64()),
        (Some(-1), Some(65534))
    );
}

/// A unix connect names the socket the kernel connected to: through a symlink removed right after,
/// by a relative path, through `/proc/self/cwd`, and an abstract name; `raw_addr` keeps what was
/// passed. (Reading only the path as passed, the symlink and relative forms hide the socket.)
#[test]
fn unix_connect_is_identified_by_the_socket_the_kernel_connected_to() {
    let (dir, run) = run_agent_in_agents_dir(
        r#"
srv = socket.socket(socket.AF_UNIX)
srv.bind("agents/b.sock")
srv.listen(8)
os.symlink(os.path.abspath("agents/b.sock"), "innocent")
c1 = socket.socket(socket.AF_UNIX)
c1.connect("innocent")
os.unlink("innocent")
os.chdir("agents")
c2 = socket.socket(socket.AF_UNIX)
c2.connect("b.sock")
c3 = socket.socket(socket.AF_UNIX)
c3.connect("/proc/self/cwd/b.sock")
ab = socket.socket(socket.AF_UNIX)
ab.bind("\0agentmon-test-peer")
ab.listen(8)
c4 = socket.socket(socket.AF_UNIX)
c4.connect("\0agentmon-test-peer")
"#,
    );
    let real = dir.path().join("agents/b.sock").to_string_lossy().into_owned();
    let unix = events_of(&run, "connect", |e| e["family"] == "unix");
    for raw in ["innocent", "b.sock", "/proc/self/cwd/b.sock"] {
        let e = unix
            .iter()
            .find(|e| e["raw_addr"] == raw)
            .unwrap_or_else(|| panic!("no connect passed as {raw}: {}", brief(&unix)));
        assert_eq!(e["addr"], real.as_str(), "{raw}: the kernel's path of the socket");
        assert_eq!(
            (e["result"].as_i64(), e["verdict"].as_str()),
            (Some(0), Some("unchecked"))
        );
        assert_eq!(e["sock_type"], "stream");
    }
    let ab = unix
        .iter()
        .find(|e| e["addr"] == "@agentmon-test-peer")
        .unwrap_or_else(|| panic!("{}", brief(&unix)));
    assert!(ab.get("raw_addr").is_none(), "the name as passed is the kernel's");
    assert_eq!(unix.len(), 4, "one event per connect: {}", brief(&unix));
}

/// A deny rule refuses every route to the destination with EPERM — the syscall, `io_uring`, TCP Fast
/// Open, UDP datagrams sent without connect, and each of them from an IPv6 socket to the IPv4-mapped
/// address — and each event shows the verdict and the rule.
#[test]
fn a_deny_rule_refuses_every_route_and_the_events_show_the_verdict() {
    let rules = rules_dir(
        "- rule: No metadata\n  desc: test\n  condition: evt.kind = connect and net.addr in_cidr (169.254.169.254/32)\n  output: denied %net.addr:%net.port %net.verdict\n  priority: CRITICAL\n  action: deny\n",
    );
    let run = run_agent(
        r#"
netns("169.254.169.254/32", "10.99.0.1/32")
l = socket.socket()
l.bind(("0.0.0.0", 0))
l.listen(8)
port = l.getsockname()[1]
def attempt(name, f):
    try:
        r = f()
        say(name, "EPERM" if r == -1 else "ALLOWED %s" % r)
    except PermissionError:
        say(name, "EPERM")
attempt("PLAIN", lambda: socket.socket().connect(("169.254.169.254", port)))
ring = Ring()
attempt("URING", lambda: uring_connect(ring, socket.socket(), "169.254.169.254", port))
attempt("TFO", lambda: fast_open("169.254.169.254", port))
attempt("UDP", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"q", ("169.254.169.254", 53)))
# The dodge around IPv4 rules: an IPv6 socket to the IPv4-mapped address.
attempt("MAPPED", lambda: socket.socket(socket.AF_INET6).connect(("::ffff:169.254.169.254", port)))
attempt("MAPPED_UDP", lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b"q", ("::ffff:169.254.169.254", 54)))
attempt("OTHER", lambda: socket.socket().connect(("10.99.0.1", port)))
say("PORT", port)
"#,
        Some(rules.path()),
    );
    for route in ["PLAIN", "URING", "TFO", "UDP", "MAPPED", "MAPPED_UDP"] {
        assert_eq!(reported(&run, route), "EPERM", "{route}: {}", run.stderr);
    }
    assert_eq!(
        reported(&run, "OTHER"),
        "ALLOWED None",
        "other destinations still connect"
    );
    let port: u16 = reported(&run, "PORT").parse().unwrap();
    let mut denied = events_of(&run, "connect", |e| to(e, METADATA, port));
    assert_eq!(denied.len(), 3, "syscall, io_uring, fast open: {}", brief(&denied));
    let mapped = events_of(&run, "connect", |e| to(e, "::ffff:169.254.169.254", port));
    assert_eq!(mapped.len(), 1, "IPv4-mapped: {}", brief(&run.of_kind("connect")));
    assert_eq!(mapped[0]["family"], "inet6", "the kernel saw an IPv6 connect");
    denied.extend(mapped);
    for e in &denied {
        assert_eq!(
            (e["verdict"].as_str(), e["denied"].as_bool()),
            (Some("denied"), Some(true)),
            "{e}"
        );
        assert!(e["rule_id"].is_u64(), "{e}");
    }
    for udp_port in [53, 54] {
        let udp = events_of(&run, "send", |e| to(e, METADATA, udp_port));
        assert_eq!(udp.len(), 1, "port {udp_port}: {}", brief(&run.of_kind("send")));
        assert_eq!(
            (udp[0]["verdict"].as_str(), udp[0]["denied"].as_bool()),
            (Some("denied"), Some(true)),
            "port {udp_port}"
        );
    }
    let allowed = events_of(&run, "connect", |e| to(e, "10.99.0.1", port));
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["verdict"], "allowed");
    let alerts = run.alerts_of("No metadata");
    assert_eq!(
        alerts.len(),
        4,
        "the mapped address is the same address: {:?}",
        run.fired()
    );
    for a in &alerts {
        assert_eq!(a["action_result"], "denied in kernel: connect() refused with EPERM");
        assert!(a["output"].as_str().unwrap().ends_with(" denied"), "{a}");
    }
}

/// A quarantined agent's connects are refused (EPERM) and reported with the verdict
/// `quarantined`; releasing it restores them. The quarantine itself is triggered by a connect.
#[test]
fn quarantined_connects_are_refused_and_reported_so() {
    let cg = TestCgroup::new("net-quarantine");
    let state = tempfile::tempdir().unwrap();
    let trigger = TcpListener::bind("127.0.0.1:0").unwrap();
    let trigger_port = trigger.local_addr().unwrap().port();
    let rules = rules_dir(&format!(
        "- rule: Quarantine on trigger\n  desc: test\n  condition: evt.kind = connect and net.port = {trigger_port}\n  output: trigger\n  priority: CRITICAL\n  action: quarantine\n"
    ));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state_dir = state.path().to_string_lossy().into_owned();
    let cg_path = cg.path.to_string_lossy().into_owned();
    let mut m = Monitor::start_env(
        &[
            "--rules",
            &rules.path().to_string_lossy(),
            "--cgroup",
            &cg_path,
            "--events",
        ],
        &[("AGENTMON_STATE_DIR", &state_dir)],
    );
    let connect = |port: u16| {
        format!(
            "import socket\ntry:\n    socket.socket().connect(('127.0.0.1', {port}))\nexcept PermissionError:\n    raise SystemExit(3)\n"
        )
    };
    // Not waited for: it may be frozen before it exits.
    let mut trigger_proc = command_in(&cg.path, "/usr/bin/python3", &["-S", "-c", &connect(trigger_port)])
        .spawn()
        .unwrap();
    m.wait_stderr("quarantined", Duration::from_secs(10));
    std::fs::write(cg.path.join("cgroup.freeze"), "0").unwrap();
    assert!(wait_for(Duration::from_secs(5), || !is_frozen(&cg.path)));
    let out = command_in(&cg.path, "/usr/bin/python3", &["-S", "-c", &connect(port)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "refused with EPERM");
    let e = m
        .wait_event(Duration::from_secs(5), |e| e["kind"] == "connect" && e["port"] == port)
        .unwrap_or_else(|| panic!("no connect event: {}", m.stderr()));
    assert_eq!(
        (e["verdict"].as_str(), e["denied"].as_bool()),
        (Some("quarantined"), Some(true)),
        "{e}"
    );
    release(&cg_path, &state_dir);
    let out = command_in(&cg.path, "/usr/bin/python3", &["-S", "-c", &connect(port)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "released: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = m.stop();
    let _ = trigger_proc.kill();
    let _ = trigger_proc.wait();
}
