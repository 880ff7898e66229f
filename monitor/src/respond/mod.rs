//! The respond stage: carries out what a matched rule asks for (alert, kill, quarantine, deny) and
//! says what happened, with the latency from the triggering event.
//!
//! Kill and quarantine wait for the kernel (an emptied or frozen cgroup, up to 2 s), so they run on
//! worker threads: the pipeline keeps draining the ring buffer while an agent is being stopped, which
//! is exactly when an attack generates events. [`Responder`] keeps each agent's alerts in order: an
//! alert leaves it (to be recorded and printed, with its action's result and latency) only when every
//! earlier alert of the same agent has, and an agent's actions run one after the other. Alerts of
//! other agents are not held back.
use std::{
    collections::{HashMap, VecDeque},
    time::Duration,
};

use tokio::sync::mpsc;

pub(crate) mod kill;
pub(crate) mod quarantine;
pub(crate) mod state;

use crate::{
    cgroup::Cgroup,
    event::{Body, Esc},
    rules::{Action, Alert},
};

/// `CLOCK_BOOTTIME` now, in ns (the clock of event timestamps).
pub(crate) fn boottime_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &raw mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// An alert whose response is complete, with the record id of its triggering event (0 if it was
/// not recorded).
#[derive(Debug)]
pub(crate) struct Answered {
    pub alert: Alert,
    pub event_seq: u64,
    /// The response ran on a worker thread: the alert leaves the pipeline later than its event.
    pub deferred: bool,
}

/// A finished worker-thread action.
#[derive(Debug)]
pub(crate) struct Done {
    /// The agent queue it belongs to.
    agent: u64,
    result: String,
}

/// What a kill or quarantine acts on: the agent's watched cgroup, and the agent's processes that
/// left it (followed by lineage; `crate::enrich::escaped`), which are moved back into it first so
/// the action covers them too.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) cgroup: Cgroup,
    pub(crate) escaped: Vec<u32>,
}

impl Target {
    /// Moves the escaped processes back into the agent's cgroup (a process gone meanwhile is
    /// skipped). Returns how many moved.
    fn rehome(&self) -> usize {
        let procs = self.cgroup.path.join("cgroup.procs");
        self.escaped
            .iter()
            .filter(|pid| std::fs::write(&procs, pid.to_string()).is_ok())
            .count()
    }
}

struct Queued {
    alert: Alert,
    event_seq: u64,
    /// The action still to be started, and on what (kill and quarantine only).
    start: ToStart,
    done: bool,
    deferred: bool,
}

/// Whether a queued alert's action still has to be started.
enum ToStart {
    /// Nothing to start: the alert's action took no time, or it has been started.
    Nothing,
    /// Start it on the agent (`None`: unknown, which the action reports as its result).
    On(Option<Target>),
}

/// Where finished actions arrive, to be handed to [`Responder::complete`]. Kept apart from the
/// responder so the live loop can wait on it while the pipeline is busy with the ring buffer.
pub(crate) struct Completions(mpsc::UnboundedReceiver<Done>);

impl Completions {
    /// The next finished action (cancel-safe).
    pub(crate) async fn next(&mut self) -> Done {
        match self.0.recv().await {
            Some(d) => d,
            // The responder (and its sender) is gone: nothing more will finish.
            None => std::future::pending().await,
        }
    }

    /// A finished action, if one is waiting.
    #[cfg(test)]
    pub(crate) fn try_next(&mut self) -> Option<Done> {
        self.0.try_recv().ok()
    }
}

/// Runs responses and hands alerts back in per-agent order once they are answered.
pub(crate) struct Responder {
    done_tx: mpsc::UnboundedSender<Done>,
    /// Agents (by watched cgroup id; 0 when unknown) with an action in flight, and their alerts
    /// queued behind it.
    queues: HashMap<u64, VecDeque<Queued>>,
}

impl Responder {
    /// A responder and the channel its finished actions come back on.
    pub(crate) fn new() -> (Self, Completions) {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let r = Self {
            done_tx,
            queues: HashMap::new(),
        };
        (r, Completions(done_rx))
    }

