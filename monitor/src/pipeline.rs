//! The userspace half of the data flow: ring-buffer record → decode → enrich → output.
use crate::{
    cgroup::CgroupIndex,
    event::{self, Body, Event},
    output::{Clock, Enriched, Printer},
    proctable::ProcessTable,
    record::LiveRecorder,
    resolve,
};

/// Which events are printed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter {
    /// Also print fork/exit (process lifecycle) events.
    pub lifecycle: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub records: u64,
    pub decode_errors: u64,
    pub printed: u64,
}

pub struct Pipeline {
    table: ProcessTable,
    cgroups: CgroupIndex,
    clock: Clock,
    printer: Printer,
    filter: Filter,
    pub stats: Stats,
    /// `--record FILE`: every event (lifecycle ones too) and alert goes here.
    recorder: Option<LiveRecorder>,
}

impl Pipeline {
    pub fn new(cgroups: CgroupIndex, printer: Printer, filter: Filter) -> Self {
        Self {
            table: ProcessTable::new(),
            cgroups,
            clock: Clock::new(),
            printer,
            filter,
            stats: Stats::default(),
            recorder: None,
        }
    }

    pub fn set_recorder(&mut self, recorder: LiveRecorder) {
        self.recorder = Some(recorder);
    }

    pub fn cgroups_mut(&mut self) -> &mut CgroupIndex {
        &mut self.cgroups
    }

    pub fn table_mut(&mut self) -> &mut ProcessTable {
        &mut self.table
    }

    /// Handles one raw ring-buffer record.
    pub fn handle_record(&mut self, bytes: &[u8]) {
        self.stats.records += 1;
        match event::decode(bytes) {
            Ok(ev) => self.handle_event(ev),
            Err(e) => {
                self.stats.decode_errors += 1;
                tracing::warn!("undecodable ring-buffer record ({} bytes): {e}", bytes.len());
            }
        }
    }

    pub fn handle_event(&mut self, ev: Event) {
        self.table.observe(&ev);
        let hidden = !self.filter.lifecycle && matches!(ev.body, Body::Fork(_) | Body::Exit(_));
        if hidden && self.recorder.is_none() {
            return;
        }
        let enriched = self.enrich(ev);
        // Sequence number of the recorded event, for `LiveRecorder::alert(&alert, seq)`.
        let _seq = self.recorder.as_mut().map_or(0, |r| r.event(&enriched));
        if hidden {
            return;
        }
        self.printer.event(&enriched);
        self.stats.printed += 1;
    }

    fn enrich(&mut self, event: Event) -> Enriched {
        let pid = event.header.pid;
        let exe = self.table.get(pid).map(|p| p.exe.clone()).unwrap_or_default();
        let ancestors = self.table.ancestors(pid);
        let (cgroup, agent) = match self.cgroups.lookup(event.header.cgroup_id) {
            Some(c) => (c.path.clone(), c.agent.clone()),
            None => (String::new(), String::new()),
        };
        let resolved_path = match &event.body {
            Body::Open(o) => Some(resolve::resolve(pid, o.dfd, &o.path)),
            Body::Exec(x) => Some(resolve::resolve(pid, -100, &x.filename)),
            _ => None,
        };
        Enriched {
            time: self.clock.rfc3339(event.header.ktime_ns),
            event,
            exe,
            ancestors,
            cgroup,
            agent,
            resolved_path,
        }
    }

    pub fn report_drops(&mut self, lost: u64, total: u64) {
        self.printer.drops(lost, total);
        if let Some(r) = &mut self.recorder {
            r.drops(lost, total);
        }
    }

    pub fn flush(&mut self) {
        self.printer.flush();
        if let Some(r) = &mut self.recorder {
            r.flush();
        }
    }
}
