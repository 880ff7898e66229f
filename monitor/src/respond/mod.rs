//! Carries out what a matched rule asks for (alert, kill, quarantine, deny) and says what happened,
//! with the latency from the triggering event.
use std::time::Duration;

pub mod kill;
pub mod quarantine;
pub mod state;

use crate::{
    cgroup::Cgroup,
    event::Body,
    rules::{Action, Alert},
};

/// CLOCK_BOOTTIME now, in ns (the clock of event timestamps).
pub fn boottime_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Performs `alert.action` on the agent's cgroup (`agent_cgroup`: the watched cgroup the event came
/// from) and fills `action_result` and `action_latency_us`.
pub fn respond(alert: &mut Alert, agent_cgroup: Option<&Cgroup>) {
    let ev = &alert.event.event;
    let result = match alert.action {
        Action::Alert => Ok("alerted".to_string()),
        Action::Kill => match agent_cgroup {
            Some(cg) => kill::kill(cg),
            None => Err(anyhow::anyhow!("the event's agent cgroup is unknown")),
        },
        Action::Quarantine => match agent_cgroup {
            Some(cg) => quarantine::quarantine(cg, &alert.event.agent, &alert.rule),
            None => Err(anyhow::anyhow!("the event's agent cgroup is unknown")),
        },
        Action::Deny => Ok(match (&ev.body, ev.header.denied) {
            (Body::Connect(_), _) => "denied in kernel: connect() refused with EPERM".to_string(),
            (_, true) => "denied in kernel: process killed (SIGKILL) before the syscall returned".to_string(),
            (_, false) => {
                // The kernel table matches the path as passed; this form (e.g. a relative path)
                // escaped it, so stop the offender from here.
                // SAFETY: kill(2) on the offending pid.
                let rc = unsafe { libc::kill(ev.header.pid as i32, libc::SIGKILL) };
                if rc == 0 {
                    "kernel table did not match this path form; offending process killed from userspace".to_string()
                } else {
                    "kernel table did not match this path form; offending process already gone".to_string()
                }
            }
        }),
    };
    alert.action_result = match result {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(rule = %alert.rule, "action {:?} failed: {e:#}", alert.action);
            format!("{:?} failed: {e:#}", alert.action).to_lowercase()
        }
    };
    let latency = Duration::from_nanos(boottime_ns().saturating_sub(ev.header.ktime_ns));
    alert.action_latency_us = Some(latency.as_micros() as u64);
    if alert.action != Action::Alert {
        tracing::warn!(
            rule = %alert.rule,
            agent = %alert.event.agent,
            latency_us = latency.as_micros() as u64,
            "{}",
            alert.action_result
        );
    }
}
