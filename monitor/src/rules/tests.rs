//! Engine tests: real YAML text, hand-built events.
use std::path::PathBuf;

use super::RuleSet;
use crate::{
    enforce::spec::{DenySpec, PathMatch},
    enrich::{
        Enriched,
        synthetic::{self, Process},
    },
    event::{Body, Family},
    rules::Action,
};

/// A random condition over a list of leaf tests (indexes into it), for the property tests of the
/// engine's shortcuts ([`super::prefilter`], [`super::quiet`]): written out with [`Ast::text`].
#[derive(Clone, Debug)]
pub(super) enum Ast {
    Leaf(usize),
    And(Box<Ast>, Box<Ast>),
    Or(Box<Ast>, Box<Ast>),
    Not(Box<Ast>),
}

impl Ast {
    /// The condition's text, `leaves` naming each leaf's test.
    pub(super) fn text(&self, leaves: &[&str]) -> String {
        match self {
            Ast::Leaf(i) => leaves[*i].to_string(),
            Ast::And(a, b) => format!("({} and {})", a.text(leaves), b.text(leaves)),
            Ast::Or(a, b) => format!("({} or {})", a.text(leaves), b.text(leaves)),
            Ast::Not(a) => format!("not ({})", a.text(leaves)),
        }
    }
}

/// Conditions of up to four levels over `leaves` leaf tests.
pub(super) fn condition(leaves: usize) -> impl proptest::strategy::Strategy<Value = Ast> {
    use proptest::prelude::*;
    (0..leaves).prop_map(Ast::Leaf).prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Ast::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Ast::Not(Box::new(a))),
        ]
    })
}

/// An event of a `comm` process running `exe` in agent `bot`, without a resolved path.
pub(super) fn enriched(body: Body, comm: &str, exe: &str, ktime_ns: u64) -> Enriched {
    let who = Process {
        comm: comm.into(),
        exe: exe.into(),
        ancestors: vec![synthetic::ancestor(99, "/usr/bin/python3")],
        cgroup: "agentmon/bot".into(),
        agent: "bot".into(),
        ..Process::default()
    };
    let mut e = who.event(ktime_ns, body);
    e.resolved_path = None;
    e
}

/// An exec of `path` by itself, resolved to `path`.
pub(super) fn exec(path: &str, argv: &[&str], t: u64) -> Enriched {
    let name = path.rsplit('/').next().unwrap_or(path);
    let argv = argv.iter().map(ToString::to_string).collect();
    let mut e = enriched(synthetic::exec(path, argv), name, path, t);
    e.resolved_path = Some(path.into());
    e
}

/// An open of `path` by python3, resolved to `path`.
pub(super) fn open(path: &str, flags: i32, t: u64) -> Enriched {
    let mut e = enriched(synthetic::open(path, flags), "python3", "/usr/bin/python3", t);
    e.resolved_path = Some(path.into());
    e
}

pub(super) fn connect(family: Family, addr: &str, port: u16, t: u64) -> Enriched {
    enriched(synthetic::connect(family, addr, port), "python3", "/usr/bin/python3", t)
}

fn mount(fstype: &str) -> Enriched {
    enriched(synthetic::mount("none", "/mnt", fstype), "mount", "/usr/bin/mount", 1)
}

fn load(text: &str) -> RuleSet {
    match RuleSet::from_sources(&[("r.yaml".into(), text.into())]) {
        Ok(s) => s,
        Err(e) => panic!("rules failed to load:\n{e}"),
    }
}

fn errors(text: &str) -> String {
    match RuleSet::from_sources(&[("r.yaml".into(), text.into())]) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e.to_string(),
    }
}

pub(super) fn fired(set: &mut RuleSet, ev: &Enriched) -> Vec<String> {
    set.evaluate(ev).into_iter().map(|a| a.rule).collect()
}

const SHELL_RULES: &str = r#"
- list: shells
  items: [sh, bash, dash]
- list: interpreters
  items: [shells, python3]
- macro: spawned_shell
  condition: evt.kind = exec and proc.name in (interpreters)
- rule: Shell spawned
  desc: a shell
  condition: spawned_shell and not proc.args contains "--version"
  output: "shell %proc.name ran by %proc.pexe (%proc.args). agent=%agent.name 100%%"
  priority: WARNING
  tags: [shell]
  exceptions:
    - name: trusted
      fields: [proc.pexe, proc.name]
      comps: [=, in]
      values: [[/usr/bin/make, [sh, dash]]]
"#;

