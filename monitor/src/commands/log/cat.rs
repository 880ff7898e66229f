//! `agentmon log cat`: every record of a log, prefixed with its record id and byte offset. Events
//! and alerts are written by the formatter live output uses ([`crate::outputs::format`]); the
//! records only logs have (header, process context, drop notice, trailer) are described here. Values
//! taken from the watched agents are escaped, as everywhere in text output.
use std::{io::Write, path::PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use super::report_problem;
use crate::{
    enrich::Enriched,
    event::escaped,
    outputs::format::{alert_text, event_text},
    record::{
        ReaderOptions, Record, RecordReader, convert,
        format::{FrameError, Problem},
        proto,
        replay::RecentEvents,
    },
    rules::Alert,
};

pub(super) fn cat(files: &[PathBuf], json: bool, resync: bool) -> Result<i32> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut damaged = false;
    for path in files {
        let reader = RecordReader::open(
            path,
            ReaderOptions {
                resync,
                ..Default::default()
            },
        )
        .with_context(|| path.display().to_string())?;
        // Alerts name their event by record id; a file's ids are its own.
        let mut recent = RecentEvents::default();
        for item in reader {
            match item {
                Ok(loc) => {
                    let alert = match &loc.record {
                        Record::Event(e) => {
                            recent.insert(loc.seq, (**e).clone());
                            None
                        }
                        Record::Alert(p) => rebuild(&recent, p),
                        Record::Lost(l) => {
                            // Also on stderr: the log is incomplete here.
                            damaged |= report_problem(
                                path,
                                &FrameError {
                                    offset: loc.offset,
                                    problem: Problem::RecordsMissing {
                                        first: l.first_id,
                                        last: l.last_id,
                                        why: Some(l.error.clone()),
                                    },
                                },
                            );
                            None
                        }
                        _ => None,
                    };
                    if json {
                        let v = record_json(loc.seq, loc.offset, &loc.record, alert.as_ref());
                        serde_json::to_writer(&mut out, &v).map_err(std::io::Error::from)?;
                        out.write_all(b"\n")?;
                    } else {
                        let text = record_text(&loc.record, alert.as_ref());
                        writeln!(out, "#{} @{} {text}", loc.seq, loc.offset)?;
                    }
                }
                Err(e) => damaged |= report_problem(path, &e),
            }
        }
    }
    out.flush()?;
    Ok(i32::from(damaged))
}

/// A recorded alert as [`Alert`], with its event when the log still has it (else an empty one: the
/// alert's own fields are printed all the same). `None` when its own fields do not decode.
fn rebuild(recent: &RecentEvents, p: &proto::Alert) -> Option<Alert> {
    match recent.rebuild(p.clone()) {
        Ok(Some(a)) => Some(a),
        _ => {
            let mut bare = p.clone();
            bare.event = Some(convert::embedded_event_to_proto(&Enriched::empty()));
            convert::alert_from_proto(bare, None).ok()
        }
    }
}

/// `body` (a JSON object) with the record's kind, id and offset.
fn tagged(record: &str, seq: u64, offset: u64, body: impl Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(body).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("record".into(), record.into());
        o.insert("seq".into(), seq.into());
        o.insert("offset".into(), offset.into());
    }
    v
}

