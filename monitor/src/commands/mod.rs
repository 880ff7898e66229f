//! The `agentmon` subcommands.
pub mod exec;
pub mod log;
pub mod replay;
pub mod run;

/// Options shared by the live-monitoring commands.
#[derive(Clone, Debug, clap::Args)]
pub struct MonitorArgs {
    /// Print one JSON object per line instead of readable text.
    #[arg(long)]
    pub json: bool,
    /// Also print process lifecycle (fork, exit) events.
    #[arg(long)]
    pub lifecycle: bool,
    /// Ring buffer size in bytes (power of two, ≥ 4096).
    #[arg(long, default_value_t = 8 * 1024 * 1024, value_name = "BYTES")]
    pub ringbuf_size: u32,
    #[command(flatten)]
    pub record: log::RecordArgs,
}

impl MonitorArgs {
    pub fn probe_options(&self) -> crate::probes::ProbeOptions {
        crate::probes::ProbeOptions {
            ringbuf_bytes: self.ringbuf_size,
        }
    }
    pub fn filter(&self) -> crate::pipeline::Filter {
        crate::pipeline::Filter {
            lifecycle: self.lifecycle,
        }
    }
}
