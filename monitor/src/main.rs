//! The `agentmon` command line.
use std::process::ExitCode;

use agentmon::commands;
use clap::{Parser, Subcommand};

/// Exit status when agentmon itself fails (as `env`/`timeout` do), distinct from a watched command's.
const EXIT_AGENTMON_ERROR: u8 = 125;

#[derive(Parser, Debug)]
#[expect(
    clippy::doc_markdown,
    reason = "the doc comments are the --help text, where backticks would show"
)]
#[command(
    name = "agentmon",
    version,
    about = "eBPF runtime security monitor for self-hosted AI agents"
)]
struct Cli {
    /// Log format on stderr (logs are filtered by RUST_LOG, default `info`).
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a command in a fresh cgroup and watch it and its descendants.
    Exec(commands::exec::ExecArgs),
    /// Watch existing cgroups until SIGINT/SIGTERM.
    Run(commands::run::RunArgs),
    /// Inspect recorded logs (`--record`): verify, cat, stats.
    Log(commands::log::LogArgs),
    /// Run recorded events through the rules again and print the alerts.
    Replay(commands::replay::ReplayArgs),
    /// Thaw (or kill) a quarantined agent; `--list` shows quarantined agents.
    Release(commands::release::ReleaseArgs),
    /// Validate rule files (`rules check DIR`) or run their fixtures (`rules test DIR`).
    Rules(commands::rules::RulesArgs),
    /// Watch an agent (a command, or running cgroups) and write the profile of what it did.
    Learn(commands::learn::LearnArgs),
    /// Validate a profile (`profile check FILE`) or export it (`profile export --format …`).
    Profile(commands::profile::ProfileArgs),
    /// Print what this kernel offers (BPF LSM, fentry, kprobes, …), the mechanism chosen per hook
    /// and what each missing capability costs.
    Doctor(commands::doctor::DoctorArgs),
}

#[expect(
    clippy::print_stderr,
    reason = "before logging is set up, and for the final error, stderr is the interface"
)]
fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line: clap's message without the usage block; a message that ends in ':' lists
            // what it means on the following indented lines, which are joined in.
            let msg = e.to_string();
            let mut lines = msg.lines().filter(|l| !l.trim().is_empty());
            let mut first = lines
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ")
                .to_string();
            if first.ends_with(':') {
                let details: Vec<&str> = lines.take_while(|l| l.starts_with(' ')).map(str::trim).collect();
                first = format!("{first} {}", details.join(", "));
            }
            eprintln!("agentmon: {first} (see agentmon --help)");
            return ExitCode::from(2);
        }
    };
    init_logging(&cli.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agentmon: starting the async runtime: {e}");
            return ExitCode::from(EXIT_AGENTMON_ERROR);
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Exec(a) => on_worker(commands::exec::run(a)).await,
            Command::Run(a) => on_worker(commands::run::run(a)).await,
            Command::Log(a) => commands::log::run(a),
            Command::Replay(a) => commands::replay::run(a),
            Command::Release(a) => commands::release::run(a),
            Command::Rules(a) => Ok(commands::rules::run(a)),
            Command::Learn(a) => on_worker(commands::learn::run(a)).await,
            Command::Profile(a) => Ok(commands::profile::run(a)),
            Command::Doctor(a) => Ok(commands::doctor::run(&a)),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("agentmon: {e:#}");
            ExitCode::from(EXIT_AGENTMON_ERROR)
        }
    }
}

/// Runs a live command's future as a task of the runtime's workers rather than on the main
/// thread: the worker that sees the ring buffer become readable runs the pipeline itself, with no
/// hand-over to a parked main thread (a futex wakeup and a context switch per drain).
async fn on_worker(f: impl Future<Output = anyhow::Result<i32>> + Send + 'static) -> anyhow::Result<i32> {
    match tokio::spawn(f).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(anyhow::anyhow!("the monitoring task ended: {e}")),
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
