//! `exec`: a process replaced its image (the raw `sched_process_exec` tracepoint), or tried to and
//! failed (`execve`/`execveat` returning an error, seen at their exit). A variable-length record
//! (`crate::record`).
use crate::{EventHeader, record::Tail};

/// Where the event came from.
pub const EXEC_RAN: u8 = 0;
pub const EXEC_FAILED_EXECVE: u8 = 1;
pub const EXEC_FAILED_EXECVEAT: u8 = 2;

/// Arguments read from a failed exec's argv array (the image never existed, so there is no argv
/// area to copy), each cut at [`EXEC_FAILED_ARG_MAX`] bytes.
pub const EXEC_FAILED_ARGS: usize = 4;
pub const EXEC_FAILED_ARG_MAX: usize = 512;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct ExecEvent {
    pub header: EventHeader,
    /// 0, or `-errno` of a failed attempt.
    pub result: i64,
    /// Size of the new image's argv area (more than `args` holds: cut).
    pub args_total: u32,
    /// Size of the new image's environment area.
    pub env_total: u32,
    /// `EXEC_RAN` or `EXEC_FAILED_*`.
    pub origin: u8,
    /// 1: the file run was a script (`#!`), the running binary its interpreter.
    pub script: u8,
    pub _pad: [u8; 6],
    /// The file name as passed to execve (the kernel's copy, or the user string of a failed one).
    pub filename: Tail,
    /// The kernel's path of the binary now running (`mm->exe_file`; a script's interpreter).
    pub exe_path: Tail,
    /// The kernel's path of the working directory, when the file name is relative.
    pub cwd_path: Tail,
    /// The argv area (NUL-separated): the new image's, or a failed exec's first arguments.
    pub args: Tail,
    /// Environment strings that change what runs (`LD_*`, `GLIBC_TUNABLES`, `*_PROXY`, interpreter
    /// hooks such as `PYTHONPATH`, `NODE_OPTIONS`, `BASH_ENV`), NUL-separated, found by scanning the
    /// whole environment area.
    pub env: Tail,
}

/// Environment variables whose value changes what a program runs or loads (besides every `LD_*`
/// and every `*_PROXY`/`*_proxy`): exec events carry these, found anywhere in the environment.
pub const ENV_NAMES: &[&str] = &[
    "GLIBC_TUNABLES",
    "BASH_ENV",
    "ENV",
    "PROMPT_COMMAND",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "RUBYLIB",
    "NODE_OPTIONS",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
];

/// FNV-1a of a variable name: how the kernel side recognises [`ENV_NAMES`] without comparing
/// strings (a collision only costs userspace a string it then drops).
pub const fn env_name_hash(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < name.len() {
        h ^= name[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// [`env_name_hash`] of every name of [`ENV_NAMES`].
pub const ENV_NAME_HASHES: [u64; ENV_NAMES.len()] = {
    let mut out = [0u64; ENV_NAMES.len()];
    let mut i = 0;
    while i < ENV_NAMES.len() {
        out[i] = env_name_hash(ENV_NAMES[i].as_bytes());
        i += 1;
    }
    out
};

/// Whether `NAME=value`'s name is one exec events carry (the exact test userspace applies).
pub fn env_is_selected(entry: &str) -> bool {
    let name = entry.split_once('=').map_or(entry, |(n, _)| n);
    name.starts_with("LD_") || name.ends_with("_PROXY") || name.ends_with("_proxy") || ENV_NAMES.contains(&name)
}
