//! `--only idle`: the CPU an idle `agentmon run` uses, watching one empty cgroup.
use std::time::Duration;

use anyhow::Result;

use super::{
    cgroup::{TempCgroup, cgroup2_root},
    field,
    monitor::{cpu_usage, start_monitor, stop_monitor},
};

/// CPU used by `agentmon run` (as deployed: default rules, JSON) watching one empty cgroup, over
/// `secs` seconds once it has settled.
pub(super) fn idle_cpu(secs: u64, ringbuf: u32) -> Result<()> {
    let root = cgroup2_root()?;
    let cg = TempCgroup::new(&root, "agentmon-bench-idle")?;
    let m = start_monitor(&cg.0, ringbuf)?;
    let pid = m.child.id();
    std::thread::sleep(Duration::from_secs(2));
    let measured = (|| -> Result<_> {
        let before = cpu_usage(pid)?;
        std::thread::sleep(Duration::from_secs(secs));
        Ok((before, cpu_usage(pid)?))
    })();
    let stats = stop_monitor(m)?;
    let ((ns0, t0, w0), (ns1, t1, w1)) = measured?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let secs_f = secs as f64;
    println!();
    println!(
        "Idle CPU (agentmon run, one watched empty cgroup, {secs} s): {:.1} ms on CPU = {:.3} % of a core ({} clock ticks of 1/{hz} s); {:.1} context switches/s; records {}",
        (ns1 - ns0) as f64 / 1e6,
        (ns1 - ns0) as f64 / 1e9 / secs_f * 100.0,
        t1 - t0,
        (w1 - w0) as f64 / secs_f,
        field(&stats, "records")
    );
    Ok(())
}
