//! The shipped rule set (`rules/` at the repository root) must compile and pass its fixtures.
use std::{collections::HashSet, path::PathBuf};

use agentmon::rules::{Maturity, RuleSet, fixtures};

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

#[test]
fn default_rules_check() {
    let set = match RuleSet::load_dir(&rules_dir()) {
        Ok(s) => s,
        Err(e) => panic!("default rules do not compile:\n{e}"),
    };
    assert!(set.rule_count() >= 10, "only {} rules", set.rule_count());
    // Shipped defaults must not deny anything in the kernel (the deny example is disabled).
    assert!(set.deny_entries().is_empty());
}

#[test]
fn default_rules_pass_their_fixtures() {
    let results = match fixtures::run_dir(&rules_dir()) {
        Ok(r) => r,
        Err(e) => panic!("fixtures do not load:\n{e}"),
    };
    assert!(results.len() >= 10);
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.passed())
        .map(|r| format!("{}: {}: {}", r.file, r.name, r.failures.join("; ")))
        .collect();
    assert!(failed.is_empty(), "failing fixtures:\n{}", failed.join("\n"));
}

#[test]
fn every_default_rule_is_exercised_by_a_fixture() {
    let set = RuleSet::load_dir(&rules_dir()).unwrap();
    let mut texts = String::new();
    for entry in std::fs::read_dir(rules_dir().join("tests")).unwrap() {
        texts.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    for (name, desc, _) in set.describe() {
        assert!(texts.contains(name), "no fixture mentions rule `{name}`");
        assert!(
            desc.contains("Miss") || desc.contains("miss"),
            "rule `{name}`: desc must say what it misses"
        );
    }
}

/// Issue 12: every shipped rule has a fixture that expects it to fire (naming it in `expect_not`
/// or a comment is not enough). Disabled rules (`enabled: false`, the deny example) cannot fire, so
/// only they are exempt; every maturity counts.
#[test]
fn every_enabled_rule_has_a_fixture_expecting_it() {
    let set = match RuleSet::load_dir_with(&rules_dir(), Maturity::Sandbox) {
        Ok(s) => s,
        Err(e) => panic!("default rules do not compile:\n{e}"),
    };
    let fixtures = match fixtures::load_fixtures(&rules_dir().join("tests")) {
        Ok(f) => f,
        Err(e) => panic!("fixtures do not load:\n{e}"),
    };
    let expected: HashSet<&str> = fixtures.iter().flat_map(fixtures::Fixture::expected).collect();
    let missing: Vec<&str> = set
        .describe()
        .filter(|(name, _, enabled)| *enabled && !expected.contains(name))
        .map(|(name, _, _)| name)
        .collect();
    assert!(
        missing.is_empty(),
        "rules no fixture in rules/tests/*.yaml expects to fire (add one to the test file named like the rule's file):\n{}",
        missing.join("\n")
    );
}

/// The YAML examples in docs/RULES.md must stay true: the rule example compiles and the fixture
/// example passes against the default rules.
#[test]
fn docs_examples_hold() {
    let docs = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/RULES.md")).unwrap();
    let block = |start: &str| {
        let a = docs
            .find(start)
            .unwrap_or_else(|| panic!("docs lost the `{start}` example"));
        let body = &docs[a + "```yaml\n".len()..];
        body[..body.find("```").unwrap()].to_string()
    };
    let rules = block("```yaml\n- list: shells");
    if let Err(e) = RuleSet::from_sources(&[("RULES.md".into(), rules)]) {
        panic!("rule example does not compile:\n{e}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("doc.yaml"), block("```yaml\n- fixture:")).unwrap();
    let fixtures = fixtures::load_fixtures(dir.path()).unwrap();
    assert_eq!(fixtures.len(), 1);
    let mut set = RuleSet::load_dir(&rules_dir()).unwrap();
    let result = fixtures::run(&mut set, &fixtures[0]);
    assert!(result.passed(), "{:?}", result.failures);
}