#[test]
fn lists_macros_exceptions_and_output() {
    let mut set = load(SHELL_RULES);
    let alerts = set.evaluate(&exec("/bin/bash", &["bash", "-c", "id"], 1));
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.rule, "Shell spawned");
    assert_eq!(
        a.output,
        "shell bash ran by /usr/bin/python3 (bash -c id). agent=bot 100%"
    );
    assert_eq!(a.tags, vec!["shell"]);
    assert_eq!(a.action, Action::Alert);
    assert!(a.action_result.is_empty() && a.action_latency_us.is_none());
    // Nested list expansion: python3 comes from `interpreters`.
    assert_eq!(
        fired(&mut set, &exec("/usr/bin/python3", &["python3"], 1)),
        ["Shell spawned"]
    );
    assert!(fired(&mut set, &exec("/bin/bash", &["bash", "--version"], 1)).is_empty());
    assert!(fired(&mut set, &exec("/bin/ls", &["ls"], 1)).is_empty());
    // The exception: sh under make is fine, bash under make is not.
    let mut by_make = exec("/bin/sh", &["sh"], 1);
    by_make.ancestors[0].exe = "/usr/bin/make".into();
    assert!(fired(&mut set, &by_make).is_empty());
    let mut bash_by_make = exec("/bin/bash", &["bash"], 1);
    bash_by_make.ancestors[0].exe = "/usr/bin/make".into();
    assert_eq!(fired(&mut set, &bash_by_make), ["Shell spawned"]);
    // Opens never reach an exec-only rule.
    assert!(fired(&mut set, &open("/bin/sh", libc::O_RDONLY, 1)).is_empty());
    assert_eq!(per_kind(&set), [1, 0, 0, 0]);
}

#[test]
fn string_numeric_and_boolean_operators() {
    let mut set = load(
        r#"
- rule: ssh key read
  condition: file.path glob "/home/*/.ssh/id_*" and file.read and not file.write
- rule: write under etc
  condition: file.write and file.path startswith (/etc/, /usr/) and file.path endswith .conf
- rule: low uid
  condition: evt.kind = open and proc.uid < 1000
- rule: any ancestor python
  condition: evt.kind = exec and proc.aexe = /usr/bin/python3 and proc.argv = "-c"
- rule: exists
  condition: evt.kind = exec and file.raw_path exists and proc.pid != 5
"#,
    );
    assert_eq!(
        fired(&mut set, &open("/home/u/.ssh/id_rsa", libc::O_RDONLY, 1)),
        ["ssh key read"]
    );
    assert!(fired(&mut set, &open("/home/u/.ssh/id_rsa", libc::O_RDWR, 1)).is_empty());
    assert_eq!(
        fired(&mut set, &open("/etc/x.conf", libc::O_WRONLY, 1)),
        ["write under etc"]
    );
    assert!(fired(&mut set, &open("/etc/x.conf", libc::O_RDONLY, 1)).is_empty());
    let mut root = open("/x", libc::O_RDONLY, 1);
    root.event.header.uid = 0;
    assert_eq!(fired(&mut set, &root), ["low uid"]);
    assert_eq!(
        fired(&mut set, &exec("/bin/sh", &["sh", "-c", "x"], 1)),
        ["any ancestor python", "exists"]
    );
}

#[test]
fn network_addresses_match_as_addresses() {
    let mut set = load(
        r#"
- rule: metadata
  condition: net.addr in_cidr (169.254.169.254/32, fd00:ec2::254/128) or net.addr = "fd00:ec2::254"
- rule: port
  condition: net.port in (80, 443) and net.family in (inet, inet6)
- rule: unix
  condition: net.family = unix and net.addr startswith /run/agents/
"#,
    );
    assert_eq!(
        fired(&mut set, &connect(Family::Inet, "169.254.169.254", 8080, 1)),
        ["metadata"]
    );
    assert_eq!(
        fired(&mut set, &connect(Family::Inet6, "::ffff:169.254.169.254", 1, 1)),
        ["metadata"]
    );
    assert_eq!(
        fired(&mut set, &connect(Family::Inet6, "fd00:ec2:0::254", 1, 1)),
        ["metadata"]
    );
    assert_eq!(fired(&mut set, &connect(Family::Inet, "1.1.1.1", 443, 1)), ["port"]);
    assert_eq!(
        fired(&mut set, &connect(Family::Unix, "/run/agents/b.sock", 0, 1)),
        ["unix"]
    );
    assert!(fired(&mut set, &connect(Family::Inet, "1.1.1.1", 22, 1)).is_empty());
}

