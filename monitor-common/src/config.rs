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
    /// `file.f_flags` (the open flags, read by the LSM `file_open` hook).
    pub file_flags: u32,
    /// The kernel objects a path is walked through (`monitor-ebpf/src/path.rs`).
    pub path: PathOffsets,
    /// Where a syscall's arguments sit in the user registers saved at entry (`struct pt_regs`), read
    /// at the syscall's exit.
    pub regs: RegsOffsets,
    /// From a socket's descriptor to its local address and its unix peer (network kinds).
    pub net: NetOffsets,
    /// Credentials, namespaces and the syscall number (the processes group).
    pub process: ProcessOffsets,
    // mounts, scope, io_uring, code loading
    /// Mount objects (device name, filesystem type).
    pub mount: MountOffsets,
    /// cgroups (a destination's ancestors, a task's cgroup).
    pub cgroup: CgroupOffsets,
    /// `io_uring` requests (opcode, fd, the paths of path operations).
    pub io_uring: IoUringOffsets,
    /// `vm_area_struct.vm_file`: the file behind a mapping (`mprotect`).
    pub vma_file: u32,
    pub _pad_vis_mount: u32,
}

/// Offsets the process kinds read: a task's credentials, what a descriptor's inode is (setns:
/// nsfs or pidfs, the namespace's type), and the syscall a task is in.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ProcessOffsets {
    /// `task_struct.cred` (the effective credentials)
    pub task_cred: u32,
    /// `cred.uid`, `euid`, `suid`, `fsuid`, `gid`, `egid`, `sgid`, `fsgid` (each a `kuid_t`/`kgid_t`)
    pub cred_ids: [u32; 8],
    /// `cred.cap_effective`, `cred.cap_permitted`
    pub cred_cap_effective: u32,
    pub cred_cap_permitted: u32,
    /// `file.f_inode`
    pub file_inode: u32,
    /// `inode.i_ino`, `inode.i_sb`, `inode.i_private`
    pub inode_ino: u32,
    pub inode_sb: u32,
    pub inode_private: u32,
    /// `super_block.s_magic`
    pub sb_magic: u32,
    /// `ns_common.ops`
    pub ns_common_ops: u32,
    /// `proc_ns_operations.name`
    pub ns_ops_name: u32,
    /// `pt_regs.orig_ax`: the syscall number the task entered with.
    pub regs_syscall_nr: u32,
    /// `task_struct.thread_pid`, `pid.level`: how deep the task's pid namespace is.
    pub task_thread_pid: u32,
    pub pid_level: u32,
    pub _pad: u32,
}

// mounts, scope, io_uring, code loading
/// Offsets of the fields read from a mount object: its device name and filesystem type.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MountOffsets {
    /// `mount.mnt_devname`
    pub mount_devname: u32,
    /// `vfsmount.mnt_sb`
    pub vfsmount_sb: u32,
    /// `super_block.s_type`
    pub sb_type: u32,
    /// `file_system_type.name`
    pub fstype_name: u32,
    /// `fs_context.fs_type` (an `fspick` fd's `file.private_data` is its `struct fs_context`: read
    /// with [`NetOffsets::file_private_data`])
    pub fc_fs_type: u32,
}

/// Offsets of the fields read from cgroups: a cgroup's level, ancestors and id, its hierarchy, and
/// a task's cgroup on the default (v2) hierarchy.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CgroupOffsets {
    /// `cgroup.level`
    pub level: u32,
    /// `cgroup.ancestors` (array of `struct cgroup *`, indexed by level)
    pub ancestors: u32,
    /// `cgroup.kn`
    pub kn: u32,
    /// `cgroup.root`
    pub root: u32,
    /// `kernfs_node.id` (the cgroup id: the directory's inode number)
    pub kn_id: u32,
    /// `kernfs_node.name`
    pub kn_name: u32,
    /// `cgroup_root.hierarchy_id` (0: the default, v2, hierarchy)
    pub root_hierarchy_id: u32,
    /// `task_struct.cgroups`
    pub task_cgroups: u32,
    /// `css_set.dfl_cgrp`
    pub cset_dfl_cgrp: u32,
    pub _pad: u32,
}

