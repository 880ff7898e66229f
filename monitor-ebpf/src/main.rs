//! agentmon's kernel side: tracepoints that turn a watched agent's exec, open, connect, mount, fork and
//! exit into ring-buffer records (layout in `monitor-common`). Every program first asks [`scope`]
//! whether the current task belongs to a watched cgroup (or a descendant) and returns at once if not.
//!
//! The names of the maps and programs, and the layouts of the tracepoint records they read, are the
//! contract in `monitor-common` (`maps`, `programs`, `tracepoint`); [`named!`] asserts each name at
//! compile time. Every early return that gives up on an event is counted (`monitor_common::counter`).
#![cfg_attr(target_arch = "bpf", no_std)]
#![cfg_attr(target_arch = "bpf", no_main)]
// Atomic adds on map values (`lineage.rs`): the bpf target has no compare-and-swap, so core's
// atomic types offer no `fetch_add`; the intrinsic lowers to BPF's atomic add. The crate is built
// with the nightly toolchain anyway (build-std).
#![cfg_attr(target_arch = "bpf", feature(core_intrinsics))]
#![cfg_attr(
    target_arch = "bpf",
    expect(internal_features, reason = "core_intrinsics, for the atomic add above")
)]
// This crate's real build is the bpfel one inside `monitor/build.rs` (aya-build), where a warning
// would only scroll by as a `warning: monitor@…` line: there, a warning fails the build. Host
// clippy sees only the stub below.
#![cfg_attr(target_arch = "bpf", deny(warnings))]

/// Asserts at compile time that a map static or program function carries the name the contract in
/// `monitor-common` gives it: `named!(EVENTS = maps::EVENTS);`.
#[cfg(target_arch = "bpf")]
macro_rules! named {
    ($item:ident = $name:expr) => {
        const _: () = assert!(
            monitor_common::same_name(stringify!($item), $name),
            concat!(stringify!($item), " is not named as monitor-common says")
        );
    };
}

#[cfg(target_arch = "bpf")]
mod args;
#[cfg(target_arch = "bpf")]
mod cgroup_move;
#[cfg(target_arch = "bpf")]
mod chdir;
#[cfg(target_arch = "bpf")]
mod connect;
#[cfg(target_arch = "bpf")]
mod enforce;
#[cfg(target_arch = "bpf")]
mod env;
#[cfg(target_arch = "bpf")]
mod exec;
#[cfg(target_arch = "bpf")]
mod exit;
#[cfg(target_arch = "bpf")]
mod fork;
// files
#[cfg(target_arch = "bpf")]
mod chmod;
#[cfg(target_arch = "bpf")]
mod chown;
#[cfg(target_arch = "bpf")]
mod file_op;
#[cfg(target_arch = "bpf")]
mod header;
#[cfg(target_arch = "bpf")]
mod io_uring_op;
#[cfg(target_arch = "bpf")]
mod io_uring_setup;
#[cfg(target_arch = "bpf")]
mod lineage;
#[cfg(target_arch = "bpf")]
mod link;
#[cfg(target_arch = "bpf")]
mod lsm;
#[cfg(target_arch = "bpf")]
mod lsm_change;
#[cfg(target_arch = "bpf")]
mod maps;
#[cfg(target_arch = "bpf")]
mod memfd;
#[cfg(target_arch = "bpf")]
mod mknod;
#[cfg(target_arch = "bpf")]
mod mmap;
#[cfg(target_arch = "bpf")]
mod mount;
#[cfg(target_arch = "bpf")]
mod open;
#[cfg(target_arch = "bpf")]
mod path;
#[cfg(target_arch = "bpf")]
mod record;
#[cfg(target_arch = "bpf")]
mod rename;
#[cfg(target_arch = "bpf")]
mod scope;
#[cfg(target_arch = "bpf")]
mod strings;
#[cfg(target_arch = "bpf")]
mod submit;
#[cfg(target_arch = "bpf")]
mod symlink;
#[cfg(target_arch = "bpf")]
mod syscall;
#[cfg(target_arch = "bpf")]
mod task;
#[cfg(target_arch = "bpf")]
mod tracepoint;
#[cfg(target_arch = "bpf")]
mod truncate;
#[cfg(target_arch = "bpf")]
mod unlink;
// network
#[cfg(target_arch = "bpf")]
mod listen;
#[cfg(target_arch = "bpf")]
mod net;
#[cfg(target_arch = "bpf")]
mod send;
#[cfg(target_arch = "bpf")]
mod socket;
// processes
#[cfg(target_arch = "bpf")]
mod actor;
#[cfg(target_arch = "bpf")]
mod bpf;
#[cfg(target_arch = "bpf")]
mod chroot;
#[cfg(target_arch = "bpf")]
mod cred;
#[cfg(target_arch = "bpf")]
mod module;
#[cfg(target_arch = "bpf")]
mod namespace;
#[cfg(target_arch = "bpf")]
mod prctl;
#[cfg(target_arch = "bpf")]
mod process_vm;
#[cfg(target_arch = "bpf")]
mod ptrace;
#[cfg(target_arch = "bpf")]
mod rename_comm;

#[cfg(target_arch = "bpf")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: the verifier rejects reachable loops; a reachable panic means a bug in this crate.
    unsafe { core::hint::unreachable_unchecked() }
}

/// The eBPF crate only has meaning for the bpf target; on the host it builds to a stub so
/// `cargo build --workspace` and clippy work.
#[cfg(not(target_arch = "bpf"))]
#[expect(clippy::print_stderr, reason = "the stub says what it is if run")]
fn main() {
    eprintln!("monitor-ebpf is built for bpfel-unknown-none and loaded by agentmon");
}

#[cfg(target_arch = "bpf")]
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
