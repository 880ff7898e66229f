//! Layouts of the tracepoint records the programs read, as `#[repr(C)]` structs: the one place the
//! offsets of their fields are written down.
//!
//! A tracepoint program's context is the record the kernel wrote for the event, described by the
//! tracepoint's tracefs `format` file (`/sys/kernel/tracing/events/CATEGORY/NAME/format`). Each
//! layout here lists its fields ([`Layout::FIELDS`]: kernel field name, offset, size) so userspace
//! can check it against those files at start-up and in its tests (`monitor/src/probes/tracefs.rs`).
//!
//! - `sys_enter_*` records are a [`SysEnterArgs<A>`]: the common header, the syscall number and the
//!   syscall's arguments, one 8-byte slot each, typed per syscall (`A` = [`OpenatArgs`], …).
//! - `sys_exit_*` records are a [`SysExitArgs`] (the return value).
//! - A `__data_loc` field (a string inside the record) is a [`DataLoc`].
//! - `sched/sched_process_exit`'s `group_dead` moves between kernel versions: its offset is looked up
//!   at run time by [`SCHED_PROCESS_EXIT_GROUP_DEAD`] (absent on older kernels) and handed over in
//!   `config::KernelOffsets::exit_group_dead`.
//! - The raw tracepoints `sched_process_fork` and `sched_process_exec` get their `TP_PROTO`
//!   arguments instead of a record ([`SchedProcessForkRaw`], [`SchedProcessExecRaw`]); no format
//!   file describes them.
use core::mem::offset_of;

/// One field of a tracepoint record, as its format file names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The kernel's name of the field (the last word of the `field:` declaration).
    pub name: &'static str,
    /// Byte offset in the record.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// A tracepoint record layout: the fields the struct expects, for checking against tracefs.
pub trait Layout {
    /// Every field of the struct that mirrors a field of the record (padding and the common header
    /// excepted).
    const FIELDS: &'static [Field];
}

/// The header every tracepoint record starts with (`struct trace_entry`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TraceEntry {
    pub common_type: u16,
    pub common_flags: u8,
    pub common_preempt_count: u8,
    pub common_pid: i32,
}

/// A `sys_enter_*` record: the syscall's arguments `A`, one 8-byte slot per argument, in the order of
/// the syscall's parameters.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SysEnterArgs<A> {
    pub common: TraceEntry,
    pub syscall_nr: i32,
    pub _pad: u32,
    pub args: A,
}

impl<A> SysEnterArgs<A> {
    /// Where the arguments start in the record (16).
    pub const ARGS_OFFSET: usize = offset_of!(Self, args);
}

const SYSCALL_NR: Field = Field {
    name: "__syscall_nr",
    offset: 8,
    size: 4,
};

/// A `sys_exit_*` record.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SysExitArgs {
    pub common: TraceEntry,
    pub syscall_nr: i32,
    pub _pad: u32,
    /// The syscall's return value (negative errno on failure).
    pub ret: i64,
}

impl Layout for SysExitArgs {
    const FIELDS: &'static [Field] = &[
        Field {
            name: "__syscall_nr",
            offset: offset_of!(SysExitArgs, syscall_nr),
            size: size_of::<i32>(),
        },
        Field {
            name: "ret",
            offset: offset_of!(SysExitArgs, ret),
            size: size_of::<i64>(),
        },
    ];
}

/// A `raw_syscalls/sys_enter` record (every syscall): its number. The six arguments follow, unread.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawSysEnter {
    pub common: TraceEntry,
    pub id: i64,
}

impl Layout for RawSysEnter {
    const FIELDS: &'static [Field] = &[Field {
        name: "id",
        offset: offset_of!(RawSysEnter, id),
        size: size_of::<i64>(),
    }];
}

/// A `raw_syscalls/sys_exit` record (every syscall): its number and result. It is written for a
/// syscall a seccomp filter refused too (whose `sys_enter` never ran), with the filter's result.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RawSysExit {
    pub common: TraceEntry,
    pub id: i64,
    pub ret: i64,
}

impl Layout for RawSysExit {
    const FIELDS: &'static [Field] = &[
        Field {
            name: "id",
            offset: offset_of!(RawSysExit, id),
            size: size_of::<i64>(),
        },
        Field {
            name: "ret",
            offset: offset_of!(RawSysExit, ret),
            size: size_of::<i64>(),
        },
    ];
}

/// The kernel's name of a `syscall_args!` field: given, or the field's own.
macro_rules! kernel_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $kernel:literal) => {
        $kernel
    };
}

/// Declares the arguments of syscalls' `sys_enter_*` records, one struct each: 8-byte slots, each
/// named with the kernel's name of the parameter (`field = "kernel_name"`, or just `field` where the
/// names are the same), and its [`Layout`] (the slots plus `__syscall_nr`). One invocation per file
/// lists its syscalls.
macro_rules! syscall_args {
    ($(
        $(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident $(= $kernel:literal)?),+ $(,)? }
    )*) => {$(
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: u64),+
        }

        impl Layout for SysEnterArgs<$name> {
            const FIELDS: &'static [Field] = &[
                SYSCALL_NR,
                $(Field {
                    name: kernel_name!($field $(, $kernel)?),
                    offset: SysEnterArgs::<$name>::ARGS_OFFSET + offset_of!($name, $field),
                    size: size_of::<u64>(),
                }),+
            ];
        }
    )*};
}

mod files;
mod mount;
mod network;
mod process;

pub use files::*;
pub use mount::*;
pub use network::*;
pub use process::*;

/// A `__data_loc` field: where a variable-length field (a string) sits in the record.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct DataLoc(pub u32);

impl DataLoc {
    /// Offset of the data from the start of the record (low 16 bits).
    pub const fn offset(self) -> usize {
        (self.0 & 0xffff) as usize
    }

    /// Length of the data in bytes, NUL included for strings (high 16 bits).
    pub const fn len(self) -> usize {
        (self.0 >> 16) as usize
    }

    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// Field of `sched/sched_process_exit` whose offset userspace reads from the format file at start-up
/// (it is not at the same place on every kernel): nonzero when the whole thread group is gone.
pub const SCHED_PROCESS_EXIT_GROUP_DEAD: &str = "group_dead";

/// Arguments of the raw tracepoint `sched_process_fork`:
/// `TP_PROTO(struct task_struct *parent, struct task_struct *child)`, one u64 each.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SchedProcessForkRaw {
    pub parent: u64,
    pub child: u64,
}

/// The arguments of the raw tracepoint `sched_process_exec`:
/// `TP_PROTO(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SchedProcessExecRaw {
    pub task: u64,
    pub old_pid: u64,
    pub bprm: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_arguments_are_8_byte_slots_from_offset_16() {
        assert_eq!(SysEnterArgs::<OpenatArgs>::ARGS_OFFSET, 16);
        let fields = <SysEnterArgs<MoveMountArgs> as Layout>::FIELDS;
        let offsets: Vec<_> = fields.iter().map(|f| (f.offset, f.size)).collect();
        assert_eq!(offsets, [(8, 4), (16, 8), (24, 8), (32, 8), (40, 8), (48, 8)]);
        assert_eq!(offset_of!(SysExitArgs, ret), 16);
    }

    #[test]
    fn a_data_loc_splits_into_offset_and_length() {
        let loc = DataLoc((12 << 16) + 24);
        assert_eq!((loc.offset(), loc.len()), (24, 12));
    }
}