    /// Takes a matched alert of the agent whose watched cgroup is `target` (`agent`: its id, 0 when
    /// unknown). Alerts that are answered now, this one and any that waited for nothing else, are
    /// appended to `out` in order.
    pub(crate) fn submit(
        &mut self,
        alert: Alert,
        event_seq: u64,
        agent: u64,
        target: Option<Target>,
        out: &mut Vec<Answered>,
    ) {
        let deferred = matches!(alert.action, Action::Kill | Action::Quarantine);
        if !deferred && !self.queues.contains_key(&agent) {
            out.push(Answered {
                alert: respond_now(alert),
                event_seq,
                deferred: false,
            });
            return;
        }
        let (alert, start, done) = if deferred {
            (alert, ToStart::On(target), false)
        } else {
            (respond_now(alert), ToStart::Nothing, true)
        };
        self.queues.entry(agent).or_default().push_back(Queued {
            alert,
            event_seq,
            start,
            done,
            deferred: true,
        });
        self.advance(agent, out);
    }

    /// Applies a finished action and appends the alerts it releases to `out`.
    pub(crate) fn complete(&mut self, done: Done, out: &mut Vec<Answered>) {
        if let Some(head) = self.queues.get_mut(&done.agent).and_then(|q| q.front_mut()) {
            finish(&mut head.alert, done.result);
            head.done = true;
        }
        self.advance(done.agent, out);
    }

