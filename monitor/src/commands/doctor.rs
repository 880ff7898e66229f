//! `agentmon doctor`: what this kernel offers agentmon, the mechanism chosen per hook, and what each
//! missing capability costs (which denies become after-the-fact, which strings may be unreadable).
//! Read-only: it loads only the kernel's feature-probe programs, never agentmon's object.
use crate::capabilities::Capabilities;

#[derive(Clone, Debug, clap::Args)]
pub struct DoctorArgs;

/// Prints the table on stdout; exit status 0 (a missing capability is a fact, not an error).
#[expect(clippy::print_stdout, reason = "doctor's output is its interface")]
pub fn run(_args: &DoctorArgs) -> i32 {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("note: not root, so the BPF program probes are refused and count as absent\n");
    }
    let uname = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("kernel {}", uname.trim());
    print!("{}", Capabilities::probe().render());
    0
}
