//! A live monitoring session: the loaded probes, the ring-buffer reader and the pipeline, plus
//! drop accounting. `exec` and `run` drive it.
use std::path::PathBuf;

use anyhow::Result;
use monitor_common::config::FILTER_QUIET_OPENS;
use tokio::time::Instant;

use crate::{
    cgroup::Cgroup,
    enforce,
    enrich::{CgroupIndex, ContainerInfo},
    event::Esc,
    outputs::Printer,
    pipeline::{Filter, Pipeline},
    probes::{ProbeOptions, Probes},
    respond::Completions,
    ringbuf::EventReader,
    rules::RuleSet,
};

/// Delay of the one-shot "straggler" drain that follows every drain caused by a kernel wakeup (see
/// [`Session::pump`]). It must not be shorter than the kernel's batching window
/// ([`monitor_common::BATCH_WINDOW_NS`]): records submitted without a wakeup within that window of a
/// wakeup are only picked up by this drain.
pub(crate) const BATCH_DRAIN_INTERVAL: std::time::Duration =
    std::time::Duration::from_nanos(monitor_common::BATCH_WINDOW_NS);

/// What ended a wait of [`Session::pump`].
enum Woken {
    /// The kernel signalled records (this many were read).
    Ring(usize),
    /// The straggler drain is due.
    Straggler,
    /// A kill or quarantine finished.
    Action(crate::respond::Done),
}

pub(crate) struct Session {
    pub probes: Probes,
    pub reader: EventReader,
    pub pipeline: Pipeline,
    drops_seen: u64,
    protected: Vec<(String, Vec<PathBuf>)>,
    /// When the next straggler drain is due; `None` while idle (then only a kernel wakeup runs one).
    straggler: Option<Instant>,
    /// Kills and quarantines that finished, for the pipeline.
    completions: Completions,
    /// Rule files made by agentmon (a sandbox's), compiled with the directory's on every reload.
    extra_rules: Vec<(String, String)>,
    /// Whether the kernel's open filter is on (it follows [`Pipeline::open_filter_on`]).
    open_filter_on: bool,
}

impl Session {
    pub(crate) fn start(
        root: PathBuf,
        opts: &ProbeOptions,
        printer: Printer,
        filter: Filter,
        rules: Option<RuleSet>,
    ) -> Result<Self> {
        let mut probes = Probes::load(opts)?;
        if let Some(r) = &rules {
            enforce::tables::apply(&mut probes, r.deny_entries())?;
        }
        let reader = EventReader::new(probes.take_ring()?)?;
        let mut pipeline = Pipeline::new(CgroupIndex::new(root), printer, filter);
        pipeline.set_rules(rules);
        let completions = pipeline
            .take_completions()
            .ok_or_else(|| anyhow::anyhow!("the pipeline's completions are taken"))?;
        for q in crate::respond::state::load_quarantined().unwrap_or_default() {
            tracing::warn!(agent = %Esc(&q.agent), cgroup = %Esc(q.cgroup.display()), rule = %Esc(&q.rule), "agent is quarantined (frozen); `agentmon release` thaws it");
        }
        Ok(Self {
            probes,
            reader,
            pipeline,
            drops_seen: 0,
            protected: Vec::new(),
            straggler: None,
            completions,
            extra_rules: Vec::new(),
            open_filter_on: false,
        })
    }

    /// Watches `cg` and its descendants; learns the processes already inside.
    pub(crate) fn watch(&mut self, cg: &Cgroup, agent: &str) -> Result<()> {
        self.watch_container(cg, agent, None)
    }