#[test]
fn not_equal_is_false_when_the_event_lacks_the_field() {
    let mut set = load(
        "- rule: not 80
  condition: net.port != 80
- rule: not addr
  condition: net.addr != 10.0.0.1
",
    );
    assert_eq!(per_kind(&set), [0, 0, 2, 0]);
    assert!(fired(&mut set, &exec("/bin/sh", &[], 1)).is_empty());
    assert!(fired(&mut set, &connect(Family::Inet, "10.0.0.1", 80, 1)).is_empty());
    assert_eq!(
        fired(&mut set, &connect(Family::Inet, "::ffff:10.0.0.2", 443, 1)),
        ["not 80", "not addr"]
    );
    // A unix socket path is not an address: address tests are false, `!=` included.
    assert_eq!(fired(&mut set, &connect(Family::Unix, "/run/x.sock", 0, 1)), ["not 80"]);
}

#[test]
fn protected_paths_are_per_agent_and_path_aware() {
    let mut set = load("- rule: drift\n  condition: file.write and file.path startswith agent.protected\n");
    assert!(fired(&mut set, &open("/opt/bot/main.py", libc::O_WRONLY, 1)).is_empty());
    set.set_protected("bot", vec![PathBuf::from("/opt/bot")]);
    assert_eq!(fired(&mut set, &open("/opt/bot/main.py", libc::O_WRONLY, 1)), ["drift"]);
    assert_eq!(fired(&mut set, &open("/opt/bot", libc::O_WRONLY, 1)), ["drift"]);
    assert!(fired(&mut set, &open("/opt/botany", libc::O_WRONLY, 1)).is_empty());
    set.set_protected("other", vec![PathBuf::from("/srv")]);
    assert!(fired(&mut set, &open("/srv/x", libc::O_WRONLY, 1)).is_empty());
}

const SEQ: &str = "
- rule: write then exec
  sequence:
    - condition: evt.kind = open and file.write
      as: write
    - condition: evt.kind = exec
      same: [file.path]
  within: 10s
";

#[test]
fn sequences_match_in_order_same_value_within_window() {
    let s = 1_000_000_000;
    let mut set = load(SEQ);
    assert!(fired(&mut set, &open("/tmp/x", libc::O_WRONLY, s)).is_empty());
    assert!(
        fired(&mut set, &exec("/tmp/y", &["y"], 2 * s)).is_empty(),
        "different file"
    );
    assert_eq!(fired(&mut set, &exec("/tmp/x", &["x"], 3 * s)), ["write then exec"]);
    assert!(fired(&mut set, &exec("/tmp/x", &["x"], 4 * s)).is_empty(), "consumed");
    // Outside the window.
    fired(&mut set, &open("/tmp/z", libc::O_WRONLY, 10 * s));
    assert!(fired(&mut set, &exec("/tmp/z", &["z"], 21 * s)).is_empty());
    // Other agents have their own state.
    fired(&mut set, &open("/tmp/w", libc::O_WRONLY, 30 * s));
    let mut other = exec("/tmp/w", &["w"], 31 * s);
    other.agent = "other".into();
    assert!(fired(&mut set, &other).is_empty());
    // Exec before write does not count.
    fired(&mut set, &exec("/tmp/v", &["v"], 40 * s));
    assert!(fired(&mut set, &open("/tmp/v", libc::O_WRONLY, 41 * s)).is_empty());
}

/// A three-step sequence (also the sequence engine's own tests' case).
pub(super) const FETCH_WRITE_EXEC: &str = "
- rule: fetch write exec
  sequence:
    - condition: evt.kind = connect
    - condition: evt.kind = open and file.write
    - condition: evt.kind = exec
      same: [file.path]
  within: 1m
";

#[test]
fn intermediate_steps_branch_and_the_last_step_consumes() {
    let mut set = load(FETCH_WRITE_EXEC);
    fired(&mut set, &connect(Family::Inet, "1.2.3.4", 443, 1));
    fired(&mut set, &open("/tmp/a", libc::O_WRONLY, 2));
    fired(&mut set, &open("/tmp/b", libc::O_WRONLY, 3));
    assert_eq!(fired(&mut set, &exec("/tmp/b", &[], 4)), ["fetch write exec"]);
    assert_eq!(fired(&mut set, &exec("/tmp/a", &[], 5)), ["fetch write exec"]);
    assert!(fired(&mut set, &exec("/tmp/a", &[], 6)).is_empty());
}

