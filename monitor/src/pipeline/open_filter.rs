//! The userspace half of the kernel's open filter: after the rules have seen a successful open and
//! found nothing, its key (kernel path, flags, syscall) is judged once ([`RuleSet::open_is_quiet`]);
//! a quiet one is queued for the kernel's `OPEN_QUIET` map (the session hands the queue over after
//! each drain), and from then on the kernel counts such opens instead of sending them. Only while no
//! consumer needs every event: no recording, no printed event stream, no profile being learned.
use std::{collections::HashSet, hash::BuildHasher};

use monitor_common::open::QuietOpenKey;

use crate::{FastHash, enrich::Enriched, event::Body, rules::RuleSet};

/// Keys remembered as judged before the memory starts over (a hash each: a collision only means an
/// open is not judged, so it keeps being sent).
const JUDGED_MAX: usize = 16 * 1024;

#[derive(Default)]
pub(crate) struct OpenFilter {
    /// Quiet keys the kernel does not have yet.
    pending: Vec<QuietOpenKey>,
    /// Hashes of the keys judged so far, quiet or not.
    judged: HashSet<u64, FastHash>,
    hasher: FastHash,
}

impl OpenFilter {
    /// An open the rules raised no alert for: judged, if its key was not already.
    pub(crate) fn observe(&mut self, rules: &RuleSet, ev: &Enriched) {
        let Body::Open(o) = &ev.event.body else { return };
        let Some(key) = o.quiet_key() else { return };
        let hash = self.hasher.hash_one((key.flags, key.syscall, key.path));
        if self.judged.len() >= JUDGED_MAX {
            self.judged.clear();
        }
        if self.judged.insert(hash) && rules.open_is_quiet(ev) {
            self.pending.push(key);
        }
    }

    /// The quiet keys found since the last call, for the kernel.
    pub(crate) fn take_pending(&mut self) -> Vec<QuietOpenKey> {
        std::mem::take(&mut self.pending)
    }

    /// Forgets every judgement (the rules changed).
    pub(crate) fn reset(&mut self) {
        self.pending.clear();
        self.judged.clear();
    }
}
