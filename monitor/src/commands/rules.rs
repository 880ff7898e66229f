//! `agentmon rules check DIR` and `agentmon rules test DIR`.
use std::path::PathBuf;

use crate::rules::{Kind, RuleSet, fixtures};

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
}

/// Exit status: 0 on success, 1 on invalid rules or failing fixtures.
pub fn run(args: RulesArgs) -> i32 {
    match args.command {
        RulesCommand::Check { dir } => check(&dir),
        RulesCommand::Test { dir } => test(&dir),
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
            let per_kind: Vec<String> = [Kind::Exec, Kind::Open, Kind::Connect, Kind::Mount]
                .iter()
                .map(|k| format!("{} {}", k.name(), s.per_kind[*k as usize]))
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
