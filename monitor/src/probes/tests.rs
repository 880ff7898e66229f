//! The embedded eBPF object against the contract in `monitor-common`.
use std::collections::BTreeSet;

use aya_obj::{
    Object, ProgramSection,
    programs::{CgroupSockAddrAttachType, CgroupSockAttachType},
};
use monitor_common::{
    maps,
    programs::{Attach, PROGRAMS, SockAddrHook, SockHook},
};
use object::{Object as _, ObjectSection as _};

use super::EBPF_OBJECT;

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
                    (SockAddrHook::SendMsg4, ProgramSection::CgroupSockAddr { attach_type }) => {
                        matches!(attach_type, CgroupSockAddrAttachType::UDPSendMsg4)
                    }
                    (SockAddrHook::SendMsg6, ProgramSection::CgroupSockAddr { attach_type }) => {
                        matches!(attach_type, CgroupSockAddrAttachType::UDPSendMsg6)
                    }
                    _ => false,
                };
                assert!(ok, "{}: {section:?}, contract says {hook:?}", p.name);
            }
            Attach::CgroupSock(hook) => {
                let ok = match (hook, section) {
                    (SockHook::PostBind4, ProgramSection::CgroupSock { attach_type }) => {
                        matches!(attach_type, CgroupSockAttachType::PostBind4)
                    }
                    (SockHook::PostBind6, ProgramSection::CgroupSock { attach_type }) => {
                        matches!(attach_type, CgroupSockAttachType::PostBind6)
                    }
                    (SockHook::SockCreate, ProgramSection::CgroupSock { attach_type }) => {
                        matches!(attach_type, CgroupSockAttachType::SockCreate)
                    }
                    _ => false,
                };
                assert!(ok, "{}: {section:?}, contract says {hook:?}", p.name);
            }
            Attach::Lsm { hook } => {
                assert!(
                    matches!(section, ProgramSection::Lsm { sleepable: false }),
                    "{}: {section:?}",
                    p.name
                );
                assert_eq!(section_of(&obj, p.name), format!("lsm/{hook}"));
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

/// Every older raw tracepoint name the loader may fall back to belongs to a raw tracepoint program
/// of the contract, and differs from its current name (a typo would make the fallback dead code
/// and the program fail to attach on the kernels it exists for, e.g. `io_uring` on 6.1).
#[test]
fn raw_tracepoint_older_names_are_of_raw_tracepoint_programs() {
    for (name, older) in monitor_common::programs::RAW_TRACEPOINT_OLDER_NAMES {
        assert_ne!(name, older);
        assert!(
            PROGRAMS
                .iter()
                .any(|p| matches!(p.attach, Attach::RawTracePoint { name: n } if n == *name)),
            "{name}: no raw tracepoint program attaches there"
        );
    }
}
