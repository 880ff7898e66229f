//! Rule-matching throughput: `rules` evaluates a rule set plus generated rules over a synthetic
//! event mix (`cargo xtask bench --only rules`); `rules-log` times `RuleSet::evaluate` alone over the
//! events of a recorded log.
use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use agentmon::{
    enrich::{
        Enriched,
        synthetic::{self, Process},
    },
    event::Family,
    record::{ReaderOptions, Record, RecordReader},
    rules::RuleSet,
};
use anyhow::{Context, Result, anyhow};

#[derive(Clone, Debug, clap::Args)]
pub(crate) struct RulesArgs {
    /// Rule directory (the shipped rules by default).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Extra generated rules added to the set.
    #[arg(long, default_value_t = 50)]
    extra: usize,
    /// Events to evaluate.
    #[arg(long, default_value_t = 2_000_000)]
    events: usize,
}

/// Extra rules shaped like a site's own additions: path prefixes, process names, ports.
fn extra_rules(n: usize) -> String {
    let mut y = String::new();
    for i in 0..n {
        let cond = match i % 5 {
            0 => format!("evt.kind = open and file.write and file.path startswith /srv/app{i}/"),
            1 => format!("evt.kind = exec and proc.name in (tool{i}, helper{i}) and proc.aexe endswith /agent{i}"),
            2 => format!(
                "evt.kind = connect and net.port = {} and not net.addr in_cidr (10.0.0.0/8)",
                20000 + i
            ),
            3 => format!("evt.kind = open and file.path glob \"/etc/site{i}/*.key\""),
            _ => format!("evt.kind = mount and mount.fstype = fs{i}"),
        };
        let _ = write!(
            y,
            "- rule: Extra rule {i}\n  desc: generated\n  condition: {cond}\n  output: extra {i} %proc.exe\n  priority: NOTICE\n"
        );
    }
    y
}

/// A mix dominated by opens, like a real agent: 80 % open, 8 % exec, 10 % connect, 2 % mount.
fn event_mix() -> Vec<Enriched> {
    let who = Process {
        pid: 4242,
        ppid: 4000,
        cgroup_id: 77,
        ancestors: vec![
            synthetic::ancestor(4000, "/usr/bin/node"),
            synthetic::ancestor(1, "/sbin/init"),
        ],
        cgroup: "/agents/bot".into(),
        agent: "bot".into(),
        ..Process::default()
    };
    let mut v = Vec::new();
    for i in 0..80u64 {
        let path = match i % 4 {
            0 => format!("/usr/lib/python3.11/module{i}.py"),
            1 => format!("/home/bot/workspace/file{i}.txt"),
            2 => "/etc/ld.so.cache".to_string(),
            _ => format!("/tmp/scratch{i}"),
        };
        let flags = if i % 4 == 1 { libc::O_WRONLY | libc::O_CREAT } else { 0 };
        v.push(who.event(i, synthetic::open(&path, flags)));
    }
    for i in 0..8u64 {
        let f = if i % 2 == 0 { "/usr/bin/git" } else { "/usr/bin/ls" };
        v.push(who.event(100 + i, synthetic::exec(f, vec![f.into(), "status".into()])));
    }
    for i in 0..10u64 {
        let addr = format!("93.184.216.{i}");
        v.push(who.event(200 + i, synthetic::connect(Family::Inet, &addr, 443)));
    }
    for i in 0..2u64 {
        v.push(who.event(300 + i, synthetic::mount("none", "/mnt", "proc")));
    }
    v
}

/// The `*.yaml` / `*.yml` files of `dir`, sorted by name.
fn rule_sources(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| dir.display().to_string())? {
        let p = entry.with_context(|| dir.display().to_string())?.path();
        if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&p).with_context(|| p.display().to_string())?;
            sources.push((p.display().to_string(), text));
        }
    }
    sources.sort();
    Ok(sources)
}