fn record_json(seq: u64, offset: u64, r: &Record, alert: Option<&Alert>) -> serde_json::Value {
    let tagged = |record, body: serde_json::Value| tagged(record, seq, offset, body);
    match (r, alert) {
        (Record::Event(e), _) => tagged("event", serde_json::to_value(e).unwrap_or_default()),
        (Record::Alert(p), Some(a)) => {
            let mut v = tagged("alert", serde_json::to_value(a).unwrap_or_default());
            if let Some(o) = v.as_object_mut() {
                o.insert("event_seq".into(), p.event_seq.into());
            }
            v
        }
        (Record::Header(h), _) => tagged(
            "header",
            serde_json::json!({
                "format_version": h.format_version,
                "host": h.host,
                "boot_id": h.boot_id,
                "start_time": convert::format_time_ns(h.start_time_unix_ns),
                "agentmon_version": h.agentmon_version,
                "file_index": h.file_index,
                "prev_file": h.prev_file,
            }),
        ),
        (Record::Context(c), _) => tagged("context", context_json(c)),
        (Record::Lost(l), _) => tagged(
            "lost",
            serde_json::json!({
                "first_id": l.first_id,
                "last_id": l.last_id,
                "events": l.events,
                "alerts": l.alerts,
                "error": l.error,
                "total": l.total,
                "time": convert::format_time_ns(l.time_unix_ns),
            }),
        ),
        (Record::Drops(d), _) => tagged(
            "drops",
            serde_json::json!({"lost": d.lost, "total": d.total, "time": convert::format_time_ns(d.time_unix_ns)}),
        ),
        (Record::Trailer(t), _) => tagged(
            "trailer",
            serde_json::json!({
                "reason": proto::trailer::Reason::try_from(t.reason).map_or("UNKNOWN", |r| r.as_str_name()),
                "next_file": t.next_file,
                "frames": t.frames,
                "events": t.events,
                "alerts": t.alerts,
                "end_time": convert::format_time_ns(t.end_time_unix_ns),
            }),
        ),
        (Record::Alert(p), None) => tagged("alert", serde_json::json!({"rule": p.rule, "unreadable": true})),
    }
}

fn context_json(c: &proto::Context) -> serde_json::Value {
    let p = c.process.clone().unwrap_or_default();
    serde_json::json!({
        "id": c.id,
        "pid": c.pid,
        "ppid": c.ppid,
        "uid": c.uid,
        "gid": c.gid,
        "cgroup_id": c.cgroup_id,
        "comm": c.comm,
        "exe": p.exe,
        "ancestors": p.ancestors.iter().map(|a| serde_json::json!({"pid": a.pid, "exe": a.exe})).collect::<Vec<_>>(),
        "cgroup": p.cgroup,
        "agent": p.agent,
    })
}

fn record_text(r: &Record, alert: Option<&Alert>) -> String {
    match (r, alert) {
        (Record::Event(e), _) => event_text(e),
        (Record::Alert(p), Some(a)) => format!("{} (event #{})", alert_text(a), p.event_seq),
        (Record::Alert(p), None) => format!("ALERT {} (unreadable)", escaped(&p.rule)),
        (Record::Header(h), _) => format!(
            "log header: host {} boot {} agentmon {} started {} file #{}{}",
            escaped(&h.host),
            escaped(&h.boot_id),
            escaped(&h.agentmon_version),
            convert::format_time_ns(h.start_time_unix_ns),
            h.file_index,
            if h.prev_file.is_empty() {
                String::new()
            } else {
                format!(" (continues {})", escaped(&h.prev_file))
            }
        ),
        (Record::Drops(d), _) => format!("DROPS: {} events lost ({} in all)", d.lost, d.total),
        (Record::Lost(l), _) => format!(
            "LOST: records #{}..=#{} could not be written ({} events, {} alerts; {} records lost in all): {}",
            l.first_id,
            l.last_id,
            l.events,
            l.alerts,
            l.total,
            escaped(&l.error)
        ),
        (Record::Context(c), _) => {
            let p = c.process.clone().unwrap_or_default();
            format!(
                "context {}: pid {} ppid {} uid {} comm {} exe {} agent {} cgroup {}",
                c.id,
                c.pid,
                c.ppid,
                c.uid,
                escaped(&c.comm),
                escaped(&p.exe),
                escaped(&p.agent),
                escaped(&p.cgroup)
            )
        }
        (Record::Trailer(t), _) => format!(
            "log trailer: {} frames, {} events, {} alerts{}",
            t.frames,
            t.events,
            t.alerts,
            if t.next_file.is_empty() {
                String::new()
            } else {
                format!(", continues in {}", escaped(&t.next_file))
            }
        ),
    }
}
