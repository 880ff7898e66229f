//! A live monitoring session: the loaded probes, the ring-buffer reader and the pipeline, plus
//! drop accounting. `exec` and `run` drive it.
use std::path::PathBuf;

use anyhow::Result;

use crate::{
    cgroup::{Cgroup, CgroupIndex},
    enforce,
    output::Printer,
    pipeline::{Filter, Pipeline},
    probes::{ProbeOptions, Probes},
    ringbuf::EventReader,
    rules::RuleSet,
};

/// How often batched (non-waking) records are drained when fewer than 64 KiB are pending: the
/// worst-case extra delay of an open event.
pub const BATCH_DRAIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1);

pub struct Session {
    pub probes: Probes,
    pub reader: EventReader,
    pub pipeline: Pipeline,
    pub root: PathBuf,
    drops_seen: u64,
    protected: Vec<(String, Vec<PathBuf>)>,
}

impl Session {
    pub fn start(
        root: PathBuf,
        opts: &ProbeOptions,
        printer: Printer,
        filter: Filter,
        rules: Option<RuleSet>,
    ) -> Result<Self> {
        let mut probes = Probes::load(opts)?;
        if let Some(r) = &rules {
            enforce::kernel::apply(&mut probes, r.deny_entries())?;
        }
        let reader = EventReader::new(probes.take_ring()?)?;
        let mut pipeline = Pipeline::new(CgroupIndex::new(root.clone()), printer, filter);
        pipeline.set_rules(rules);
        for q in enforce::respond::load_quarantined().unwrap_or_default() {
            tracing::warn!(agent = %q.agent, cgroup = %q.cgroup.display(), rule = %q.rule, "agent is quarantined (frozen); `agentmon release` thaws it");
        }
        Ok(Self {
            probes,
            reader,
            pipeline,
            root,
            drops_seen: 0,
            protected: Vec::new(),
        })
    }

    /// Watches `cg` and its descendants; learns the processes already inside.
    pub fn watch(&mut self, cg: &Cgroup, agent: &str, slot: u32) -> Result<()> {
        self.probes.watch(cg, slot)?;
        self.pipeline.cgroups_mut().add_root(cg, agent);
        for dir in cg.subtree() {
            if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
                for pid in procs.lines().filter_map(|l| l.trim().parse().ok()) {
                    self.pipeline.table_mut().learn_from_proc(pid);
                }
            }
        }
        Ok(())
    }

    /// Waits for the next batch of records and processes them.
    pub async fn pump(&mut self) -> Result<usize> {
        let Self { reader, pipeline, .. } = self;
        let n = reader.read_batch(|rec| pipeline.handle_record(rec)).await?;
        pipeline.flush();
        Ok(n)
    }

    /// Processes every record already in the ring buffer.
    pub fn drain(&mut self) -> usize {
        let Self { reader, pipeline, .. } = self;
        let n = reader.drain(|rec| pipeline.handle_record(rec));
        pipeline.flush();
        n
    }

    /// Reloads the rules from `dir` atomically: on any error the old rules (and kernel deny tables)
    /// stay active and the error is logged.
    pub fn reload_rules(&mut self, dir: &std::path::Path) {
        let new = match RuleSet::load_dir(dir) {
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
        if let Err(e) = enforce::kernel::apply(&mut self.probes, new.deny_entries()) {
            tracing::error!("rule reload failed (kernel deny tables), keeping the old rules: {e:#}");
            if let Some(old) = self.pipeline.rules_mut() {
                let entries = old.deny_entries().to_vec();
                if let Err(e) = enforce::kernel::apply(&mut self.probes, &entries) {
                    tracing::error!("restoring the old deny tables failed: {e:#}");
                }
            }
            return;
        }
        let n = new.rule_count();
        self.pipeline.set_rules(Some(new));
        tracing::info!(rules = n, dir = %dir.display(), "rules reloaded");
    }

    /// Declares an agent's protected paths (code/config) for drift rules.
    pub fn protect(&mut self, agent: &str, paths: Vec<PathBuf>) {
        if let Some(r) = self.pipeline.rules_mut() {
            r.set_protected(agent, paths.clone());
        }
        self.protected.push((agent.to_string(), paths));
    }

    /// Logs the session's totals (the benchmark and operators read this line).
    pub fn log_final_stats(&mut self) {
        let k = self.probes.counters().unwrap_or_default();
        let s = self.pipeline.stats;
        tracing::info!(
            records = s.records,
            printed = s.printed,
            alerts = s.alerts,
            decode_errors = s.decode_errors,
            kernel_events = k.events,
            drops = k.ringbuf_drops,
            read_failures = k.read_failures,
            "final stats"
        );
    }

    /// Reports ring-buffer drops that happened since the last call (never silent).
    pub fn check_drops(&mut self) -> Result<u64> {
        let total = self.probes.counters()?.ringbuf_drops;
        if total > self.drops_seen {
            self.pipeline.report_drops(total - self.drops_seen, total);
            self.drops_seen = total;
        }
        Ok(total)
    }
}