#[test]
fn sequence_state_is_bounded() {
    let mut set = load(SEQ);
    for i in 0..(super::sequence::MAX_PARTIALS as u64 + 50) {
        fired(&mut set, &open(&format!("/tmp/f{i}"), libc::O_WRONLY, i));
    }
    assert_eq!(set.pending_sequences(), super::sequence::MAX_PARTIALS);
    let mut other = open("/tmp/other", libc::O_WRONLY, 0);
    other.agent = "other".into();
    fired(&mut set, &other);
    set.forget_agent("other");
    assert_eq!(set.pending_sequences(), super::sequence::MAX_PARTIALS);
    // The oldest were dropped, the newest still match.
    assert!(fired(&mut set, &exec("/tmp/f0", &[], 1000)).is_empty());
    assert_eq!(fired(&mut set, &exec("/tmp/f300", &[], 1000)), ["write then exec"]);
}

#[test]
fn deny_rules_compile_to_kernel_entries() {
    let set = load(
        "
- rule: no tmp exec
  condition: evt.kind = exec and (exec.path startswith /tmp/ or exec.path in (/usr/bin/nc, /bin/nc))
  action: deny
- rule: no metadata
  condition: evt.kind = connect and net.addr in_cidr (169.254.169.254/32, ::ffff:10.0.0.0/104) and net.port = 80
  action: deny
- rule: no etc writes
  condition: evt.kind = open and file.path startswith /etc/ and file.write
  action: deny
- rule: no mounts
  condition: evt.kind = mount
  action: deny
- rule: no overlay
  condition: mount.fstype = overlay
  action: deny
- rule: disabled deny
  condition: evt.kind = mount
  action: deny
  enabled: false
",
    );
    let specs: Vec<(u32, &DenySpec)> = set.deny_entries().iter().map(|e| (e.rule_id, &e.spec)).collect();
    assert_eq!(
        specs,
        vec![
            (0, &DenySpec::Exec(PathMatch::Prefix("/tmp/".into()))),
            (0, &DenySpec::Exec(PathMatch::Exact("/usr/bin/nc".into()))),
            (0, &DenySpec::Exec(PathMatch::Exact("/bin/nc".into()))),
            (
                1,
                &DenySpec::Connect {
                    addr: "169.254.169.254".parse().unwrap(),
                    prefix_len: 32,
                    port: Some(80)
                }
            ),
            (
                1,
                &DenySpec::Connect {
                    addr: "10.0.0.0".parse().unwrap(),
                    prefix_len: 8,
                    port: Some(80)
                }
            ),
            (
                2,
                &DenySpec::Open {
                    path: PathMatch::Prefix("/etc/".into()),
                    write_only: true
                }
            ),
            (3, &DenySpec::MountAny),
            (4, &DenySpec::MountFstype("overlay".into())),
        ]
    );
    assert_eq!(set.deny_entries()[0].rule, "no tmp exec");
    // Deny rules still alert in userspace.
    let mut set = set;
    assert_eq!(fired(&mut set, &mount("tmpfs")), ["no mounts"]);
}

#[test]
fn deny_rules_the_kernel_cannot_express_are_errors() {
    let e = errors("- rule: d\n  condition: evt.kind = exec and proc.name = bash\n  action: deny\n");
    assert_eq!(
        e,
        "r.yaml:2:34: rule `d`: deny: this test cannot be enforced in the kernel for exec (supported: exec.path =|startswith|in)"
    );
    let e = errors("- rule: d\n  condition: file.path = /x\n  action: deny\n");
    assert!(
        e.starts_with("r.yaml:1:3: rule `d`: deny: each alternative must apply to exactly one event kind"),
        "{e}"
    );
    let e = errors("- rule: d\n  condition: evt.kind = open and not file.path = /x\n  action: deny\n");
    assert!(e.contains("cannot evaluate `not`"), "{e}");
}

