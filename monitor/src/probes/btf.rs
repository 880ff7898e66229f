//! Just enough of a BTF reader to resolve the few kernel struct offsets the eBPF programs need.
//!
//! Rust eBPF has no CO-RE relocation, so userspace reads `/sys/kernel/btf/vmlinux`, finds
//! `task_struct` / `mm_struct` member offsets (descending into anonymous structs and unions) and hands
//! them to the kernel side through the `CONFIG` map.
use std::collections::HashMap;

use monitor_common::config::KernelOffsets;
use thiserror::Error;

#[derive(Debug, Error)]
pub(crate) enum BtfError {
    #[error("BTF blob is too short or malformed at byte {0}")]
    Malformed(usize),
    #[error("bad BTF magic {0:#x}")]
    Magic(u16),
    #[error("unknown BTF kind {kind} at type id {id}")]
    UnknownKind { kind: u32, id: u32 },
    #[error("struct {0} not found in BTF")]
    NoStruct(String),
    #[error("member {member} not found in struct {strukt}")]
    NoMember { strukt: String, member: String },
}

const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_TYPE_TAG: u32 = 18;

#[derive(Clone, Debug)]
struct Member {
    name: String,
    type_id: u32,
    bit_offset: u32,
}

#[derive(Clone, Debug)]
struct Type {
    kind: u32,
    /// Referenced type for modifiers/typedefs.
    referenced: u32,
    members: Vec<Member>,
}

/// Parsed BTF: type table plus an index of named structs.
pub(crate) struct Btf {
    types: Vec<Type>,
    structs: HashMap<String, u32>,
}

fn u32_at(b: &[u8], off: usize) -> Result<u32, BtfError> {
    b.get(off..off + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(BtfError::Malformed(off))
}

fn str_at(strings: &[u8], off: u32) -> String {
    let start = off as usize;
    if start >= strings.len() {
        return String::new();
    }
    let end = strings[start..]
        .iter()
        .position(|&c| c == 0)
        .map_or(strings.len(), |p| start + p);
    String::from_utf8_lossy(&strings[start..end]).into_owned()
}

impl Btf {
    /// Reads the running kernel's BTF.
    pub(crate) fn from_sys_fs() -> anyhow::Result<Self> {
        let path = "/sys/kernel/btf/vmlinux";
        let data = std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {path}: {e}"))?;
        Ok(Self::parse(&data)?)
    }

    pub(crate) fn parse(data: &[u8]) -> Result<Self, BtfError> {
        let magic = data
            .get(0..2)
            .map(|m| u16::from_le_bytes([m[0], m[1]]))
            .ok_or(BtfError::Malformed(0))?;
        if magic != 0xeb9f {
            return Err(BtfError::Magic(magic));
        }
        let hdr_len = u32_at(data, 4)? as usize;
        let type_off = u32_at(data, 8)? as usize;
        let type_len = u32_at(data, 12)? as usize;
        let str_off = u32_at(data, 16)? as usize;
        let str_len = u32_at(data, 20)? as usize;
        let types_start = hdr_len + type_off;
        let strings_start = hdr_len + str_off;
        let type_bytes = data
            .get(types_start..types_start + type_len)
            .ok_or(BtfError::Malformed(types_start))?;
        let strings = data
            .get(strings_start..strings_start + str_len)
            .ok_or(BtfError::Malformed(strings_start))?;

        // Type id 0 is "void".
        let mut types = vec![Type {
            kind: 0,
            referenced: 0,
            members: Vec::new(),
        }];
        let mut structs = HashMap::new();
        let mut pos = 0usize;
        while pos < type_bytes.len() {
            let id = types.len() as u32;
            let name_off = u32_at(type_bytes, pos)?;
            let info = u32_at(type_bytes, pos + 4)?;
            let size_or_type = u32_at(type_bytes, pos + 8)?;
            pos += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            let mut members = Vec::new();
            let extra = match kind {
                1 => 4, // INT
                2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
                3 => 12, // ARRAY
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = pos + i * 12;
                        let raw_off = u32_at(type_bytes, m + 8)?;
                        members.push(Member {
                            name: str_at(strings, u32_at(type_bytes, m)?),
                            type_id: u32_at(type_bytes, m + 4)?,
                            bit_offset: if kind_flag { raw_off & 0x00ff_ffff } else { raw_off },
                        });
                    }
                    vlen * 12
                }
                6 | 13 => vlen * 8,   // ENUM, FUNC_PROTO
                14 | 17 => 4,         // VAR, DECL_TAG
                15 | 19 => vlen * 12, // DATASEC, ENUM64
                other => return Err(BtfError::UnknownKind { kind: other, id }),
            };
            pos += extra;
            if kind == KIND_STRUCT && name_off != 0 {
                structs.entry(str_at(strings, name_off)).or_insert(id);
            }
            types.push(Type {
                kind,
                referenced: size_or_type,
                members,
            });
        }
        Ok(Self { types, structs })
    }

    /// Follows typedefs and qualifiers to the underlying type id.
    fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..32 {
            match self.types.get(id as usize) {
                Some(t)
                    if matches!(
                        t.kind,
                        KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG
                    ) =>
                {
                    id = t.referenced;
                }
                _ => break,
            }
        }
        id
    }

    fn find_in(&self, id: u32, member: &str, depth: u32) -> Option<u32> {
        let t = self.types.get(id as usize)?;
        for m in &t.members {
            if m.name == member {
                return Some(m.bit_offset);
            }
        }
        if depth > 4 {
            return None;
        }
        for m in t.members.iter().filter(|m| m.name.is_empty()) {
            let inner = self.resolve(m.type_id);
            if matches!(
                self.types.get(inner as usize).map(|t| t.kind),
                Some(KIND_STRUCT | KIND_UNION)
            ) && let Some(off) = self.find_in(inner, member, depth + 1)
            {
                return Some(m.bit_offset + off);
            }
        }
        None
    }

    /// Byte offset of `member` in `struct strukt`, looking inside anonymous members.
    pub(crate) fn member_offset(&self, strukt: &str, member: &str) -> Result<u32, BtfError> {
        let id = *self
            .structs
            .get(strukt)
            .ok_or_else(|| BtfError::NoStruct(strukt.into()))?;
        self.find_in(id, member, 0)
            .map(|bits| bits / 8)
            .ok_or_else(|| BtfError::NoMember {
                strukt: strukt.into(),
                member: member.into(),
            })
    }
}

