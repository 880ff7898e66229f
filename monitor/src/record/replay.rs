//! Replay: recorded events through a rule engine, as if live.
//!
//! The rule engine is reached through [`Evaluator`], so replay does not depend on how rules are
//! written. Without an evaluator, replay yields the alerts that were recorded, rebuilt with their
//! triggering events.
use std::{
    collections::{HashMap, VecDeque},
    path::{Path, PathBuf},
};

use prost::Message;

use super::{
    ConvertError, convert,
    decoder::EventDecoder,
    format::{EntryKind, FrameError, Problem},
    proto,
    reader::{FrameReader, ReaderOptions},
};
use crate::{enrich::Enriched, rules::Alert};

/// What replay needs from a rule engine: the alerts an event raises. State (e.g. rate limits,
/// sequences) may live in `self`; events come in recorded order. The event's `time` text may be
/// empty (it is rendered only for alerts; `event.header.ktime_ns` orders events); replay fills it in
/// the alerts returned.
pub(crate) trait Evaluator {
    fn evaluate(&mut self, ev: &Enriched) -> Vec<Alert>;
}

/// The rule engine of live monitoring.
impl Evaluator for crate::rules::RuleSet {
    fn evaluate(&mut self, ev: &Enriched) -> Vec<Alert> {
        crate::rules::RuleSet::evaluate(self, ev)
    }
}

impl<F: FnMut(&Enriched) -> Vec<Alert>> Evaluator for F {
    fn evaluate(&mut self, ev: &Enriched) -> Vec<Alert> {
        self(ev)
    }
}

/// Which recorded events are replayed, and how strictly the log is checked.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReplayOptions {
    /// Only events at or after this wall-clock time (ns since the epoch).
    pub since_ns: Option<i64>,
    /// Only events before this time.
    pub until_ns: Option<i64>,
    /// Only events of this agent.
    pub agent: Option<String>,
    /// Do not check the hash chain (see [`ReaderOptions::skip_chain`]), e.g. when the log was
    /// verified already; checksums and sequence numbers are always checked.
    pub skip_chain: bool,
    /// Stop reading a file at its first damaged frame instead of resynchronising on the next intact
    /// one (the damage is reported either way).
    pub no_resync: bool,
}

impl ReplayOptions {
    fn is_empty(&self) -> bool {
        self.since_ns.is_none() && self.until_ns.is_none() && self.agent.is_none()
    }