    /// [`Session::watch`] for an agent that is a container: its events carry `container`.
    pub(crate) fn watch_container(&mut self, cg: &Cgroup, agent: &str, container: Option<ContainerInfo>) -> Result<()> {
        self.probes.watch(cg)?;
        self.pipeline
            .enricher_mut()
            .cgroups_mut()
            .add_root(cg, agent, container);
        for dir in cg.subtree() {
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse().ok()) {
                    self.pipeline.enricher_mut().table_mut().learn_from_proc(pid);
                }
            }
        }
        Ok(())
    }

    /// Waits for the next batch of records, processes them and flushes the outputs. Cancel-safe.
    ///
    /// The kernel wakes the reader for the rare kinds (exec, connect, mount, deny, …), for a batched
    /// record (open, mmap, file change, fork, exit, chdir) when the last wakeup is at least one
    /// batching window old, and when a lot of batched data is pending. Batched records submitted
    /// within the window of a wakeup wake nobody: every drain a wakeup caused therefore arms a
    /// one-shot straggler drain [`BATCH_DRAIN_INTERVAL`] later, which re-arms itself as long as it
    /// finds records (or a record that a program has reserved but not yet committed) and lapses
    /// once the ring is empty. An idle monitor thus sleeps on epoll alone, and no record waits for
    /// longer than about a window after the previous drain.
    pub(crate) async fn pump(&mut self) -> Result<usize> {
        let Self {
            reader,
            pipeline,
            straggler,
            completions,
            ..
        } = self;
        let woken = match *straggler {
            None => tokio::select! {
                r = reader.read_batch(|rec| pipeline.handle_record(rec)) => Woken::Ring(r?),
                done = completions.next() => Woken::Action(done),
            },
            Some(due) => tokio::select! {
                r = reader.read_batch(|rec| pipeline.handle_record(rec)) => Woken::Ring(r?),
                done = completions.next() => Woken::Action(done),
                () = tokio::time::sleep_until(due) => Woken::Straggler,
            },
        };
        let n = match woken {
            Woken::Ring(n) => {
                *straggler = Some(Instant::now() + BATCH_DRAIN_INTERVAL);
                n
            }
            Woken::Straggler => {
                let n = reader.drain(|rec| pipeline.handle_record(rec));
                *straggler = (n > 0 || !reader.is_empty()).then(|| Instant::now() + BATCH_DRAIN_INTERVAL);
                n
            }
            Woken::Action(done) => {
                // Records already in the ring happened before the action finished (batched ones
                // wait for a drain): they go out before its alert, not after it.
                let n = reader.drain(|rec| pipeline.handle_record(rec));
                pipeline.action_done(done);
                n
            }
        };
        pipeline.flush();
        self.sync_open_filter();
        Ok(n)
    }

    /// Brings the kernel's open filter in line with the pipeline's: switched on or off as it is,
    /// with the quiet opens found since the last call. A failure leaves opens being sent (logged).
    fn sync_open_filter(&mut self) {
        let on = self.pipeline.open_filter_on();
        if on != self.open_filter_on {
            let bits = if on { FILTER_QUIET_OPENS } else { 0 };
            let switched = self
                .probes
                .set_filters(bits)
                .and_then(|()| if on { Ok(()) } else { self.probes.clear_quiet_opens() });
            match switched {
                Ok(()) => self.open_filter_on = on,
                Err(e) => tracing::warn!("switching the kernel's open filter failed: {e:#}"),
            }
        }
        let keys = self.pipeline.take_quiet_opens();
        if self.open_filter_on
            && !keys.is_empty()
            && let Err(e) = self.probes.add_quiet_opens(&keys)
        {
            tracing::warn!("adding to the kernel's open filter failed (those opens keep being sent): {e:#}");
        }
    }

    /// Processes every record already in the ring buffer, then waits (up to `grace`) for the
    /// responses still running, so their alerts are out before the caller stops.
    pub(crate) async fn finish(&mut self, grace: std::time::Duration) -> usize {
        let mut n = self.drain();
        let deadline = Instant::now() + grace;
        while self.pipeline.pending_actions() > 0 {
            let Self {
                reader,
                pipeline,
                completions,
                ..
            } = self;
            tokio::select! {
                done = completions.next() => pipeline.action_done(done),
                r = reader.read_batch(|rec| pipeline.handle_record(rec)) => n += r.unwrap_or(0),
                () = tokio::time::sleep_until(deadline) => {
                    tracing::error!(
                        pending = pipeline.pending_actions(),
                        "responses still running at exit; their alerts are lost"
                    );
                    break;
                }
            }
            self.pipeline.flush();
        }
        n + self.drain()
    }

    /// Processes every record already in the ring buffer.
    pub(crate) fn drain(&mut self) -> usize {
        let Self { reader, pipeline, .. } = self;
        let n = reader.drain(|rec| pipeline.handle_record(rec));
        pipeline.flush();
        n
    }

    /// Reloads the rules from `dir` atomically: on any error the old rules (and kernel deny tables)
    /// stay active and the error is logged.
    pub(crate) fn reload_rules(&mut self, dir: &std::path::Path) {
        // The level the running set was loaded with (`--rules-maturity`, the config file).
        let maturity = self
            .pipeline
            .rules_mut()
            .map_or_else(Default::default, |r| r.maturity());
        let new = match RuleSet::load_with(Some(dir), &self.extra_rules, maturity) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("rule reload failed, keeping the old rules:\n{e}");
                return;
            }
        };
        // Carry the agents' protected paths over.
        let mut new = new;
        for (agent, paths) in &self.protected {
            new.set_protected(agent, paths.clone());
        }
        if let Err(e) = enforce::tables::apply(&mut self.probes, new.deny_entries()) {
            tracing::error!("rule reload failed (kernel deny tables), keeping the old rules: {e:#}");
            if let Some(old) = self.pipeline.rules_mut() {
                let entries = old.deny_entries().to_vec();
                if let Err(e) = enforce::tables::apply(&mut self.probes, &entries) {
                    tracing::error!("restoring the old deny tables failed: {e:#}");
                }
            }
            return;
        }
        let n = new.rule_count();
        self.pipeline.set_rules(Some(new));
        // Quiet under the old rules is no judgement under the new ones.
        if let Err(e) = self.probes.clear_quiet_opens() {
            tracing::warn!("emptying the kernel's open filter failed: {e:#}");
        }
        tracing::info!(rules = n, dir = %dir.display(), "rules reloaded");
    }

    /// Stops watching the agent whose watched cgroup has this id, and forgets what was held for it:
    /// its cgroup names, protected paths, action override and pending sequence matches.
    pub(crate) fn unwatch(&mut self, id: u64, agent: &str) -> Result<()> {
        let result = self.probes.unwatch(id);
        self.pipeline.enricher_mut().cgroups_mut().remove_root(id);
        self.pipeline.enricher_mut().forget_agent(agent);
        self.protected.retain(|(a, _)| a != agent);
        if let Some(r) = self.pipeline.rules_mut() {
            r.forget_agent(agent);
        }
        self.pipeline.set_action_override(agent, None);
        result
    }

    /// Rule files compiled with the rule directory's on every reload.
    pub(crate) fn set_extra_rules(&mut self, extra: Vec<(String, String)>) {
        self.extra_rules = extra;
    }

    /// Declares an agent's protected paths (code/config) for drift rules.
    pub(crate) fn protect(&mut self, agent: &str, paths: Vec<PathBuf>) {
        if let Some(r) = self.pipeline.rules_mut() {
            r.set_protected(agent, paths.clone());
        }
        self.protected.push((agent.to_string(), paths));
    }

    /// Logs the session's totals (the benchmark and operators read this line).
    pub(crate) fn log_final_stats(&mut self) {
        let k = self.probes.counters().unwrap_or_default();
        let s = self.pipeline.stats;
        tracing::info!(
            records = s.records,
            printed = s.printed,
            alerts = s.alerts,
            decode_errors = s.decode_errors,
            record_lost = self.pipeline.recording_lost(),
            kernel_events = k.events,
            drops = k.ringbuf_drops,
            read_failures = k.read_failures,
            arg_read_failed = k.arg_read_failed,
            no_config = k.no_config,
            task_read_failed = k.task_read_failed,
            map_insert_failed = k.map_insert_failed,
            no_scratch = k.no_scratch,
            filtered_opens = k.filtered_opens,
            "final stats"
        );
    }

    /// Reports ring-buffer drops that happened since the last call (never silent), samples the
    /// ring's fill level and hands the kernel's lost-event counters to the metrics.
    pub(crate) fn check_drops(&mut self) -> Result<u64> {
        self.pipeline.ringbuf_fill(self.reader.pending_bytes());
        let k = self.probes.counters()?;
        self.pipeline.kernel_lost(&k);
        let total = k.ringbuf_drops;
        if total > self.drops_seen {
            self.pipeline.report_drops(total - self.drops_seen, total);
            self.drops_seen = total;
        }
        Ok(total)
    }
}