/// Offsets of the fields read from an `io_uring` request (`struct io_kiocb`) and the per-opcode
/// command data inside it (`struct io_open`, `io_rename`, …, at `io_kiocb.cmd`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct IoUringOffsets {
    /// `io_kiocb.cmd`
    pub req_cmd: u32,
    /// `io_kiocb.opcode`
    pub req_opcode: u32,
    /// `io_kiocb.flags`
    pub req_flags: u32,
    /// `io_kiocb.cqe` + `io_cqe.user_data`
    pub req_user_data: u32,
    /// `io_kiocb.cqe` + `io_cqe.fd`
    pub req_fd: u32,
    /// `filename.name`
    pub filename_name: u32,
    /// `io_open.dfd`, `.file_slot`, `.filename`, `.how` + `open_how.flags`, `.how` + `open_how.mode`
    pub open_dfd: u32,
    pub open_file_slot: u32,
    pub open_filename: u32,
    pub open_how_flags: u32,
    pub open_how_mode: u32,
    /// `io_statx.dfd`, `.filename`, `.flags`
    pub statx_dfd: u32,
    pub statx_filename: u32,
    pub statx_flags: u32,
    /// `io_rename.old_dfd`, `.oldpath`, `.newpath`, `.flags`
    pub rename_dfd: u32,
    pub rename_oldpath: u32,
    pub rename_newpath: u32,
    pub rename_flags: u32,
    /// `io_unlink.dfd`, `.filename`, `.flags`
    pub unlink_dfd: u32,
    pub unlink_filename: u32,
    pub unlink_flags: u32,
    /// `io_mkdir.dfd`, `.filename`, `.mode`
    pub mkdir_dfd: u32,
    pub mkdir_filename: u32,
    pub mkdir_mode: u32,
    /// `io_link.old_dfd`, `.oldpath`, `.newpath`, `.flags` (`LINKAT` and `SYMLINKAT`)
    pub link_dfd: u32,
    pub link_oldpath: u32,
    pub link_newpath: u32,
    pub link_flags: u32,
    /// `task_struct.flags` (`PF_IO_WORKER`: an `io_uring` kernel thread, e.g. the SQPOLL thread)
    pub task_flags: u32,
}

impl MountOffsets {
    pub const fn unknown() -> Self {
        let u = KernelOffsets::UNKNOWN;
        Self {
            mount_devname: u,
            vfsmount_sb: u,
            sb_type: u,
            fstype_name: u,
            fc_fs_type: u,
        }
    }
}

impl CgroupOffsets {
    pub const fn unknown() -> Self {
        let u = KernelOffsets::UNKNOWN;
        Self {
            level: u,
            ancestors: u,
            kn: u,
            root: u,
            kn_id: u,
            kn_name: u,
            root_hierarchy_id: u,
            task_cgroups: u,
            cset_dfl_cgrp: u,
            _pad: 0,
        }
    }
}

impl IoUringOffsets {
    pub const fn unknown() -> Self {
        let u = KernelOffsets::UNKNOWN;
        Self {
            req_cmd: u,
            req_opcode: u,
            req_flags: u,
            req_user_data: u,
            req_fd: u,
            filename_name: u,
            open_dfd: u,
            open_file_slot: u,
            open_filename: u,
            open_how_flags: u,
            open_how_mode: u,
            statx_dfd: u,
            statx_filename: u,
            statx_flags: u,
            rename_dfd: u,
            rename_oldpath: u,
            rename_newpath: u,
            rename_flags: u,
            unlink_dfd: u,
            unlink_filename: u,
            unlink_flags: u,
            mkdir_dfd: u,
            mkdir_filename: u,
            mkdir_mode: u,
            link_dfd: u,
            link_oldpath: u,
            link_newpath: u,
            link_flags: u,
            task_flags: u,
        }
    }
}

/// Offsets of the fields the kernel-side path walk reads: from a task to its open files, working
/// directory and root, and from a `struct path` up through dentries and mounts.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PathOffsets {
    /// `task_struct.files`
    pub task_files: u32,
    /// `task_struct.fs`
    pub task_fs: u32,
    /// `files_struct.fdt`
    pub files_fdt: u32,
    /// `fdtable.fd`
    pub fdt_fd: u32,
    /// `fdtable.max_fds`
    pub fdt_max_fds: u32,
    /// `file.f_path`
    pub file_path: u32,
    /// `path.mnt`
    pub path_mnt: u32,
    /// `path.dentry`
    pub path_dentry: u32,
    /// `dentry.d_parent`
    pub dentry_parent: u32,
    /// `dentry.d_name` (a `qstr`)
    pub dentry_name: u32,
    /// `qstr.len`
    pub qstr_len: u32,
    /// `qstr.name`
    pub qstr_name: u32,
    /// `mount.mnt_parent`
    pub mount_parent: u32,
    /// `mount.mnt_mountpoint`
    pub mount_mountpoint: u32,
    /// `mount.mnt` (the `vfsmount` embedded in `struct mount`)
    pub mount_mnt: u32,
    /// `vfsmount.mnt_root`
    pub vfsmount_root: u32,
    /// `fs_struct.pwd`
    pub fs_pwd: u32,
    /// `fs_struct.root`
    pub fs_root: u32,
    /// `mm_struct.exe_file`
    pub mm_exe_file: u32,
    /// `mm_struct.env_start`
    pub mm_env_start: u32,
    /// `mm_struct.env_end`
    pub mm_env_end: u32,
    /// `linux_binprm.file`
    pub bprm_file: u32,
    /// `linux_binprm.filename`
    pub bprm_filename: u32,
    /// `linux_binprm.interp`
    pub bprm_interp: u32,
    pub _pad: u32,
}

