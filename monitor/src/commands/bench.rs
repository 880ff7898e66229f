//! `agentmon bench-rules` (hidden; driven by `cargo xtask bench`): rule-matching throughput of a
//! rule set plus N generated extra rules over a realistic synthetic event mix.
use std::{path::PathBuf, time::Instant};

use anyhow::{Context, Result};

use crate::{
    enrich::Ancestor,
    enrich::Enriched,
    event::{Body, ConnectInfo, Event, ExecInfo, Family, Header, MountInfo, OpenInfo},
    rules::RuleSet,
};

#[derive(Clone, Debug, clap::Args)]
pub struct BenchRulesArgs {
    /// Rule directory (the shipped rules by default).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Extra generated rules added to the set.
    #[arg(long, default_value_t = 50)]
    pub extra: usize,
    /// Events to evaluate.
    #[arg(long, default_value_t = 2_000_000)]
    pub events: usize,
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
        y.push_str(&format!(
            "- rule: Extra rule {i}\n  desc: generated\n  condition: {cond}\n  output: extra {i} %proc.exe\n  priority: NOTICE\n"
        ));
    }
    y
}

fn enriched(body: Body, t: u64, path: Option<&str>) -> Enriched {
    Enriched {
        time: String::new(),
        event: Event {
            header: Header {
                ktime_ns: t,
                pid: 4242,
                tid: 4242,
                ppid: 4000,
                uid: 1000,
                gid: 1000,
                cgroup_id: 77,
                comm: "python3".into(),
                ..Default::default()
            },
            body,
        },
        exe: "/usr/bin/python3".into(),
        ancestors: vec![
            Ancestor {
                pid: 4000,
                exe: "/usr/bin/node".into(),
            },
            Ancestor {
                pid: 1,
                exe: "/sbin/init".into(),
            },
        ],
        cgroup: "/agents/bot".into(),
        agent: "bot".into(),
        resolved_path: path.map(String::from),
    }
}

/// A mix dominated by opens, like a real agent: 80 % open, 8 % exec, 10 % connect, 2 % mount.
fn event_mix() -> Vec<Enriched> {
    let mut v = Vec::new();
    for i in 0..80u64 {
        let path = match i % 4 {
            0 => format!("/usr/lib/python3.11/module{i}.py"),
            1 => format!("/home/bot/workspace/file{i}.txt"),
            2 => "/etc/ld.so.cache".to_string(),
            _ => format!("/tmp/scratch{i}"),
        };
        let flags = if i % 4 == 1 {
            (libc::O_WRONLY | libc::O_CREAT) as u32
        } else {
            0
        };
        v.push(enriched(
            Body::Open(OpenInfo {
                path: path.clone(),
                flags,
                mode: 0,
                dfd: -100,
                syscall: "openat",
            }),
            i,
            Some(&path),
        ));
    }
    for i in 0..8u64 {
        let f = if i % 2 == 0 { "/usr/bin/git" } else { "/usr/bin/ls" };
        v.push(enriched(
            Body::Exec(ExecInfo {
                filename: f.into(),
                argv: vec![f.into(), "status".into()],
                argv_truncated: false,
            }),
            100 + i,
            Some(f),
        ));
    }
    for i in 0..10u64 {
        v.push(enriched(
            Body::Connect(ConnectInfo {
                family: Family::Inet,
                addr: format!("93.184.216.{i}"),
                port: 443,
                fd: 3,
            }),
            200 + i,
            None,
        ));
    }
    for i in 0..2u64 {
        v.push(enriched(
            Body::Mount(MountInfo {
                source: "none".into(),
                target: "/mnt".into(),
                fstype: "proc".into(),
                flags: 0,
                syscall: "mount",
            }),
            300 + i,
            None,
        ));
    }
    v
}

pub fn run(args: BenchRulesArgs) -> Result<i32> {
    let dir = match args.rules {
        Some(d) => d,
        None => super::default_rules_dir().context("no rule directory")?,
    };
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&dir)?.flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            sources.push((p.display().to_string(), std::fs::read_to_string(&p)?));
        }
    }
    sources.sort();
    sources.push(("extra.yaml".to_string(), extra_rules(args.extra)));
    let mut set = RuleSet::from_sources(&sources).map_err(|e| anyhow::anyhow!("{e}"))?;
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
    Ok(0)
}
