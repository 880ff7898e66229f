//! The one formatter of events and alerts as text, shared by live output, `replay` and `log cat`.
use crate::{enrich::Enriched, event::Body, rules::Alert};

/// The readable one-line form.
pub fn event_text(e: &Enriched) -> String {
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

/// The readable one-line form of an alert: `TIME ALERT RULE [PRIORITY] OUTPUT (AGENT; action ACTION: RESULT)`.
pub fn alert_text(a: &Alert) -> String {
    format!(
        "{} ALERT {} [{}] {} ({}; action {:?}: {})",
        a.event.time,
        a.rule,
        a.priority.as_str(),
        a.output,
        a.event.agent,
        a.action,
        a.action_result
    )
}
