//! Detaching every program when [`super::Probes`] is dropped, several at a time.
//!
//! Taking a tracepoint program off its tracepoint waits for the kernel's RCU grace periods
//! (`tracepoint_synchronize_unregister`), ≈ 70 ms each on a small VM. One program after the other,
//! as dropping the `Ebpf` object does, that was ≈ 6 s for agentmon's ~200 programs: every
//! `agentmon exec`, every restart and every test paid it. Concurrent unregistrations share some of
//! those waits, so the programs are unloaded (their links detached first) from a few threads at
//! once: `agentmon exec --no-rules -- /bin/true` took 7.8 s and takes 4.4 s on this 2-core VM
//! (the same with 4, 8, 16 or 64 threads: the rest is serialized in the kernel).
use aya::{
    Ebpf,
    programs::{CgroupSock, CgroupSockAddr, Lsm, Program, RawTracePoint, TracePoint},
};

/// Threads that detach at once (more gain nothing; see above).
const THREADS: usize = 8;

/// Unloads every program of `ebpf`, detaching its links, from [`THREADS`] threads.
pub(super) fn unload_all(ebpf: &mut Ebpf) {
    let mut programs: Vec<&mut Program> = ebpf.programs_mut().map(|(_, p)| p).collect();
    if programs.is_empty() {
        return;
    }
    let per_thread = programs.len().div_ceil(THREADS);
    std::thread::scope(|s| {
        for chunk in programs.chunks_mut(per_thread) {
            s.spawn(move || {
                for p in chunk {
                    unload(p);
                }
            });
        }
    });
}

/// Unloads one program of the kinds agentmon loads (any other is left to the `Ebpf` drop).
fn unload(p: &mut Program) {
    let result = match p {
        Program::TracePoint(p) => TracePoint::unload(p),
        Program::RawTracePoint(p) => RawTracePoint::unload(p),
        Program::Lsm(p) => Lsm::unload(p),
        Program::CgroupSockAddr(p) => CgroupSockAddr::unload(p),
        Program::CgroupSock(p) => CgroupSock::unload(p),
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::debug!("detaching a program: {e}");
    }
}
