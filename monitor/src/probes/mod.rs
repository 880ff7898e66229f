//! Loads agentmon's eBPF programs, configures them, attaches them, and manages the in-kernel scope
//! (the set of watched cgroups). Dropping [`Probes`] detaches every program.
use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData, PerCpuArray, PerCpuHashMap, RingBuf},
    programs::{
        CgroupAttachMode, CgroupSock, CgroupSockAddr, Lsm, RawTracePoint, TracePoint, cgroup_sock::CgroupSockLinkId,
        cgroup_sock_addr::CgroupSockAddrLinkId, trace_point::TracePointLinkId,
    },
};
use monitor_common::{
    MAX_CGROUP_LEVELS,
    cgroup_move::{LINEAGE_ESCAPED, Lineage},
    config::{FAST_LEVELS, KernelConfig, KernelOffsets},
    counter, maps,
    open::QuietOpenKey,
    programs::{self, Attach, Program},
    syscall::{SYSCALL_SLOTS, SyscallKey},
    tracepoint::SCHED_PROCESS_EXIT_GROUP_DEAD,
};

use crate::{
    capabilities::{Cap, Capabilities},
    cgroup::Cgroup,
};

pub(crate) mod bpffs;
pub(crate) mod btf;
mod detach;
#[cfg(test)]
mod tests;
pub(crate) mod tracefs;

/// The compiled eBPF object, built by `build.rs`.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/agentmon-ebpf"));

/// Counters the kernel side keeps (summed over CPUs); `monitor_common::counter` says what each
/// counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelCounters {
    pub(crate) ringbuf_drops: u64,
    pub(crate) read_failures: u64,
    pub(crate) events: u64,
    pub(crate) denied: u64,
    pub(crate) arg_read_failed: u64,
    pub(crate) no_config: u64,
    pub(crate) task_read_failed: u64,
    pub map_insert_failed: u64,
    pub(crate) no_scratch: u64,
    /// Opens the interest filter left out (not lost: no rule could match them).
    pub(crate) filtered_opens: u64,
}

impl KernelCounters {
    /// The counter at `monitor_common::counter` index `index`.
    fn get(&self, index: u32) -> u64 {
        match index {
            counter::RINGBUF_DROPS => self.ringbuf_drops,
            counter::READ_FAILURES => self.read_failures,
            counter::EVENTS => self.events,
            counter::DENIED => self.denied,
            counter::ARG_READ_FAILED => self.arg_read_failed,
            counter::NO_CONFIG => self.no_config,
            counter::TASK_READ_FAILED => self.task_read_failed,
            counter::MAP_INSERT_FAILED => self.map_insert_failed,
            counter::NO_SCRATCH => self.no_scratch,
            counter::FILTERED_OPENS => self.filtered_opens,
            _ => 0,
        }
    }

    /// Events lost in the kernel so far, by reason (`monitor_common::counter::LOST`: a full ring
    /// buffer first, then each early return that drops an event).
    pub fn lost(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        counter::LOST.iter().map(|&(index, reason)| (reason, self.get(index)))
    }
}

pub struct Probes {
    ebpf: Ebpf,
    config: KernelConfig,
    /// Watched cgroup id → its level, and how many watched cgroups sit at each level.
    watched: BTreeMap<u64, u32>,
    levels: BTreeMap<u32, usize>,
    /// The cgroup socket programs' links per watched cgroup (connect/sendmsg verdicts and events,
    /// post-bind events), detached on unwatch.
    sock_links: BTreeMap<u64, Vec<CgroupLink>>,
    /// On-demand programs (`programs::ON_DEMAND`) attached now.
    on_demand: BTreeMap<&'static str, TracePointLinkId>,
    /// `DENY_VIA_LSM_*` bits of the LSM programs attached here, or-ed into every `deny_kinds`.
    lsm_deny: u32,
}

impl Drop for Probes {
    fn drop(&mut self) {
        detach::unload_all(&mut self.ebpf);
    }
}

