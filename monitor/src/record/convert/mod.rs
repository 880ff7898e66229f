//! Conversions between agentmon's types ([`Enriched`], [`Alert`]) and the log schema ([`proto`]).
//!
//! To proto never fails. From proto checks what the schema cannot: required sub-messages present,
//! enums known, ports in range. Strings the live side holds as `&'static str` (open syscall, deny
//! target) are stored as enums.
use std::sync::Arc;

use super::{
    ConvertError,
    context::{ContextRef, ContextTable},
    proto,
};
use crate::{
    enrich::{AgentFacts, Ancestor, ContainerInfo, Enriched, WallTime},
    event::{Body, Event, Header},
    rules::{Action, Alert, Priority},
};

// ---- time ----

/// The live rendering of a wall-clock time (RFC 3339, µs, UTC), as [`WallTime`] does.
pub(crate) fn format_time_ns(ns: i64) -> String {
    WallTime::from_unix_ns(ns).to_string()
}

/// An event's wall-clock time as recorded: ns since the epoch. The log stores the instant, and
/// readers render it as the live output does.
pub(crate) fn time_ns(e: &Enriched) -> i64 {
    e.time.unix_ns()
}

// ---- events ----

/// [`Header`] and the schema's `EventHeader` carry the same fields by the same names, written here
/// once for both directions: `header!(own h => Type)` copies the fields an event entry carries
/// itself (the rest are its context's, see `Event.context`), `header!(all h => Type)` every field
/// (an alert's embedded event). `h` is a variable, moved from.
macro_rules! header {
    (own $h:ident => $($to:ident)::+) => {
        $($to)::+ {
            ktime_ns: $h.ktime_ns,
            tid: $h.tid,
            truncated: $h.truncated,
            read_failed: $h.read_failed,
            denied: $h.denied,
            ..Default::default()
        }
    };
    (all $h:ident => $($to:ident)::+) => {
        $($to)::+ {
            pid: $h.pid,
            ppid: $h.ppid,
            uid: $h.uid,
            gid: $h.gid,
            cgroup_id: $h.cgroup_id,
            comm: $h.comm,
            ..header!(own $h => $($to)::+)
        }
    };
}

/// The copy of an event an alert carries when the event itself was not recorded: every field inline
/// (see `Event` in the schema).
pub(crate) fn embedded_event_to_proto(e: &Enriched) -> proto::Event {
    proto::Event {
        time_unix_ns: time_ns(e),
        header: Some({
            let h = e.event.header.clone();
            header!(all h => proto::EventHeader)
        }),
        process: Some(process_to_proto(e)),
        resolved_path: e.resolved_path.clone(),
        facts: facts_to_proto(&e.facts),
        body: Some(e.event.body.to_proto()),
        ..Default::default()
    }
}

/// The event's agent facts, absent when there are none (most events).
fn facts_to_proto(f: &AgentFacts) -> Option<proto::AgentFacts> {
    (!f.is_empty()).then(|| proto::AgentFacts {
        agent_root: f.agent_root,
        dst_agent: f.dst_agent.clone(),
    })
}

pub(crate) fn facts_from_proto(f: Option<proto::AgentFacts>) -> AgentFacts {
    f.map(|f| AgentFacts {
        agent_root: f.agent_root,
        dst_agent: f.dst_agent,
    })
    .unwrap_or_default()
}

pub(crate) fn process_to_proto(e: &Enriched) -> proto::ProcessContext {
    proto::ProcessContext {
        exe: e.exe.clone(),
        ancestors: e
            .ancestors
            .iter()
            .map(|a| proto::Ancestor {
                pid: a.pid,
                exe: a.exe.clone(),
            })
            .collect(),
        cgroup: e.cgroup.clone(),
        agent: e.agent.clone(),
        container: e.container.as_deref().map(container_to_proto),
    }
}

pub(crate) fn container_to_proto(c: &ContainerInfo) -> proto::Container {
    proto::Container {
        full_id: c.full_id.clone(),
        name: c.name.clone(),
        image: c.image.clone(),
    }
}

pub(crate) fn container_from_proto(c: &proto::Container) -> Arc<ContainerInfo> {
    Arc::new(ContainerInfo::new(
        &c.full_id,
        Some(c.name.as_str()),
        Some(c.image.as_str()),
    ))
}

/// The body's own path: what `resolved_path` usually equals (an open's kernel path, when the
/// kernel side captured it).
pub(crate) fn raw_path(b: &Body) -> Option<&str> {
    match b {
        Body::Open(o) => Some(o.kernel_path.as_deref().unwrap_or(&o.path)),
        Body::Exec(x) => Some(x.exe_path.as_deref().unwrap_or(&x.filename)),
        _ => None,
    }
}

