//! Who a cgroup belongs to, read from its path alone: container runtime and ID, Kubernetes pod UID
//! and QoS class, systemd unit. Handles the systemd and cgroupfs drivers of containerd, CRI-O,
//! Docker and Podman (`libpod-<id>.scope` under systemd, `/libpod_parent/libpod-<id>` with
//! cgroupfs). What the runtime itself knows (names, images, labels) is [`super::runtime`]'s.
use serde::Serialize;

/// Container runtime, as named by its cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Containerd,
    Crio,
    Docker,
    Podman,
}

impl Runtime {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Runtime::Containerd => "containerd",
            Runtime::Crio => "crio",
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
        }
    }
}

/// Kubernetes pod QoS class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum QosClass {
    Guaranteed,
    Burstable,
    BestEffort,
}

/// What a cgroup path says about its workload. Every field is optional: a plain
/// `/system.slice/foo.service` has only a unit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// Full container ID (lowercase hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Runtime, when the path names it (cgroupfs-driver Kubernetes paths carry a bare ID and do not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Runtime>,
    /// Kubernetes pod UID, with dashes (`0d9f…-…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<QosClass>,
    /// Deepest systemd `.service` or `.scope` unit on the path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
}

impl Identity {
    /// The first 12 characters of the container ID, as `docker ps`/`crictl ps` show it.
    pub(crate) fn short_id(&self) -> Option<&str> {
        self.container_id.as_deref().map(|id| &id[..id.len().min(12)])
    }
}

fn is_hex_id(s: &str, min_len: usize) -> bool {
    s.len() >= min_len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `prefix<id>.scope` → id, when id looks like a container ID.
fn scoped_id<'a>(comp: &'a str, prefix: &str) -> Option<&'a str> {
    let id = comp.strip_prefix(prefix)?.strip_suffix(".scope")?;
    is_hex_id(id, 12).then_some(id)
}

fn container_of(comp: &str, parent: Option<&str>) -> Option<(String, Option<Runtime>)> {
    const SCOPES: &[(&str, Runtime)] = &[
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::Crio),
        ("docker-", Runtime::Docker),
        ("libpod-", Runtime::Podman),
    ];
    for (prefix, rt) in SCOPES {
        if let Some(id) = scoped_id(comp, prefix) {
            return Some((id.to_ascii_lowercase(), Some(*rt)));
        }
    }
    // cgroupfs driver: `/docker/<id>`, `/kubepods/<qos>/pod<uid>/<id>`, CRI-O `crio-<id>` and
    // Podman `libpod-<id>` (below `libpod_parent`, or a pod's `machine-libpod_pod_<id>`) without
    // `.scope`.
    if let Some(id) = comp.strip_prefix("crio-").filter(|id| is_hex_id(id, 64)) {
        return Some((id.to_ascii_lowercase(), Some(Runtime::Crio)));
    }
    if let Some(id) = comp.strip_prefix("libpod-").filter(|id| is_hex_id(id, 64)) {
        return Some((id.to_ascii_lowercase(), Some(Runtime::Podman)));
    }
    if is_hex_id(comp, 64) {
        let rt = (parent == Some("docker")).then_some(Runtime::Docker);
        return Some((comp.to_ascii_lowercase(), rt));
    }
    None
}

fn qos_of(comp: &str) -> Option<QosClass> {
    match comp {
        "kubepods-burstable.slice" | "burstable" => Some(QosClass::Burstable),
        "kubepods-besteffort.slice" | "besteffort" => Some(QosClass::BestEffort),
        _ => None,
    }
}

/// `kubepods-burstable-pod<uid_with_underscores>.slice` or `kubepods-pod<uid>.slice` (systemd) or
/// `pod<uid>` (cgroupfs) → uid with dashes.
fn pod_uid_of(comp: &str) -> Option<String> {
    let raw = if let Some(slice) = comp.strip_suffix(".slice") {
        let (_, uid) = slice.rsplit_once("-pod")?;
        uid
    } else {
        comp.strip_prefix("pod")?
    };
    let uid = raw.replace('_', "-");
    let ok = uid.len() >= 32 && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then_some(uid)
}

