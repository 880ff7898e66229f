//! The one text formatter of events and alerts, shared by live output, `replay` and `log cat`.
//! Everything taken from the event (and an alert's output, which renders event fields) is escaped
//! ([`crate::event::Line`]), so a watched agent cannot forge lines or send terminal escapes.
use std::io::{self, Write};

use crate::{enrich::Enriched, event::Line, rules::Alert};

/// Writes one event as a line: JSON (`--json`) or [`event_text`].
pub(crate) fn write_event(out: &mut impl Write, json: bool, e: &Enriched) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, e)?;
        out.write_all(b"\n")
    } else {
        writeln!(out, "{}", event_text(e))
    }
}

/// Writes one alert as a line: JSON (`--json`; the alert with its triggering event) or
/// [`alert_text`].
pub(crate) fn write_alert(out: &mut impl Write, json: bool, a: &Alert) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, a)?;
        out.write_all(b"\n")
    } else {
        writeln!(out, "{}", alert_text(a))
    }
}

/// The readable one-line form: `TIME COMM[PID] ppid=… uid=… WHAT [FLAGS]`.
pub(crate) fn event_text(e: &Enriched) -> String {
    let h = &e.event.header;
    let mut out = String::with_capacity(128);
    let mut line = Line::new(&mut out);
    line.lit(&e.time.to_string())
        .lit(" ")
        .val(&h.comm)
        .lit("[")
        .num(h.pid)
        .lit("] ppid=")
        .num(h.ppid)
        .lit(" uid=")
        .num(h.uid)
        .lit(" ");
    e.event.body.describe(&mut line);
    if h.truncated {
        line.lit(" [truncated]");
    }
    if h.read_failed {
        line.lit(" [read-failed]");
    }
    if h.denied {
        line.lit(" [denied]");
    }
    out
}

/// The readable one-line form of an alert: `TIME ALERT RULE [PRIORITY] OUTPUT (AGENT; action ACTION:
/// RESULT) tags=TAG,TAG`; without `: RESULT` when no action was taken (replay), without `tags=` when
/// the rule has none. The tags carry the ATT&CK ids a SIEM groups alerts by.
pub(crate) fn alert_text(a: &Alert) -> String {
    let mut out = String::with_capacity(160);
    let mut line = Line::new(&mut out);
    line.lit(&a.event.time.to_string())
        .lit(" ALERT ")
        .val(&a.rule)
        .lit(" [")
        .lit(a.priority.as_str())
        .lit("] ")
        .val(&a.output)
        .lit(" (")
        .val(&a.event.agent)
        .lit("; action ")
        .lit(a.action.as_str());
    if !a.action_result.is_empty() {
        line.lit(": ").val(&a.action_result);
    }
    line.lit(")");
    for (i, t) in a.tags.iter().enumerate() {
        line.lit(if i == 0 { " tags=" } else { "," }).val(t);
    }
    out
}