/// A cgroup program attached to one watched cgroup.
enum CgroupLink {
    SockAddr(&'static str, CgroupSockAddrLinkId),
    Sock(&'static str, CgroupSockLinkId),
}

/// Where pinned maps live (the quarantine set must outlive one agentmon process).
pub(crate) const PIN_DIR: &str = "/sys/fs/bpf/agentmon";

/// The cgroup programs (`sock_addr`, `sock`), attached to every watched cgroup.
fn cgroup_programs() -> impl Iterator<Item = &'static Program> {
    programs::PROGRAMS
        .iter()
        .filter(|p| matches!(p.attach, Attach::CgroupSockAddr(_) | Attach::CgroupSock(_)))
}

/// Load options.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Ring buffer size in bytes (power of two, multiple of the page size).
    pub ringbuf_bytes: u32,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            ringbuf_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The error context of a map the object lacks.
fn missing(map: &str) -> String {
    format!("map {map} missing from the eBPF object")
}

/// Logs (debug) what loading one program cost: wall time and the verifier's instruction count.
fn log_loaded(ebpf: &Ebpf, name: &str, since: std::time::Instant) {
    let insns = ebpf
        .program(name)
        .and_then(|p| p.info().ok())
        .and_then(|i| i.verified_instruction_count());
    tracing::debug!(
        program = name,
        ms = since.elapsed().as_millis(),
        verified_insns = insns,
        "loaded"
    );
}

/// The kernel's BTF for the LSM programs, parsed on first use (≈ 1 s under emulation).
fn kernel_btf(btf: &mut Option<aya::Btf>) -> Result<&mut aya::Btf> {
    Ok(match btf {
        Some(b) => b,
        None => btf.insert(aya::Btf::from_sys_fs().context("reading kernel BTF for the LSM programs")?),
    })
}

/// Whether the `path_*` LSM hooks can load here: BPF LSM works and the kernel's BTF has every
/// `bpf_lsm_path_*` attach point (a kernel without `CONFIG_SECURITY_PATH` has none; there, change
/// deny rules stay after-the-fact and this says so once). `btf`: the kernel's BTF, read on first use.
fn lsm_path_hooks_present(caps: &Capabilities, btf: &mut Option<aya::Btf>) -> Result<bool> {
    static SAID: std::sync::Once = std::sync::Once::new();
    if !(caps.has(Cap::BpfLsm) && caps.has(Cap::Btf)) {
        return Ok(false);
    }
    let btf = kernel_btf(btf)?;
    let missing: Vec<&str> = programs::LSM_PATH_HOOKS
        .iter()
        .filter_map(|p| match p.attach {
            Attach::Lsm { hook } => Some(hook),
            _ => None,
        })
        .filter(|hook| {
            btf.id_by_type_name_kind(&format!("bpf_lsm_{hook}"), aya_obj::btf::BtfKind::Func)
                .is_err()
        })
        .collect();
    if missing.is_empty() {
        return Ok(true);
    }
    SAID.call_once(|| {
        tracing::warn!(
            missing = %missing.join(","),
            "this kernel lacks BPF LSM path hooks (CONFIG_SECURITY_PATH): deny rules on renames, links, unlinks, chmods, chowns and truncations act after the change"
        );
    });
    Ok(false)
}

/// Whether `file_truncate` can load beside the `path_*` group: the kernel has the hook (6.2+, where
/// `ftruncate` and `O_TRUNC` opens no longer reach `path_truncate`).
fn lsm_file_truncate_present(caps: &Capabilities, btf: &mut Option<aya::Btf>) -> Result<bool> {
    if !lsm_path_hooks_present(caps, btf)? {
        return Ok(false);
    }
    let present = kernel_btf(btf)?
        .id_by_type_name_kind("bpf_lsm_file_truncate", aya_obj::btf::BtfKind::Func)
        .is_ok();
    if !present {
        tracing::info!(
            "lsm_file_truncate: this kernel has no file_truncate hook (before 6.2 ftruncate and O_TRUNC opens reach path_truncate); not attached"
        );
    }
    Ok(present)
}

/// Fails early, with one clear line, when agentmon cannot load eBPF programs.
pub(crate) fn check_privileges() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("agentmon needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN) to load its eBPF programs");
    }
    Ok(())
}