/// Reads the identity of the cgroup at `rel` (relative to the cgroup2 root, e.g. `/kubepods.slice/…`).
pub(crate) fn identify(rel: &str) -> Identity {
    let mut id = Identity::default();
    let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
    let mut in_kubepods = false;
    for (i, comp) in comps.iter().enumerate() {
        let parent = i.checked_sub(1).map(|p| comps[p]);
        let kubepods = *comp == "kubepods" || comp.starts_with("kubepods.slice") || comp.starts_with("kubepods-");
        if kubepods && !in_kubepods {
            in_kubepods = true;
            // Guaranteed pods sit directly below kubepods; a QoS level overrides this below.
            id.qos = Some(QosClass::Guaranteed);
        }
        if in_kubepods {
            if let Some(q) = qos_of(comp) {
                id.qos = Some(q);
            }
            if id.pod_uid.is_none()
                && let Some(uid) = pod_uid_of(comp)
            {
                id.pod_uid = Some(uid);
                continue;
            }
        }
        if let Some((cid, rt)) = container_of(comp, parent) {
            id.container_id = Some(cid);
            id.runtime = rt;
        }
        if matches!(comp.rsplit_once('.'), Some((_, "service" | "scope"))) {
            id.systemd_unit = Some((*comp).to_string());
        }
    }
    if !in_kubepods {
        id.qos = None;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "4f1c9a0e2b7d6c5a8e3f1b2c4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e";
    const UID: &str = "8f3a2c1e-5b7d-4e9f-a0b1-c2d3e4f5a6b7";

    fn uid_us() -> String {
        UID.replace('-', "_")
    }

    #[test]
    fn containerd_systemd_driver_burstable() {
        let p = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{CID}.scope",
            uid_us()
        );
        let id = identify(&p);
        assert_eq!(id.container_id.as_deref(), Some(CID));
        assert_eq!(id.runtime, Some(Runtime::Containerd));
        assert_eq!(id.pod_uid.as_deref(), Some(UID));
        assert_eq!(id.qos, Some(QosClass::Burstable));
        assert_eq!(id.systemd_unit, Some(format!("cri-containerd-{CID}.scope")));
        assert_eq!(id.short_id(), Some(&CID[..12]));
    }

    #[test]
    fn crio_systemd_driver_guaranteed_and_besteffort() {
        let p = format!("/kubepods.slice/kubepods-pod{}.slice/crio-{CID}.scope", uid_us());
        let id = identify(&p);
        assert_eq!(id.runtime, Some(Runtime::Crio));
        assert_eq!(id.qos, Some(QosClass::Guaranteed));
        assert_eq!(id.pod_uid.as_deref(), Some(UID));
        let p = format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/crio-{CID}.scope",
            uid_us()
        );
        let id = identify(&p);
        assert_eq!(id.qos, Some(QosClass::BestEffort));
        assert_eq!(id.container_id.as_deref(), Some(CID));
        // The conmon scope is not the container.
        let conmon = format!("/kubepods.slice/kubepods-pod{}.slice/crio-conmon-{CID}.scope", uid_us());
        assert_eq!(identify(&conmon).container_id, None);
    }

    #[test]
    fn pod_slice_without_container_has_pod_only() {
        let p = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice",
            uid_us()
        );
        let id = identify(&p);
        assert_eq!(id.pod_uid.as_deref(), Some(UID));
        assert_eq!(id.container_id, None);
        assert_eq!(id.systemd_unit, None);
    }

    #[test]
    fn cgroupfs_driver_kubepods() {
        let id = identify(&format!("/kubepods/burstable/pod{UID}/{CID}"));
        assert_eq!(id.pod_uid.as_deref(), Some(UID));
        assert_eq!(id.qos, Some(QosClass::Burstable));
        assert_eq!(id.container_id.as_deref(), Some(CID));
        assert_eq!(id.runtime, None, "a bare ID does not name its runtime");
        let id = identify(&format!("/kubepods/pod{UID}/{CID}"));
        assert_eq!(id.qos, Some(QosClass::Guaranteed));
        let id = identify(&format!("/kubepods/besteffort/pod{UID}/crio-{CID}"));
        assert_eq!(id.qos, Some(QosClass::BestEffort));
        assert_eq!(id.runtime, Some(Runtime::Crio));
    }

    #[test]
    fn docker_both_drivers() {
        let id = identify(&format!("/docker/{CID}"));
        assert_eq!(id.runtime, Some(Runtime::Docker));
        assert_eq!(id.container_id.as_deref(), Some(CID));
        assert_eq!(id.pod_uid, None);
        assert_eq!(id.qos, None);
        let id = identify(&format!("/system.slice/docker-{CID}.scope"));
        assert_eq!(id.runtime, Some(Runtime::Docker));
        assert_eq!(id.systemd_unit, Some(format!("docker-{CID}.scope")));
        let id = identify(&format!("/machine.slice/libpod-{CID}.scope/container"));
        assert_eq!(id.runtime, Some(Runtime::Podman));
        assert_eq!(id.container_id.as_deref(), Some(CID));
    }

    #[test]
    fn podman_cgroupfs_driver() {
        // Where Podman 4.3 (cgroup_manager = cgroupfs) puts a container, as seen on a real host.
        let id = identify(&format!("/libpod_parent/libpod-{CID}"));
        assert_eq!(id.runtime, Some(Runtime::Podman));
        assert_eq!(id.container_id.as_deref(), Some(CID));
        assert_eq!(id.systemd_unit, None);
        // Inside a pod: `/libpod_parent/<pod id>/libpod-<id>`.
        let id = identify(&format!("/libpod_parent/{}/libpod-{CID}", &CID[..32]));
        assert_eq!(id.container_id.as_deref(), Some(CID));
        assert_eq!(identify("/libpod_parent/libpod-conmon").container_id, None);
    }

    #[test]
    fn systemd_units() {
        let id = identify("/system.slice/agent-runner.service");
        assert_eq!(id.systemd_unit.as_deref(), Some("agent-runner.service"));
        assert_eq!(id.container_id, None);
        let id = identify("/user.slice/user-1000.slice/user@1000.service/app.slice/llm-agent.service");
        assert_eq!(id.systemd_unit.as_deref(), Some("llm-agent.service"));
        assert_eq!(identify("/"), Identity::default());
        assert_eq!(identify("/system.slice").systemd_unit, None);
    }

    #[test]
    fn rejects_lookalikes() {
        assert_eq!(identify("/docker/not-an-id").container_id, None);
        assert_eq!(identify("/cri-containerd-xyz.scope").container_id, None);
        assert_eq!(identify("/podcast").pod_uid, None);
        // `pod…` outside kubepods is not a pod.
        assert_eq!(identify(&format!("/pod{UID}")).pod_uid, None);
    }
}
