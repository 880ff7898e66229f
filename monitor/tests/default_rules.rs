//! The shipped rule set (`rules/` at the repository root) must compile and pass its fixtures.
use std::path::PathBuf;

use agentmon::rules::{RuleSet, fixtures};

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

/// Rough throughput of the default rules (`cargo test --release -p monitor --test default_rules
/// -- --ignored --nocapture`).
#[test]
#[ignore]
fn default_rules_throughput() {
    use agentmon::{
        event::{Body, ConnectInfo, Event, ExecInfo, Family, Header, OpenInfo},
        output::Enriched,
        proctable::Ancestor,
    };
    let mut set = RuleSet::load_dir(&rules_dir()).unwrap();
    let base = |body: Body, t: u64| Enriched {
        time: String::new(),
        event: Event {
            header: Header {
                ktime_ns: t,
                pid: 10,
                tid: 10,
                ppid: 9,
                uid: 1000,
                gid: 1000,
                cgroup_id: 1,
                comm: "python3".into(),
                truncated: false,
                read_failed: false,
                denied: false,
            },
            body,
        },
        exe: "/usr/bin/python3".into(),
        ancestors: vec![Ancestor {
            pid: 9,
            exe: "/usr/local/bin/agentmon".into(),
        }],
        cgroup: "agentmon/bot".into(),
        agent: "bot".into(),
        resolved_path: Some("/usr/lib/python3/x.py".into()),
    };
    let events = [
        base(
            Body::Open(OpenInfo {
                path: "/usr/lib/python3/x.py".into(),
                flags: 0,
                mode: 0,
                dfd: -100,
                syscall: "openat",
            }),
            1,
        ),
        base(
            Body::Connect(ConnectInfo {
                family: Family::Inet,
                addr: "93.184.216.34".into(),
                port: 443,
                fd: 3,
            }),
            2,
        ),
        base(
            Body::Exec(ExecInfo {
                filename: "/usr/bin/git".into(),
                argv: vec!["git".into(), "status".into()],
                argv_truncated: false,
            }),
            3,
        ),
    ];
    let n = 300_000;
    let start = std::time::Instant::now();
    let mut alerts = 0;
    for i in 0..n {
        alerts += set.evaluate(&events[i % events.len()]).len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} events in {secs:.3}s: {:.0} events/s, {alerts} alerts",
        n as f64 / secs
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