    /// Alerts still waiting for an action (theirs or an earlier one of the same agent).
    pub(crate) fn pending(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    /// Releases the answered alerts at the front of the agent's queue and starts the next action.
    fn advance(&mut self, agent: u64, out: &mut Vec<Answered>) {
        let Some(queue) = self.queues.get_mut(&agent) else {
            return;
        };
        while queue.front().is_some_and(|q| q.done) {
            if let Some(q) = queue.pop_front() {
                out.push(Answered {
                    alert: q.alert,
                    event_seq: q.event_seq,
                    deferred: q.deferred,
                });
            }
        }
        match queue.front_mut() {
            None => {
                self.queues.remove(&agent);
            }
            Some(head) => {
                if let ToStart::On(target) = std::mem::replace(&mut head.start, ToStart::Nothing) {
                    spawn_action(head.alert.action, &head.alert, target, agent, self.done_tx.clone());
                }
            }
        }
    }
}

/// Runs a kill or quarantine on a worker thread; its result comes back through `tx`.
fn spawn_action(action: Action, alert: &Alert, target: Option<Target>, agent: u64, tx: mpsc::UnboundedSender<Done>) {
    let name = alert.event.agent.clone();
    let rule = alert.rule.clone();
    let run = move || {
        let rehomed = target.as_ref().map_or(0, Target::rehome);
        if rehomed > 0 {
            tracing::info!(agent = %Esc(&name), rehomed, "moved processes that had left the agent's cgroup back into it");
        }
        let result = match (&target, action) {
            (None, _) => Err(anyhow::anyhow!("the event's agent cgroup is unknown")),
            (Some(t), Action::Kill) => kill::kill(&t.cgroup),
            (Some(t), _) => quarantine::quarantine(&t.cgroup, &name, &rule),
        };
        let result = result.unwrap_or_else(|e| {
            tracing::error!(rule = %Esc(&rule), agent = %Esc(&name), "action {} failed: {:#}", action.as_str(), Esc(&e));
            format!("{} failed: {e:#}", action.as_str())
        });
        let _ = tx.send(Done { agent, result });
    };
    if let Err(e) = std::thread::Builder::new().name("agentmon-respond".into()).spawn(run) {
        // Without a thread the action cannot run; say so in the alert rather than stall.
        tracing::error!("starting the response thread: {e}");
    }
}

/// Answers an alert whose action takes no time: alert, or deny (done by the kernel already, or by
/// one `kill(2)` from here).
fn respond_now(mut alert: Alert) -> Alert {
    let ev = &alert.event.event;
    let result = match alert.action {
        Action::Deny => match (&ev.body, ev.header.denied) {
            (Body::Connect(_), true) => "denied in kernel: connect() refused with EPERM".to_string(),
            (Body::Send(_), true) => "denied in kernel: datagram refused with EPERM".to_string(),
            // Seen at the syscall's exit only (no cgroup hook checked it) and refused by the
            // kernel anyway.
            (Body::Connect(c), false) if c.result.is_some_and(|r| r < 0) => {
                "connect failed before the kernel's check; nothing to stop".to_string()
            }
            (Body::Open(o), true) if o.result < 0 => {
                "denied in kernel: open() refused with EPERM before it had any effect (BPF LSM)".to_string()
            }
            (Body::Exec(e), true) if e.result < 0 => {
                "denied in kernel: execve() refused with EPERM before the program was loaded (BPF LSM)".to_string()
            }
            // Only the LSM hooks make mount(2)/move_mount fail and flag it (the fallback kills at
            // exit, after a mount that went through or failed on its own).
            (Body::Mount(m), true)
                if m.result == -i64::from(libc::EPERM) && matches!(m.syscall, "mount" | "move_mount") =>
            {
                "denied in kernel: mount refused with EPERM before anything was mounted (BPF LSM)".to_string()
            }
            // The LSM `path_*` hooks are the only kernel check of a change, so only they flag one.
            (b, true) if b.file_op().is_some() => {
                "denied in kernel: refused with EPERM before the path changed (BPF LSM)".to_string()
            }
            (b, false) if b.file_op().is_some_and(|op| op.result < 0) => {
                "the change failed on its own; nothing to stop".to_string()
            }
            // No BPF LSM path hooks on this kernel: the change is made; stop the offender.
            (b, false) if b.file_op().is_some() => {
                kill_offender(ev.header.pid, "no BPF LSM path hooks here: the change was made")
            }
            (_, true) => "denied in kernel: process killed (SIGKILL) before the syscall returned".to_string(),
            // The kernel table missed this form (a path form it does not match; a connect on a
            // socket created outside the agent's cgroup, which no cgroup hook checks and, without
            // BPF LSM, no `lsm/socket_connect` refused), so stop the offender from here.
            (_, false) => kill_offender(ev.header.pid, "kernel table did not match this path form"),
        },
        _ if alert.tags.iter().any(|t| t == "sandbox") => sandbox_result(&alert),
        _ => "alerted".to_string(),
    };
    finish(&mut alert, result);
    alert
}

/// SIGKILLs the offender of a deny rule the kernel did not stop; the alert's result, after `why`.
fn kill_offender(pid: u32, why: &str) -> String {
    // SAFETY: kill(2) on the offending pid.
    if unsafe { libc::kill(pid as i32, libc::SIGKILL) } == 0 {
        format!("{why}; offending process killed from userspace")
    } else {
        format!("{why}; offending process already gone")
    }
}

/// What the sandbox did about a deviation its rules (`profile::export::rules`, tagged `sandbox`,
/// `enforced` or `audit`, and the layer) alerted on: the kernel refused it — `EACCES` from Landlock
/// (`EPERM` for its scopes), `EPERM` from the seccomp filter — or it went through.
fn sandbox_result(alert: &Alert) -> String {
    let has = |t: &str| alert.tags.iter().any(|x| x == t);
    if has("audit") {
        return "alerted (audit mode: allowed)".into();
    }
    let ev = &alert.event.event;
    // The call's errno (0: it succeeded). A connect seen at the cgroup hook has no result, but got
    // past Landlock, which decides before the hook runs (a refused one is seen at the syscall's exit).
    let errno = match &ev.body {
        Body::Connect(c) => c.result.map_or(0, |r| (-r).max(0)),
        Body::Open(o) => (-o.result).max(0),
        Body::Exec(x) => (-x.result).max(0),
        Body::Syscall(s) if s.refused => libc::EPERM.into(),
        Body::Namespace(n) => (-n.result).max(0),
        b => b.file_op().map_or(0, |op| (-op.result).max(0)),
    };
    match errno {
        e if has("landlock") && (e == i64::from(libc::EACCES) || e == i64::from(libc::EPERM)) => {
            "denied by sandbox (landlock)".into()
        }
        e if has("seccomp") && e == i64::from(libc::EPERM) => "denied by sandbox (seccomp)".into(),
        0 => "alerted (not refused: the sandbox allows it, its rules being coarser than the profile)".into(),
        e => format!("alerted (failed with errno {e})"),
    }
}

/// Fills `action_result` and `action_latency_us` (from the event's kernel timestamp to now).
fn finish(alert: &mut Alert, result: String) {
    alert.action_result = result;
    let latency = Duration::from_nanos(boottime_ns().saturating_sub(alert.event.event.header.ktime_ns));
    alert.action_latency_us = Some(latency.as_micros() as u64);
    if alert.action != Action::Alert {
        tracing::warn!(
            rule = %Esc(&alert.rule),
            agent = %Esc(&alert.event.agent),
            latency_us = latency.as_micros() as u64,
            "{}",
            Esc(&alert.action_result)
        );
    }
}
