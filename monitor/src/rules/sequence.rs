//! Stateful sequence rules: steps that must happen in order, for the same agent, within a window,
//! optionally with equal field values between consecutive steps (`same: [file.path]`). A partial
//! match that advances also stays where it was (intermediate steps branch); a completed match is
//! consumed.
//!
//! A partial match is identified by the step it waits for and the values it captured for that
//! step's `same` fields: an identical newer one replaces it. Whether a step matches an event does
//! not depend on the partial match, and of the partial matches waiting for that step only the one
//! whose captured values equal the event's can advance, so an event costs at most one condition
//! evaluation and one lookup per step, however many partial matches are held.
//!
//! State is bounded: per rule and agent at most [`MAX_PARTIALS`] partial matches are kept (the
//! oldest inserted is dropped first) and partial matches older than the window are expired on every
//! event of the agent that matches a step of the sequence.
use std::{
    borrow::Cow,
    cmp::Reverse,
    collections::{BinaryHeap, VecDeque},
    fmt::Write,
    sync::Arc,
};

/// Keys are agent names and values from events (paths an agent chose): a fast hash that is still
/// seeded per map, so an agent cannot precompute colliding keys.
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use super::{
    eval::EventView,
    fields::{Field, Kind, PerKind, render, str_value},
    prefilter::{Facts, KindCond},
};

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;

/// Partial matches kept per rule and agent.
pub(super) const MAX_PARTIALS: usize = 256;

/// Stale queue entries tolerated (beyond twice the live ones) before a queue is compacted.
const SLACK: usize = 32;

#[derive(Debug)]
pub(super) struct Step {
    /// The step's condition specialised per event kind (`None`: never matches that kind).
    pub by_kind: PerKind<KindCond>,
    /// Fields that must equal the previous step's values.
    pub same: Vec<Field>,
}

#[derive(Debug)]
pub(super) struct Sequence {
    pub steps: Vec<Step>,
    pub within_ns: u64,
    /// Partial matches kept per agent: [`MAX_PARTIALS`] (tests lower it).
    cap: usize,
    agents: FastMap<String, Partials>,
}

/// One agent's partial matches.
#[derive(Debug)]
struct Partials {
    /// Indexed by the step waited for: partial matches by the [`key`] of their captured values.
    waiting: Vec<FastMap<Arc<str>, Entry>>,
    /// Partial matches held (the sum of `waiting`'s lengths).
    len: usize,
    /// Insertion order, to drop the oldest at the cap. References to partial matches replaced or
    /// removed since are stale (see [`Partials::live`]) and skipped.
    order: VecDeque<Ref>,
    /// Earliest start first, to expire; stale references as in `order`.
    expiry: BinaryHeap<Reverse<(u64, Ref)>>,
    /// The next insertion stamp.
    stamp: u64,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    started_ns: u64,
    /// When it was inserted (unique per agent): tells live queue references from stale ones.
    stamp: u64,
}

/// A queue reference to a partial match. Ordered by its stamp first, which is unique.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Ref {
    stamp: u64,
    next: usize,
    key: Arc<str>,
}

impl Sequence {
    pub(super) fn new(steps: Vec<Step>, within_ns: u64) -> Self {
        Self {
            steps,
            within_ns,
            cap: MAX_PARTIALS,
            agents: FastMap::default(),
        }
    }

    pub(super) fn kinds_used(&self) -> impl Iterator<Item = Kind> + '_ {
        super::fields::rule_kinds().filter(|k| self.steps.iter().any(|s| s.by_kind.get(*k).is_some()))
    }

    /// Facts an event of this kind needs to match any step (an event without them changes nothing).
    pub(super) fn need(&self, kind: Kind) -> Facts {
        self.steps
            .iter()
            .filter_map(|s| s.by_kind.get(kind))
            .map(|c| c.need)
            .reduce(Facts::intersection)
            .unwrap_or(Facts::NONE)
    }

    /// Feeds one event; true when it completes the sequence. Costs at most one condition evaluation
    /// and one lookup per step. Allocates only to hold a new partial match, and for the lookup when
    /// a matching step compares several fields or a field that is not a string.
    pub(super) fn observe(&mut self, kind: Kind, v: &EventView<'_>) -> bool {
        let Sequence {
            steps,
            within_ns,
            cap,
            agents,
        } = self;
        // Each step's condition, evaluated once. An event that matches no step changes nothing, so
        // most events (an open for reading, say) cost a few condition tests and no state lookup;
        // expiry then waits for the agent's next event that matches a step.
        // (Steps past the 64th, if any, are evaluated where needed.)
        let mask = steps
            .iter()
            .take(64)
            .enumerate()
            .fold(0u64, |m, (k, s)| if step_matches(s, kind, v) { m | 1 << k } else { m });
        let matched = |k: usize| {
            if k < 64 {
                mask & (1 << k) != 0
            } else {
                step_matches(&steps[k], kind, v)
            }
        };
        if mask == 0 && (steps.len() <= 64 || !(64..steps.len()).any(matched)) {
            return false;
        }
        let now = v.ev.event.header.ktime_ns;
        let agent = v.ev.agent.as_str();
        let mut completed = false;
        let mut emptied = false;
        if let Some(st) = agents.get_mut(agent) {
            st.expire(now, *within_ns);
            // First find every partial match this event completes or advances, so that none
            // created or advanced by the event is matched against it too.
            // (stamp, started_ns, next) of the partial matches that advance.
            let mut advanced: Vec<(u64, u64, usize)> = Vec::new();
            for (k, step) in steps.iter().enumerate().skip(1) {
                if st.waiting[k].is_empty() || !matched(k) {
                    continue;
                }
                let key = values_key(&step.same, v);
                if k + 1 == steps.len() {
                    // A completed chain is consumed.
                    completed |= st.remove(k, &key).is_some();
                } else if let Some(e) = st.waiting[k].get(&*key) {
                    // An intermediate step branches: the chain also stays where it is, so e.g.
                    // every file written after a connect is tracked, not only the first.
                    advanced.push((e.stamp, e.started_ns, k + 1));
                }
            }
            // Advanced chains are inserted in the order their origins were.
            advanced.sort_unstable_by_key(|a| a.0);
            for (_, started_ns, next) in advanced {
                st.insert(*cap, next, values_key(&steps[next].same, v), started_ns);
            }
            emptied = st.len == 0;
        }
        if !steps.is_empty() && matched(0) {
            let key = values_key(&steps[1].same, v);
            if !agents.contains_key(agent) {
                agents.insert(agent.to_string(), Partials::new(steps.len()));
            }
            if let Some(st) = agents.get_mut(agent) {
                st.insert(*cap, 1, key, now);
            }
        } else if emptied {
            agents.remove(agent);
        }
        completed
    }

    pub(super) fn forget(&mut self, agent: &str) {
        self.agents.remove(agent);
    }

    /// Partial matches currently held (all agents).
    #[cfg(test)]
    pub(super) fn pending(&self) -> usize {
        self.agents.values().map(|p| p.len).sum()
    }
}

