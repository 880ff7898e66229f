//! One ring-buffer record through the userspace stages: decode → enrich → match → respond/record →
//! outputs.
use std::collections::HashMap;

use monitor_common::EventKind;

use crate::{
    enrich::{CgroupIndex, Enriched, Enricher},
    event,
    metrics::Metrics,
    outputs::{AlertSinks, Printer},
    record::{
        LiveRecorder,
        live::{Failure, OnFailure},
    },
    respond::{Answered, Completions, Done, Responder, Target},
    rules::{Action, RuleSet},
};

mod open_filter;

/// The rule name of the alerts a recording failure raises.
pub(crate) const RECORDING_FAILED: &str = "agentmon recording failed";

/// Which events are printed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Filter {
    /// Print events (not only alerts).
    pub events: bool,
    /// Also print fork/exit/chdir (process lifecycle) events.
    pub lifecycle: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stats {
    pub records: u64,
    pub decode_errors: u64,
    pub printed: u64,
    pub alerts: u64,
}

pub(crate) struct Pipeline {
    enricher: Enricher,
    printer: Printer,
    filter: Filter,
    rules: Option<RuleSet>,
    pub stats: Stats,
    /// `--record FILE`: every event (lifecycle ones too) and alert goes here.
    recorder: Option<LiveRecorder>,
    /// What a recording failure does.
    on_record_failure: OnFailure,
    metrics: Option<Metrics>,
    sinks: Option<AlertSinks>,
    /// Per-agent action overrides from the config (e.g. `alert` for a dry run of an agent).
    action_overrides: HashMap<String, Action>,
    responder: Responder,
    /// Taken by the live loop ([`Pipeline::take_completions`]).
    completions: Option<Completions>,
    /// Answered alerts on their way out (reused buffer).
    answered: Vec<Answered>,
    /// `agentmon learn`: every event (lifecycle ones excepted) also goes here.
    learner: Option<crate::profile::learn::Learner>,
    /// The metrics' event counter of each kind (by wire value), looked up once.
    kind_counters: Vec<Option<prometheus_client::metrics::counter::Counter>>,
    /// Events since rule evaluation was last timed for the metrics.
    untimed: u32,
    /// The kernel's open filter, while it is on ([`Pipeline::enable_open_filter`]).
    open_filter: Option<open_filter::OpenFilter>,
}

/// Rule evaluation is timed for the `rule_eval_seconds` histogram on one event in this many: a
/// sample shows the distribution, and the other events pay no clock reads.
const RULE_EVAL_SAMPLE: u32 = 16;

impl Pipeline {
    pub(crate) fn new(cgroups: CgroupIndex, printer: Printer, filter: Filter) -> Self {
        let (responder, completions) = Responder::new();
        Self {
            enricher: Enricher::new(cgroups),
            printer,
            filter,
            rules: None,
            stats: Stats::default(),
            recorder: None,
            on_record_failure: OnFailure::default(),
            metrics: None,
            sinks: None,
            action_overrides: HashMap::new(),
            responder,
            completions: Some(completions),
            answered: Vec::new(),
            learner: None,
            kind_counters: Vec::new(),
            // The first evaluation is timed: a monitor that has evaluated anything shows a sample.
            untimed: RULE_EVAL_SAMPLE - 1,
            open_filter: None,
        }
    }

    /// Turns the kernel's open filter on if nothing here needs every event (rules are loaded, no
    /// recording, no printed events, no profile being learned); returns whether it is on. Setting
    /// a recorder or a learner later turns it off.
    pub(crate) fn enable_open_filter(&mut self) -> bool {
        let eligible = self.rules.is_some() && self.recorder.is_none() && self.learner.is_none() && !self.filter.events;
        if eligible && self.open_filter.is_none() {
            self.open_filter = Some(open_filter::OpenFilter::default());
        }
        eligible
    }

    /// Whether the kernel's open filter should be on.
    pub(crate) fn open_filter_on(&self) -> bool {
        self.open_filter.is_some()
    }

    /// The opens found quiet since the last call, for the kernel's filter.
    pub(crate) fn take_quiet_opens(&mut self) -> Vec<monitor_common::open::QuietOpenKey> {
        self.open_filter
            .as_mut()
            .map(open_filter::OpenFilter::take_pending)
            .unwrap_or_default()
    }

    /// `agentmon learn`: builds a profile from every event from now on.
    pub(crate) fn set_learner(&mut self, learner: crate::profile::learn::Learner) {
        self.learner = Some(learner);
        self.open_filter = None;
    }

    pub(crate) fn take_learner(&mut self) -> Option<crate::profile::learn::Learner> {
        self.learner.take()
    }

    /// From now on, every alert of `agent` takes `action` instead of its rule's (`None`: the rule's).
    /// Kernel deny tables are not per agent: a `deny` rule still denies in the kernel.
    pub(crate) fn set_action_override(&mut self, agent: &str, action: Option<Action>) {
        match action {
            Some(a) => {
                self.action_overrides.insert(agent.to_string(), a);
            }
            None => {
                self.action_overrides.remove(agent);
            }
        }
    }