impl Probes {
    /// Loads and attaches everything. Needs root (`CAP_BPF` + `CAP_PERFMON` + `CAP_SYS_ADMIN` for tracing).
    pub fn load(opts: &ProbeOptions) -> Result<Self> {
        if !opts.ringbuf_bytes.is_power_of_two() || opts.ringbuf_bytes < 4096 {
            bail!(
                "ring buffer size {} is not a power of two of at least 4096 bytes",
                opts.ringbuf_bytes
            );
        }
        check_privileges()?;
        let started = std::time::Instant::now();
        tracefs::ensure_mounted()?;
        // Probed (and logged) once per process, before our own object loads.
        let caps = Capabilities::current();
        tracing::debug!(ms = started.elapsed().as_millis(), "capabilities probed");
        tracefs::check_layouts(programs::PROGRAMS)?;
        bpffs::ensure_mounted()?;
        std::fs::create_dir_all(PIN_DIR).with_context(|| format!("creating {PIN_DIR}"))?;
        let ebpf = EbpfLoader::new()
            .map_max_entries(maps::EVENTS, opts.ringbuf_bytes)
            .default_map_pin_directory(PIN_DIR)
            .load(EBPF_OBJECT)
            .context("loading the eBPF object")?;
        tracing::debug!(ms = started.elapsed().as_millis(), "eBPF object parsed, maps created");

        let mut offsets = match btf::Btf::from_sys_fs() {
            Ok(b) => btf::kernel_offsets(&b),
            Err(e) => {
                tracing::warn!("no kernel BTF ({e:#}); ppid, argv and exit codes come from /proc only");
                KernelOffsets::unknown()
            }
        };
        offsets.exit_group_dead = match programs::SCHED_PROCESS_EXIT.attach {
            Attach::TracePoint { category, name, .. } => {
                tracefs::field_offset(category, name, SCHED_PROCESS_EXIT_GROUP_DEAD)
            }
            _ => None,
        }
        .unwrap_or(KernelOffsets::UNKNOWN);
        tracing::debug!(ms = started.elapsed().as_millis(), "kernel offsets read from BTF");
        let config = KernelConfig {
            offsets,
            watched_levels: 0,
            n_levels: 0,
            levels: [0; FAST_LEVELS],
            deny_kinds: 0,
            filters: 0,
        };
        let mut probes = Self {
            ebpf,
            config,
            watched: BTreeMap::new(),
            levels: BTreeMap::new(),
            sock_links: BTreeMap::new(),
            on_demand: BTreeMap::new(),
            lsm_deny: 0,
        };
        probes.write_config()?;

        // The kernel's BTF for the LSM programs, parsed once for all of them (≈ 1 s each under
        // emulation otherwise).
        let mut lsm_btf = None;
        for p in programs::PROGRAMS {
            if !tracefs::exists(p) {
                tracing::info!(
                    "{}: this kernel has no such tracepoint (the feature is not built in, or the kernel predates it); not attached",
                    p.name
                );
                continue;
            }
            if let Attach::Lsm { hook } = p.attach {
                if programs::LSM_PATH_HOOKS.iter().any(|h| h.name == p.name)
                    && !lsm_path_hooks_present(caps, &mut lsm_btf)?
                {
                    continue;
                }
                if p.name == programs::LSM_FILE_TRUNCATE.name && !lsm_file_truncate_present(caps, &mut lsm_btf)? {
                    continue;
                }
                let t = std::time::Instant::now();
                probes.load_lsm(p, hook, caps, &mut lsm_btf)?;
                log_loaded(&probes.ebpf, p.name, t);
                continue;
            }
            let t = std::time::Instant::now();
            probes.load_program(p)?;
            log_loaded(&probes.ebpf, p.name, t);
        }
        tracing::debug!(ms = started.elapsed().as_millis(), "all programs loaded");
        Ok(probes)
    }

