//! `agentmon profile check PROFILE` and `agentmon profile export --format oci-seccomp|rules PROFILE`.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "these commands' output is their result: the export or summary on stdout, errors on stderr"
)]
use std::path::PathBuf;

use crate::profile::{self, export};

#[derive(Clone, Debug, clap::Args)]
pub struct ProfileArgs {
    #[command(subcommand)]
    pub(crate) command: ProfileCommand,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum Format {
    /// OCI/Docker seccomp JSON (`docker run --security-opt seccomp=FILE`, Kubernetes Localhost).
    OciSeccomp,
    /// agentmon rules that alert on deviations from the profile.
    Rules,
}

#[derive(Clone, Debug, clap::Subcommand)]
pub(crate) enum ProfileCommand {
    /// Validate a profile: prints `file:line:col: message` per error, else a summary.
    Check { profile: PathBuf },
    /// Write the profile in another form on stdout.
    Export {
        #[arg(long, value_enum)]
        format: Format,
        profile: PathBuf,
    },
}

/// Exit status: 0 on success, 1 on an invalid profile.
pub fn run(args: ProfileArgs) -> i32 {
    match args.command {
        ProfileCommand::Check { profile } => match profile::check_file(&profile) {
            Ok((p, notes)) => {
                for n in notes {
                    eprintln!("{n}");
                }
                println!(
                    "{}: ok: {} executables, {} read, {} write, {} exec entries, {} destinations, {} syscalls{}",
                    profile.display(),
                    p.executables.len(),
                    p.files.read.len(),
                    p.files.write.len(),
                    p.files.exec.len(),
                    p.network.connect.len(),
                    p.syscalls.len(),
                    if p.coverage.complete {
                        ""
                    } else {
                        " (incomplete: events were lost while learning)"
                    }
                );
                0
            }
            Err(e) => {
                for line in e.errors.iter().chain(&e.notes) {
                    eprintln!("{line}");
                }
                1
            }
        },
        ProfileCommand::Export { format, profile } => match profile::check_file(&profile) {
            Ok((p, _)) => {
                match format {
                    Format::OciSeccomp => {
                        let v = export::oci_seccomp(&p);
                        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                    }
                    Format::Rules => print!("{}", export::rules(&p, export::Target::Export)),
                }
                0
            }
            Err(e) => {
                for line in &e.errors {
                    eprintln!("{line}");
                }
                1
            }
        },
    }
}
