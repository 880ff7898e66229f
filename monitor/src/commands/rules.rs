//! `agentmon rules check DIR`, `agentmon rules test DIR` and `agentmon rules fields`.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "these commands' output is their result: summaries on stdout, rule errors on stderr"
)]
use std::path::PathBuf;

use crate::rules::{Maturity, RuleSet, fixtures};

#[derive(Clone, Debug, clap::Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub(crate) command: RulesCommand,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub(crate) enum RulesCommand {
    /// Validate the rule files in DIR: prints `file:line:col: message` per error, else a summary.
    Check {
        /// Directory holding the rule files (*.yaml).
        dir: PathBuf,
        /// Count the rules on at this maturity level: stable, incubating (stable and incubating) or
        /// sandbox (all). Every rule is checked whatever its maturity.
        #[arg(long, default_value = "stable", value_name = "LEVEL")]
        maturity: Maturity,
    },
    /// Run the fixtures in DIR/tests/*.yaml against the rules in DIR.
    Test {
        /// Directory holding the rule files (*.yaml) and their tests/ directory.
        dir: PathBuf,
    },
    /// List the fields conditions can use.
    Fields,
}

/// Exit status: 0 on success, 1 on invalid rules or failing fixtures.
pub fn run(args: RulesArgs) -> i32 {
    match args.command {
        RulesCommand::Check { dir, maturity } => check(&dir, maturity),
        RulesCommand::Test { dir } => test(&dir),
        RulesCommand::Fields => {
            for (name, ty, kinds, doc) in crate::rules::field_catalogue() {
                println!("{name:<14} {ty:<8} {kinds:<28} {doc}");
            }
            0
        }
    }
}

fn check(dir: &std::path::Path, maturity: Maturity) -> i32 {
    match RuleSet::load_dir_with(dir, maturity) {
        Ok(set) => {
            let s = set.summary();
            println!(
                "{}: ok: {} rules ({} enabled at maturity {}, {} above it, {} sequences, {} deny), {} lists, {} macros in {} files",
                dir.display(),
                s.rules,
                s.enabled,
                maturity.as_str(),
                s.above_maturity,
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

#[cfg(test)]
mod tests {
    use super::{Maturity, check, test};

    #[test]
    fn exit_status_reflects_errors_and_failures() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("r.yaml");
        std::fs::write(&rules, "- rule: m\n  condition: evt.kind = mount\n").unwrap();
        std::fs::create_dir(dir.path().join("tests")).unwrap();
        let fixture = dir.path().join("tests/t.yaml");
        std::fs::write(&fixture, "- fixture: f\n  events:\n    - mount: /mnt\n  expect: [m]\n").unwrap();
        assert_eq!(check(dir.path(), Maturity::Stable), 0);
        assert_eq!(test(dir.path()), 0);
        std::fs::write(
            &fixture,
            "- fixture: f\n  events:\n    - mount: /mnt\n  expect_not: [m]\n",
        )
        .unwrap();
        assert_eq!(test(dir.path()), 1);
        std::fs::write(&rules, "- rule: m\n  condition: evt.kind = mnt\n").unwrap();
        assert_eq!(check(dir.path(), Maturity::Stable), 1);
        assert_eq!(test(dir.path()), 1);
        assert_eq!(check(&dir.path().join("missing"), Maturity::Stable), 1);
    }

    #[test]
    fn rule_set_can_move_between_threads() {
        fn is_send<T: Send + Sync>() {}
        is_send::<crate::rules::RuleSet>();
    }
}