    /// Whether an event of `agent` at wall-clock `t` (ns since the epoch) is replayed.
    fn matches(&self, agent: &str, t: i64) -> bool {
        if self.is_empty() {
            return true;
        }
        if self.agent.as_ref().is_some_and(|a| a != agent) {
            return false;
        }
        self.since_ns.is_none_or(|s| t >= s) && self.until_ns.is_none_or(|u| t < u)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReplayStats {
    pub files: u64,
    pub events: u64,
    /// Events that passed the filter and were evaluated.
    pub replayed: u64,
    pub alerts: u64,
    /// Alert records found in the logs.
    pub recorded_alerts: u64,
    /// Damage found (frames skipped); truncated tails are counted in `truncated`.
    pub problems: u64,
    pub truncated: u64,
}

/// How many recent events are kept to rebuild recorded alerts (alerts follow their event closely).
const EVENT_CACHE: usize = 4096;

/// Recent events by record id, bounded: what rebuilds a recorded alert that names its event.
#[derive(Default)]
pub(crate) struct RecentEvents {
    by_seq: HashMap<u64, Enriched>,
    order: VecDeque<u64>,
}

impl RecentEvents {
    pub(crate) fn insert(&mut self, seq: u64, ev: Enriched) {
        if self.order.len() == EVENT_CACHE
            && let Some(old) = self.order.pop_front()
        {
            self.by_seq.remove(&old);
        }
        self.order.push_back(seq);
        self.by_seq.insert(seq, ev);
    }

    /// A recorded alert with its triggering event: the copy it embeds, else the event it names if it
    /// is among the recent ones (`None` when it is too far back). An alert that neither names nor
    /// embeds an event is malformed.
    pub(crate) fn rebuild(&self, p: proto::Alert) -> Result<Option<Alert>, ConvertError> {
        let event = match p.event_seq {
            _ if p.event.is_some() => None,
            0 => None,
            s => match self.by_seq.get(&s) {
                Some(ev) => Some(ev.clone()),
                None => return Ok(None),
            },
        };
        convert::alert_from_proto(p, event).map(Some)
    }
}

/// Where alerts come from.
pub(crate) enum Source<'a> {
    /// Re-evaluate every replayed event.
    Rules(&'a mut dyn Evaluator),
    /// The alerts the recording holds.
    Recorded,
}

/// Streams `paths` (in order; a rotated log's files continue each other's sequence) through
/// `source`. Damaged frames are skipped (resync) and reported to `on_problem`, which also gets
/// truncated tails; `progress` gets the bytes read so far across all files.
pub(crate) fn replay(
    paths: &[PathBuf],
    mut source: Source<'_>,
    options: &ReplayOptions,
    mut on_alert: impl FnMut(&Alert),
    mut on_problem: impl FnMut(&Path, &FrameError),
    mut progress: impl FnMut(u64),
) -> ReplayStats {
    let mut stats = ReplayStats::default();
    let mut recent = RecentEvents::default();
    let mut done = 0u64;
    for path in paths {
        stats.files += 1;
        let mut dec = EventDecoder::default();
        let opts = ReaderOptions {
            resync: !options.no_resync,
            skip_chain: options.skip_chain,
        };
        let mut r = match FrameReader::open(path, opts) {
            Ok(r) => r,
            Err(e) => {
                stats.problems += 1;
                on_problem(
                    path,
                    &FrameError {
                        offset: 0,
                        problem: Problem::Io(e.to_string()),
                    },
                );
                continue;
            }
        };
        while let Some(item) = r.next_frame() {
            let f = match item {
                Ok(f) => f,
                Err(e) => {
                    dec.after_damage(&e);
                    if e.is_truncation() {
                        stats.truncated += 1;
                    } else {
                        stats.problems += 1;
                    }
                    on_problem(path, &e);
                    continue;
                }
            };
            if f.header.seq % 16 == 0 {
                progress(done + f.offset);
            }
            for entry in f.entries() {
                let e = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        // A malformed batch: the rest of it is lost.
                        dec.after_damage(&e);
                        stats.problems += 1;
                        on_problem(path, &e);
                        continue;
                    }
                };
                let (offset, seq) = (e.offset, e.id);
                let bad = |kind, e: &dyn std::fmt::Display| FrameError {
                    offset,
                    problem: Problem::Payload {
                        kind,
                        reason: e.to_string(),
                    },
                };
                match e.kind {
                    EntryKind::Context => {
                        if let Err(e) = dec.define_context(e.payload) {
                            stats.problems += 1;
                            on_problem(path, &bad("context", &e));
                        }
                    }
                    EntryKind::Event => {
                        stats.events += 1;
                        if let Err(e) = dec.decode(e.payload) {
                            stats.problems += 1;
                            on_problem(path, &bad("event", &e));
                            continue;
                        }
                        if !options.matches(&dec.event().agent, dec.time_ns()) {
                            continue;
                        }
                        stats.replayed += 1;
                        match &mut source {
                            Source::Rules(eval) => {
                                for a in eval.evaluate(dec.event()) {
                                    stats.alerts += 1;
                                    on_alert(&a);
                                }
                            }
                            Source::Recorded => recent.insert(seq, dec.event().clone()),
                        }
                    }
                    EntryKind::Alert => {
                        stats.recorded_alerts += 1;
                        if !matches!(source, Source::Recorded) {
                            continue;
                        }
                        match recorded_alert(e.payload, &recent, options) {
                            Ok(Some(a)) => {
                                stats.alerts += 1;
                                on_alert(&a);
                            }
                            Ok(None) => {}
                            Err(e) => {
                                stats.problems += 1;
                                on_problem(path, &bad("alert", &e));
                            }
                        }
                    }
                    EntryKind::Drops => {}
                    // The log is incomplete here: a problem, like damage.
                    EntryKind::Lost => {
                        stats.problems += 1;
                        let why = proto::Lost::decode(e.payload).ok();
                        on_problem(
                            path,
                            &FrameError {
                                offset: e.offset,
                                problem: Problem::RecordsMissing {
                                    first: why.as_ref().map_or(0, |l| l.first_id),
                                    last: why.as_ref().map_or(0, |l| l.last_id),
                                    why: why.map(|l| l.error),
                                },
                            },
                        );
                    }
                }
            }
        }
        done += std::fs::metadata(path).map_or(0, |m| m.len());
        progress(done);
    }
    stats
}

/// A recorded alert rebuilt with its event (from `recent`); `None` when filtered out or when its
/// event is too far back to rebuild.
fn recorded_alert(payload: &[u8], recent: &RecentEvents, options: &ReplayOptions) -> Result<Option<Alert>, String> {
    let p = proto::Alert::decode(payload).map_err(|e| e.to_string())?;
    if let Some(embedded) = &p.event {
        let agent = embedded.process.as_ref().map_or("", |p| p.agent.as_str());
        if !options.matches(agent, embedded.time_unix_ns) {
            return Ok(None);
        }
    }
    recent.rebuild(p).map_err(|e| e.to_string())
}
