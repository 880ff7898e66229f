//! A profile as YAML: one key per line, every string double-quoted (JSON escapes are YAML's), lists
//! one item per line, so a reviewer reads it and a diff of two profiles shows what changed.
use std::fmt::Write as _;

use super::{Profile, VERSION};

/// A double-quoted YAML scalar.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn list(out: &mut String, indent: &str, key: &str, items: &std::collections::BTreeSet<String>) {
    if items.is_empty() {
        let _ = writeln!(out, "{indent}{key}: []");
        return;
    }
    let _ = writeln!(out, "{indent}{key}:");
    for i in items {
        let _ = writeln!(out, "{indent}  - {}", q(i));
    }
}

pub(super) fn to_yaml(p: &Profile) -> String {
    let mut o = String::new();
    o.push_str(
        "# agentmon profile: what `agentmon learn` saw the agent do. Review and edit it, then check it\n\
         # with `agentmon profile check FILE`. Paths are the kernel's (symlinks resolved); a path that\n\
         # ends in / is a tree: the directory and everything below it. See docs/SANDBOX.md.\n",
    );
    let _ = writeln!(o, "version: {VERSION}");
    let _ = writeln!(o, "agent: {}", q(&p.agent));
    let c = &p.coverage;
    o.push_str("# The learning window: a profile with drops is incomplete (events were lost).\n");
    o.push_str("coverage:\n");
    let command: Vec<String> = c.command.iter().map(|a| q(a)).collect();
    let _ = writeln!(o, "  command: [{}]", command.join(", "));
    let cgroups: Vec<String> = c.cgroups.iter().map(|a| q(a)).collect();
    let _ = writeln!(o, "  cgroups: [{}]", cgroups.join(", "));
    let _ = writeln!(o, "  started: {}", q(&c.started));
    let _ = writeln!(o, "  duration_ms: {}", c.duration_ms);
    let _ = writeln!(o, "  events: {}", c.events);
    let _ = writeln!(o, "  drops: {}", c.drops);
    let _ = writeln!(o, "  complete: {}", c.complete);
    if let Some(s) = c.exit_status {
        let _ = writeln!(o, "  exit_status: {s}");
    }
    let _ = writeln!(o, "  agentmon: {}", q(&c.agentmon));
    o.push_str("# Binaries run (and the ELF interpreters they need).\n");
    list(&mut o, "", "executables", &p.executables);
    o.push_str("files:\n");
    list(&mut o, "  ", "read", &p.files.read);
    list(&mut o, "  ", "write", &p.files.write);
    list(&mut o, "  ", "exec", &p.files.exec);
    o.push_str("network:\n");
    if p.network.connect.is_empty() {
        o.push_str("  connect: []\n");
    } else {
        o.push_str("  connect:\n");
        for d in &p.network.connect {
            let _ = writeln!(
                o,
                "    - {{addr: {}, port: {}, proto: {}}}",
                q(&d.addr),
                d.port,
                d.proto.as_str()
            );
        }
    }
    if p.network.listen.is_empty() {
        o.push_str("  listen: []\n");
    } else {
        o.push_str("  listen:\n");
        for l in &p.network.listen {
            let _ = writeln!(o, "    - {{port: {}, proto: {}}}", l.port, l.proto.as_str());
        }
    }
    list(&mut o, "  ", "unix", &p.network.unix);
    o.push_str("# Landlock scoping: refuse signals and abstract unix connects that leave the sandbox.\n");
    o.push_str("scope:\n");
    let _ = writeln!(o, "  signals: {}", p.scope.signals);
    let _ = writeln!(o, "  abstract_unix: {}", p.scope.abstract_unix);
    o.push_str("# Syscalls used, with how many calls the kernel counted while learning.\n");
    if p.syscalls.is_empty() {
        o.push_str("syscalls: {}\n");
    } else {
        o.push_str("syscalls:\n");
        for (name, n) in &p.syscalls {
            let _ = writeln!(o, "  {name}: {n}");
        }
    }
    o
}
