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

/// What the offset lookups need to know of a type's BTF kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `BTF_KIND_STRUCT` (4): members at offsets; named ones are indexed.
    Struct,
    /// `BTF_KIND_UNION` (5): members at offset 0.
    Union,
    /// `TYPEDEF` (8), `VOLATILE` (9), `CONST` (10), `RESTRICT` (11), `TYPE_TAG` (18): another name
    /// or a qualifier of the type it references, resolved through.
    Alias,
    /// Anything else.
    Other,
}

impl Kind {
    fn of(kind: u32) -> Self {
        match kind {
            4 => Kind::Struct,
            5 => Kind::Union,
            8 | 9 | 10 | 11 | 18 => Kind::Alias,
            _ => Kind::Other,
        }
    }
}

#[derive(Clone, Debug)]
struct Member {
    name: String,
    type_id: u32,
    bit_offset: u32,
}

#[derive(Clone, Debug)]
struct Type {
    kind: Kind,
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
            kind: Kind::Other,
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
                2 | 7 | 8 | 9 | 10 | 11 | 12 | 16 | 18 => 0,
                3 => 12, // ARRAY
                4 | 5 => {
                    // STRUCT, UNION
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
                1 | 14 | 17 => 4,     // INT, VAR, DECL_TAG
                15 | 19 => vlen * 12, // DATASEC, ENUM64
                other => return Err(BtfError::UnknownKind { kind: other, id }),
            };
            pos += extra;
            let kind = Kind::of(kind);
            if kind == Kind::Struct && name_off != 0 {
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
                Some(t) if t.kind == Kind::Alias => id = t.referenced,
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
                Some(Kind::Struct | Kind::Union)
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

/// The offsets of `names` in `struct strukt`, in order, through `get` (which deals with a missing
/// one).
fn members<const N: usize>(get: &mut impl FnMut(&str, &str) -> u32, strukt: &str, names: [&str; N]) -> [u32; N] {
    names.map(|m| get(strukt, m))
}

/// Resolves every offset the kernel side uses; unknown ones stay `UNKNOWN` and are logged, so the
/// monitor still runs (with empty ppid/argv/exit code) on a kernel whose BTF lacks a field.
pub(crate) fn kernel_offsets(btf: &Btf) -> KernelOffsets {
    let mut off = KernelOffsets::unknown();
    let mut get = |s: &str, m: &str| match btf.member_offset(s, m) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("BTF: {e}; the field that needs it will be empty");
            KernelOffsets::UNKNOWN
        }
    };
    [
        off.task_real_parent,
        off.task_pid,
        off.task_tgid,
        off.task_mm,
        off.task_exit_code,
    ] = members(
        &mut get,
        "task_struct",
        ["real_parent", "pid", "tgid", "mm", "exit_code"],
    );
    [off.mm_arg_start, off.mm_arg_end] = members(&mut get, "mm_struct", ["arg_start", "arg_end"]);
    off.file_flags = get("file", "f_flags");
    let p = &mut off.path;
    [p.task_files, p.task_fs] = members(&mut get, "task_struct", ["files", "fs"]);
    p.files_fdt = get("files_struct", "fdt");
    [p.fdt_fd, p.fdt_max_fds] = members(&mut get, "fdtable", ["fd", "max_fds"]);
    p.file_path = get("file", "f_path");
    [p.path_mnt, p.path_dentry] = members(&mut get, "path", ["mnt", "dentry"]);
    [p.dentry_parent, p.dentry_name] = members(&mut get, "dentry", ["d_parent", "d_name"]);
    [p.qstr_len, p.qstr_name] = members(&mut get, "qstr", ["len", "name"]);
    [p.mount_parent, p.mount_mountpoint, p.mount_mnt] =
        members(&mut get, "mount", ["mnt_parent", "mnt_mountpoint", "mnt"]);
    p.vfsmount_root = get("vfsmount", "mnt_root");
    [p.fs_pwd, p.fs_root] = members(&mut get, "fs_struct", ["pwd", "root"]);
    [p.mm_exe_file, p.mm_env_start, p.mm_env_end] =
        members(&mut get, "mm_struct", ["exe_file", "env_start", "env_end"]);
    [p.bprm_file, p.bprm_filename, p.bprm_interp] = members(&mut get, "linux_binprm", ["file", "filename", "interp"]);
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
    [n.sock_type, n.sock_protocol] = members(&mut get, "sock", ["sk_type", "sk_protocol"]);
    [n.unix_peer, n.unix_path, n.unix_addr] = members(&mut get, "unix_sock", ["peer", "path", "addr"]);
    [n.unix_address_len, n.unix_address_name] = members(&mut get, "unix_address", ["len", "name"]);
    // mounts, scope, io_uring, code loading
    let m = &mut off.mount;
    m.mount_devname = get("mount", "mnt_devname");
    m.vfsmount_sb = get("vfsmount", "mnt_sb");
    m.sb_type = get("super_block", "s_type");
    m.fstype_name = get("file_system_type", "name");
    m.fc_fs_type = get("fs_context", "fs_type");
    let c = &mut off.cgroup;
    [c.level, c.ancestors, c.kn, c.root] = members(&mut get, "cgroup", ["level", "ancestors", "kn", "root"]);
    [c.kn_id, c.kn_name] = members(&mut get, "kernfs_node", ["id", "name"]);
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
    [pr.cred_cap_effective, pr.cred_cap_permitted] = members(&mut get, "cred", ["cap_effective", "cap_permitted"]);
    pr.file_inode = get("file", "f_inode");
    [pr.inode_ino, pr.inode_sb, pr.inode_private] = members(&mut get, "inode", ["i_ino", "i_sb", "i_private"]);
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
    [io.req_cmd, io.req_opcode, io.req_flags] = members(&mut get, "io_kiocb", ["cmd", "opcode", "flags"]);
    let cqe = get("io_kiocb", "cqe");
    io.req_user_data = both(cqe, get("io_cqe", "user_data"));
    io.req_fd = both(cqe, get("io_cqe", "fd"));
    io.filename_name = get("filename", "name");
    [io.open_dfd, io.open_file_slot, io.open_filename] = members(&mut get, "io_open", ["dfd", "file_slot", "filename"]);
    let how = get("io_open", "how");
    io.open_how_flags = both(how, get("open_how", "flags"));
    io.open_how_mode = both(how, get("open_how", "mode"));
    [io.statx_dfd, io.statx_filename, io.statx_flags] = members(&mut get, "io_statx", ["dfd", "filename", "flags"]);
    [io.rename_dfd, io.rename_oldpath, io.rename_newpath, io.rename_flags] =
        members(&mut get, "io_rename", ["old_dfd", "oldpath", "newpath", "flags"]);
    [io.unlink_dfd, io.unlink_filename, io.unlink_flags] = members(&mut get, "io_unlink", ["dfd", "filename", "flags"]);
    [io.mkdir_dfd, io.mkdir_filename, io.mkdir_mode] = members(&mut get, "io_mkdir", ["dfd", "filename", "mode"]);
    [io.link_dfd, io.link_oldpath, io.link_newpath, io.link_flags] =
        members(&mut get, "io_link", ["old_dfd", "oldpath", "newpath", "flags"]);
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
