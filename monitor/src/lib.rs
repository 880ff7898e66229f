//! agentmon: an eBPF runtime security monitor for self-hosted AI agents.
//!
//! Data flows one way: kernel ([`probes`]) → ring buffer ([`ringbuf`]) → [`event`] decode →
//! enrichment ([`proctable`], [`cgroup`]) → output.
pub mod alert;
pub mod bpffs;
pub mod btf;
pub mod cgroup;
pub mod commands;
pub mod config;
pub mod discovery;
pub mod enforce;
pub mod event;
pub mod identity;
pub mod k8s;
pub mod metrics;
pub mod output;
pub mod outputs;
pub mod pipeline;
pub mod probes;
pub mod proctable;
pub mod record;
pub mod resolve;
pub mod responder;
pub mod ringbuf;
pub mod rules;
pub mod session;
pub mod tracefs;
