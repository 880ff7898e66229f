//! A live monitoring session: the loaded probes, the ring-buffer reader and the pipeline, plus
//! drop accounting. `exec` and `run` drive it.
use std::path::PathBuf;

use anyhow::Result;

use crate::{
    cgroup::{Cgroup, CgroupIndex},
    output::Printer,
    pipeline::{Filter, Pipeline},
    probes::{ProbeOptions, Probes},
    ringbuf::EventReader,
};

pub struct Session {
    pub probes: Probes,
    pub reader: EventReader,
    pub pipeline: Pipeline,
    pub root: PathBuf,
    drops_seen: u64,
}

impl Session {
    pub fn start(root: PathBuf, opts: &ProbeOptions, printer: Printer, filter: Filter) -> Result<Self> {
        let mut probes = Probes::load(opts)?;
        let reader = EventReader::new(probes.take_ring()?)?;
        let pipeline = Pipeline::new(CgroupIndex::new(root.clone()), printer, filter);
        Ok(Self {
            probes,
            reader,
            pipeline,
            root,
            drops_seen: 0,
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

    /// Logs the session's totals (the benchmark and operators read this line).
    pub fn log_final_stats(&mut self) {
        let k = self.probes.counters().unwrap_or_default();
        let s = self.pipeline.stats;
        tracing::info!(
            records = s.records,
            printed = s.printed,
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
