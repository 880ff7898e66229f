//! Names of the maps of agentmon's eBPF object. Userspace opens maps only by these names
//! (`monitor/src/probes/`, `enforce/tables.rs`, `respond/quarantine.rs`); the eBPF statics
//! (`monitor-ebpf/src/maps.rs`, `enforce.rs`, `mount.rs`, `process.rs`) carry the same names, which
//! the eBPF crate asserts at compile time and a userspace test checks on the built object.

/// Ring buffer of every event record.
pub const EVENTS: &str = "EVENTS";
/// Array of one [`crate::config::KernelConfig`].
pub const CONFIG: &str = "CONFIG";
/// Hash set of watched cgroup ids (value [`PRESENT`]).
pub const WATCHED: &str = "WATCHED";
/// Per-CPU counters indexed by [`crate::counter`].
pub const COUNTERS: &str = "COUNTERS";
/// Array of one: time of the last forced ring-buffer wakeup (kernel-private).
pub const LAST_WAKEUP: &str = "LAST_WAKEUP";
/// Deny tables (`crate::enforce`), filled by userspace from `action: deny` rules.
pub const DENY_EXEC: &str = "DENY_EXEC";
pub const DENY_OPEN: &str = "DENY_OPEN";
/// Path prefix/exact LPM trie → rule refusing changes of those paths (`enforce::CHANGE_*`).
pub const DENY_CHANGE: &str = "DENY_CHANGE";
pub const DENY_MOUNT: &str = "DENY_MOUNT";
pub const DENY_NET4: &str = "DENY_NET4";
pub const DENY_NET6: &str = "DENY_NET6";
/// Hash set of quarantined cgroup ids (value [`PRESENT`]), pinned under the pin directory so it
/// outlives one agentmon process.
pub const QUARANTINE: &str = "QUARANTINE";
/// Per-CPU scratch for a deny-table path key (kernel-private).
pub const PATH_SCRATCH: &str = "PATH_SCRATCH";
/// chdir/fchdir arguments between syscall entry and exit, by thread (kernel-private).
pub const CHDIR_ARGS: &str = "CHDIR_ARGS";
/// Per-CPU scratch a variable-length record is built in (kernel-private).
pub const RECORD_SCRATCH: &str = "RECORD_SCRATCH";
/// Per-CPU buffer a kernel path walk writes into (kernel-private).
pub const PATH_WALK: &str = "PATH_WALK";
/// Per-CPU state of an exec's environment scan (kernel-private).
pub const ENV_SCAN: &str = "ENV_SCAN";
// network
/// Threads inside a `connect` syscall → whether a cgroup connect hook reported it (kernel-private).
pub const CONNECT_SEEN: &str = "CONNECT_SEEN";
/// Report state per (socket, destination) of unconnected sends (kernel-private).
pub const SEND_SEEN: &str = "SEND_SEEN";
// processes
/// Credentials at a set*id/capset call's entry, by thread, until its exit (kernel-private).
pub const CRED_BEFORE: &str = "CRED_BEFORE";
// mounts, scope, io_uring, code loading
/// Processes in scope by tgid → [`crate::cgroup_move::Lineage`] (their agent; escaped or not).
/// Userspace seeds it with the processes already in a cgroup it starts watching.
pub const LINEAGE: &str = "LINEAGE";
/// Array of one: how many escaped processes are alive (kernel-private); the scope check consults
/// `LINEAGE` for out-of-cgroup tasks only while it is nonzero.
pub const ESCAPES: &str = "ESCAPES";
/// Per-CPU fields of a mount event being built (kernel-private).
pub const MOUNT_FIELDS: &str = "MOUNT_FIELDS";
/// Array of one: the rule id of the deny rule refusing `io_uring` (read when `DENY_KIND_IO_URING`
/// is set).
pub const DENY_IO_URING: &str = "DENY_IO_URING";

/// Per-CPU hash of syscall counts by watched cgroup and number ([`crate::syscall::SyscallKey`]),
/// filled while `agentmon learn` runs.
pub const SYSCALL_COUNTS: &str = "SYSCALL_COUNTS";
/// Array indexed by syscall number: `crate::syscall::REPORT_*` flags, set by `exec --sandbox`.
pub const SANDBOX_SYSCALLS: &str = "SANDBOX_SYSCALLS";
/// LRU set of (process, syscall) pairs already reported once (kernel-private).
pub const SYSCALL_REPORTED: &str = "SYSCALL_REPORTED";

/// LRU set of successful opens no loaded rule can match ([`crate::open::QuietOpenKey`] → [`PRESENT`]),
/// filled by userspace; the open programs do not send those while `FILTER_QUIET_OPENS` is on.
pub const OPEN_QUIET: &str = "OPEN_QUIET";
/// Per-CPU scratch for an `OPEN_QUIET` lookup key (kernel-private).
pub const QUIET_SCRATCH: &str = "QUIET_SCRATCH";

/// Thread (`pid_tgid`) → rule id of the open the LSM `file_open` hook just refused, for the open
/// tracepoint at that syscall's exit to flag its event denied.
pub const LSM_DENIED: &str = "LSM_DENIED";

/// Every map of the object.
pub const ALL: &[&str] = &[
    EVENTS,
    CONFIG,
    WATCHED,
    COUNTERS,
    LAST_WAKEUP,
    DENY_EXEC,
    DENY_OPEN,
    DENY_CHANGE,
    DENY_MOUNT,
    DENY_NET4,
    DENY_NET6,
    QUARANTINE,
    PATH_SCRATCH,
    CHDIR_ARGS,
    RECORD_SCRATCH,
    PATH_WALK,
    ENV_SCAN,
    // network
    CONNECT_SEEN,
    SEND_SEEN,
    // processes
    CRED_BEFORE,
    // mounts, scope, io_uring, code loading
    LINEAGE,
    ESCAPES,
    MOUNT_FIELDS,
    DENY_IO_URING,
    // sandbox
    SYSCALL_COUNTS,
    SANDBOX_SYSCALLS,
    SYSCALL_REPORTED,
    // interest filter
    OPEN_QUIET,
    QUIET_SCRATCH,
    // BPF LSM
    LSM_DENIED,
];

/// Value of the set-like maps ([`WATCHED`], [`QUARANTINE`]): only the key matters.
pub const PRESENT: u32 = 1;
