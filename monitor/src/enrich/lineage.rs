//! Facts about who a process is that the process cannot set: whether it is an agent's root (the
//! process agentmon launched or the one that entered a discovered agent's cgroup), and which
//! watched agent listens where (so a connect can name the agent it reaches).
use std::{collections::HashMap, net::IpAddr};

use serde::Serialize;

/// What the enrich stage knows about an event's process and destination beyond the event itself.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AgentFacts {
    /// The process is the agent's root: its parent is outside the agent's cgroup (the command
    /// `agentmon exec` started, a container's first process, or a process `docker exec`/`kubectl
    /// exec` put there). Decided once per process, when it is first seen: a process forked inside
    /// the agent is never a root, whatever it is called or runs and wherever it is reparented.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub agent_root: bool,
    /// connect/send: the other watched agent listening at the destination (from its listen
    /// events), `""` when none (or the agent itself).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dst_agent: String,
}

impl AgentFacts {
    pub(crate) fn is_empty(&self) -> bool {
        !self.agent_root && self.dst_agent.is_empty()
    }
}

/// Where a socket listens.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Endpoint {
    Inet(IpAddr, u16),
    Unix(String),
}

/// The listening addresses of watched agents, maintained from their listen events.
#[derive(Debug, Default)]
pub(crate) struct Listeners {
    by_endpoint: HashMap<Endpoint, String, crate::FastHash>,
}

/// At most this many listening endpoints are remembered (a scanner's bind loop cannot grow it).
const MAX_LISTENERS: usize = 4096;

impl Listeners {
    /// `agent` listens on `addr` (an IP address with `port`, or a unix socket path).
    pub(crate) fn listen(&mut self, agent: &str, addr: &str, port: u16) {
        let Some(key) = endpoint(addr, port) else { return };
        if self.by_endpoint.len() >= MAX_LISTENERS && !self.by_endpoint.contains_key(&key) {
            return;
        }
        self.by_endpoint.insert(key, agent.to_string());
    }

    /// Drops an agent that is no longer watched.
    pub(crate) fn forget(&mut self, agent: &str) {
        self.by_endpoint.retain(|_, a| a != agent);
    }

    /// The agent other than `from` that listens where a connect to `addr`:`port` arrives: on that
    /// exact address, or on the unspecified address (`0.0.0.0`, `::`) of that port when the
    /// destination is a loopback address. Listeners on the unspecified address are not matched to
    /// other destinations: agentmon does not know which addresses are the listener's own.
    pub(crate) fn agent_at(&self, from: &str, addr: &str, port: u16) -> Option<&str> {
        let key = endpoint(addr, port)?;
        let found = self.by_endpoint.get(&key).or_else(|| match key {
            Endpoint::Inet(ip, port) if ip.is_loopback() => {
                let any = if ip.is_ipv4() {
                    IpAddr::from([0, 0, 0, 0])
                } else {
                    IpAddr::from([0u16; 8])
                };
                self.by_endpoint
                    .get(&Endpoint::Inet(any, port))
                    // A dual-stack `::` listener also takes IPv4 connections.
                    .or_else(|| self.by_endpoint.get(&Endpoint::Inet(IpAddr::from([0u16; 8]), port)))
            }
            _ => None,
        })?;
        (found != from).then_some(found.as_str())
    }
}

fn endpoint(addr: &str, port: u16) -> Option<Endpoint> {
    if addr.is_empty() {
        return None;
    }
    Some(match addr.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => Endpoint::Inet(v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4), port),
        Ok(ip) => Endpoint::Inet(ip, port),
        Err(_) => Endpoint::Unix(addr.to_string()),
    })
}

/// The cgroup2 inode of a process's cgroup from `/proc/PID/cgroup` (`0::/path`), under `root`.
pub(crate) fn proc_cgroup_id(pid: u32, root: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    let meta = std::fs::metadata(root.join(rel.trim_start_matches('/'))).ok()?;
    Some(meta.ino())
}

#[cfg(test)]
mod tests {
    use super::Listeners;

    #[test]
    fn listeners_name_the_other_agent() {
        let mut l = Listeners::default();
        l.listen("a", "127.0.0.1", 8080);
        l.listen("b", "0.0.0.0", 9000);
        l.listen("c", "::", 9100);
        l.listen("d", "/run/d.sock", 0);
        assert_eq!(l.agent_at("x", "127.0.0.1", 8080), Some("a"));
        assert_eq!(l.agent_at("x", "::ffff:127.0.0.1", 8080), Some("a"));
        assert_eq!(l.agent_at("a", "127.0.0.1", 8080), None, "its own listener");
        assert_eq!(l.agent_at("x", "127.0.0.1", 8081), None);
        assert_eq!(l.agent_at("x", "127.0.0.5", 9000), Some("b"), "0.0.0.0 takes loopback");
        assert_eq!(l.agent_at("x", "10.1.2.3", 9000), None, "not other addresses");
        assert_eq!(l.agent_at("x", "::1", 9100), Some("c"));
        assert_eq!(l.agent_at("x", "127.0.0.1", 9100), Some("c"), "dual-stack ::");
        assert_eq!(l.agent_at("x", "/run/d.sock", 0), Some("d"));
        l.forget("d");
        assert_eq!(l.agent_at("x", "/run/d.sock", 0), None);
    }
}
