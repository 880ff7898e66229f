//! Printing events: one JSON object per line (`--json`) or one readable line per event.
use std::io::Write;

use serde::Serialize;

use crate::{
    alert::Alert,
    event::{Body, Event},
    proctable::Ancestor,
};

/// An event with what userspace knows around it.
#[derive(Clone, Debug, Serialize)]
pub struct Enriched {
    /// Wall-clock time of the event (RFC 3339).
    pub time: String,
    #[serde(flatten)]
    pub event: Event,
    /// Executable of the process (from the process table).
    pub exe: String,
    /// Parent chain, nearest first.
    pub ancestors: Vec<Ancestor>,
    /// cgroup path relative to the cgroup2 root, when known.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cgroup: String,
    /// Name of the watched agent the event belongs to.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub agent: String,
    /// open/exec: the absolute path the process really named (cwd/dirfd joined, `..` folded,
    /// symlinks resolved where possible). Rules match on this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_path: Option<String>,
}

/// Lost-event notice, also part of the JSON stream.
#[derive(Serialize)]
struct Drops {
    kind: &'static str,
    /// Events lost since the previous notice.
    lost: u64,
    /// Events lost since start.
    total: u64,
}

pub struct Printer {
    json: bool,
    out: Box<dyn Write + Send>,
}

impl Printer {
    pub fn new(json: bool, out: Box<dyn Write + Send>) -> Self {
        Self { json, out }
    }

    pub fn stdout(json: bool) -> Self {
        // Buffered: the session flushes after every ring-buffer batch, so output stays prompt.
        Self::new(
            json,
            Box::new(std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout())),
        )
    }

    pub fn event(&mut self, e: &Enriched) {
        let res = if self.json {
            serde_json::to_writer(&mut self.out, e)
                .map_err(std::io::Error::from)
                .and_then(|_| self.out.write_all(b"\n"))
        } else {
            writeln!(self.out, "{}", text_line(e))
        };
        if let Err(err) = res {
            tracing::error!("writing event: {err}");
        }
    }

    pub fn alert(&mut self, a: &Alert) {
        let res = if self.json {
            serde_json::to_writer(&mut self.out, a)
                .map_err(std::io::Error::from)
                .and_then(|_| self.out.write_all(b"\n"))
        } else {
            writeln!(
                self.out,
                "{} ALERT {} [{}] {} ({}; action {:?}: {})",
                a.event.time,
                a.rule,
                a.priority.as_str(),
                a.output,
                a.event.agent,
                a.action,
                a.action_result
            )
        };
        if let Err(err) = res {
            tracing::error!("writing alert: {err}");
        }
    }

    pub fn drops(&mut self, lost: u64, total: u64) {
        tracing::warn!(lost, total, "ring buffer full: events were lost");
        if self.json {
            let _ = serde_json::to_writer(
                &mut self.out,
                &Drops {
                    kind: "drops",
                    lost,
                    total,
                },
            );
            let _ = self.out.write_all(b"\n");
        }
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

/// The readable one-line form.
pub fn text_line(e: &Enriched) -> String {
    let h = &e.event.header;
    let what = match &e.event.body {
        Body::Exec(x) => format!("exec {} argv={:?}", x.filename, x.argv),
        Body::Open(o) => format!("open {} flags={:#o}", o.path, o.flags),
        Body::Connect(c) => format!("connect {:?} {}:{}", c.family, c.addr, c.port).to_lowercase(),
        Body::Mount(m) => format!("mount {} on {} type {}", m.source, m.target, m.fstype),
        Body::Fork(f) => format!("fork child={}", f.child_pid),
        Body::Exit(x) => match (x.exit_code, x.signal) {
            (Some(c), _) => format!("exit code={c}"),
            (_, Some(s)) => format!("exit signal={s}"),
            _ => "exit".to_string(),
        },
        Body::Deny(d) => format!("deny {} rule={}", d.what, d.rule_id),
        Body::Chdir(c) if c.fd >= 0 => format!("fchdir fd={}", c.fd),
        Body::Chdir(c) => format!("chdir {}", c.path),
    };
    let mut flags = String::new();
    if h.truncated {
        flags.push_str(" [truncated]");
    }
    if h.read_failed {
        flags.push_str(" [read-failed]");
    }
    if h.denied {
        flags.push_str(" [denied]");
    }
    format!(
        "{} {}[{}] ppid={} uid={} {}{}",
        e.time, h.comm, h.pid, h.ppid, h.uid, what, flags
    )
}

/// Converts kernel boot-time nanoseconds to wall-clock time.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// realtime − boottime, in ns.
    offset_ns: i128,
}

impl Clock {
    pub fn new() -> Self {
        let read = |id| {
            let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: clock_gettime writes into the timespec we own.
            unsafe { libc::clock_gettime(id, &mut ts) };
            ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
        };
        Self {
            offset_ns: read(libc::CLOCK_REALTIME) - read(libc::CLOCK_BOOTTIME),
        }
    }

    pub fn wall_ns(&self, ktime_ns: u64) -> i128 {
        self.offset_ns + ktime_ns as i128
    }

    pub fn rfc3339(&self, ktime_ns: u64) -> String {
        let ns = self.wall_ns(ktime_ns).max(0) as u128;
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns as u64);
        humantime::format_rfc3339_micros(t).to_string()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
