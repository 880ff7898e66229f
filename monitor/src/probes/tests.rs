//! The embedded eBPF object against the contract in `monitor-common`, and a kernel counter that
//! counts a real lost event.
use std::collections::BTreeSet;

use aya_obj::{Object, ProgramSection, programs::CgroupSockAddrAttachType};
use monitor_common::{
    maps,
    programs::{Attach, PROGRAMS, SockAddrHook},
};
use object::{Object as _, ObjectSection as _};

use super::{EBPF_OBJECT, ProbeOptions, Probes};
use crate::cgroup::{Cgroup, cgroup2_root};

/// Section of the program named `name` in the ELF object (e.g. `tracepoint/syscalls/sys_enter_openat`).
fn section_of(obj: &Object, name: &str) -> String {
    let elf = object::File::parse(EBPF_OBJECT).expect("ELF");
    let index = obj.programs[name].section_index;
    elf.section_by_index(object::SectionIndex(index))
        .and_then(|s| s.name().map(String::from))
        .unwrap_or_else(|_| panic!("no section for {name}"))
}

/// Every program the contract names is in the object, of the kind and at the attach point it says,
/// and the object has no other.
#[test]
fn object_programs_are_the_contract_s() {
    let obj = Object::parse(EBPF_OBJECT).expect("parsing the embedded eBPF object");
    let in_object: BTreeSet<&str> = obj.programs.keys().map(String::as_str).collect();
    let in_contract: BTreeSet<&str> = PROGRAMS.iter().map(|p| p.name).collect();
    assert_eq!(
        in_contract.len(),
        PROGRAMS.len(),
        "a program is named twice in the contract"
    );
    assert_eq!(
        in_object, in_contract,
        "programs of the object vs monitor_common::programs::PROGRAMS"
    );
    for p in PROGRAMS {
        let section = &obj.programs[p.name].section;
        match p.attach {
            Attach::TracePoint { category, name, .. } => {
                assert!(matches!(section, ProgramSection::TracePoint), "{}: {section:?}", p.name);
                assert_eq!(section_of(&obj, p.name), format!("tracepoint/{category}/{name}"));
            }
            Attach::RawTracePoint { name } => {
                assert!(
                    matches!(section, ProgramSection::RawTracePoint),
                    "{}: {section:?}",
                    p.name
                );
                assert_eq!(section_of(&obj, p.name), format!("raw_tp/{name}"));
            }
            Attach::CgroupSockAddr(hook) => {
                let ok = match (hook, section) {
                    (SockAddrHook::Connect4, ProgramSection::CgroupSockAddr { attach_type }) => {
                        matches!(attach_type, CgroupSockAddrAttachType::Connect4)
                    }
                    (SockAddrHook::Connect6, ProgramSection::CgroupSockAddr { attach_type }) => {
                        matches!(attach_type, CgroupSockAddrAttachType::Connect6)
                    }
                    _ => false,
                };
                assert!(ok, "{}: {section:?}, contract says {hook:?}", p.name);
            }
        }
    }
}

/// Every map the contract names is in the object, and the object has no other. The compiler's
/// read-only constant pools (`.rodata.cst32`: e.g. a 32-byte zero key), which aya loads as frozen
/// maps nobody addresses by name, are not maps of the contract; writable global data (`.data`,
/// `.bss`) would be, and fails here.
#[test]
fn object_maps_are_the_contract_s() {
    let obj = Object::parse(EBPF_OBJECT).expect("parsing the embedded eBPF object");
    let in_object: BTreeSet<&str> = obj
        .maps
        .keys()
        .map(String::as_str)
        .filter(|name| !name.starts_with(".rodata"))
        .collect();
    let in_contract: BTreeSet<&str> = maps::ALL.iter().copied().collect();
    assert_eq!(
        in_contract.len(),
        maps::ALL.len(),
        "a map is named twice in the contract"
    );
    assert_eq!(
        in_object, in_contract,
        "maps of the object vs monitor_common::maps::ALL"
    );
}

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
            let script = "cd / && ".repeat(times) + "true";
            let procs = cg.path.join("cgroup.procs");
            let mut cmd = std::process::Command::new("/bin/sh");
            cmd.args(["-c", &format!("echo $$ > {} && {script}", procs.display())]);
            assert!(cmd.status().expect("sh").success());
        };

        chdir_in_cgroup(3);
        assert_eq!(probes.counters().expect("counters").map_insert_failed, 0);

        // Fill CHDIR_ARGS with keys no thread has (pid_tgid values far above pid_max).
        {
            let map = probes.ebpf_mut().map_mut(maps::CHDIR_ARGS).expect("CHDIR_ARGS");
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