/// `rules`: prints one line, `rules=N events=N seconds=S events_per_sec=R alerts=N`.
pub(crate) fn synthetic_mix(args: &RulesArgs) -> Result<()> {
    let dir = match &args.rules {
        Some(d) => d.clone(),
        None => agentmon::commands::default_rules_dir().context("no rule directory")?,
    };
    let mut sources = rule_sources(&dir)?;
    sources.push(("extra.yaml".to_string(), extra_rules(args.extra)));
    let mut set = RuleSet::from_sources(&sources).map_err(|e| anyhow!("{e}"))?;
    let mut events = event_mix();
    let start = Instant::now();
    let mut alerts = 0usize;
    for i in 0..args.events {
        let ev = &mut events[i % 100];
        // Advance time so sequence windows behave as in a live stream.
        ev.event.header.ktime_ns += 1_000;
        alerts += set.evaluate(ev).len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "rules={} events={} seconds={secs:.3} events_per_sec={:.0} alerts={alerts}",
        set.rule_count(),
        args.events,
        args.events as f64 / secs
    );
    Ok(())
}

#[derive(Clone, Debug, clap::Args)]
pub(crate) struct RulesLogArgs {
    /// Directory holding the rule files (*.yaml).
    #[arg(long)]
    rules: PathBuf,
    /// A log written by `--record` or `agentmon-bench log-gen`.
    log: PathBuf,
    /// Timed passes over the events, each with a freshly loaded rule set; the fastest counts.
    #[arg(long, default_value_t = 5)]
    passes: u32,
    /// Only the cache-hot passes (e.g. to profile them).
    #[arg(long)]
    hot_only: bool,
}

/// The events of a log, in recorded order (damaged frames are reported and skipped).
fn load_events(log: &Path) -> Result<Vec<Enriched>> {
    let opts = ReaderOptions {
        resync: true,
        skip_chain: true,
    };
    let reader = RecordReader::open(log, opts).with_context(|| log.display().to_string())?;
    let mut events = Vec::new();
    for rec in reader {
        match rec {
            Ok(located) => {
                if let Record::Event(ev) = located.record {
                    events.push(*ev);
                }
            }
            Err(e) => eprintln!("{}: {e}", log.display()),
        }
    }
    Ok(events)
}

/// Events evaluated per timed slice in a cache-hot pass.
const SLICE: usize = 64;

/// Evaluates every event once with a fresh rule set; returns the time taken and the alerts raised.
///
/// Cold: straight from the loaded events, whose strings are scattered over memory much larger than
/// the caches. Hot: each slice of [`SLICE`] events is first copied (untimed), so that, as in replay
/// and live monitoring where the event was just decoded, its strings are in the cache.
fn pass(rules: &Path, events: &[Enriched], hot: bool) -> Result<(Duration, usize)> {
    let mut set = RuleSet::load_dir(rules).map_err(|e| anyhow!("{e}"))?;
    let mut alerts = 0;
    if !hot {
        let start = Instant::now();
        for ev in events {
            alerts += std::hint::black_box(set.evaluate(ev)).len();
        }
        return Ok((start.elapsed(), alerts));
    }
    let mut took = Duration::ZERO;
    for slice in events.chunks(SLICE) {
        let copies = std::hint::black_box(slice.to_vec());
        let start = Instant::now();
        for ev in &copies {
            alerts += std::hint::black_box(set.evaluate(ev)).len();
        }
        took += start.elapsed();
    }
    Ok((took, alerts))
}

/// `rules-log`: every pass, then the best cold and hot pass.
pub(crate) fn recorded(args: &RulesLogArgs) -> Result<()> {
    let events = load_events(&args.log)?;
    let n = events.len().max(1) as f64;
    let per_event = |d: Duration| d.as_nanos() as f64 / n;
    let rate = |d: Duration| n / d.as_secs_f64().max(1e-9) / 1e6;
    let mut best = [None::<Duration>; 2];
    for i in 0..args.passes.max(1) {
        for (hot, name) in [(false, "cold"), (true, "hot")] {
            if args.hot_only && !hot {
                continue;
            }
            let (took, alerts) = pass(&args.rules, &events, hot)?;
            println!(
                "pass {i} {name:<4}: {} events, {alerts} alerts, {:.1} ns/event, {:.2} M events/s",
                events.len(),
                per_event(took),
                rate(took)
            );
            let b = &mut best[usize::from(hot)];
            *b = Some(b.map_or(took, |b| b.min(took)));
        }
    }
    for (b, name) in best.iter().zip(["cold", "hot"]) {
        let Some(b) = *b else { continue };
        println!(
            "best {name:<4}: {:.1} ns/event, {:.2} M events/s",
            per_event(b),
            rate(b)
        );
    }
    Ok(())
}