/// Resolves every offset the kernel side uses; unknown ones stay `UNKNOWN` and are logged, so the
/// monitor still runs (with empty ppid/argv/exit code) on a kernel whose BTF lacks a field.
pub(crate) fn kernel_offsets(btf: &Btf) -> KernelOffsets {
    let mut off = KernelOffsets::unknown();
    let get = |s: &str, m: &str| match btf.member_offset(s, m) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("BTF: {e}; the field that needs it will be empty");
            KernelOffsets::UNKNOWN
        }
    };
    off.task_real_parent = get("task_struct", "real_parent");
    off.task_pid = get("task_struct", "pid");
    off.task_tgid = get("task_struct", "tgid");
    off.task_mm = get("task_struct", "mm");
    off.task_exit_code = get("task_struct", "exit_code");
    off.mm_arg_start = get("mm_struct", "arg_start");
    off.mm_arg_end = get("mm_struct", "arg_end");
    off.file_flags = get("file", "f_flags");
    let p = &mut off.path;
    p.task_files = get("task_struct", "files");
    p.task_fs = get("task_struct", "fs");
    p.files_fdt = get("files_struct", "fdt");
    p.fdt_fd = get("fdtable", "fd");
    p.fdt_max_fds = get("fdtable", "max_fds");
    p.file_path = get("file", "f_path");
    p.path_mnt = get("path", "mnt");
    p.path_dentry = get("path", "dentry");
    p.dentry_parent = get("dentry", "d_parent");
    p.dentry_name = get("dentry", "d_name");
    p.qstr_len = get("qstr", "len");
    p.qstr_name = get("qstr", "name");
    p.mount_parent = get("mount", "mnt_parent");
    p.mount_mountpoint = get("mount", "mnt_mountpoint");
    p.mount_mnt = get("mount", "mnt");
    p.vfsmount_root = get("vfsmount", "mnt_root");
    p.fs_pwd = get("fs_struct", "pwd");
    p.fs_root = get("fs_struct", "root");
    p.mm_exe_file = get("mm_struct", "exe_file");
    p.mm_env_start = get("mm_struct", "env_start");
    p.mm_env_end = get("mm_struct", "env_end");
    p.bprm_file = get("linux_binprm", "file");
    p.bprm_filename = get("linux_binprm", "filename");
    p.bprm_interp = get("linux_binprm", "interp");
    // network
    let n = &mut off.net;
    let sk_common = get("sock", "__sk_common");
    let in_common = |m: &str| match (sk_common, get("sock_common", m)) {
        (KernelOffsets::UNKNOWN, _) | (_, KernelOffsets::UNKNOWN) => KernelOffsets::UNKNOWN,
        (a, b) => a + b,
    };
    n.file_private_data = get("file", "private_data");
    n.socket_sk = get("socket", "sk");
    n.sock_family = in_common("skc_family");
    n.sock_num = in_common("skc_num");
    n.sock_rcv_saddr = in_common("skc_rcv_saddr");
    n.sock_v6_rcv_saddr = in_common("skc_v6_rcv_saddr");
    n.sock_type = get("sock", "sk_type");
    n.sock_protocol = get("sock", "sk_protocol");
    n.unix_peer = get("unix_sock", "peer");
    n.unix_path = get("unix_sock", "path");
    n.unix_addr = get("unix_sock", "addr");
    n.unix_address_len = get("unix_address", "len");
    n.unix_address_name = get("unix_address", "name");
    // mounts, scope, io_uring, code loading
    let m = &mut off.mount;
    m.mount_devname = get("mount", "mnt_devname");
    m.vfsmount_sb = get("vfsmount", "mnt_sb");
    m.sb_type = get("super_block", "s_type");
    m.fstype_name = get("file_system_type", "name");
    m.fc_fs_type = get("fs_context", "fs_type");
    let c = &mut off.cgroup;
    c.level = get("cgroup", "level");
    c.ancestors = get("cgroup", "ancestors");
    c.kn = get("cgroup", "kn");
    c.root = get("cgroup", "root");
    c.kn_id = get("kernfs_node", "id");
    c.kn_name = get("kernfs_node", "name");
    c.root_hierarchy_id = get("cgroup_root", "hierarchy_id");
    c.task_cgroups = get("task_struct", "cgroups");
    c.cset_dfl_cgrp = get("css_set", "dfl_cgrp");
    off.io_uring = io_uring_offsets(btf);
    off.vma_file = get("vm_area_struct", "vm_file");
    // x86-64's syscall calling convention.
    for (slot, reg) in off.regs.args.iter_mut().zip(["di", "si", "dx", "r10", "r8", "r9"]) {
        *slot = get("pt_regs", reg);
    }
    // processes
    let pr = &mut off.process;
    pr.task_cred = get("task_struct", "cred");
    for (slot, id) in pr
        .cred_ids
        .iter_mut()
        .zip(["uid", "euid", "suid", "fsuid", "gid", "egid", "sgid", "fsgid"])
    {
        *slot = get("cred", id);
    }
    pr.cred_cap_effective = get("cred", "cap_effective");
    pr.cred_cap_permitted = get("cred", "cap_permitted");
    pr.file_inode = get("file", "f_inode");
    pr.inode_ino = get("inode", "i_ino");
    pr.inode_sb = get("inode", "i_sb");
    pr.inode_private = get("inode", "i_private");
    pr.sb_magic = get("super_block", "s_magic");
    pr.ns_common_ops = get("ns_common", "ops");
    pr.ns_ops_name = get("proc_ns_operations", "name");
    pr.regs_syscall_nr = get("pt_regs", "orig_ax");
    pr.task_thread_pid = get("task_struct", "thread_pid");
    pr.pid_level = get("pid", "level");
    off
}