#[test]
fn deny_rules_on_changes_compile_to_one_entry_per_path_with_their_changes() {
    use monitor_common::enforce::{CHANGE_CHMOD, CHANGE_RENAME, CHANGE_UNLINK};
    let set = load(
        "
- rule: keep config
  condition: evt.kind in (rename, unlink) and file.write and file.path in (/etc/agent.yaml, /etc/agent.d/x)
  action: deny
- rule: no chmod here
  condition: evt.kind = chmod and file.path startswith /srv/
  action: deny
",
    );
    let specs: Vec<(u32, &DenySpec)> = set.deny_entries().iter().map(|e| (e.rule_id, &e.spec)).collect();
    let change = |p: PathMatch, ops| DenySpec::Change { path: p, ops };
    assert_eq!(
        specs,
        vec![
            (
                0,
                &change(
                    PathMatch::Exact("/etc/agent.yaml".into()),
                    CHANGE_RENAME | CHANGE_UNLINK
                )
            ),
            (
                0,
                &change(PathMatch::Exact("/etc/agent.d/x".into()), CHANGE_RENAME | CHANGE_UNLINK)
            ),
            (1, &change(PathMatch::Prefix("/srv/".into()), CHANGE_CHMOD)),
        ]
    );
    // A change kind beside another kind, or a test the kernel cannot make, is an error.
    let e = errors("- rule: d\n  condition: evt.kind in (rename, open) and file.path = /x\n  action: deny\n");
    assert!(e.contains("or only to changes: rename, link"), "{e}");
    let e = errors("- rule: d\n  condition: evt.kind = unlink and proc.name = rm\n  action: deny\n");
    assert!(e.contains("cannot be enforced in the kernel for changes"), "{e}");
    let e = errors("- rule: d\n  condition: evt.kind = mknod and file.path = /x\n  action: deny\n");
    assert!(e.contains("for mknod (supported: nothing"), "{e}");
}

#[test]
fn errors_name_file_line_and_column() {
    // Unknown field, inside a folded condition on line 4.
    let e = errors("- rule: a\n  condition: >\n    evt.kind = exec\n    and proc.nmae = bash\n");
    assert!(
        e.starts_with("r.yaml:4:9: unknown field `proc.nmae` (expected one of: evt.kind,"),
        "{e}"
    );
    // Type error: points at the operator.
    let e = errors("- rule: a\n  condition: net.port startswith \"x\"\n");
    assert_eq!(
        e,
        "r.yaml:2:23: operator `startswith` does not apply to numeric field `net.port` (expected =, !=, <, <=, >, >= or in)"
    );
    // Non-numeric value for a numeric field: points at the value.
    assert_eq!(
        errors("- rule: a\n  condition: \"net.port = http\"\n"),
        "r.yaml:2:26: field `net.port` is numeric: expected a number, found `http`"
    );
    // Contradiction between kind and fields.
    assert_eq!(
        errors("- rule: a\n  condition: evt.kind = open and net.port = 80\n"),
        "r.yaml:1:3: rule `a`: the condition cannot match any event kind (its fields and evt.kind tests contradict each other)"
    );
    // Unknown macro, syntax error, bad CIDR, bad priority; all reported, sorted by position.
    let e = errors(
        "- rule: a\n  condition: no_such_macro\n- rule: b\n  condition: proc.name = bash and\n- rule: c\n  condition: net.addr in_cidr (10.0.0.0/99)\n- rule: d\n  condition: evt.kind = exec\n  priority: loud\n",
    );
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines[0], "r.yaml:2:14: unknown macro or boolean field `no_such_macro`");
    assert_eq!(
        lines[1],
        "r.yaml:4:34: expected a field, a macro, `not` or `(`, found end of condition"
    );
    assert_eq!(
        lines[2],
        "r.yaml:6:32: expected a CIDR such as 10.0.0.0/8 or fd00::/8, found `10.0.0.0/99`"
    );
    assert!(
        lines[3].starts_with("r.yaml:9:13: `priority`: expected emergency"),
        "{}",
        lines[3]
    );
    assert_eq!(lines.len(), 4);
    // YAML-level problems.
    let e = errors("- rule: a\n  condtion: x\n");
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines[0], "r.yaml:1:3: rule `a`: missing `condition` (or `sequence`)");
    assert!(
        lines[1].starts_with("r.yaml:2:3: unknown key `condtion` in a rule"),
        "{e}"
    );
    assert!(errors("- rule: a\n  condition: [x\n").starts_with("r.yaml:"));
    assert_eq!(
        errors("- rule: a\n  condition: evt.kind = exec\n- rule: a\n  condition: evt.kind = exec\n"),
        "r.yaml:3:3: rule `a` is defined twice"
    );
    assert_eq!(
        errors("- rule: a\n  condition: agent.protected exists\n"),
        "r.yaml:2:14: `agent.protected` is a list of paths: use it on the right, e.g. `file.path startswith agent.protected`"
    );
    // Output with an unknown field.
    assert_eq!(
        errors("- rule: a\n  condition: evt.kind = exec\n  output: \"x %proc.nope\"\n"),
        "r.yaml:3:14: output: unknown field `%proc.nope` (write %% for a literal %)"
    );
}

