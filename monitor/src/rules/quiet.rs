//! Which opens no rule can match, whoever makes them: the judge of the kernel's open filter
//! (`monitor_common::open::QuietOpenKey`).
//!
//! A successful open is the same event, as far as the rules can tell, as every other successful
//! open of the same kernel path with the same flags by the same syscall, except for who made it
//! (the process, its agent and container: the common fields) and the path string it passed
//! (`file.raw_path`). Each enabled rule's condition for opens, and each sequence step's, is
//! evaluated with those left unknown, in three-valued logic: `false and unknown` is false, `not
//! unknown` unknown. When every one is false, or needs facts (read, write, create) the open lacks,
//! no open with that key can ever match, and the kernel need not send it. Anything the rules
//! cannot be sure of (a test of `proc.name`, of `file.raw_path`, of an agent's protected paths)
//! keeps opens coming.
use super::{
    RuleSet,
    cond::{Cond, Pred, Test},
    eval::{EventView, test},
    fields::Kind,
    prefilter::KindCond,
    rule::Matcher,
};
use crate::{
    enrich::Enriched,
    event::{Body, Field},
};

impl RuleSet {
    /// Whether no enabled rule, and no step of an enabled sequence, can match a successful open with
    /// this event's kernel path, flags and syscall, whoever makes it and however it names the file.
    /// False for anything else (a failed open, one without a kernel path).
    pub(crate) fn open_is_quiet(&self, ev: &Enriched) -> bool {
        let Body::Open(o) = &ev.event.body else {
            return false;
        };
        if o.result < 0 || o.kernel_path.is_none() {
            return false;
        }
        let view = EventView::new(ev, &[]);
        let quiet = |c: &KindCond| !view.facts.covers(c.need) || decide(c.cond(), &view) == Some(false);
        self.rules.iter().filter(|r| r.enabled).all(|r| match &r.matcher {
            Matcher::Condition(by_kind) => by_kind.get(Kind::Open).is_none_or(quiet),
            Matcher::Sequence(s) => s
                .steps
                .iter()
                .all(|step| step.by_kind.get(Kind::Open).is_none_or(quiet)),
        })
    }
}

/// The condition's value if it is the same for every open sharing the event's key (`None`: it
/// depends on something else).
fn decide(c: &Cond, v: &EventView<'_>) -> Option<bool> {
    match c {
        Cond::Const(b) => Some(*b),
        Cond::And(parts) => all_or_any(parts, v, false),
        Cond::Or(parts) => all_or_any(parts, v, true),
        Cond::Not(inner) => decide(inner, v).map(|b| !b),
        // Gone after specialisation; unknown if one were left.
        Cond::Kind(_) => None,
        Cond::Test(t) => keyed(t).then(|| test(t, v)),
    }
}

/// `and` (`decisive`: false) or `or` (true): a part that is `decisive` decides; else unknown if a
/// part is.
fn all_or_any(parts: &[Cond], v: &EventView<'_>, decisive: bool) -> Option<bool> {
    let mut known = true;
    for p in parts {
        match decide(p, v) {
            Some(b) if b == decisive => return Some(decisive),
            Some(_) => {}
            None => known = false,
        }
    }
    known.then_some(!decisive)
}