/// Offsets of the fields the network programs read: a descriptor's `struct file` → `struct socket`
/// → `struct sock` (family, type, protocol, local address), a unix socket's peer, bound path and
/// name. (The syscall number in the saved registers is `ProcessOffsets::regs_syscall_nr`.)
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct NetOffsets {
    /// `file.private_data` (a socket file's `struct socket`; an `fspick` fd's `struct fs_context`)
    pub file_private_data: u32,
    /// `socket.sk`
    pub socket_sk: u32,
    /// `sock.__sk_common.skc_family`
    pub sock_family: u32,
    /// `sock.__sk_common.skc_num` (local port, host order)
    pub sock_num: u32,
    /// `sock.__sk_common.skc_rcv_saddr`
    pub sock_rcv_saddr: u32,
    /// `sock.__sk_common.skc_v6_rcv_saddr`
    pub sock_v6_rcv_saddr: u32,
    /// `sock.sk_type`
    pub sock_type: u32,
    /// `sock.sk_protocol`
    pub sock_protocol: u32,
    /// `unix_sock.peer`
    pub unix_peer: u32,
    /// `unix_sock.path` (a `struct path`)
    pub unix_path: u32,
    /// `unix_sock.addr` (a `struct unix_address *`)
    pub unix_addr: u32,
    /// `unix_address.len`
    pub unix_address_len: u32,
    /// `unix_address.name` (a `struct sockaddr_un`)
    pub unix_address_name: u32,
}

/// Offsets in `struct pt_regs` of the registers holding a syscall's six arguments, in order
/// (x86-64: `di`, `si`, `dx`, `r10`, `r8`, `r9`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RegsOffsets {
    pub args: [u32; 6],
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
            file_flags: Self::UNKNOWN,
            path: PathOffsets {
                task_files: Self::UNKNOWN,
                task_fs: Self::UNKNOWN,
                files_fdt: Self::UNKNOWN,
                fdt_fd: Self::UNKNOWN,
                fdt_max_fds: Self::UNKNOWN,
                file_path: Self::UNKNOWN,
                path_mnt: Self::UNKNOWN,
                path_dentry: Self::UNKNOWN,
                dentry_parent: Self::UNKNOWN,
                dentry_name: Self::UNKNOWN,
                qstr_len: Self::UNKNOWN,
                qstr_name: Self::UNKNOWN,
                mount_parent: Self::UNKNOWN,
                mount_mountpoint: Self::UNKNOWN,
                mount_mnt: Self::UNKNOWN,
                vfsmount_root: Self::UNKNOWN,
                fs_pwd: Self::UNKNOWN,
                fs_root: Self::UNKNOWN,
                mm_exe_file: Self::UNKNOWN,
                mm_env_start: Self::UNKNOWN,
                mm_env_end: Self::UNKNOWN,
                bprm_file: Self::UNKNOWN,
                bprm_filename: Self::UNKNOWN,
                bprm_interp: Self::UNKNOWN,
                _pad: 0,
            },
            regs: RegsOffsets {
                args: [Self::UNKNOWN; 6],
            },
            net: NetOffsets {
                file_private_data: Self::UNKNOWN,
                socket_sk: Self::UNKNOWN,
                sock_family: Self::UNKNOWN,
                sock_num: Self::UNKNOWN,
                sock_rcv_saddr: Self::UNKNOWN,
                sock_v6_rcv_saddr: Self::UNKNOWN,
                sock_type: Self::UNKNOWN,
                sock_protocol: Self::UNKNOWN,
                unix_peer: Self::UNKNOWN,
                unix_path: Self::UNKNOWN,
                unix_addr: Self::UNKNOWN,
                unix_address_len: Self::UNKNOWN,
                unix_address_name: Self::UNKNOWN,
            },
            process: ProcessOffsets {
                task_cred: Self::UNKNOWN,
                cred_ids: [Self::UNKNOWN; 8],
                cred_cap_effective: Self::UNKNOWN,
                cred_cap_permitted: Self::UNKNOWN,
                file_inode: Self::UNKNOWN,
                inode_ino: Self::UNKNOWN,
                inode_sb: Self::UNKNOWN,
                inode_private: Self::UNKNOWN,
                sb_magic: Self::UNKNOWN,
                ns_common_ops: Self::UNKNOWN,
                ns_ops_name: Self::UNKNOWN,
                regs_syscall_nr: Self::UNKNOWN,
                task_thread_pid: Self::UNKNOWN,
                pid_level: Self::UNKNOWN,
                _pad: 0,
            },
            // mounts, scope, io_uring, code loading
            mount: MountOffsets::unknown(),
            cgroup: CgroupOffsets::unknown(),
            io_uring: IoUringOffsets::unknown(),
            vma_file: Self::UNKNOWN,
            _pad_vis_mount: 0,
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
    /// `FILTER_*` bits: the interest filters that are on.
    pub filters: u32,
}

/// `KernelConfig::filters`: opens whose key is in `maps::OPEN_QUIET` are counted, not sent.
pub const FILTER_QUIET_OPENS: u32 = 1;

// SAFETY: repr(C), Copy, only u32 fields (padding spelled out as `_pad`): any bit pattern is valid.
#[cfg(feature = "user")]
unsafe impl aya::Pod for KernelConfig {}