/// An Event entry, referring to context `ctx` for its process fields (see `Event.context`).
/// `time_ns` is the event's [`time_ns`].
#[cfg(test)]
pub(crate) fn event_to_proto(e: &Enriched, ctx: &ContextRef, time_ns: i64) -> proto::Event {
    let mut p = proto::Event::default();
    event_to_proto_into(e, ctx, time_ns, &mut p);
    p
}

/// [`event_to_proto`] over `out`, an earlier entry: the strings are copied into the buffers it
/// holds (the live recorder keeps one, so that an event of the same kind allocates nothing).
pub(crate) fn event_to_proto_into(e: &Enriched, ctx: &ContextRef, time_ns: i64, out: &mut proto::Event) {
    let h = &e.event.header;
    let adjust = i128::from(time_ns) - i128::from(h.ktime_ns) - i128::from(ctx.wall_offset_ns);
    let (time_unix_ns, time_adjust_ns) = match i64::try_from(adjust) {
        Ok(a) => (0, a),
        Err(_) => (time_ns, 0),
    };
    let resolved_is_raw = e.resolved_path.is_some() && e.resolved_path.as_deref() == raw_path(&e.event.body);
    // Every field is set (the destructuring fails to compile when the schema gains one).
    let proto::Event {
        time_unix_ns: out_time,
        header,
        process,
        resolved_path,
        body,
        context,
        resolved_is_raw: out_raw,
        time_adjust_ns: out_adjust,
        facts,
    } = out;
    *out_time = time_unix_ns;
    *header = Some(header!(own h => proto::EventHeader));
    *process = None;
    if resolved_is_raw {
        *resolved_path = None;
    } else {
        resolved_path.clone_from(&e.resolved_path);
    }
    e.event.body.to_proto_into(body);
    *context = ctx.id;
    *out_raw = resolved_is_raw;
    *out_adjust = time_adjust_ns;
    *facts = facts_to_proto(&e.facts);
}

/// An Event entry, its process fields taken from its context in `contexts`.
pub(crate) fn event_from_proto(p: proto::Event, contexts: &ContextTable) -> Result<Enriched, ConvertError> {
    if p.context == 0 {
        return Err(ConvertError::Missing("process context"));
    }
    let ctx = &contexts.get(p.context)?.ctx;
    let h = p.header.ok_or(ConvertError::Missing("event header"))?;
    let time = WallTime::from_unix_ns(if p.time_unix_ns != 0 {
        p.time_unix_ns
    } else {
        let ns = i128::from(h.ktime_ns) + i128::from(ctx.wall_offset_ns) + i128::from(p.time_adjust_ns);
        i64::try_from(ns).unwrap_or(0)
    });
    let body = body_from_proto(p.body.ok_or(ConvertError::Missing("event body"))?)?;
    let resolved_path = match p.resolved_path {
        Some(r) => Some(r),
        None if p.resolved_is_raw => Some(
            raw_path(&body)
                .ok_or(ConvertError::Missing("path for resolved_is_raw"))?
                .to_string(),
        ),
        None => None,
    };
    let mut ev = Enriched {
        time,
        event: Event {
            header: header!(own h => Header),
            body,
        },
        exe: String::new(),
        ancestors: Vec::new(),
        cgroup: String::new(),
        agent: String::new(),
        container: None,
        resolved_path,
        facts: facts_from_proto(p.facts),
        context_id: 0,
    };
    fill_context(&mut ev, ctx);
    Ok(ev)
}

/// Copies a context's process fields into `ev`, reusing `ev`'s string buffers.
pub(crate) fn fill_context(ev: &mut Enriched, ctx: &proto::Context) {
    let h = &mut ev.event.header;
    (h.pid, h.ppid, h.uid, h.gid, h.cgroup_id) = (ctx.pid, ctx.ppid, ctx.uid, ctx.gid, ctx.cgroup_id);
    h.comm.clone_from(&ctx.comm);
    let Some(p) = &ctx.process else {
        ev.exe.clear();
        ev.ancestors.clear();
        ev.cgroup.clear();
        ev.agent.clear();
        ev.container = None;
        return;
    };
    ev.exe.clone_from(&p.exe);
    ev.cgroup.clone_from(&p.cgroup);
    ev.agent.clone_from(&p.agent);
    // Shared while consecutive events are of the same container (the usual case).
    match (&p.container, &ev.container) {
        (None, _) => ev.container = None,
        (Some(c), Some(mine)) if mine.full_id == c.full_id && mine.name == c.name && mine.image == c.image => {}
        (Some(c), _) => ev.container = Some(container_from_proto(c)),
    }
    ev.ancestors.truncate(p.ancestors.len());
    for (i, a) in p.ancestors.iter().enumerate() {
        match ev.ancestors.get_mut(i) {
            Some(mine) => {
                mine.pid = a.pid;
                mine.exe.clone_from(&a.exe);
            }
            None => ev.ancestors.push(Ancestor {
                pid: a.pid,
                exe: a.exe.clone(),
            }),
        }
    }
}