#[test]
fn likely_list_typos_are_errors() {
    let text = "- list: shells\n  items: [sh]\n- rule: a\n  condition: proc.name in (shellz, 'shellz', bash)\n";
    assert_eq!(
        errors(text),
        "r.yaml:4:28: unknown list `shellz` (did you mean `shells`? quote the value if it is meant literally)"
    );
    // Quoted, it is a literal.
    load("- list: shells\n  items: [sh]\n- rule: a\n  condition: proc.name in ('shellz', bash)\n");
}

#[test]
fn errors_inside_macros_point_into_the_macro() {
    let e = errors("- macro: m\n  condition: proc.name startswith 3 and net.port glob x\n- rule: a\n  condition: m\n");
    assert_eq!(
        e,
        "r.yaml:2:50: operator `glob` does not apply to numeric field `net.port` (expected =, !=, <, <=, >, >= or in)"
    );
    let e = errors("- macro: m\n  condition: m\n- rule: a\n  condition: m\n");
    assert!(e.contains("refers to itself"), "{e}");
}

#[test]
fn a_bad_file_loads_nothing() {
    let good = (
        "a.yaml".to_string(),
        "- rule: ok\n  condition: evt.kind = mount\n".to_string(),
    );
    let bad = (
        "b.yaml".to_string(),
        "- rule: bad\n  condition: nope.field = 1\n".to_string(),
    );
    let err = RuleSet::from_sources(&[good, bad]).unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].file.as_ref(), "b.yaml");
}

#[test]
fn sequence_rules_are_validated() {
    let e = errors(
        "- rule: s\n  sequence:\n    - condition: evt.kind = exec\n      same: [file.path]\n    - condition: evt.kind = open\n  within: 5s\n",
    );
    assert_eq!(
        e,
        "r.yaml:4:14: `same` on the first step has no previous step to compare with"
    );
    let e = errors(
        "- rule: s\n  sequence:\n    - condition: evt.kind = exec\n    - condition: evt.kind = open\n      same: [file.nope]\n  within: 1s\n",
    );
    assert_eq!(e, "r.yaml:5:14: `same`: unknown field `file.nope`");
    let e = errors(
        "- rule: s\n  sequence:\n    - condition: evt.kind = exec\n    - condition: evt.kind = open\n  within: soon\n",
    );
    assert_eq!(
        e,
        "r.yaml:5:11: `within`: expected a duration such as `60s` or `5m`, found `soon`"
    );
    let e = errors("- rule: s\n  sequence:\n    - condition: evt.kind = exec\n  within: 5s\n");
    assert_eq!(e, "r.yaml:1:3: rule `s`: a sequence needs at least two steps");
    let e = errors(
        "- rule: s\n  sequence:\n    - condition: evt.kind = exec\n    - condition: evt.kind = mount\n  within: 5s\n  action: deny\n",
    );
    assert!(e.contains("a sequence cannot be denied in the kernel"), "{e}");
}

#[test]
fn lifecycle_events_match_nothing() {
    let mut set = load("- rule: anything\n  condition: proc.pid exists\n");
    assert_eq!(per_kind(&set), [1, 1, 1, 1]);
    let fork = enriched(Body::Fork(crate::event::ForkInfo { child_pid: 5 }), "x", "/x", 1);
    assert!(set.evaluate(&fork).is_empty());
    assert_eq!(fired(&mut set, &mount("tmpfs")), ["anything"]);
}

#[test]
fn fixture_files_report_positions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.yaml"), "- rule: a\n  condition: evt.kind = mount\n").unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/t.yaml"),
        "- fixture: f\n  events:\n    - mount: /mnt\n    - connect: 1.2.3.4\n      port: http\n",
    )
    .unwrap();
    let e = super::fixtures::run_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.ends_with("tests/t.yaml:5:13: `port`: expected a number, found `http`"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("tests/t.yaml"),
        "- fixture: f\n  events:\n    - mount: /mnt\n      expect: [b]\n  expect_not: [a]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("tests/t.yaml"),
        "- fixture: f\n  events:\n    - mount: /mnt\n      fstyp: x\n",
    )
    .unwrap();
    let e = super::fixtures::run_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("tests/t.yaml:4:7: unknown key `fstyp`"), "{e}");
    std::fs::write(
        dir.path().join("tests/t.yaml"),
        "- fixture: f\n  events:\n    - mount: /mnt\n      expect: [b]\n  expect_not: [a]\n",
    )
    .unwrap();
    let results = super::fixtures::run_dir(dir.path()).unwrap();
    assert_eq!(
        results[0].failures,
        vec![
            "no rule named `b`".to_string(),
            "event 1: expected [\"b\"] to fire, got [\"a\"]".to_string(),
            "expected `a` not to fire, it did".to_string(),
        ]
    );
}

