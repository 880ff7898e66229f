//! `agentmon rules check DIR` and `agentmon rules test DIR` (and the hidden `rules bench`).
use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, Result};

use crate::{
    enrich::Enriched,
    record::{ReaderOptions, Record, RecordReader},
    rules::{RuleSet, fixtures},
};

#[derive(Clone, Debug, clap::Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Validate the rule files in DIR: prints `file:line:col: message` per error, else a summary.
    Check {
        /// Directory holding the rule files (*.yaml).
        dir: PathBuf,
    },
    /// Run the fixtures in DIR/tests/*.yaml against the rules in DIR.
    Test {
        /// Directory holding the rule files (*.yaml) and their tests/ directory.
        dir: PathBuf,
    },
    /// List the fields conditions can use.
    Fields,
    /// Time `RuleSet::evaluate` alone over the events of a recorded log, held in memory.
    #[command(hide = true)]
    Bench {
        /// Directory holding the rule files (*.yaml).
        #[arg(long)]
        rules: PathBuf,
        /// A log written by `--record` or `log bench-gen`.
        log: PathBuf,
        /// Timed passes over the events, each with a freshly loaded rule set; the fastest counts.
        #[arg(long, default_value_t = 5)]
        passes: u32,
        /// Only the cache-hot passes (e.g. to profile them).
        #[arg(long)]
        hot_only: bool,
    },
}

/// Exit status: 0 on success, 1 on invalid rules or failing fixtures.
pub fn run(args: RulesArgs) -> i32 {
    match args.command {
        RulesCommand::Check { dir } => check(&dir),
        RulesCommand::Test { dir } => test(&dir),
        RulesCommand::Bench {
            rules,
            log,
            passes,
            hot_only,
        } => match bench(&rules, &log, passes, hot_only) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        },
        RulesCommand::Fields => {
            for (name, ty, kinds, doc) in crate::rules::field_catalogue() {
                println!("{name:<14} {ty:<8} {kinds:<28} {doc}");
            }
            0
        }
    }
}

fn check(dir: &std::path::Path) -> i32 {
    match RuleSet::load_dir(dir) {
        Ok(set) => {
            let s = set.summary();
            println!(
                "{}: ok: {} rules ({} enabled, {} sequences, {} deny), {} lists, {} macros in {} files",
                dir.display(),
                s.rules,
                s.enabled,
                s.sequences,
                s.deny_rules,
                s.lists,
                s.macros,
                s.files
            );
            let per_kind: Vec<String> = crate::rules::rule_kinds()
                .map(|k| format!("{} {}", k.name(), s.per_kind.get(&k).copied().unwrap_or(0)))
                .collect();
            println!("enabled rules per event kind: {}", per_kind.join(", "));
            0
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{} error(s)", e.errors.len());
            1
        }
    }
}

fn test(dir: &std::path::Path) -> i32 {
    let results = match fixtures::run_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let failed = results.iter().filter(|r| !r.passed()).count();
    for r in &results {
        if r.passed() {
            println!("PASS {}: {}", r.file, r.name);
        } else {
            println!("FAIL {}: {}", r.file, r.name);
            for f in &r.failures {
                println!("    {f}");
            }
        }
    }
    println!(
        "{} fixtures, {} passed, {failed} failed",
        results.len(),
        results.len() - failed
    );
    i32::from(failed > 0)
}

/// The events of a log, in recorded order (damaged frames are skipped).
fn load_events(log: &Path) -> Result<Vec<Enriched>> {
    let opts = ReaderOptions {
        resync: true,
        skip_chain: true,
    };
    let reader = RecordReader::open(log, opts).with_context(|| format!("{}", log.display()))?;
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
fn bench_pass(rules: &Path, events: &[Enriched], hot: bool) -> Result<(Duration, usize)> {
    let mut set = RuleSet::load_dir(rules).map_err(|e| anyhow::anyhow!("{e}"))?;
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

fn bench(rules: &Path, log: &Path, passes: u32, hot_only: bool) -> Result<()> {
    let events = load_events(log)?;
    let n = events.len().max(1) as f64;
    let per_event = |d: Duration| d.as_nanos() as f64 / n;
    let rate = |d: Duration| n / d.as_secs_f64().max(1e-9) / 1e6;
    let mut best = [None::<Duration>; 2];
    for pass in 0..passes.max(1) {
        for (hot, name) in [(false, "cold"), (true, "hot")] {
            if hot_only && !hot {
                continue;
            }
            let (took, alerts) = bench_pass(rules, &events, hot)?;
            println!(
                "pass {pass} {name:<4}: {} events, {alerts} alerts, {:.1} ns/event, {:.2} M events/s",
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

#[cfg(test)]
mod tests {
    use super::{check, test};

    #[test]
    fn exit_status_reflects_errors_and_failures() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("r.yaml");
        std::fs::write(&rules, "- rule: m\n  condition: evt.kind = mount\n").unwrap();
        std::fs::create_dir(dir.path().join("tests")).unwrap();
        let fixture = dir.path().join("tests/t.yaml");
        std::fs::write(&fixture, "- fixture: f\n  events:\n    - mount: /mnt\n  expect: [m]\n").unwrap();
        assert_eq!(check(dir.path()), 0);
        assert_eq!(test(dir.path()), 0);
        std::fs::write(
            &fixture,
            "- fixture: f\n  events:\n    - mount: /mnt\n  expect_not: [m]\n",
        )
        .unwrap();
        assert_eq!(test(dir.path()), 1);
        std::fs::write(&rules, "- rule: m\n  condition: evt.kind = mnt\n").unwrap();
        assert_eq!(check(dir.path()), 1);
        assert_eq!(test(dir.path()), 1);
        assert_eq!(check(&dir.path().join("missing")), 1);
    }

    #[test]
    fn rule_set_can_move_between_threads() {
        fn is_send<T: Send + Sync>() {}
        is_send::<crate::rules::RuleSet>();
    }
}