/// The event an alert embeds (see [`embedded_event_to_proto`]).
pub(crate) fn embedded_event_from_proto(p: proto::Event) -> Result<Enriched, ConvertError> {
    if p.context != 0 {
        return Err(ConvertError::UnknownContext(p.context));
    }
    let h = p.header.ok_or(ConvertError::Missing("event header"))?;
    let process = p.process.unwrap_or_default();
    let body = body_from_proto(p.body.ok_or(ConvertError::Missing("event body"))?)?;
    Ok(Enriched {
        time: WallTime::from_unix_ns(p.time_unix_ns),
        event: Event {
            header: header!(all h => Header),
            body,
        },
        exe: process.exe,
        ancestors: process
            .ancestors
            .into_iter()
            .map(|a| Ancestor { pid: a.pid, exe: a.exe })
            .collect(),
        container: process.container.as_ref().map(container_from_proto),
        cgroup: process.cgroup,
        agent: process.agent,
        resolved_path: p.resolved_path,
        facts: facts_from_proto(p.facts),
        context_id: 0,
    })
}

fn unknown(what: &'static str, value: i32) -> ConvertError {
    ConvertError::UnknownEnum { what, value }
}

/// The body of a logged event (each kind converts itself: [`crate::event::KindInfo::from_proto`]).
pub(crate) fn body_from_proto(b: proto::event::Body) -> Result<Body, ConvertError> {
    Body::from_proto(b)
}

// ---- alerts ----

pub(crate) fn priority_to_proto(p: Priority) -> proto::Priority {
    match p {
        Priority::Emergency => proto::Priority::Emergency,
        Priority::Alert => proto::Priority::Alert,
        Priority::Critical => proto::Priority::Critical,
        Priority::Error => proto::Priority::Error,
        Priority::Warning => proto::Priority::Warning,
        Priority::Notice => proto::Priority::Notice,
        Priority::Informational => proto::Priority::Informational,
        Priority::Debug => proto::Priority::Debug,
    }
}

pub(crate) fn priority_from_proto(v: i32) -> Result<Priority, ConvertError> {
    Ok(match proto::Priority::try_from(v) {
        Ok(proto::Priority::Emergency) => Priority::Emergency,
        Ok(proto::Priority::Alert) => Priority::Alert,
        Ok(proto::Priority::Critical) => Priority::Critical,
        Ok(proto::Priority::Error) => Priority::Error,
        Ok(proto::Priority::Warning) => Priority::Warning,
        Ok(proto::Priority::Notice) => Priority::Notice,
        Ok(proto::Priority::Informational) => Priority::Informational,
        Ok(proto::Priority::Debug) => Priority::Debug,
        _ => return Err(unknown("priority", v)),
    })
}

pub(crate) fn action_to_proto(a: Action) -> proto::Action {
    match a {
        Action::Alert => proto::Action::Alert,
        Action::Kill => proto::Action::Kill,
        Action::Quarantine => proto::Action::Quarantine,
        Action::Deny => proto::Action::Deny,
    }
}

pub(crate) fn action_from_proto(v: i32) -> Result<Action, ConvertError> {
    Ok(match proto::Action::try_from(v) {
        Ok(proto::Action::Alert) => Action::Alert,
        Ok(proto::Action::Kill) => Action::Kill,
        Ok(proto::Action::Quarantine) => Action::Quarantine,
        Ok(proto::Action::Deny) => Action::Deny,
        _ => return Err(unknown("action", v)),
    })
}

/// The alert as recorded. `event_seq` is the record id of the triggering event in the same log; 0
/// means it was not recorded, and the event is embedded instead.
pub(crate) fn alert_to_proto(a: &Alert, event_seq: u64) -> proto::Alert {
    proto::Alert {
        rule: a.rule.clone(),
        priority: priority_to_proto(a.priority) as i32,
        tags: a.tags.clone(),
        action: action_to_proto(a.action) as i32,
        action_result: a.action_result.clone(),
        action_latency_us: a.action_latency_us,
        output: a.output.clone(),
        event_seq,
        event: (event_seq == 0).then(|| embedded_event_to_proto(&a.event)),
    }
}

/// Rebuilds an alert. `event` is the triggering event, looked up by `p.event_seq` by the caller; it
/// is only used when the alert does not embed its event.
pub(crate) fn alert_from_proto(p: proto::Alert, event: Option<Enriched>) -> Result<Alert, ConvertError> {
    let event = match p.event {
        Some(e) => embedded_event_from_proto(e)?,
        None => event.ok_or(ConvertError::Missing("alert's triggering event"))?,
    };
    Ok(Alert {
        rule: p.rule,
        priority: priority_from_proto(p.priority)?,
        tags: p.tags,
        action: action_from_proto(p.action)?,
        action_result: p.action_result,
        action_latency_us: p.action_latency_us,
        output: p.output,
        event,
    })
}

#[cfg(test)]
mod tests;