impl Partials {
    fn new(steps: usize) -> Self {
        Self {
            waiting: (0..steps).map(|_| FastMap::default()).collect(),
            len: 0,
            order: VecDeque::new(),
            expiry: BinaryHeap::new(),
            stamp: 0,
        }
    }

    /// Whether `r` still refers to a held partial match (not one replaced or removed since).
    fn live(waiting: &[FastMap<Arc<str>, Entry>], r: &Ref) -> bool {
        waiting[r.next].get(&r.key).is_some_and(|e| e.stamp == r.stamp)
    }

    fn remove(&mut self, next: usize, key: &str) -> Option<Entry> {
        let e = self.waiting[next].remove(key)?;
        self.len -= 1;
        Some(e)
    }

    /// Drops the partial matches started more than `within_ns` before `now`.
    fn expire(&mut self, now: u64, within_ns: u64) {
        while let Some(Reverse((started_ns, _))) = self.expiry.peek() {
            if now.saturating_sub(*started_ns) <= within_ns {
                break;
            }
            if let Some(Reverse((_, r))) = self.expiry.pop()
                && Self::live(&self.waiting, &r)
            {
                self.remove(r.next, &r.key);
            }
        }
    }

    /// Adds a partial match, replacing an identical older one and enforcing the cap.
    fn insert(&mut self, cap: usize, next: usize, key: Cow<'_, str>, started_ns: u64) {
        let key = match self.waiting[next].remove_entry(&*key) {
            Some((k, _)) => {
                self.len -= 1;
                k
            }
            None => Arc::from(&*key),
        };
        if self.len >= cap {
            self.drop_oldest();
        }
        let stamp = self.stamp;
        self.stamp += 1;
        self.waiting[next].insert(Arc::clone(&key), Entry { started_ns, stamp });
        self.len += 1;
        let r = Ref { stamp, next, key };
        self.order.push_back(r.clone());
        self.expiry.push(Reverse((started_ns, r)));
        self.compact();
    }

    fn drop_oldest(&mut self) {
        while let Some(r) = self.order.pop_front() {
            if Self::live(&self.waiting, &r) {
                self.remove(r.next, &r.key);
                return;
            }
        }
    }

    /// Frees the stale references once they outnumber the live ones, so a partial match replaced
    /// over and over does not grow the queues (amortised constant time per insertion).
    fn compact(&mut self) {
        let Partials {
            waiting,
            len,
            order,
            expiry,
            ..
        } = self;
        let limit = 2 * *len + SLACK;
        if order.len() > limit {
            order.retain(|r| Self::live(waiting, r));
        }
        if expiry.len() > limit {
            expiry.retain(|Reverse((_, r))| Self::live(waiting, r));
        }
    }
}

fn step_matches(step: &Step, kind: Kind, v: &EventView<'_>) -> bool {
    step.by_kind.get(kind).is_some_and(|c| c.matches(v))
}

/// Values of a step's `same` fields as one string: the value itself for a single field (the usual
/// case), length-prefixed values for several. A step's partial matches all have the same number of
/// values, so equal keys mean equal values.
fn key<'a>(n: usize, mut values: impl Iterator<Item = Cow<'a, str>>) -> Cow<'a, str> {
    match n {
        0 => Cow::Borrowed(""),
        1 => values.next().unwrap_or_default(),
        _ => {
            let mut s = String::new();
            for v in values {
                let _ = write!(s, "{}:{v}", v.len());
            }
            Cow::Owned(s)
        }
    }
}

/// Key of the values of these `same` fields in the current event: what a partial match waiting
/// for the step captures from the previous step's event, and what it is compared with. Borrowed
/// from the event for a single string field.
fn values_key<'a>(same: &[Field], v: &'a EventView<'_>) -> Cow<'a, str> {
    key(same.len(), same.iter().map(|f| same_value(*f, v)))
}

/// A field's value for `same`: as [`render`]ed (`str_value` is `Some` only for string fields, which
/// render as just that string; checked by a test), without copying string fields.
fn same_value<'a>(f: Field, v: &'a EventView<'_>) -> Cow<'a, str> {
    match str_value(f, v.ev) {
        Some(s) if f != Field::ProcArgs => Cow::Borrowed(s),
        _ => Cow::Owned(render(f, v.ev)),
    }
}