/// Whether the test reads only what the filter's key fixes: a field of the open itself (kernel path,
/// flags, result, syscall), not the path as passed nor an agent's protected paths.
fn keyed(t: &Test) -> bool {
    !t.field.info().common && t.field != Field::FileRawPath && !matches!(t.pred, Pred::Protected { .. })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::{
        enrich::{Enriched, synthetic},
        event::Body,
        rules::{
            RuleSet,
            tests::{condition, enriched, fired},
        },
    };

    /// A successful open of `kernel_path` (named `raw` by the process) with `flags`, by `comm`.
    fn open(kernel_path: &str, raw: &str, flags: i32, comm: &str) -> Enriched {
        let mut body = synthetic::open(raw, flags);
        if let Body::Open(o) = &mut body {
            o.kernel_path = Some(kernel_path.into());
        }
        let mut e = enriched(body, comm, &format!("/usr/bin/{comm}"), 1);
        e.resolved_path = Some(kernel_path.into());
        e
    }

    fn load(text: &str) -> RuleSet {
        RuleSet::from_sources(&[("r.yaml".into(), text.into())]).expect("rules load")
    }

    fn shipped() -> RuleSet {
        RuleSet::load_dir(&crate::commands::default_rules_dir().expect("the shipped rules")).expect("they load")
    }

    #[test]
    fn the_shipped_rules_leave_plain_reads_quiet_and_the_rest_not() {
        let set = shipped();
        let rd = libc::O_RDONLY | libc::O_CLOEXEC;
        for p in [
            "/etc/hostname",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/tmp/work/data.json",
        ] {
            assert!(set.open_is_quiet(&open(p, p, rd, "cat")), "{p}");
        }
        // What a rule reads, what a rule may write, what a sequence starts with.
        for (p, flags) in [
            ("/etc/shadow", rd),
            ("/root/.aws/credentials", rd),
            ("/usr/lib/x86_64-linux-gnu/liblzma.so.5.6.1", rd),
            ("/tmp/work/data.json", libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC),
            ("/etc/hostname", libc::O_RDWR),
        ] {
            assert!(!set.open_is_quiet(&open(p, p, flags, "cat")), "{p} {flags:#o}");
        }
    }

    #[test]
    fn what_the_key_does_not_fix_keeps_opens_coming() {
        let rd = libc::O_RDONLY;
        let ev = open("/srv/x", "x", rd, "cat");
        // Who opens it, how it is named, the agent's protected paths: not in the key.
        for cond in [
            "evt.kind = open and proc.name = curl",
            "evt.kind = open and file.raw_path contains x",
            "evt.kind = open and (file.write or file.raw_path contains x)",
            "evt.kind = open and not file.path startswith agent.protected",
            "proc.exe_name = cat",
        ] {
            let set = load(&format!("- rule: r\n  condition: {cond}\n"));
            assert!(!set.open_is_quiet(&ev), "{cond}");
        }
        // A test of the key that fails decides, whatever the rest.
        for cond in [
            "evt.kind = open and proc.name = curl and file.path startswith /etc",
            "evt.kind = open and file.write and file.raw_path contains x",
            "evt.kind = open and (file.write or proc.name = curl) and file.path glob \"/etc/*\"",
            "evt.kind = open and evt.syscall = openat2",
            "evt.kind = open and not file.path startswith /srv",
            "evt.kind = open and evt.failed",
            "evt.kind = exec and proc.name = cat",
        ] {
            let set = load(&format!("- rule: r\n  condition: {cond}\n"));
            assert!(set.open_is_quiet(&ev), "{cond}");
        }
        // A failed open, or one without the kernel's path, is never quiet.
        let set = load("- rule: r\n  condition: evt.kind = exec\n");
        let mut failed = ev.clone();
        if let Body::Open(o) = &mut failed.event.body {
            o.result = -13;
        }
        assert!(!set.open_is_quiet(&failed));
        let mut unresolved = ev;
        if let Body::Open(o) = &mut unresolved.event.body {
            o.kernel_path = None;
        }
        assert!(!set.open_is_quiet(&unresolved));
    }

    #[test]
    fn sequence_steps_count() {
        let set = load(
            "- rule: s\n  sequence:\n    - condition: evt.kind = exec\n    - condition: evt.kind = open and file.path startswith /srv\n  within: 1s\n",
        );
        assert!(!set.open_is_quiet(&open("/srv/x", "/srv/x", libc::O_RDONLY, "cat")));
        assert!(set.open_is_quiet(&open("/etc/x", "/etc/x", libc::O_RDONLY, "cat")));
    }

    /// Tests of the key's fields and of fields it leaves open.
    const LEAVES: [&str; 12] = [
        "file.write",
        "file.read",
        "file.create",
        "file.path startswith /srv",
        "file.path glob \"*.key\"",
        "file.path = /srv/a.key",
        "evt.syscall = openat",
        "evt.failed",
        "proc.name = a",
        "proc.name = b",
        "file.raw_path contains a",
        "file.raw_path = /srv/a.key",
    ];

    proptest! {
        /// Sound: when an open is quiet, no open with its key matches, whoever makes it and however
        /// it names the file.
        #[test]
        fn a_quiet_open_has_no_matching_twin(a in condition(LEAVES.len()), path in 0..3usize, flags in 0..4usize) {
            let text = format!("- rule: r\n  condition: evt.kind = open and {}\n", a.text(&LEAVES));
            let Ok(mut set) = RuleSet::from_sources(&[("r.yaml".into(), text)]) else { return Ok(()) };
            let kernel_path = ["/srv/a.key", "/srv/b", "/etc/a.key"][path];
            let flags = [libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR | libc::O_CREAT, libc::O_RDONLY | libc::O_CLOEXEC][flags];
            if set.open_is_quiet(&open(kernel_path, kernel_path, flags, "a")) {
                for comm in ["a", "b", "c"] {
                    for raw in [kernel_path, "a", "/srv/a.key", "x"] {
                        let twin = open(kernel_path, raw, flags, comm);
                        prop_assert!(fired(&mut set, &twin).is_empty(), "{} fired on {comm} {raw}", a.text(&LEAVES));
                    }
                }
            }
        }
    }
}
