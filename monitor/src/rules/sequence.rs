//! Stateful sequence rules: steps that must happen in order, for the same agent, within a window,
//! optionally with equal field values between consecutive steps (`same: [file.path]`). A partial
//! match that advances also stays where it was (intermediate steps branch); a completed match is
//! consumed.
//!
//! State is bounded: per rule and agent at most [`MAX_PARTIALS`] partial matches are kept (the oldest
//! is dropped first) and partial matches older than the window are expired on every event.
use std::collections::{HashMap, VecDeque};

use super::{
    cond::Cond,
    eval::{EventView, eval},
    fields::{Field, Kind, render},
};

/// Partial matches kept per rule and agent.
pub const MAX_PARTIALS: usize = 256;

#[derive(Debug)]
pub struct Step {
    /// The step's condition specialised per event kind (`None`: never matches that kind).
    pub by_kind: [Option<Cond>; 4],
    /// Fields that must equal the previous step's values.
    pub same: Vec<Field>,
}

#[derive(Debug)]
struct Partial {
    /// Index of the step this partial match waits for.
    next: usize,
    started_ns: u64,
    /// Values of `steps[next].same`, taken from the previous step's event.
    captured: Vec<String>,
}

#[derive(Debug)]
pub struct Sequence {
    pub steps: Vec<Step>,
    pub within_ns: u64,
    partials: HashMap<String, VecDeque<Partial>>,
}

impl Sequence {
    pub fn new(steps: Vec<Step>, within_ns: u64) -> Self {
        Self {
            steps,
            within_ns,
            partials: HashMap::new(),
        }
    }

    pub fn kinds_used(&self) -> impl Iterator<Item = Kind> + '_ {
        super::fields::KINDS
            .into_iter()
            .filter(|k| self.steps.iter().any(|s| s.by_kind[*k as usize].is_some()))
    }

    /// Feeds one event; true when it completes the sequence. Allocates only when a step matches.
    pub fn observe(&mut self, kind: Kind, v: &EventView) -> bool {
        let Sequence {
            steps,
            within_ns,
            partials,
        } = self;
        let now = v.ev.event.header.ktime_ns;
        let agent = v.ev.agent.as_str();
        let mut completed = false;
        if let Some(list) = partials.get_mut(agent) {
            list.retain(|p| now.saturating_sub(p.started_ns) <= *within_ns);
            let mut advanced = Vec::new();
            list.retain(|p| {
                let step = &steps[p.next];
                if !step_matches(step, kind, v)
                    || !step
                        .same
                        .iter()
                        .zip(&p.captured)
                        .all(|(f, want)| same_value(*f, v, want))
                {
                    return true;
                }
                if p.next + 1 == steps.len() {
                    // A completed chain is consumed.
                    completed = true;
                    return false;
                }
                // An intermediate step branches: the chain also stays where it is, so e.g. every
                // file written after a connect is tracked, not only the first.
                advanced.push(Partial {
                    next: p.next + 1,
                    started_ns: p.started_ns,
                    captured: capture(steps, p.next + 1, v),
                });
                true
            });
            for p in advanced {
                push(list, p);
            }
            if list.is_empty() {
                partials.remove(agent);
            }
        }
        if steps.first().is_some_and(|s| step_matches(s, kind, v)) {
            let p = Partial {
                next: 1,
                started_ns: now,
                captured: capture(steps, 1, v),
            };
            match partials.get_mut(agent) {
                Some(list) => push(list, p),
                None => {
                    partials.insert(agent.to_string(), VecDeque::from([p]));
                }
            }
        }
        completed
    }

    pub fn forget(&mut self, agent: &str) {
        self.partials.remove(agent);
    }

    /// Partial matches currently held (all agents).
    pub fn pending(&self) -> usize {
        self.partials.values().map(VecDeque::len).sum()
    }
}

fn step_matches(step: &Step, kind: Kind, v: &EventView) -> bool {
    step.by_kind[kind as usize].as_ref().is_some_and(|c| eval(c, v))
}

/// Values of `steps[next].same`, read from the current event.
fn capture(steps: &[Step], next: usize, v: &EventView) -> Vec<String> {
    steps
        .get(next)
        .map(|s| s.same.iter().map(|f| render(*f, v.ev)).collect())
        .unwrap_or_default()
}

/// Adds a partial match, replacing an identical older one and enforcing the cap.
fn push(list: &mut VecDeque<Partial>, p: Partial) {
    list.retain(|q| !(q.next == p.next && q.captured == p.captured));
    if list.len() >= MAX_PARTIALS {
        list.pop_front();
    }
    list.push_back(p);
}

fn same_value(f: Field, v: &EventView, want: &str) -> bool {
    match super::fields::str_value(f, v.ev) {
        Some(s) if f != Field::ProcArgs => s == want,
        _ => render(f, v.ev) == want,
    }
}
