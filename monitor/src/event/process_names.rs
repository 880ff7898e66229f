//! Names of the numbers the process kinds carry (ptrace requests, prctl options, seccomp
//! operations, bpf commands, namespace flags, capabilities), as the kernel's headers spell them, so
//! rules and text output say `PTRACE_POKEDATA` rather than `5`. Numbers without a name render in
//! decimal. Also the helpers those kinds share: the error fields and the text of a result.
use super::{Line, Value, field::Field};

/// The name of `v` in `table`, else `v` in decimal.
pub(crate) fn name_of<T: PartialEq + Copy + std::fmt::Display>(table: &[(T, &'static str)], v: T) -> String {
    table
        .iter()
        .find(|(n, _)| *n == v)
        .map_or_else(|| v.to_string(), |(_, name)| (*name).to_string())
}

pub(crate) const PTRACE_REQUESTS: &[(i64, &str)] = &[
    (0, "PTRACE_TRACEME"),
    (1, "PTRACE_PEEKTEXT"),
    (2, "PTRACE_PEEKDATA"),
    (3, "PTRACE_PEEKUSR"),
    (4, "PTRACE_POKETEXT"),
    (5, "PTRACE_POKEDATA"),
    (6, "PTRACE_POKEUSR"),
    (7, "PTRACE_CONT"),
    (8, "PTRACE_KILL"),
    (9, "PTRACE_SINGLESTEP"),
    (12, "PTRACE_GETREGS"),
    (13, "PTRACE_SETREGS"),
    (14, "PTRACE_GETFPREGS"),
    (15, "PTRACE_SETFPREGS"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (18, "PTRACE_GETFPXREGS"),
    (19, "PTRACE_SETFPXREGS"),
    (24, "PTRACE_SYSCALL"),
    (25, "PTRACE_GET_THREAD_AREA"),
    (26, "PTRACE_SET_THREAD_AREA"),
    (30, "PTRACE_ARCH_PRCTL"),
    (31, "PTRACE_SYSEMU"),
    (32, "PTRACE_SYSEMU_SINGLESTEP"),
    (0x4200, "PTRACE_SETOPTIONS"),
    (0x4201, "PTRACE_GETEVENTMSG"),
    (0x4202, "PTRACE_GETSIGINFO"),
    (0x4203, "PTRACE_SETSIGINFO"),
    (0x4204, "PTRACE_GETREGSET"),
    (0x4205, "PTRACE_SETREGSET"),
    (0x4206, "PTRACE_SEIZE"),
    (0x4207, "PTRACE_INTERRUPT"),
    (0x4208, "PTRACE_LISTEN"),
    (0x4209, "PTRACE_PEEKSIGINFO"),
    (0x420a, "PTRACE_GETSIGMASK"),
    (0x420b, "PTRACE_SETSIGMASK"),
    (0x420c, "PTRACE_SECCOMP_GET_FILTER"),
    (0x420d, "PTRACE_SECCOMP_GET_METADATA"),
    (0x420e, "PTRACE_GET_SYSCALL_INFO"),
    (0x420f, "PTRACE_GET_RSEQ_CONFIGURATION"),
    (0x4210, "PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG"),
    (0x4211, "PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG"),
    (0x4212, "PTRACE_SET_SYSCALL_INFO"),
];

pub(crate) const PRCTL_OPTIONS: &[(u64, &str)] = &[
    (4, "PR_SET_DUMPABLE"),
    (8, "PR_SET_KEEPCAPS"),
    (15, "PR_SET_NAME"),
    (22, "PR_SET_SECCOMP"),
    (24, "PR_CAPBSET_DROP"),
    (28, "PR_SET_SECUREBITS"),
    (35, "PR_SET_MM"),
    (36, "PR_SET_CHILD_SUBREAPER"),
    (38, "PR_SET_NO_NEW_PRIVS"),
    (47, "PR_CAP_AMBIENT"),
    (0x5961_6d61, "PR_SET_PTRACER"),
];

pub(crate) const SECCOMP_OPS: &[(u64, &str)] = &[
    (0, "SECCOMP_SET_MODE_STRICT"),
    (1, "SECCOMP_SET_MODE_FILTER"),
    (2, "SECCOMP_GET_ACTION_AVAIL"),
    (3, "SECCOMP_GET_NOTIF_SIZES"),
];

pub(crate) const BPF_CMDS: &[(u32, &str)] = &[
    (0, "BPF_MAP_CREATE"),
    (1, "BPF_MAP_LOOKUP_ELEM"),
    (2, "BPF_MAP_UPDATE_ELEM"),
    (3, "BPF_MAP_DELETE_ELEM"),
    (4, "BPF_MAP_GET_NEXT_KEY"),
    (5, "BPF_PROG_LOAD"),
    (6, "BPF_OBJ_PIN"),
    (7, "BPF_OBJ_GET"),
    (8, "BPF_PROG_ATTACH"),
    (9, "BPF_PROG_DETACH"),
    (10, "BPF_PROG_TEST_RUN"),
    (11, "BPF_PROG_GET_NEXT_ID"),
    (12, "BPF_MAP_GET_NEXT_ID"),
    (13, "BPF_PROG_GET_FD_BY_ID"),
    (14, "BPF_MAP_GET_FD_BY_ID"),
    (15, "BPF_OBJ_GET_INFO_BY_FD"),
    (16, "BPF_PROG_QUERY"),
    (17, "BPF_RAW_TRACEPOINT_OPEN"),
    (18, "BPF_BTF_LOAD"),
    (19, "BPF_BTF_GET_FD_BY_ID"),
    (20, "BPF_TASK_FD_QUERY"),
    (21, "BPF_MAP_LOOKUP_AND_DELETE_ELEM"),
    (22, "BPF_MAP_FREEZE"),
    (23, "BPF_BTF_GET_NEXT_ID"),
    (24, "BPF_MAP_LOOKUP_BATCH"),
    (25, "BPF_MAP_LOOKUP_AND_DELETE_BATCH"),
    (26, "BPF_MAP_UPDATE_BATCH"),
    (27, "BPF_MAP_DELETE_BATCH"),
    (28, "BPF_LINK_CREATE"),
    (29, "BPF_LINK_UPDATE"),
    (30, "BPF_LINK_GET_FD_BY_ID"),
    (31, "BPF_LINK_GET_NEXT_ID"),
    (32, "BPF_ENABLE_STATS"),
    (33, "BPF_ITER_CREATE"),
    (34, "BPF_LINK_DETACH"),
    (35, "BPF_PROG_BIND_MAP"),
    (36, "BPF_TOKEN_CREATE"),
    (37, "BPF_PROG_STREAM_READ_BY_FD"),
];

/// `CLONE_NEW*` flags and the names `/proc/PID/ns/` gives their namespaces.
pub(crate) const NAMESPACE_FLAGS: &[(u64, &str)] = &[
    (0x0000_0080, "time"),
    (0x0002_0000, "mnt"),
    (0x0200_0000, "cgroup"),
    (0x0400_0000, "uts"),
    (0x0800_0000, "ipc"),
    (0x1000_0000, "user"),
    (0x2000_0000, "pid"),
    (0x4000_0000, "net"),
];

/// The namespace names in `flags`. `time` only where the flag can mean it (not in clone(2)'s
/// exit-signal byte).
pub(crate) fn namespace_names(flags: u64, time_possible: bool) -> Vec<String> {
    NAMESPACE_FLAGS
        .iter()
        .filter(|(bit, name)| flags & bit != 0 && (time_possible || *name != "time"))
        .map(|(_, name)| (*name).to_string())
        .collect()
}

/// Capability names by bit number (`include/uapi/linux/capability.h`).
const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The capability names of a set's bits (unnamed bits as `CAP_<n>`).
pub(crate) fn capability_names(set: u64) -> Vec<String> {
    (0..64)
        .filter(|bit| set & (1u64 << bit) != 0)
        .map(|bit| CAPS.get(bit).map_or_else(|| format!("CAP_{bit}"), |n| (*n).to_string()))
        .collect()
}

/// A kind's syscall name from its wire id (`table`: id → name), `unknown` for an id the kernel
/// side does not write.
pub(crate) fn syscall_name(table: &[(u8, &'static str)], id: u8) -> &'static str {
    table.iter().find(|(i, _)| *i == id).map_or("unknown", |(_, n)| n)
}

/// The wire id of a syscall name (0 for `unknown`).
pub(crate) fn syscall_id(table: &[(u8, &'static str)], name: &str) -> u32 {
    table.iter().find(|(_, n)| *n == name).map_or(0, |(i, _)| u32::from(*i))
}

/// A syscall name from the log, which must be one of `table`'s.
pub(crate) fn syscall_from_log(
    table: &[(u8, &'static str)],
    id: u32,
    what: &'static str,
) -> Result<&'static str, crate::schema::ConvertError> {
    table
        .iter()
        .find(|(i, _)| u32::from(*i) == id)
        .map(|(_, n)| *n)
        .ok_or_else(|| crate::schema::ConvertError::OutOfRange {
            what,
            value: u64::from(id),
        })
}

/// `evt.failed` / `evt.errno` of a syscall result.
pub(crate) fn result_field(result: i64, field: Field) -> Option<Value<'static>> {
    match field {
        Field::EvtFailed => Some(Value::Bool(result < 0)),
        Field::EvtErrno => Some(Value::Num(if result < 0 { result.unsigned_abs() } else { 0 })),
        _ => None,
    }
}

/// ` failed errno=N` for a failed call; nothing otherwise.
pub(crate) fn describe_result(line: &mut Line<'_>, result: i64) {
    if result < 0 {
        line.lit(" failed errno=").num(-result);
    }
}

/// ` failed errno=N` for a failed call, ` fd=N` for the descriptor it returned.
pub(crate) fn describe_fd_result(line: &mut Line<'_>, result: i64) {
    if result < 0 {
        describe_result(line, result);
    } else {
        line.lit(" fd=").num(result);
    }
}

/// ` exe=PATH` when the kernel's path of the executable is known.
pub(crate) fn describe_exe(line: &mut Line<'_>, exe: Option<&str>) {
    if let Some(exe) = exe {
        line.lit(" exe=").val(exe);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_falls_back_to_decimal() {
        assert_eq!(name_of(PTRACE_REQUESTS, 16), "PTRACE_ATTACH");
        assert_eq!(name_of(PTRACE_REQUESTS, 0x4206), "PTRACE_SEIZE");
        assert_eq!(name_of(PTRACE_REQUESTS, 999), "999");
        assert_eq!(name_of(BPF_CMDS, 0), "BPF_MAP_CREATE");
        assert_eq!(capability_names(1 << 21 | 1), ["CAP_CHOWN", "CAP_SYS_ADMIN"]);
        assert_eq!(capability_names(1 << 50), ["CAP_50"]);
        assert_eq!(namespace_names(0x1002_0000, true), ["mnt", "user"]);
        assert_eq!(namespace_names(0x0000_0080 | 0x11, false), Vec::<String>::new());
    }
}
