//! Values userspace hands to the kernel side before attaching (the `CONFIG` array map).

/// Kernel structure offsets, resolved by userspace from `/sys/kernel/btf/vmlinux` (Rust eBPF has no
/// CO-RE). An offset of `u32::MAX` means "unknown": the program falls back or leaves the field empty.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KernelOffsets {
    /// `task_struct.real_parent`
    pub task_real_parent: u32,
    /// `task_struct.pid`
    pub task_pid: u32,
    /// `task_struct.tgid`
    pub task_tgid: u32,
    /// `task_struct.mm`
    pub task_mm: u32,
    /// `task_struct.exit_code`
    pub task_exit_code: u32,
    /// `mm_struct.arg_start`
    pub mm_arg_start: u32,
    /// `mm_struct.arg_end`
    pub mm_arg_end: u32,
    /// Offset of [`crate::tracepoint::SCHED_PROCESS_EXIT_GROUP_DEAD`] in the `sched/sched_process_exit`
    /// tracepoint record, read from its format file at start-up (it varies by kernel; absent on older
    /// ones).
    pub exit_group_dead: u32,
    pub _pad: u32,
}

impl KernelOffsets {
    pub const UNKNOWN: u32 = u32::MAX;
    pub const fn unknown() -> Self {
        Self {
            task_real_parent: Self::UNKNOWN,
            task_pid: Self::UNKNOWN,
            task_tgid: Self::UNKNOWN,
            task_mm: Self::UNKNOWN,
            task_exit_code: Self::UNKNOWN,
            mm_arg_start: Self::UNKNOWN,
            mm_arg_end: Self::UNKNOWN,
            exit_group_dead: Self::UNKNOWN,
            _pad: 0,
        }
    }
}

/// How many distinct watched levels the scope check handles without scanning the bit mask.
pub const FAST_LEVELS: usize = 4;

/// Runtime settings of the kernel side.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KernelConfig {
    pub offsets: KernelOffsets,
    /// Bit `n` set: some watched cgroup sits at level `n` of the cgroup v2 hierarchy, so the scope check
    /// looks up the task's ancestor at that level.
    pub watched_levels: u32,
    /// The same levels as a short list (the common case: one or two), so the scope check does not
    /// scan all bits; `n_levels > FAST_LEVELS` means "use `watched_levels`".
    pub n_levels: u32,
    pub levels: [u32; FAST_LEVELS],
    /// `enforce::DENY_KIND_*` bits: deny tables with entries.
    pub deny_kinds: u32,
}

// SAFETY: repr(C), Copy, only u32 fields (padding spelled out as `_pad`): any bit pattern is valid.
#[cfg(feature = "user")]
unsafe impl aya::Pod for KernelConfig {}
