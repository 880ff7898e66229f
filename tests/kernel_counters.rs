//! The kernel's lost-event counters count real lost events (loaded probes, a real cgroup).
use agentmon::{
    cgroup::{Cgroup, cgroup2_root},
    probes::{ProbeOptions, Probes},
};

/// A chdir whose arguments cannot be kept (`CHDIR_ARGS` full) is lost, and counted as
/// `map_insert_failed` — not before the map is full, exactly once per chdir after. Needs root.
#[test]
fn a_full_map_counts_the_lost_event() {
    let mut probes = Probes::load(&ProbeOptions {
        ringbuf_bytes: 64 * 1024,
    })
    .expect("loading the probes (run the tests as root)");
    let root = cgroup2_root().expect("cgroup2");
    let name = format!("agentmon-test-lost-{}", std::process::id());
    let cg = Cgroup::create(&root, &root, &name).expect("test cgroup");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        probes.watch(&cg).expect("watch");
        let chdir_in_cgroup = |times: usize| {
            let script = format!("{}true", "cd / && ".repeat(times));
            let procs = cg.path.join("cgroup.procs");
            let mut cmd = std::process::Command::new("/bin/sh");
            cmd.args(["-c", &format!("echo $$ > {} && {script}", procs.display())]);
            assert!(cmd.status().expect("sh").success());
        };

        chdir_in_cgroup(3);
        assert_eq!(probes.counters().expect("counters").map_insert_failed, 0);

        // Fill CHDIR_ARGS with keys no thread has (pid_tgid values far above pid_max).
        {
            let map = probes
                .ebpf_mut()
                .map_mut(monitor_common::maps::CHDIR_ARGS)
                .expect("CHDIR_ARGS");
            let mut args: aya::maps::HashMap<_, u64, [u64; 2]> = aya::maps::HashMap::try_from(map).expect("hash map");
            let mut key = u64::MAX;
            while args.insert(key, [0, 0], 0).is_ok() {
                key -= 1;
            }
            assert!(u64::MAX - key >= 4096, "filled after {} entries", u64::MAX - key);
        }
        chdir_in_cgroup(3);
        let k = probes.counters().expect("counters");
        assert_eq!(k.map_insert_failed, 3, "{k:?}");
        assert_eq!(
            k.lost().find(|(reason, _)| *reason == "map_insert_failed"),
            Some(("map_insert_failed", 3))
        );
    }));
    let _ = cg.kill_all(std::time::Duration::from_secs(2));
    let _ = cg.remove();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
