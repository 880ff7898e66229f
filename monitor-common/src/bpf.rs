//! `bpf`: a `bpf(2)` command that loads, creates, attaches, pins or opens eBPF objects or changes a
//! map, seen at the syscall's exit with its result (look-ups, iteration and info queries are not
//! events: see [`bpf_cmd_is_event`]). A variable-length record (`crate::record`).
use crate::{EventHeader, record::Tail};

pub const BPF_MAP_CREATE: u32 = 0;
pub const BPF_PROG_LOAD: u32 = 5;

/// Read-only commands (`BPF_MAP_LOOKUP_ELEM`, `BPF_MAP_GET_NEXT_KEY`, `BPF_PROG_GET_NEXT_ID`,
/// `BPF_MAP_GET_NEXT_ID`, `BPF_OBJ_GET_INFO_BY_FD`, `BPF_PROG_QUERY`, `BPF_TASK_FD_QUERY`,
/// `BPF_BTF_GET_NEXT_ID`, `BPF_MAP_LOOKUP_BATCH`, `BPF_LINK_GET_NEXT_ID`).
const QUIET_CMDS: &[u32] = &[1, 4, 11, 12, 15, 16, 20, 23, 24, 31];

/// Whether a command is reported.
#[inline(always)]
pub fn bpf_cmd_is_event(cmd: u32) -> bool {
    let mut i = 0;
    while i < QUIET_CMDS.len() {
        if QUIET_CMDS[i] == cmd {
            return false;
        }
        i += 1;
    }
    true
}

/// `attr_type` when the command has none.
pub const BPF_NO_TYPE: u32 = u32::MAX;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct BpfEvent {
    pub header: EventHeader,
    /// The new descriptor, 0, or `-errno`.
    pub result: i64,
    /// `BPF_*` command.
    pub cmd: u32,
    /// `BPF_MAP_CREATE`: the map type; `BPF_PROG_LOAD`: the program type (read from the
    /// attribute union at exit); else [`BPF_NO_TYPE`].
    pub attr_type: u32,
    /// `BPF_MAP_CREATE`/`BPF_PROG_LOAD`: the object's name (NUL padded).
    pub name: [u8; 16],
    /// The kernel's path of the caller's executable.
    pub exe: Tail,
}

/// Offsets in `union bpf_attr` of what the event reads.
pub const ATTR_MAP_NAME: usize = 28;
pub const ATTR_PROG_NAME: usize = 48;