/// Enabled rules per kind: exec, open, connect, mount.
fn per_kind(set: &RuleSet) -> [usize; 4] {
    use crate::rules::Kind;
    [Kind::Exec, Kind::Open, Kind::Connect, Kind::Mount].map(|k| set.summary().per_kind.get(&k).copied().unwrap_or(0))
}

#[test]
fn container_fields_come_from_the_agent() {
    let mut set = load(
        r#"
- rule: Coder image
  desc: test
  condition: container.image startswith "ai/" and container.name = coder
  output: "%container.name %container.id %container.image"
  priority: NOTICE
"#,
    );
    let mut e = exec("/bin/sh", &["sh"], 1);
    assert!(fired(&mut set, &e).is_empty(), "no container, no match");
    e.container = Some(std::sync::Arc::new(crate::enrich::ContainerInfo::new(
        "4f1c9a0e2b7d6c5a8e3f1b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e",
        Some("coder"),
        Some("ai/coder:1"),
    )));
    let alerts = set.evaluate(&e);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].output, "coder 4f1c9a0e2b7d ai/coder:1");
}

const MATURITY_RULES: &str = "
- rule: s
  condition: evt.kind = exec and proc.name = sh
  tags: [execution, T1059.004]
- rule: i
  condition: evt.kind = exec and proc.name = sh
  maturity: incubating
- rule: x
  condition: evt.kind = exec and proc.name = sh
  maturity: sandbox
";

#[test]
fn maturity_levels_turn_rules_on_cumulatively() {
    use super::Maturity;
    let sources = [("r.yaml".to_string(), MATURITY_RULES.to_string())];
    let ev = exec("/bin/sh", &["sh"], 1);
    for (level, want) in [
        (Maturity::Stable, vec!["s"]),
        (Maturity::Incubating, vec!["s", "i"]),
        (Maturity::Sandbox, vec!["s", "i", "x"]),
    ] {
        let mut set = RuleSet::from_sources_with(&sources, level).unwrap();
        assert_eq!(fired(&mut set, &ev), want, "{level:?}");
        assert_eq!(set.summary().above_maturity, 3 - want.len());
        assert_eq!(set.maturity(), level);
    }
    // The default is stable; the tags (ATT&CK ids included) ride on the alert.
    let alerts = load(MATURITY_RULES).evaluate(&ev);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].tags, ["execution", "T1059.004"]);
    assert!(
        crate::outputs::format::alert_text(&alerts[0]).ends_with(") tags=execution,T1059.004"),
        "{}",
        crate::outputs::format::alert_text(&alerts[0])
    );
    assert_eq!(
        errors("- rule: a\n  condition: evt.kind = exec\n  maturity: beta\n"),
        "r.yaml:3:13: `maturity`: expected stable, incubating or sandbox, found `beta`"
    );
    // Unknown keys are still errors.
    assert!(
        errors("- rule: a\n  condition: evt.kind = exec\n  maturty: stable\n")
            .starts_with("r.yaml:3:3: unknown key `maturty` in a rule"),
    );
}

#[test]
fn attack_ids_in_tags_are_checked() {
    for good in ["T1098", "T1098.004", "TA0003", "persistence", "tls", "Tor"] {
        load(&format!("- rule: a\n  condition: evt.kind = exec\n  tags: [{good}]\n"));
    }
    for bad in ["T109", "T1098.04", "T1098.0044", "t1098", "TA003", "T10980"] {
        let e = errors(&format!(
            "- rule: a\n  condition: evt.kind = exec\n  tags: [x, {bad}]\n"
        ));
        assert!(
            e.starts_with(&format!("r.yaml:3:13: tag `{bad}`: an ATT&CK")),
            "{bad}: {e}"
        );
    }
}

