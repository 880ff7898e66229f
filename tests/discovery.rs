//! Discovery on real cgroup trees shaped like each runtime's naming, with real processes inside.
//! Each test builds its own uniquely named tree under the cgroup2 mount and removes it on drop.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr,
    reason = "test code outside #[test] fns: a failed step fails the test"
)]
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Child, Command},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use agentmon::{
    cgroup::{Cgroup, cgroup_of_pid, cgroup2_root},
    config::Config,
    discovery::identity::{QosClass, Runtime},
    discovery::k8s::{PodMeta, PodStore},
    discovery::{Discovery, DiscoveryEvent},
};

const CID: &str = "4f1c9a0e2b7d6c5a8e3f1b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e";
const CID2: &str = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d";
const UID: &str = "8f3a2c1e-5b7d-4e9f-a0b1-c2d3e4f5a6b7";

/// A test's cgroup tree and the processes in it; killed and removed (deepest first) on drop.
struct Tree {
    root: PathBuf,
    top: PathBuf,
    procs: Vec<Child>,
}

impl Tree {
    fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let root = cgroup2_root().expect("cgroup2 mounted");
        let name = format!(
            "agentmon-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let top = root.join(&name);
        std::fs::create_dir(&top).expect("creating the test cgroup (needs root)");
        Self {
            root,
            top,
            procs: Vec::new(),
        }
    }

    /// `/agentmon-test-…` — the tree's path relative to the cgroup2 root.
    fn rel(&self) -> String {
        format!("/{}", self.top.strip_prefix(&self.root).unwrap().display())
    }

