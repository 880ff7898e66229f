//! The `agentmon` subcommands.
use std::path::PathBuf;

use crate::{outputs::Printer, session::Session};

pub(crate) mod agents;
pub mod doctor;
pub mod exec;
pub mod learn;
pub mod log;
pub mod profile;
pub mod release;
pub mod replay;
pub mod rules;
pub mod run;

/// Options shared by the live-monitoring commands.
#[derive(Clone, Debug, clap::Args)]
#[expect(
    clippy::doc_markdown,
    reason = "the doc comments are the --help text, where backticks would show"
)]
#[expect(clippy::struct_excessive_bools, reason = "each bool is a command-line flag")]
pub(crate) struct MonitorArgs {
    /// Print one JSON object per line instead of readable text.
    #[arg(long)]
    pub json: bool,
    /// Rule directory (default: $AGENTMON_RULES, /etc/agentmon/rules, or the shipped rules/).
    #[arg(long, value_name = "DIR", conflicts_with = "no_rules")]
    pub rules: Option<PathBuf>,
    /// Rule maturity level to run: stable (default), incubating (stable and incubating) or sandbox
    /// (every rule). Overrides the config file's rules_maturity.
    #[arg(long, value_name = "LEVEL", conflicts_with = "no_rules")]
    pub rules_maturity: Option<crate::rules::Maturity>,
    /// Run without rules: print events only.
    #[arg(long)]
    pub no_rules: bool,
    /// Print every event, not only alerts (implied by --no-rules).
    #[arg(long)]
    pub events: bool,
    /// Also print process lifecycle (fork, exit, chdir) events.
    #[arg(long)]
    pub lifecycle: bool,
    /// Send every open to userspace, also those no rule can match (turns the in-kernel open filter
    /// off; it is off anyway with --record, --events and learn).
    #[arg(long)]
    pub no_open_filter: bool,
    /// Ring buffer size in bytes (power of two, ≥ 4096).
    #[arg(long, default_value_t = 8 * 1024 * 1024, value_name = "BYTES")]
    pub ringbuf_size: u32,
    #[command(flatten)]
    pub record: log::RecordArgs,
}

impl MonitorArgs {
    /// How every live session starts (`exec`, `run`): the rules loaded, the probes loaded with
    /// them, and the recorder attached if `--record` was given. Returns the session and the rule
    /// directory SIGHUP reloads (`None` with `--no-rules`).
    pub(crate) fn start_session(&self, root: PathBuf) -> anyhow::Result<(Session, Option<PathBuf>)> {
        self.start_session_with(root, Vec::new())
    }

    /// [`MonitorArgs::start_session`] with rule files made by agentmon (`extra`: a sandbox's
    /// profile rules), kept across SIGHUP reloads; they apply with `--no-rules` too.
    pub(crate) fn start_session_with(
        &self,
        root: PathBuf,
        extra: Vec<(String, String)>,
    ) -> anyhow::Result<(Session, Option<PathBuf>)> {
        let rules = self.load_rules(&extra)?;
        let rules_dir = rules.as_ref().and_then(|(d, _)| d.clone());
        let mut session = Session::start(
            root,
            &self.probe_options(),
            Printer::stdout(self.json),
            self.filter(),
            rules.map(|(_, r)| r),
        )?;
        session.set_extra_rules(extra);
        self.record.attach(&mut session.pipeline)?;
        if !self.no_open_filter {
            let on = session.pipeline.enable_open_filter();
            tracing::debug!(on, "in-kernel open filter");
        }
        Ok((session, rules_dir))
    }

    fn probe_options(&self) -> crate::probes::ProbeOptions {
        crate::probes::ProbeOptions {
            ringbuf_bytes: self.ringbuf_size,
        }
    }

    fn filter(&self) -> crate::pipeline::Filter {
        crate::pipeline::Filter {
            events: self.events || self.no_rules || self.lifecycle,
            lifecycle: self.lifecycle,
        }
    }

    /// The rule directory to use, or None with --no-rules.
    pub(crate) fn rules_dir(&self) -> anyhow::Result<Option<PathBuf>> {
        if self.no_rules {
            return Ok(None);
        }
        if let Some(d) = &self.rules {
            return Ok(Some(d.clone()));
        }
        default_rules_dir().map(Some).ok_or_else(|| {
            anyhow::anyhow!("no rule directory found (set --rules DIR, AGENTMON_RULES, or use --no-rules)")
        })
    }

    /// Loads the rules (if any) with `extra`, failing with every error as `file:line:col: message`.
    fn load_rules(
        &self,
        extra: &[(String, String)],
    ) -> anyhow::Result<Option<(Option<PathBuf>, crate::rules::RuleSet)>> {
        let dir = self.rules_dir()?;
        if dir.is_none() && extra.is_empty() {
            return Ok(None);
        }
        let maturity = self.rules_maturity.unwrap_or_default();
        let set =
            crate::rules::RuleSet::load_with(dir.as_deref(), extra, maturity).map_err(|e| anyhow::anyhow!("{e}"))?;
        tracing::info!(dir = ?dir.as_ref().map(|d| d.display()), rules = set.rule_count(), maturity = maturity.as_str(), "rules loaded");
        Ok(Some((dir, set)))
    }
}

/// Prints `agentmon: MESSAGE` on stderr: a failure the operator must see whatever the log level
/// (a command that cannot run, a damaged log file). One line: control characters in it (from a log
/// or a command line) are escaped.
#[expect(clippy::print_stderr, reason = "the command line's own error line")]
pub(crate) fn report(message: impl std::fmt::Display) {
    eprintln!("agentmon: {}", crate::event::Esc(message));
}

/// `$AGENTMON_RULES`, `/etc/agentmon/rules`, the `rules/` of the source tree this binary was built
/// in, or `./rules`, whichever exists first.
pub fn default_rules_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("AGENTMON_RULES") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(PathBuf::from("/etc/agentmon/rules"));
    candidates.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules"));
    candidates.push(PathBuf::from("rules"));
    candidates.into_iter().find(|p| p.is_dir())
}
