//! The straightforward implementation sequence matching had before partial matches were indexed:
//! every event is tested against every partial match. Kept as the model the indexed implementation
//! is checked against.
use std::{
    borrow::Cow,
    collections::{HashMap, VecDeque},
};

use super::{Step, step_matches};
use crate::rules::{
    eval::EventView,
    fields::{Field, Kind, render, str_value},
};

#[derive(Debug)]
struct Partial {
    next: usize,
    started_ns: u64,
    captured: Vec<String>,
}

/// Per agent, (next step, captured key, `started_ns`) of each partial match in insertion order,
/// agents sorted.
pub(super) type Snapshot = Vec<(String, Vec<(usize, String, u64)>)>;

#[derive(Debug)]
pub(super) struct Reference {
    pub(crate) within_ns: u64,
    pub(crate) cap: usize,
    partials: HashMap<String, VecDeque<Partial>>,
}

impl Reference {
    pub(super) fn new(within_ns: u64, cap: usize) -> Self {
        Self {
            within_ns,
            cap,
            partials: HashMap::new(),
        }
    }

    pub(super) fn observe(&mut self, steps: &[Step], kind: Kind, v: &EventView<'_>) -> bool {
        let Reference {
            within_ns,
            cap,
            partials,
        } = self;
        if !steps.iter().any(|s| step_matches(s, kind, v)) {
            return false;
        }
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
                    completed = true;
                    return false;
                }
                advanced.push(Partial {
                    next: p.next + 1,
                    started_ns: p.started_ns,
                    captured: capture(steps, p.next + 1, v),
                });
                true
            });
            for p in advanced {
                push(list, p, *cap);
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
                Some(list) => push(list, p, *cap),
                None => {
                    partials.insert(agent.to_string(), VecDeque::from([p]));
                }
            }
        }
        completed
    }

    pub(super) fn forget(&mut self, agent: &str) {
        self.partials.remove(agent);
    }

    pub(super) fn pending(&self) -> usize {
        self.partials.values().map(VecDeque::len).sum()
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let mut out: Snapshot = self
            .partials
            .iter()
            .map(|(agent, list)| {
                let held = list
                    .iter()
                    .map(|p| {
                        let key = super::key(p.captured.len(), p.captured.iter().map(|s| Cow::Borrowed(s.as_str())));
                        (p.next, key.into_owned(), p.started_ns)
                    })
                    .collect();
                (agent.clone(), held)
            })
            .collect();
        out.sort();
        out
    }
}

fn capture(steps: &[Step], next: usize, v: &EventView<'_>) -> Vec<String> {
    steps
        .get(next)
        .map(|s| s.same.iter().map(|f| render(*f, v.ev)).collect())
        .unwrap_or_default()
}

fn push(list: &mut VecDeque<Partial>, p: Partial, cap: usize) {
    list.retain(|q| !(q.next == p.next && q.captured == p.captured));
    if list.len() >= cap {
        list.pop_front();
    }
    list.push_back(p);
}

fn same_value(f: Field, v: &EventView<'_>, want: &str) -> bool {
    match str_value(f, v.ev) {
        Some(s) if f != Field::ProcArgs => s == want,
        _ => render(f, v.ev) == want,
    }
}