    /// Creates `rel` (below the tree) with parents, and returns its absolute path.
    fn mkdir(&self, rel: &str) -> PathBuf {
        let p = self.top.join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Starts `sleep` inside the cgroup at `rel`; returns its pid.
    fn spawn_in(&mut self, rel: &str) -> u32 {
        let dir = self.mkdir(rel);
        let child = Command::new("sleep").arg("300").spawn().unwrap();
        let pid = child.id();
        self.procs.push(child);
        std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
        pid
    }

    fn discovery(&self, yaml: &str, pods: Option<PodStore>) -> Discovery {
        let yaml = yaml.replace("$TOP", &self.rel());
        let cfg = Config::parse(&yaml, Path::new("test.yaml")).unwrap();
        Discovery::new(self.root.clone(), cfg.agents, pods).with_scope(self.top.clone())
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        for c in &mut self.procs {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Ok(cg) = Cgroup::open(&self.root, &self.top)
            && let Err(e) = cg.remove()
        {
            eprintln!("cleanup of {}: {e}", self.top.display());
        }
    }
}

fn added(events: &[DiscoveryEvent]) -> Vec<(String, agentmon::discovery::AgentIdentity)> {
    let mut v: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            DiscoveryEvent::Added { cgroup, agent } => Some((cgroup.rel.clone(), (**agent).clone())),
            DiscoveryEvent::Removed { .. } => None,
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn identifies_each_runtime_shape_and_selects_only_agents() {
    let mut t = Tree::new("shapes");
    let uid_us = UID.replace('-', "_");
    let containerd = format!(
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_us}.slice/cri-containerd-{CID}.scope"
    );
    let crio = format!("kubepods.slice/kubepods-pod{uid_us}.slice/crio-{CID2}.scope");
    let cgroupfs = format!("kubepods/besteffort/pod{UID}/{CID}");
    let docker = format!("docker/{CID2}");
    let docker_scope = format!("system.slice/docker-{CID}.scope");
    let pids = [
        t.spawn_in(&containerd),
        t.spawn_in(&crio),
        t.spawn_in(&cgroupfs),
        t.spawn_in(&docker),
        t.spawn_in(&docker_scope),
        t.spawn_in("system.slice/agent@1.service"),
        t.spawn_in("system.slice/nginx.service"),
    ];
    let mut d = t.discovery(
        r#"
agents:
  - name: "k8s-{runtime}-{container_id}"
    match: { cgroup: "$TOP/kubepods.slice/**/*.scope" }
  - name: "fs-{container}"
    match: { cgroup: "$TOP/kubepods/*/pod*/*" }
  - name: "docker-{container_id}"
    match: { runtime: docker }
  - name: "{unit}"
    match: { systemd_unit: "agent@*.service" }
"#,
        None,
    );
    let got = added(&d.scan());
    let top = t.rel();
    let names: Vec<(String, String)> = got.iter().map(|(p, a)| (p.clone(), a.name.clone())).collect();
    let short = |c: &str| c[..12].to_string();
    let cf = format!("{top}/kubepods/besteffort");
    let mut expected = vec![
        (format!("{top}/docker/{CID2}"), format!("docker-{}", short(CID2))),
        (format!("{top}/{cgroupfs}"), format!("fs-{}", short(CID))),
        (format!("{top}/{containerd}"), format!("k8s-containerd-{}", short(CID))),
        (format!("{top}/{crio}"), format!("k8s-crio-{}", short(CID2))),
        (
            format!("{top}/system.slice/agent@1.service"),
            "agent@1.service".to_string(),
        ),
        (format!("{top}/{docker_scope}"), format!("docker-{}", short(CID))),
    ];
    expected.sort();
    assert_eq!(names, expected);
    let by_path = |p: &str| got.iter().find(|(r, _)| r == p).map(|(_, a)| a.clone()).unwrap();
    let a = by_path(&format!("{top}/{containerd}"));
    assert_eq!(a.identity.runtime, Some(Runtime::Containerd));
    assert_eq!(a.identity.pod_uid.as_deref(), Some(UID));
    assert_eq!(a.identity.qos, Some(QosClass::Burstable));
    assert_eq!(a.identity.container_id.as_deref(), Some(CID));
    let a = by_path(&format!("{top}/{crio}"));
    assert_eq!(a.identity.runtime, Some(Runtime::Crio));
    assert_eq!(a.identity.qos, Some(QosClass::Guaranteed));
    let a = by_path(&format!("{top}/{cgroupfs}"));
    assert_eq!(a.identity.qos, Some(QosClass::BestEffort));
    assert_eq!(a.identity.pod_uid.as_deref(), Some(UID));
    assert_eq!(a.identity.runtime, None);
    // Nothing else below the cgroupfs pod was selected.
    assert_eq!(got.iter().filter(|(p, _)| p.starts_with(&cf)).count(), 1);
    assert_eq!(got.len(), 6, "nginx.service is not an agent: {names:?}");
    assert!(!got.iter().any(|(p, _)| p.contains("nginx")));
    // The processes really are in the cgroups discovery reported.
    assert_eq!(cgroup_of_pid(pids[0]), Some(format!("{top}/{containerd}")));
    let watched = by_path(&format!("{top}/system.slice/agent@1.service"));
    assert_eq!(watched.identity.systemd_unit.as_deref(), Some("agent@1.service"));
    // A second scan reports nothing new.
    assert!(d.scan().is_empty());
}

#[tokio::test]
async fn picks_up_new_agents_and_drops_removed_ones() {
    let mut t = Tree::new("live");
    t.spawn_in("system.slice/agent@1.service");
    let d = t.discovery(
        "agents:\n  - name: \"{unit}\"\n    match: { cgroup: \"$TOP/system.slice/agent@*.service\" }\n",
        None,
    );
    let (initial, mut rx, task) = d.spawn(Duration::from_millis(50));
    assert_eq!(added(&initial).len(), 1);

    let pid = t.spawn_in("system.slice/agent@2.service");
    t.spawn_in("system.slice/other.service");
    let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let DiscoveryEvent::Added { cgroup, agent } = ev else {
        panic!("expected Added, got {ev:?}")
    };
    assert_eq!(agent.name, "agent@2.service");
    assert!(cgroup.procs().unwrap().contains(&pid));
    let id = cgroup.id;

    // Empty and remove it: discovery reports the removal by id.
    let child = t.procs.iter_mut().find(|c| c.id() == pid).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    Cgroup::open(&t.root, &cgroup.path).unwrap().remove().unwrap();
    let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ev,
        DiscoveryEvent::Removed {
            id,
            path: cgroup.rel.clone(),
            agent: "agent@2.service".into()
        }
    );
    task.abort();
}

#[test]
fn kubernetes_metadata_selects_and_names_containers() {
    let mut t = Tree::new("k8s");
    let uid_us = UID.replace('-', "_");
    let pod = format!("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_us}.slice");
    t.spawn_in(&format!("{pod}/cri-containerd-{CID}.scope"));
    // The pause container: in the pod, not in its container statuses.
    t.spawn_in(&format!("{pod}/cri-containerd-{CID2}.scope"));
    let store = PodStore::default();
    let d_yaml = r#"
agents:
  - name: "{namespace}/{pod}/{container}"
    match:
      namespace: "ai-*"
      pod_labels: { app.kubernetes.io/component: agent }
"#;
    let mut d = t.discovery(d_yaml, Some(store.clone()));
    // No metadata yet: nothing is selected (discovery waits for the watcher).
    assert!(d.scan().is_empty());
    store.upsert(PodMeta {
        uid: UID.into(),
        name: "coder-0".into(),
        namespace: "ai-agents".into(),
        labels: [("app.kubernetes.io/component".to_string(), "agent".to_string())].into(),
        containers: [(CID.to_string(), "agent".to_string())].into(),
    });
    let got = added(&d.scan());
    let names: Vec<&str> = got.iter().map(|(_, a)| a.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["ai-agents/coder-0/agent", &format!("ai-agents/coder-0/{}", &CID2[..12])]
    );
    assert_eq!(got[0].1.container_name.as_deref(), Some("agent"));
    assert_eq!(got[0].1.namespace.as_deref(), Some("ai-agents"));

    // A pod in another namespace is not an agent.
    let mut t2 = Tree::new("k8s-other");
    let uid2 = "11111111-2222-4333-8444-555555555555";
    t2.spawn_in(&format!(
        "kubepods.slice/kubepods-pod{}.slice/cri-containerd-{CID}.scope",
        uid2.replace('-', "_")
    ));
    store.upsert(PodMeta {
        uid: uid2.into(),
        name: "web".into(),
        namespace: "default".into(),
        labels: [("app.kubernetes.io/component".to_string(), "agent".to_string())].into(),
        containers: BTreeMap::default(),
    });
    let mut d2 = t2.discovery(d_yaml, Some(store));
    assert!(d2.scan().is_empty());
}

/// A runtime that knows one container.
struct OneContainer(&'static str, agentmon::discovery::runtime::ContainerMeta);

impl agentmon::discovery::runtime::ContainerSource for OneContainer {
    fn runtime(&self) -> Runtime {
        Runtime::Docker
    }
    fn describe(&self) -> String {
        "test runtime".into()
    }
    fn available(&self) -> bool {
        true
    }
    fn inspect<'a>(
        &'a self,
        id: &'a str,
    ) -> agentmon::discovery::runtime::BoxFuture<
        'a,
        Result<Option<agentmon::discovery::runtime::ContainerMeta>, agentmon::discovery::runtime::RuntimeError>,
    > {
        Box::pin(async move { Ok((id == self.0).then(|| self.1.clone())) })
    }
}

#[tokio::test]
async fn waits_for_the_runtime_then_selects_and_names_by_its_answer() {
    use agentmon::discovery::runtime::{ContainerMeta, ContainerStore};
    let mut t = Tree::new("runtime");
    t.spawn_in(&format!("docker/{CID}"));
    t.spawn_in(&format!("docker/{CID2}"));
    let meta = ContainerMeta {
        name: "coder".into(),
        image: "ai/coder:1".into(),
        labels: [("team".to_string(), "ai".to_string())].into(),
    };
    let (store, _task) = ContainerStore::spawn(
        vec![std::sync::Arc::new(OneContainer(CID, meta))],
        Duration::from_secs(1),
    );
    let mut d = t
        .discovery(
            "agents:\n  - name: \"{label:team}-{container}@{image}\"\n    match: {runtime: docker, image: \"ai/*\", labels: {team: ai}}\n\
             \x20 - name: \"{container}\"\n    match: {cgroup: \"$TOP/docker/*\"}\n",
            None,
        )
        .with_containers(store.clone());
    // Both containers could be agents: neither is named before its runtime answered.
    assert!(added(&d.scan()).is_empty());
    let mut got = Vec::new();
    for _ in 0..250 {
        got.extend(added(&d.scan()));
        if got.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(got.len(), 2, "{got:?}");
    let coder = got.iter().find(|(rel, _)| rel.ends_with(CID)).unwrap();
    assert_eq!(coder.1.name, "ai-coder@ai/coder:1");
    assert_eq!(coder.1.container_name.as_deref(), Some("coder"));
    assert_eq!(coder.1.image.as_deref(), Some("ai/coder:1"));
    // The runtime does not know the other: the second entry names it by its short ID.
    let other = got.iter().find(|(rel, _)| rel.ends_with(CID2)).unwrap();
    assert_eq!(other.1.name, &CID2[..12]);
}