    /// Records every event and alert from now on; `on_failure` says what a recording failure does.
    pub(crate) fn set_recorder(&mut self, recorder: LiveRecorder, on_failure: OnFailure) {
        self.recorder = Some(recorder);
        self.on_record_failure = on_failure;
        self.open_filter = None;
    }

    /// Records the recording could not write (0 without `--record`).
    pub(crate) fn recording_lost(&self) -> u64 {
        self.recorder.as_ref().map_or(0, LiveRecorder::lost)
    }

    /// A spell of recording failures began: an alert for every watched agent, whose action is
    /// quarantine with `--on-record-failure stop` (nothing the agents do goes unrecorded).
    fn check_recording(&mut self) {
        let Some(f) = self.recorder.as_mut().and_then(LiveRecorder::take_failure) else {
            return;
        };
        self.recording_failed(&f);
    }

    fn recording_failed(&mut self, f: &Failure) {
        let stop = self.on_record_failure == OnFailure::Stop;
        let (action, consequence) = if stop {
            (Action::Quarantine, "stopping the agent (--on-record-failure stop)")
        } else {
            (Action::Alert, "monitoring goes on")
        };
        let now = crate::respond::boottime_ns();
        let time = crate::enrich::Clock::new().wall(now);
        let mut roots: Vec<(Option<crate::cgroup::Cgroup>, String)> = self
            .enricher
            .cgroups_mut()
            .roots()
            .map(|(c, a)| (Some(c.clone()), a.to_string()))
            .collect();
        if roots.is_empty() {
            roots.push((None, String::new()));
        }
        for (cg, agent) in roots {
            let mut event = Enriched::empty();
            event.time = time;
            event.event.header.ktime_ns = now;
            if let Some(c) = &cg {
                event.event.header.cgroup_id = c.id;
                event.cgroup.clone_from(&c.rel);
            }
            event.agent = agent;
            let alert = crate::rules::Alert {
                rule: RECORDING_FAILED.into(),
                priority: crate::rules::Priority::Critical,
                tags: vec!["agentmon".into(), "recording".into()],
                action,
                action_result: String::new(),
                action_latency_us: None,
                output: format!(
                    "the recording cannot be written: {} records lost so far ({}); {consequence}",
                    f.lost, f.error
                ),
                event,
            };
            let id = cg.as_ref().map_or(0, |c| c.id);
            // The agent's processes that left its cgroup are quarantined with it.
            let target = cg.map(|cgroup| Target {
                cgroup,
                escaped: self.enricher.escaped_of(id),
            });
            self.responder.submit(alert, 0, id, target, &mut self.answered);
        }
        self.emit_answered();
    }

    /// Counts events, drops and alerts in `m` from now on.
    pub(crate) fn set_metrics(&mut self, m: Metrics) {
        self.metrics = Some(m);
        self.kind_counters.clear();
    }

    /// Counts one event of this kind in the metrics.
    fn count_event(&mut self, kind: EventKind) {
        let Some(m) = &self.metrics else { return };
        let i = kind as usize;
        if self.kind_counters.len() <= i {
            self.kind_counters.resize(i + 1, None);
        }
        self.kind_counters[i]
            .get_or_insert_with(|| m.event_counter(kind.name()))
            .inc();
    }

    /// Also sends alerts to these outputs (file, webhook) from now on.
    pub(crate) fn set_sinks(&mut self, s: AlertSinks) {
        self.sinks = Some(s);
    }

    pub(crate) fn take_sinks(&mut self) -> Option<AlertSinks> {
        self.sinks.take()
    }

    /// Installs (or replaces) the rule set; returns the previous one.
    /// The open filter's judgements were the old rules': they start over.
    pub(crate) fn set_rules(&mut self, rules: Option<RuleSet>) -> Option<RuleSet> {
        if let Some(f) = &mut self.open_filter {
            f.reset();
        }
        std::mem::replace(&mut self.rules, rules)
    }

    pub(crate) fn rules_mut(&mut self) -> Option<&mut RuleSet> {
        self.rules.as_mut()
    }

    pub(crate) fn enricher_mut(&mut self) -> &mut Enricher {
        &mut self.enricher
    }