#[test]
fn tests_that_no_kind_of_the_rule_carries_are_errors() {
    // `net.port` under an exec-only rule: the `or` branch can never be true.
    assert_eq!(
        errors("- rule: a\n  condition: evt.kind = exec and (proc.name = nc or net.port = 4444)\n"),
        "r.yaml:2:53: rule `a`: `net.port` is on no event kind this rule applies to (exec): the test can never be true"
    );
    // Negated, and in an exception.
    assert!(
        errors("- rule: a\n  condition: evt.kind = open and not exec.env exists\n")
            .contains("`exec.env` is on no event kind")
    );
    let e = errors(
        "- rule: a\n  condition: evt.kind = open\n  exceptions:\n    - name: e\n      fields: [net.port]\n      values: [80]\n",
    );
    assert!(
        e.starts_with("r.yaml:5:16: rule `a`: `net.port` is on no event kind"),
        "{e}"
    );
    // In a sequence step.
    let e = errors(
        "- rule: a\n  sequence:\n    - condition: evt.kind = exec\n    - condition: evt.kind = connect and (net.port = 1 or file.write)\n  within: 1m\n",
    );
    assert!(
        e.contains("`file.write` is on no event kind this rule applies to (connect)"),
        "{e}"
    );
    // A macro serving several kinds is not the rule's own test; a field of one of the kinds is fine.
    load(
        "- macro: m\n  condition: (evt.kind = exec and proc.name = sh) or (evt.kind = connect and net.port = 1)\n- rule: a\n  condition: m and evt.kind = exec\n- rule: b\n  condition: evt.kind in (exec, connect) and (net.port = 1 or exec.path = /x)\n",
    );
}

// network
#[test]
fn network_kinds_carry_their_fields() {
    use crate::event::{SocketInfo, Verdict};
    let mut set = load(
        "- rule: udp to metadata\n  condition: evt.kind = send and net.addr in_cidr (169.254.169.254/32) and net.proto = udp and net.datagrams >= 1\n\
         - rule: listens on any\n  condition: evt.kind = listen and net.local_addr in_cidr (0.0.0.0/32, ::/128) and net.local_port = 8080\n\
         - rule: listens on agent socket\n  condition: evt.kind = listen and net.local_addr startswith /run/agents/\n\
         - rule: refused\n  condition: net.verdict in (denied, quarantined)\n\
         - rule: packet socket\n  condition: evt.kind = socket and net.family = packet and socket.type = raw and not evt.failed\n\
         - rule: agent socket\n  condition: evt.kind = connect and net.addr startswith /run/agents/ and net.raw_addr = innocent\n",
    );
    let send = enriched(
        synthetic::send(Family::Inet, "169.254.169.254", 53),
        "python3",
        "/usr/bin/python3",
        1,
    );
    assert_eq!(fired(&mut set, &send), ["udp to metadata"]);
    let any = enriched(
        synthetic::listen(Family::Inet6, "::", 8080),
        "python3",
        "/usr/bin/python3",
        2,
    );
    assert_eq!(fired(&mut set, &any), ["listens on any"]);
    let unix = enriched(synthetic::listen(Family::Unix, "/run/agents/a.sock", 0), "x", "/x", 3);
    assert_eq!(
        fired(&mut set, &unix),
        ["listens on agent socket"],
        "a path is no address"
    );
    let mut refused = connect(Family::Inet, "10.0.0.1", 80, 4);
    if let Body::Connect(c) = &mut refused.event.body {
        c.dest.verdict = Verdict::Quarantined;
    }
    assert_eq!(fired(&mut set, &refused), ["refused"]);
    let packet = Body::Socket(SocketInfo {
        family: Family::Packet,
        af: 17,
        sock_type: 3,
        type_flags: 0,
        protocol: u32::from(3u16.to_be()),
        result: Some(5),
    });
    assert_eq!(fired(&mut set, &enriched(packet, "x", "/x", 5)), ["packet socket"]);
    // A connect through a symlink named `innocent`: the kernel's path and the path as passed.
    let mut linked = connect(Family::Unix, "/run/agents/b.sock", 0, 6);
    assert!(
        fired(&mut set, &linked).is_empty(),
        "raw_addr is addr when nothing differed"
    );
    if let Body::Connect(c) = &mut linked.event.body {
        c.dest.raw_addr = Some("innocent".into());
    }
    assert_eq!(fired(&mut set, &linked), ["agent socket"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("r.yaml"),
        "- rule: l\n  condition: evt.kind = listen and net.local_port = 9\n- rule: s\n  condition: evt.kind = send and net.port = 53\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/t.yaml"),
        "- fixture: f\n  events:\n    - listen: 0.0.0.0\n      port: 9\n      expect: [l]\n    - send: 10.0.0.53\n      port: 53\n      expect: [s]\n",
    )
    .unwrap();
    let results = super::fixtures::run_dir(dir.path()).unwrap();
    assert!(results[0].failures.is_empty(), "{:?}", results[0].failures);
}
