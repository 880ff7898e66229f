//! agentmon: an eBPF runtime security monitor for self-hosted AI agents.
//!
//! Data flows one way, one module per stage:
//!
//! kernel programs (`monitor-ebpf`, loaded and attached by [`probes`]) → ring buffer ([`ringbuf`])
//! → decode ([`event`]) → enrich ([`enrich`]: process table, paths, agent names) → match
//! ([`rules`]) → respond ([`respond`]: kill, quarantine; [`enforce`] holds the kernel deny tables)
//! and record ([`record`]) → outputs ([`outputs`]: stdout, file, webhook).
//!
//! [`pipeline`] runs one record through those stages; [`session`] drives the pipeline from the ring
//! buffer in a live monitor. Around it: [`discovery`] finds the agents' cgroups, [`cgroup`] is the
//! cgroup v2 plumbing, [`capabilities`] what this kernel offers (and `agentmon doctor`), [`config`] the config file, [`metrics`] the Prometheus endpoint, [`commands`]
//! the subcommands.
pub mod capabilities;
pub mod cgroup;
pub mod commands;
pub mod config;
pub mod discovery;
mod enforce;
pub mod enrich;
pub mod event;
mod files;
pub mod metrics;
pub mod outputs;
mod pipeline;
pub mod probes;
mod profile;
pub mod record;
mod respond;
mod ringbuf;
pub mod rules;
mod sandbox;
pub mod schema;
mod session;

/// The hasher of the hot path's maps (pids, cgroup ids, agent-controlled strings): fast, and seeded
/// per map so crafted keys cannot aim at collisions.
pub(crate) type FastHash = foldhash::fast::RandomState;
