//! The deployment artefacts in `deploy/`: Kubernetes manifests pass `kubernetes-validate --strict`
//! (PyPI), the ConfigMap's config loads, the DaemonSet has what eBPF needs, and the systemd unit
//! passes `systemd-analyze verify` with a good `security` exposure score.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use agentmon::config::Config;
use serde_yaml_ng::Value;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn manifests() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(deploy_dir().join("kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    v.sort();
    assert!(v.len() >= 4, "{v:?}");
    v
}

fn docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn find<'a>(all: &'a [Value], kind: &str, name: &str) -> &'a Value {
    all.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

/// The `kubernetes-validate` command, installed with pip if missing (`cargo xtask setup` installs it).
fn kubernetes_validate() -> Option<Command> {
    let works = |c: &mut Command| c.arg("--version").output().is_ok_and(|o| o.status.success());
    if works(&mut Command::new("kubernetes-validate")) {
        return Some(Command::new("kubernetes-validate"));
    }
    let module = || {
        let mut c = Command::new("python3");
        c.args(["-m", "kubernetes_validate"]);
        c
    };
    if works(&mut module()) {
        return Some(module());
    }
    let pip = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "kubernetes-validate"])
        .status();
    if !pip.is_ok_and(|s| s.success()) {
        return None;
    }
    if works(&mut Command::new("kubernetes-validate")) {
        Some(Command::new("kubernetes-validate"))
    } else if works(&mut module()) {
        Some(module())
    } else {
        None
    }
}

#[test]
fn kubernetes_manifests_pass_kubernetes_validate() {
    let Some(mut kv) = kubernetes_validate() else {
        eprintln!("SKIPPED: kubernetes-validate is not installed and `pip install kubernetes-validate` failed");
        return;
    };
    let out = kv.arg("--strict").args(manifests()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubernetes-validate failed:\n{stdout}\n{stderr}");
    for kind in [
        "namespace",
        "serviceaccount",
        "clusterrole",
        "clusterrolebinding",
        "configmap",
        "daemonset",
    ] {
        assert!(
            stdout.contains(&format!("passed for resource {kind}/")),
            "{kind} not validated:\n{stdout}"
        );
    }

    // The validator does catch mistakes.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(deploy_dir().join("kubernetes/daemonset.yaml"))
        .unwrap()
        .replace("hostPID: true", "hostPID: true\n      hostPIDs: true");
    std::fs::write(&bad, text).unwrap();
    let out = kubernetes_validate()
        .unwrap()
        .arg("--strict")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown field must fail strict validation");
}

#[test]
fn configmap_config_loads_and_matches_the_daemonset() {
    let cm = docs(&deploy_dir().join("kubernetes/configmap.yaml"));
    let text = find(&cm, "ConfigMap", "agentmon-config")["data"]["config.yaml"]
        .as_str()
        .unwrap()
        .to_string();
    let cfg = Config::parse(&text, Path::new("configmap.yaml:config.yaml")).unwrap();
    assert!(cfg.needs_kubernetes());
    // /metrics on loopback; the probes on a listener that serves only them.
    let metrics = cfg
        .metrics
        .addr
        .and_then(agentmon::config::MetricsAddr::socket)
        .expect("metrics.addr set");
    assert!(metrics.ip().is_loopback(), "{metrics}");
    let port = cfg.metrics.health_addr.expect("metrics.health_addr set").port();

    let ds = docs(&deploy_dir().join("kubernetes/daemonset.yaml"));
    let spec = &find(&ds, "DaemonSet", "agentmon")["spec"]["template"]["spec"];
    assert_eq!(spec["hostPID"], Value::Bool(true));
    assert_eq!(spec["serviceAccountName"].as_str(), Some("agentmon"));
    let c = &spec["containers"][0];
    assert_eq!(c["securityContext"]["privileged"], Value::Bool(true));
    let args: Vec<&str> = c["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert!(args.contains(&"--config=/etc/agentmon/config.yaml"), "{args:?}");
    let env = c["env"].as_sequence().unwrap();
    let node = env.iter().find(|e| e["name"].as_str() == Some("NODE_NAME")).unwrap();
    assert_eq!(
        node["valueFrom"]["fieldRef"]["fieldPath"].as_str(),
        Some("spec.nodeName")
    );
    assert_eq!(c["ports"][0]["containerPort"].as_u64(), Some(u64::from(port)));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"].as_str(), Some("/healthz"));
    assert_eq!(c["readinessProbe"]["httpGet"]["path"].as_str(), Some("/readyz"));
    assert!(c["resources"]["requests"]["memory"].as_str().is_some());
    assert!(c["resources"]["limits"]["memory"].as_str().is_some());
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    for m in [
        "/sys/fs/bpf",
        "/sys/kernel/tracing",
        "/sys/kernel/btf",
        "/sys/fs/cgroup",
        "/etc/agentmon/config.yaml",
    ] {
        assert!(mounts.contains(&m), "missing mount {m}: {mounts:?}");
    }
    let rbac = docs(&deploy_dir().join("kubernetes/rbac.yaml"));
    let rules = &find(&rbac, "ClusterRole", "agentmon")["rules"];
    assert_eq!(rules.as_sequence().unwrap().len(), 1, "pods only");
    let verbs: Vec<&str> = rules[0]["verbs"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(verbs, ["get", "list", "watch"]);
}

#[test]
fn systemd_unit_passes_systemd_analyze() {
    let unit_text = std::fs::read_to_string(deploy_dir().join("systemd/agentmon.service")).unwrap();
    for needle in [
        "ExecStart=/usr/local/bin/agentmon run --config /etc/agentmon/config.yaml",
        "CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_SYS_RESOURCE CAP_KILL CAP_NET_ADMIN",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "Restart=on-failure",
    ] {
        assert!(unit_text.contains(needle), "unit lacks {needle:?}");
    }
    let has_analyze = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_analyze {
        eprintln!("SKIPPED: systemd-analyze missing (apt-get install systemd; `cargo xtask setup` does it)");
        return;
    }
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("agentmon.service");
    std::fs::write(
        &unit,
        unit_text.replace("/usr/local/bin/agentmon", env!("CARGO_BIN_EXE_agentmon")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify failed:\n{stderr}");
    // Unknown keys and bad values are only warnings: none allowed.
    assert!(
        !stderr.lines().any(|l| l.contains("agentmon.service")),
        "systemd-analyze verify warnings:\n{stderr}"
    );

    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for agentmon.service:").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no exposure score in:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(
        score <= 5.0,
        "exposure {score} (\"OK\" is ≤ 5.0 for a root eBPF service)"
    );
}