/// The `io_uring` request offsets. Kernels without `io_uring` (or whose structs moved) leave them
/// unknown: the opcode is then missing too and submissions are not reported (logged once).
fn io_uring_offsets(btf: &Btf) -> monitor_common::config::IoUringOffsets {
    let mut io = monitor_common::config::IoUringOffsets::unknown();
    let mut missing = Vec::new();
    let mut get = |s: &str, m: &str| match btf.member_offset(s, m) {
        Ok(v) => v,
        Err(e) => {
            missing.push(e.to_string());
            KernelOffsets::UNKNOWN
        }
    };
    // Offsets inside a member struct: `outer.member` + `inner.field`.
    let both = |a: u32, b: u32| {
        if a == KernelOffsets::UNKNOWN || b == KernelOffsets::UNKNOWN {
            KernelOffsets::UNKNOWN
        } else {
            a + b
        }
    };
    io.req_cmd = get("io_kiocb", "cmd");
    io.req_opcode = get("io_kiocb", "opcode");
    io.req_flags = get("io_kiocb", "flags");
    let cqe = get("io_kiocb", "cqe");
    io.req_user_data = both(cqe, get("io_cqe", "user_data"));
    io.req_fd = both(cqe, get("io_cqe", "fd"));
    io.filename_name = get("filename", "name");
    io.open_dfd = get("io_open", "dfd");
    io.open_file_slot = get("io_open", "file_slot");
    io.open_filename = get("io_open", "filename");
    let how = get("io_open", "how");
    io.open_how_flags = both(how, get("open_how", "flags"));
    io.open_how_mode = both(how, get("open_how", "mode"));
    io.statx_dfd = get("io_statx", "dfd");
    io.statx_filename = get("io_statx", "filename");
    io.statx_flags = get("io_statx", "flags");
    io.rename_dfd = get("io_rename", "old_dfd");
    io.rename_oldpath = get("io_rename", "oldpath");
    io.rename_newpath = get("io_rename", "newpath");
    io.rename_flags = get("io_rename", "flags");
    io.unlink_dfd = get("io_unlink", "dfd");
    io.unlink_filename = get("io_unlink", "filename");
    io.unlink_flags = get("io_unlink", "flags");
    io.mkdir_dfd = get("io_mkdir", "dfd");
    io.mkdir_filename = get("io_mkdir", "filename");
    io.mkdir_mode = get("io_mkdir", "mode");
    io.link_dfd = get("io_link", "old_dfd");
    io.link_oldpath = get("io_link", "oldpath");
    io.link_newpath = get("io_link", "newpath");
    io.link_flags = get("io_link", "flags");
    io.task_flags = get("task_struct", "flags");
    if !missing.is_empty() {
        tracing::warn!(
            "BTF: {}; io_uring operations are reported without what needs them (opcode-only, or \
             not at all without the opcode)",
            missing.join("; ")
        );
    }
    io
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_task_struct_offsets_from_running_kernel() {
        let Ok(btf) = Btf::from_sys_fs() else {
            panic!("/sys/kernel/btf/vmlinux is required (kernel with BTF)");
        };
        let off = kernel_offsets(&btf);
        assert_ne!(off.task_tgid, KernelOffsets::UNKNOWN);
        assert_eq!(
            off.task_tgid,
            off.task_pid + 4,
            "pid and tgid are adjacent pid_t fields"
        );
        assert_eq!(off.mm_arg_end, off.mm_arg_start + 8);
        assert_ne!(off.task_mm, KernelOffsets::UNKNOWN);
        // network
        let n = off.net;
        for (name, v) in [
            ("file.private_data", n.file_private_data),
            ("socket.sk", n.socket_sk),
            ("skc_family", n.sock_family),
            ("skc_num", n.sock_num),
            ("skc_rcv_saddr", n.sock_rcv_saddr),
            ("skc_v6_rcv_saddr", n.sock_v6_rcv_saddr),
            ("sk_type", n.sock_type),
            ("sk_protocol", n.sock_protocol),
            ("unix_sock.peer", n.unix_peer),
            ("unix_sock.path", n.unix_path),
            ("unix_sock.addr", n.unix_addr),
            ("unix_address.len", n.unix_address_len),
            ("unix_address.name", n.unix_address_name),
        ] {
            assert_ne!(v, KernelOffsets::UNKNOWN, "{name}");
        }
        // `struct sock` starts with its `sock_common`: skc_family right after the address and
        // port pairs and the hash.
        assert_eq!(n.sock_family, 16, "skc_family");
        assert_eq!(n.unix_address_name, 8, "unix_address: refcnt, len, name");
    }

    /// Every offset the process kinds read exists in this kernel's BTF.
    #[test]
    fn resolves_the_process_offsets() {
        let btf = Btf::from_sys_fs().expect("/sys/kernel/btf/vmlinux");
        let p = kernel_offsets(&btf).process;
        let all = [
            p.task_cred,
            p.cred_cap_effective,
            p.cred_cap_permitted,
            p.file_inode,
            p.inode_ino,
            p.inode_sb,
            p.inode_private,
            p.sb_magic,
            p.ns_common_ops,
            p.ns_ops_name,
            p.regs_syscall_nr,
            p.task_thread_pid,
            p.pid_level,
        ];
        assert!(
            all.iter().chain(&p.cred_ids).all(|&o| o != KernelOffsets::UNKNOWN),
            "{p:?}"
        );
        // `struct cred` holds uid, gid, suid, sgid, euid, egid, fsuid, fsgid, in that order.
        assert_eq!(p.cred_ids[4], p.cred_ids[0] + 4, "gid after uid: {p:?}");
        assert_eq!(p.cred_ids[1], p.cred_ids[0] + 16, "euid after sgid: {p:?}");
    }

    #[test]
    fn resolves_the_mount_cgroup_and_io_uring_offsets() {
        let btf = Btf::from_sys_fs().expect("/sys/kernel/btf/vmlinux");
        let off = kernel_offsets(&btf);
        let u = KernelOffsets::UNKNOWN;
        assert!(
            off.mount.mount_devname != u && off.mount.fstype_name == 0 && off.mount.fc_fs_type != u,
            "{:?}",
            off.mount
        );
        assert!(
            off.cgroup.ancestors > off.cgroup.level && off.cgroup.kn_id != u,
            "{:?}",
            off.cgroup
        );
        let io = off.io_uring;
        assert_eq!(io.req_cmd, 0, "the command data is the request's first member");
        assert_eq!(io.filename_name, 0, "struct filename starts with its name");
        assert_eq!(io.req_fd, io.req_user_data + 12, "io_cqe: user_data, res, fd");
        assert!(
            io.open_filename != u && io.rename_newpath == io.rename_oldpath + 8,
            "{io:?}"
        );
        assert_ne!(off.vma_file, u);
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            Btf::parse(&[0, 1, 2]),
            Err(BtfError::Malformed(_) | BtfError::Magic(_))
        ));
        assert!(Btf::parse(&[]).is_err());
    }
}
