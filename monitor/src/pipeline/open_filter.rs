//! The userspace half of the kernel's open filter: after the rules have seen a successful open and
//! found nothing, its key (kernel path, flags, syscall) is judged once ([`RuleSet::open_is_quiet`]);
//! a quiet one is queued for the kernel's `OPEN_QUIET` map (the session hands the queue over after
//! each drain), and from then on the kernel counts such opens instead of sending them. Only while no
//! consumer needs every event: no recording, no printed event stream, no profile being learned.
//!
//! A key is judged the second time it is seen: most keys an agent's work opens once (the files a
//! build compiles, an archive's members) never come again, and judging one and adding it to the
//! kernel's map costs more than the event; those that come again (libraries, configuration, a
//! storm's file) are what the filter is for.
use std::{
    collections::{HashMap, HashSet, hash_map::Entry},
    hash::BuildHasher,
};

use monitor_common::open::{QUIET_PATH_LEN, QuietOpenKey};

use crate::{FastHash, enrich::Enriched, event::Body, rules::RuleSet};

/// Judgements remembered before the memory starts over (by a hash of the key: a collision only
/// means an open is not judged, so it keeps being sent, or that a quiet key is offered again).
const JUDGED_MAX: usize = 16 * 1024;

#[derive(Default)]
pub(crate) struct OpenFilter {
    /// Quiet keys the kernel does not have yet.
    pending: Vec<QuietOpenKey>,
    /// Hashes of the keys in `pending`.
    pending_hashes: HashSet<u64, FastHash>,
    /// What is known of each key seen so far, by its hash.
    judged: HashMap<u64, Judged, FastHash>,
    hasher: FastHash,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Judged {
    /// Seen once, not judged yet.
    Seen,
    Quiet,
    /// Some rule might match an open with this key.
    Loud,
}

impl OpenFilter {
    /// An open the rules raised no alert for: noted the first time its key is seen, judged the
    /// second. An open whose key was judged quiet reached us because the kernel's map evicted it
    /// (it holds the most recently used 8192) or had not got it yet: it is offered again.
    pub(crate) fn observe(&mut self, rules: &RuleSet, ev: &Enriched) {
        let Body::Open(o) = &ev.event.body else { return };
        let Some(path) = o.kernel_path.as_deref() else { return };
        if o.result < 0 || path.len() >= QUIET_PATH_LEN {
            return;
        }
        let hash = self.hasher.hash_one((o.flags, o.syscall, path));
        if self.judged.len() >= JUDGED_MAX {
            self.judged.clear();
        }
        let state = match self.judged.entry(hash) {
            Entry::Vacant(v) => {
                v.insert(Judged::Seen);
                return;
            }
            Entry::Occupied(e) => e.into_mut(),
        };
        if *state == Judged::Seen {
            *state = if rules.open_is_quiet(ev) {
                Judged::Quiet
            } else {
                Judged::Loud
            };
        }
        if *state == Judged::Quiet
            && self.pending_hashes.insert(hash)
            && let Some(key) = o.quiet_key()
        {
            self.pending.push(key);
        }
    }

    /// The quiet keys found since the last call, for the kernel.
    pub(crate) fn take_pending(&mut self) -> Vec<QuietOpenKey> {
        self.pending_hashes.clear();
        std::mem::take(&mut self.pending)
    }

    /// Forgets every judgement (the rules changed).
    pub(crate) fn reset(&mut self) {
        self.pending.clear();
        self.pending_hashes.clear();
        self.judged.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::OpenFilter;
    use crate::{
        enrich::{Enriched, synthetic},
        event::Body,
        rules::RuleSet,
    };

    fn open(path: &str) -> Enriched {
        let mut e = Enriched::empty();
        e.event.body = synthetic::open(path, libc::O_RDONLY);
        if let Body::Open(o) = &mut e.event.body {
            o.kernel_path = Some(path.into());
        }
        e.resolved_path = Some(path.into());
        e
    }

    #[test]
    fn a_quiet_key_is_offered_once_per_batch_and_again_after_an_eviction() {
        let rules = RuleSet::from_sources(&[(
            "r.yaml".into(),
            "- rule: r\n  condition: evt.kind = open and file.path = /secret\n".into(),
        )])
        .expect("rules");
        let mut f = OpenFilter::default();
        f.observe(&rules, &open("/lib/x.so"));
        assert!(f.take_pending().is_empty(), "seen once: not judged yet");
        for _ in 0..3 {
            f.observe(&rules, &open("/lib/x.so"));
            f.observe(&rules, &open("/secret"));
        }
        let keys = f.take_pending();
        assert_eq!(keys.len(), 1, "one key, once");
        assert!(keys[0].path.starts_with(b"/lib/x.so\0"));
        // Seen again after the kernel had it: evicted there, so offered again.
        f.observe(&rules, &open("/lib/x.so"));
        assert_eq!(f.take_pending().len(), 1);
        f.observe(&rules, &open("/lib/x.so"));
        f.reset();
        assert!(f.take_pending().is_empty());
    }
}
