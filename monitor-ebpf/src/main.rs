//! agentmon's kernel side: tracepoints that turn a watched agent's exec, open, connect, mount, fork and
//! exit into ring-buffer records (layout in `monitor-common`). Every program first asks [`scope`]
//! whether the current task belongs to a watched cgroup (or a descendant) and returns at once if not.
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]

#[cfg(target_arch = "bpf")]
mod connect;
#[cfg(target_arch = "bpf")]
mod enforce;
#[cfg(target_arch = "bpf")]
mod exec;
#[cfg(target_arch = "bpf")]
mod header;
#[cfg(target_arch = "bpf")]
mod maps;
#[cfg(target_arch = "bpf")]
mod mount;
#[cfg(target_arch = "bpf")]
mod open;
#[cfg(target_arch = "bpf")]
mod process;
#[cfg(target_arch = "bpf")]
mod scope;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects reachable loops; a reachable panic means a bug in this crate.
    unsafe { core::hint::unreachable_unchecked() }
}

/// The eBPF crate only has meaning for the bpf target; on the host it builds to a stub so
/// `cargo build --workspace` and clippy work.
#[cfg(not(target_arch = "bpf"))]
fn main() {
    eprintln!("monitor-ebpf is built for bpfel-unknown-none and loaded by agentmon");
}

#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