    /// Handles one raw ring-buffer record, decoded in place into the enricher's slot.
    pub(crate) fn handle_record(&mut self, bytes: &[u8]) {
        self.stats.records += 1;
        match event::decode_into(bytes, self.enricher.slot()) {
            Ok(()) => self.handle_slot(),
            Err(e) => {
                self.stats.decode_errors += 1;
                tracing::warn!("undecodable ring-buffer record ({} bytes): {e}", bytes.len());
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn handle_event(&mut self, ev: event::Event) {
        *self.enricher.slot() = ev;
        self.handle_slot();
    }

    /// Handles the event in the enricher's slot.
    fn handle_slot(&mut self) {
        self.enricher.observe_slot();
        let kind = self.enricher.slot().body.kind();
        let lifecycle = matches!(kind, EventKind::Fork | EventKind::Exit | EventKind::Chdir);
        self.count_event(kind);
        let print = self.filter.events && (self.filter.lifecycle || !lifecycle);
        let to_rules = self.rules.is_some() && (print || !lifecycle);
        let learn = self.learner.is_some() && !lifecycle;
        if !print && !to_rules && !learn && self.recorder.is_none() {
            return;
        }
        let enriched = self.enricher.enrich_slot();
        if let Some(l) = self.learner.as_mut().filter(|_| learn) {
            l.observe(enriched);
        }
        // `--record`: every event, printed or not; alerts name their event by this id.
        let seq = self.recorder.as_mut().map_or(0, |r| r.event(enriched));
        if print {
            self.printer.event(enriched);
            self.stats.printed += 1;
        }
        let alerts = match self.rules.as_mut().filter(|_| to_rules) {
            Some(rules) => {
                // Saturating: without metrics nothing resets it.
                self.untimed = self.untimed.saturating_add(1);
                if self.untimed >= RULE_EVAL_SAMPLE
                    && let Some(m) = &self.metrics
                {
                    self.untimed = 0;
                    let started = std::time::Instant::now();
                    let alerts = rules.evaluate(enriched);
                    m.rule_eval(started.elapsed());
                    alerts
                } else {
                    rules.evaluate(enriched)
                }
            }
            None => Vec::new(),
        };
        if alerts.is_empty()
            && let (Some(f), Some(rules)) = (&mut self.open_filter, self.rules.as_ref().filter(|_| to_rules))
        {
            f.observe(rules, enriched);
        }
        self.check_recording();
        if !alerts.is_empty() {
            self.respond(alerts, seq);
        }
    }

    /// Hands a matched event's alerts to the responder, each aimed at its agent.
    fn respond(&mut self, alerts: Vec<crate::rules::Alert>, seq: u64) {
        for mut alert in alerts {
            if let Some(a) = self.action_overrides.get(&alert.event.agent)
                && alert.action != Action::Deny
            {
                alert.action = *a;
            }
            // By lineage too: a process that left its agent's cgroup is still the agent's, and a
            // kill or quarantine brings it back into the cgroup first.
            let agent = self.enricher.agent_root(&alert.event.event);
            let target = self.enricher.cgroups().root(agent).cloned().map(|cgroup| Target {
                cgroup,
                escaped: self.enricher.escaped_of(agent),
            });
            self.responder.submit(alert, seq, agent, target, &mut self.answered);
        }
        self.emit_answered();
    }

    /// A kill or quarantine finished: its alert, and those of the same agent queued behind it, go out.
    pub(crate) fn action_done(&mut self, done: Done) {
        self.responder.complete(done, &mut self.answered);
        self.emit_answered();
    }

    /// Where this pipeline's finished actions arrive, for [`Pipeline::action_done`] (once).
    pub(crate) fn take_completions(&mut self) -> Option<Completions> {
        self.completions.take()
    }

    /// Alerts waiting for a kill or quarantine to finish.
    pub(crate) fn pending_actions(&self) -> usize {
        self.responder.pending()
    }

    /// Records, counts and prints the answered alerts, in order.
    fn emit_answered(&mut self) {
        for Answered {
            alert,
            event_seq,
            deferred,
        } in self.answered.drain(..)
        {
            if let Some(r) = &mut self.recorder {
                // An alert answered later than its event's batch carries its event with it, so a
                // replay of the recording can rebuild it however far back the event is.
                r.alert(&alert, event_seq, deferred);
            }
            if let Some(m) = &self.metrics {
                m.alert(&alert);
                if alert.action != Action::Alert {
                    m.action(alert.action.as_str());
                }
            }
            if let Some(s) = &mut self.sinks {
                s.alert(&alert);
            }
            self.printer.alert(&alert);
            self.stats.alerts += 1;
        }
    }

    /// The ring buffer's fill level in bytes, for the metrics.
    pub(crate) fn ringbuf_fill(&mut self, bytes: u64) {
        if let Some(m) = &self.metrics {
            m.set_ringbuf_fill(bytes);
        }
    }

    /// The kernel's lost-event totals by reason, for the metrics.
    pub(crate) fn kernel_lost(&mut self, counters: &crate::probes::KernelCounters) {
        if let Some(m) = &self.metrics {
            for (reason, total) in counters.lost() {
                m.kernel_lost(reason, total);
            }
            m.filtered_opens(counters.filtered_opens);
        }
    }

    pub(crate) fn report_drops(&mut self, lost: u64, total: u64) {
        if let Some(m) = &self.metrics {
            m.drops(lost);
        }
        self.printer.drops(lost, total);
        if let Some(r) = &mut self.recorder {
            r.drops(lost, total);
        }
    }

    /// After a ring-buffer drain: the recording's batch goes to its file, the printed lines out.
    pub(crate) fn flush(&mut self) {
        if let Some(r) = &mut self.recorder {
            r.end_batch();
            if let Some(m) = &self.metrics {
                m.record_lost(r.lost());
            }
        }
        self.check_recording();
        self.printer.flush();
    }
}

#[cfg(test)]
mod tests;
