//! `agentmon log stats`: counts per kind and per agent, time span, alerts, losses.
use std::{collections::BTreeMap, io::Write, path::PathBuf};

use anyhow::{Context, Result};
use prost::Message;
use serde::Serialize;

use super::{Progress, report_problem};
use crate::record::{
    convert,
    decoder::EventDecoder,
    format::EntryKind,
    proto,
    reader::{FrameReader, ReaderOptions},
};

#[derive(Default, Serialize)]
struct Stats {
    files: u64,
    bytes: u64,
    frames: u64,
    events: u64,
    events_by_kind: BTreeMap<String, u64>,
    events_by_agent: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_event: Option<String>,
    alerts: u64,
    alerts_by_rule: BTreeMap<String, u64>,
    alerts_by_priority: BTreeMap<String, u64>,
    lost_events: u64,
    /// Records the recorder could not write (its `Lost` records).
    lost_records: u64,
    problems: u64,
    truncated: u64,
}

pub(super) fn stats(files: &[PathBuf], json: bool) -> Result<i32> {
    let progress = Progress::for_files(files);
    let mut s = Stats::default();
    let (mut first_ns, mut last_ns) = (i64::MAX, i64::MIN);
    let mut done = 0;
    for path in files {
        s.files += 1;
        s.bytes += std::fs::metadata(path).map_or(0, |m| m.len());
        let mut r = FrameReader::open(
            path,
            ReaderOptions {
                resync: true,
                ..Default::default()
            },
        )
        .with_context(|| path.display().to_string())?;
        let mut dec = EventDecoder::default();
        while let Some(item) = r.next_frame() {
            let f = match item {
                Ok(f) => f,
                Err(e) => {
                    dec.after_damage(&e);
                    if report_problem(path, &e) {
                        s.problems += 1;
                    } else {
                        s.truncated += 1;
                    }
                    continue;
                }
            };
            s.frames += 1;
            if s.frames % 1024 == 0 {
                progress.set(done + f.offset);
            }
            for entry in f.entries() {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        dec.after_damage(&e);
                        report_problem(path, &e);
                        s.problems += 1;
                        continue;
                    }
                };
                match entry.kind {
                    EntryKind::Context => {
                        if dec.define_context(entry.payload).is_err() {
                            s.problems += 1;
                        }
                    }
                    EntryKind::Event => {
                        s.events += 1;
                        if dec.decode(entry.payload).is_err() {
                            s.problems += 1;
                            continue;
                        }
                        let e = dec.event();
                        *s.events_by_kind.entry(e.event.body.kind_name().into()).or_default() += 1;
                        match s.events_by_agent.get_mut(&e.agent) {
                            Some(n) => *n += 1,
                            None => {
                                s.events_by_agent.insert(e.agent.clone(), 1);
                            }
                        }
                        first_ns = first_ns.min(dec.time_ns());
                        last_ns = last_ns.max(dec.time_ns());
                    }
                    EntryKind::Alert => {
                        s.alerts += 1;
                        if let Ok(a) = proto::Alert::decode(entry.payload) {
                            let prio = convert::priority_from_proto(a.priority).map_or("unknown", |p| p.as_str());
                            *s.alerts_by_priority.entry(prio.into()).or_default() += 1;
                            *s.alerts_by_rule.entry(a.rule).or_default() += 1;
                        }
                    }
                    EntryKind::Drops => {
                        if let Ok(d) = proto::Drops::decode(entry.payload) {
                            s.lost_events += d.lost;
                        }
                    }
                    EntryKind::Lost => {
                        if let Ok(l) = proto::Lost::decode(entry.payload) {
                            s.lost_records += (l.last_id + 1).saturating_sub(l.first_id);
                        }
                    }
                }
            }
        }
        done += std::fs::metadata(path).map_or(0, |m| m.len());
    }
    progress.finish();
    if first_ns <= last_ns {
        s.first_event = Some(convert::format_time_ns(first_ns));
        s.last_event = Some(convert::format_time_ns(last_ns));
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &s)?;
        writeln!(out)?;
    } else {
        print_stats(&mut out, &s)?;
    }
    Ok(i32::from(s.problems > 0 || s.lost_records > 0))
}

#[expect(
    clippy::use_debug,
    reason = "rule names are agent-influenced text: printed quoted and escaped"
)]
fn print_stats(out: &mut impl Write, s: &Stats) -> std::io::Result<()> {
    writeln!(out, "files: {} ({} bytes, {} frames)", s.files, s.bytes, s.frames)?;
    if let (Some(a), Some(b)) = (&s.first_event, &s.last_event) {
        writeln!(out, "time span: {a} .. {b}")?;
    }
    writeln!(out, "events: {}", s.events)?;
    for (k, n) in &s.events_by_kind {
        writeln!(out, "  {k:<10} {n}")?;
    }
    writeln!(out, "events per agent:")?;
    for (k, n) in &s.events_by_agent {
        let k = if k.is_empty() {
            "(none)".into()
        } else {
            crate::event::escaped(k)
        };
        writeln!(out, "  {k:<20} {n}")?;
    }
    writeln!(out, "alerts: {}", s.alerts)?;
    for (k, n) in &s.alerts_by_priority {
        writeln!(out, "  {k:<14} {n}")?;
    }
    for (k, n) in &s.alerts_by_rule {
        writeln!(out, "  rule {k:?}: {n}")?;
    }
    if s.lost_events > 0 {
        writeln!(
            out,
            "events lost in the ring buffer (recorded drop notices): {}",
            s.lost_events
        )?;
    }
    if s.lost_records > 0 {
        writeln!(
            out,
            "records the recorder could not write (recorded losses): {}",
            s.lost_records
        )?;
    }
    if s.problems + s.truncated > 0 {
        writeln!(out, "damaged frames: {}, truncated tails: {}", s.problems, s.truncated)?;
    }
    Ok(())
}