    /// Loads one program (verifier) and attaches it where the contract says; cgroup programs are
    /// attached per watched cgroup by [`Probes::watch`], on-demand ones by
    /// [`Probes::attach_on_demand`].
    fn load_program(&mut self, p: &Program) -> Result<()> {
        let prog = self
            .ebpf
            .program_mut(p.name)
            .with_context(|| format!("program {} missing from the eBPF object", p.name))?;
        let loading = || format!("loading {} (verifier)", p.name);
        tracing::debug!("loading {}", p.name);
        match p.attach {
            Attach::TracePoint { category, name, .. } => {
                let tp: &mut TracePoint = prog.try_into()?;
                tp.load().with_context(loading)?;
                if !programs::ON_DEMAND.contains(&p.name) {
                    tp.attach(category, name)
                        .with_context(|| format!("attaching {category}/{name}"))?;
                }
            }
            Attach::RawTracePoint { name } => {
                let tp: &mut RawTracePoint = prog.try_into()?;
                tp.load().with_context(loading)?;
                let older = programs::RAW_TRACEPOINT_OLDER_NAMES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, o)| *o);
                match (tp.attach(name), older) {
                    (Ok(_), _) => {}
                    (Err(e), Some(older)) => {
                        tp.attach(older).with_context(|| {
                            format!("attaching raw tracepoint {name} ({e}) or its older name {older}")
                        })?;
                        tracing::debug!(
                            "{}: attached to raw tracepoint {older} (this kernel's name for {name})",
                            p.name
                        );
                    }
                    (Err(e), None) => return Err(e).with_context(|| format!("attaching raw tracepoint {name}")),
                }
            }
            Attach::CgroupSockAddr(_) => {
                let sa: &mut CgroupSockAddr = prog.try_into()?;
                sa.load().with_context(loading)?;
            }
            Attach::CgroupSock(_) => {
                let s: &mut CgroupSock = prog.try_into()?;
                s.load().with_context(loading)?;
            }
            Attach::Lsm { .. } => bail!("{}: LSM programs load through load_lsm", p.name),
        }
        Ok(())
    }

    /// Loads and attaches an LSM program where this kernel allows BPF LSM; elsewhere the tracepoint
    /// programs serve its hook alone (logged once, in the capability table). A kernel that says it
    /// allows BPF LSM but refuses this program is an error: the probe and the load disagree.
    /// `btf`: the kernel's BTF, read on first use.
    fn load_lsm(
        &mut self,
        p: &Program,
        hook: &'static str,
        caps: &Capabilities,
        btf: &mut Option<aya::Btf>,
    ) -> Result<()> {
        if !(caps.has(Cap::BpfLsm) && caps.has(Cap::Btf)) {
            return Ok(());
        }
        let btf = kernel_btf(btf)?;
        let lsm: &mut Lsm = self
            .ebpf
            .program_mut(p.name)
            .with_context(|| format!("program {} missing from the eBPF object", p.name))?
            .try_into()?;
        lsm.load(hook, btf)
            .with_context(|| format!("loading {} (verifier)", p.name))?;
        lsm.attach().with_context(|| format!("attaching lsm/{hook}"))?;
        self.lsm_deny |= match hook {
            "file_open" => monitor_common::enforce::DENY_VIA_LSM_OPEN,
            "bprm_check_security" => monitor_common::enforce::DENY_VIA_LSM_EXEC,
            // Both mount hooks carry the one bit: each refuses its own syscall, and the load fails
            // as a whole if either does not attach.
            "sb_mount" | "move_mount" => monitor_common::enforce::DENY_VIA_LSM_MOUNT,
            // The same for the `path_*` hooks: the group loads whole (`lsm_path_hooks_present`).
            h if programs::LSM_PATH_HOOKS
                .iter()
                .chain([&programs::LSM_FILE_TRUNCATE])
                .any(|p| matches!(p.attach, Attach::Lsm { hook } if hook == h)) =>
            {
                monitor_common::enforce::DENY_VIA_LSM_CHANGE
            }
            _ => 0,
        };
        tracing::info!("{}: attached to lsm/{hook} (synchronous deny)", p.name);
        Ok(())
    }

    /// Attaches an on-demand program (`programs::ON_DEMAND`: it runs on every syscall of every task,
    /// so only the commands that need it attach it). Attaching it twice is a no-op; dropping the
    /// probes detaches it.
    pub(crate) fn attach_on_demand(&mut self, p: &Program) -> Result<()> {
        if self.on_demand.contains_key(p.name) {
            return Ok(());
        }
        let Attach::TracePoint { category, name, .. } = p.attach else {
            bail!("{} is not an on-demand tracepoint program", p.name);
        };
        let tp: &mut TracePoint = self
            .ebpf
            .program_mut(p.name)
            .with_context(|| format!("program {} missing from the eBPF object", p.name))?
            .try_into()?;
        let link = tp
            .attach(category, name)
            .with_context(|| format!("attaching {category}/{name}"))?;
        self.on_demand.insert(p.name, link);
        Ok(())
    }

    /// Detaches an on-demand program attached by [`Probes::attach_on_demand`].
    pub(crate) fn detach_on_demand(&mut self, p: &Program) -> Result<()> {
        let Some(link) = self.on_demand.remove(p.name) else {
            return Ok(());
        };
        let tp: &mut TracePoint = self
            .ebpf
            .program_mut(p.name)
            .with_context(|| format!("program {} missing from the eBPF object", p.name))?
            .try_into()?;
        tp.detach(link).with_context(|| format!("detaching {}", p.name))
    }

    /// The syscall counts `SYSCALL_COUNT` kept, summed over CPUs: (watched cgroup id, syscall
    /// number) → calls.
    pub(crate) fn syscall_counts(&self) -> Result<BTreeMap<(u64, u32), u64>> {
        let map: PerCpuHashMap<_, SyscallKey, u64> = PerCpuHashMap::try_from(
            self.ebpf
                .map(maps::SYSCALL_COUNTS)
                .with_context(|| missing(maps::SYSCALL_COUNTS))?,
        )?;
        let mut out = BTreeMap::new();
        for entry in &map {
            let (key, values) = entry.context("reading SYSCALL_COUNTS")?;
            *out.entry((key.cgroup_id, key.nr)).or_default() += values.iter().sum::<u64>();
        }
        Ok(out)
    }

    /// Writes the sandbox's `REPORT_*` flags, indexed by syscall number (`SANDBOX_SYSCALLS`).
    pub(crate) fn set_sandbox_syscalls(&mut self, flags: &[u32]) -> Result<()> {
        let mut arr: Array<_, u32> = Array::try_from(self.map_mut(maps::SANDBOX_SYSCALLS)?)?;
        for (nr, f) in flags.iter().enumerate().take(SYSCALL_SLOTS as usize) {
            arr.set(nr as u32, *f, 0).context("writing SANDBOX_SYSCALLS")?;
        }
        Ok(())
    }

    /// A map of the object, by its `monitor_common::maps` name.
    fn map_mut(&mut self, name: &'static str) -> Result<&mut aya::maps::Map> {
        self.ebpf.map_mut(name).with_context(|| missing(name))
    }

    fn write_config(&mut self) -> Result<()> {
        let config = self.config;
        let mut cfg: Array<_, KernelConfig> = Array::try_from(self.map_mut(maps::CONFIG)?)?;
        cfg.set(0, config, 0).context("writing CONFIG")?;
        Ok(())
    }

    /// Starts producing events for `cg` and all its descendants.
    pub fn watch(&mut self, cg: &Cgroup) -> Result<()> {
        if cg.level >= MAX_CGROUP_LEVELS {
            bail!(
                "cgroup {} is nested {} levels deep; at most {} are supported",
                cg.path.display(),
                cg.level,
                MAX_CGROUP_LEVELS - 1
            );
        }
        let mut map: HashMap<_, u64, u32> = HashMap::try_from(self.map_mut(maps::WATCHED)?)?;
        map.insert(cg.id, maps::PRESENT, 0)
            .with_context(|| format!("watching cgroup {}", cg.path.display()))?;
        if self.watched.insert(cg.id, cg.level).is_none() {
            *self.levels.entry(cg.level).or_default() += 1;
            let dir = std::fs::File::open(&cg.path).with_context(|| format!("opening {}", cg.path.display()))?;
            let mut links = Vec::new();
            for prog in cgroup_programs() {
                let attaching = || format!("attaching {} to {}", prog.name, cg.path.display());
                let p = self.ebpf.program_mut(prog.name).context("cgroup program")?;
                // Links (kernel ≥ 5.7) are multi-attach by nature; flags must be 0 (`Single`).
                let link = match prog.attach {
                    Attach::CgroupSock(_) => {
                        let p: &mut CgroupSock = p.try_into()?;
                        CgroupLink::Sock(
                            prog.name,
                            p.attach(&dir, CgroupAttachMode::Single).with_context(attaching)?,
                        )
                    }
                    _ => {
                        let p: &mut CgroupSockAddr = p.try_into()?;
                        CgroupLink::SockAddr(
                            prog.name,
                            p.attach(&dir, CgroupAttachMode::Single).with_context(attaching)?,
                        )
                    }
                };
                links.push(link);
            }
            self.sock_links.insert(cg.id, links);
        }
        self.update_levels()?;
        self.seed_lineage(cg)
    }

    // mounts, scope, io_uring, code loading
    /// Records the processes already in `cg`'s subtree as the agent's in the kernel's `LINEAGE`
    /// map, so one that later moves itself out of the subtree stays in scope. (Processes forked
    /// or moved in from now on are recorded by the kernel side itself: the cgroup is in `WATCHED`.)
    fn seed_lineage(&mut self, cg: &Cgroup) -> Result<()> {
        let mut map: HashMap<_, u32, Lineage> = HashMap::try_from(self.map_mut(maps::LINEAGE)?)?;
        let entry = Lineage {
            agent_cgroup_id: cg.id,
            flags: 0,
            _pad: 0,
        };
        for pid in cg.subtree_procs() {
            // A process that is already known (escaped from another agent, say) keeps its entry.
            if map.get(&pid, 0).is_err() {
                map.insert(pid, entry, 0)
                    .with_context(|| format!("recording process {pid} of {}", cg.path.display()))?;
            }
        }
        Ok(())
    }

    /// Forgets the lineage of the processes of the agent of watched cgroup `id` that are still in
    /// its cgroup (the kernel drops entries at exit, but no longer sees these). Escaped ones stay:
    /// the kernel removes them at exit, keeping its count of escaped processes right.
    fn purge_lineage(&mut self, id: u64) -> Result<()> {
        let mut map: HashMap<_, u32, Lineage> = HashMap::try_from(self.map_mut(maps::LINEAGE)?)?;
        let stale: Vec<u32> = map
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, l)| l.agent_cgroup_id == id && l.flags & LINEAGE_ESCAPED == 0)
            .map(|(pid, _)| pid)
            .collect();
        for pid in stale {
            let _ = map.remove(&pid);
        }
        Ok(())
    }

    /// The agents' processes that left their cgroup, as the kernel follows them: tgid → the
    /// watched cgroup of their agent.
    pub fn escaped(&self) -> Result<Vec<(u32, u64)>> {
        let map: HashMap<_, u32, Lineage> =
            HashMap::try_from(self.ebpf.map(maps::LINEAGE).with_context(|| missing(maps::LINEAGE))?)?;
        Ok(map
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, l)| l.flags & LINEAGE_ESCAPED != 0)
            .map(|(pid, l)| (pid, l.agent_cgroup_id))
            .collect())
    }

    /// Stops watching the cgroup with this id.
    pub(crate) fn unwatch(&mut self, id: u64) -> Result<()> {
        let Some(level) = self.watched.remove(&id) else {
            return Ok(());
        };
        let mut map: HashMap<_, u64, u32> = HashMap::try_from(self.map_mut(maps::WATCHED)?)?;
        let _ = map.remove(&id);
        for link in self.sock_links.remove(&id).unwrap_or_default() {
            match link {
                CgroupLink::SockAddr(prog, link) => {
                    if let Ok(p) =
                        <&mut CgroupSockAddr>::try_from(self.ebpf.program_mut(prog).context("cgroup program")?)
                    {
                        let _ = p.detach(link);
                    }
                }
                CgroupLink::Sock(prog, link) => {
                    if let Ok(p) = <&mut CgroupSock>::try_from(self.ebpf.program_mut(prog).context("cgroup program")?) {
                        let _ = p.detach(link);
                    }
                }
            }
        }
        if let Some(n) = self.levels.get_mut(&level) {
            *n -= 1;
            if *n == 0 {
                self.levels.remove(&level);
            }
        }
        self.update_levels()?;
        self.purge_lineage(id)
    }

    pub(crate) fn watched(&self) -> impl Iterator<Item = u64> + '_ {
        self.watched.keys().copied()
    }

    fn update_levels(&mut self) -> Result<()> {
        self.config.watched_levels = self.levels.keys().fold(0u32, |m, l| m | (1 << l));
        self.config.n_levels = self.levels.len() as u32;
        self.config.levels = [0; FAST_LEVELS];
        for (slot, level) in self.config.levels.iter_mut().zip(self.levels.keys()) {
            *slot = *level;
        }
        self.write_config()
    }

    /// Takes the event ring buffer (once).
    pub(crate) fn take_ring(&mut self) -> Result<RingBuf<MapData>> {
        let map = self
            .ebpf
            .take_map(maps::EVENTS)
            .context("EVENTS ring buffer already taken")?;
        Ok(RingBuf::try_from(map)?)
    }

    /// Reads the kernel-side counters.
    pub fn counters(&self) -> Result<KernelCounters> {
        let arr: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.ebpf.map(maps::COUNTERS).with_context(|| missing(maps::COUNTERS))?)?;
        let sum = |i: u32| -> Result<u64> { Ok(arr.get(&i, 0)?.iter().sum()) };
        Ok(KernelCounters {
            ringbuf_drops: sum(counter::RINGBUF_DROPS)?,
            read_failures: sum(counter::READ_FAILURES)?,
            events: sum(counter::EVENTS)?,
            denied: sum(counter::DENIED)?,
            arg_read_failed: sum(counter::ARG_READ_FAILED)?,
            no_config: sum(counter::NO_CONFIG)?,
            task_read_failed: sum(counter::TASK_READ_FAILED)?,
            map_insert_failed: sum(counter::MAP_INSERT_FAILED)?,
            no_scratch: sum(counter::NO_SCRATCH)?,
            filtered_opens: sum(counter::FILTERED_OPENS)?,
        })
    }

    /// The loaded object, for modules that fill further maps (enforcement).
    pub fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }

    /// Turns the kernel's interest filters (`monitor_common::config::FILTER_*` bits) on or off.
    pub(crate) fn set_filters(&mut self, filters: u32) -> Result<()> {
        self.config.filters = filters;
        self.write_config()
    }

    /// Adds opens no rule can match to the open filter (`OPEN_QUIET`); a full map evicts its least
    /// recently used entry.
    pub(crate) fn add_quiet_opens(&mut self, keys: &[QuietOpenKey]) -> Result<()> {
        let mut map: HashMap<_, QuietOpenKey, u32> = HashMap::try_from(self.map_mut(maps::OPEN_QUIET)?)?;
        for k in keys {
            map.insert(k, maps::PRESENT, 0).context("adding to OPEN_QUIET")?;
        }
        Ok(())
    }

    /// Empties the open filter (the rules it was judged by changed).
    pub(crate) fn clear_quiet_opens(&mut self) -> Result<()> {
        let mut map: HashMap<_, QuietOpenKey, u32> = HashMap::try_from(self.map_mut(maps::OPEN_QUIET)?)?;
        let keys: Vec<QuietOpenKey> = map.keys().filter_map(Result::ok).collect();
        for k in &keys {
            // An entry the kernel evicted meanwhile is gone already.
            let _ = map.remove(k);
        }
        Ok(())
    }

    /// Records which deny tables have entries (the programs skip empty ones).
    pub(crate) fn set_deny_kinds(&mut self, kinds: u32) -> Result<()> {
        // The LSM bits only matter with their table on (the open tracepoint reads both).
        self.config.deny_kinds = if kinds == 0 { 0 } else { kinds | self.lsm_deny };
        self.write_config()
    }
}
