//! tracefs: make sure it is mounted (tracepoint attach needs it) and read tracepoint formats: the
//! offset of a field that moves between kernels ([`field_offset`]), and the check that the record
//! layouts the programs read (`monitor_common::tracepoint`) are this kernel's ([`check_layouts`]).
use std::{fs, path::Path};

use anyhow::{Context, Result, bail};
use monitor_common::programs::{Attach, Program};

pub(crate) const TRACEFS: &str = "/sys/kernel/tracing";

/// Mounts tracefs at /sys/kernel/tracing if it is not there yet.
pub(crate) fn ensure_mounted() -> Result<()> {
    if Path::new(TRACEFS).join("events").exists() {
        return Ok(());
    }
    let src = c"tracefs";
    let target = c"/sys/kernel/tracing";
    // SAFETY: plain mount(2) with static NUL-terminated strings.
    let rc = unsafe { libc::mount(src.as_ptr(), target.as_ptr(), src.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("mounting tracefs at /sys/kernel/tracing");
    }
    Ok(())
}

/// Whether `p` can attach here: always, except an optional program (`programs::OPTIONAL`) whose
/// tracepoint this kernel lacks because the feature is not built in (e.g. module loading) or the
/// kernel predates the syscall (`open_tree_attr`).
pub(crate) fn exists(p: &Program) -> bool {
    match p.attach {
        Attach::TracePoint { category, name, .. } if monitor_common::programs::is_optional(p) => {
            Path::new(TRACEFS).join("events").join(category).join(name).exists()
        }
        _ => true,
    }
}

/// One `field:` line of a format file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FormatField {
    pub name: String,
    pub offset: usize,
    pub size: usize,
}

/// The text of a tracepoint's `format` file.
pub(crate) fn read_format(category: &str, event: &str) -> Result<String> {
    let path = format!("{TRACEFS}/events/{category}/{event}/format");
    fs::read_to_string(&path).with_context(|| format!("reading {path}"))
}

/// Byte offset of `field` in a tracepoint record, from its `format` file.
pub(crate) fn field_offset(category: &str, event: &str, field: &str) -> Option<u32> {
    let text = read_format(category, event).ok()?;
    let f = parse_fields(&text).into_iter().find(|f| f.name == field)?;
    u32::try_from(f.offset).ok()
}

/// The fields a format file declares, in order.
pub(crate) fn parse_fields(format: &str) -> Vec<FormatField> {
    format
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            let mut parts = line.strip_prefix("field:")?.split(';');
            let name = parts.next()?.split_whitespace().last()?.split('[').next()?.to_string();
            let mut offset = None;
            let mut size = None;
            for p in parts.map(str::trim) {
                if let Some(v) = p.strip_prefix("offset:") {
                    offset = v.parse().ok();
                } else if let Some(v) = p.strip_prefix("size:") {
                    size = v.parse().ok();
                }
            }
            Some(FormatField {
                name,
                offset: offset?,
                size: size?,
            })
        })
        .collect()
}

/// What is wrong with a program's expected record layout, given the tracepoint's format file:
/// `(mismatches, missing)` — fields at another offset or with another size, and fields the file does
/// not name.
fn compare_layout(p: &Program, format: &str) -> (Vec<String>, Vec<String>) {
    let Attach::TracePoint { fields, .. } = p.attach else {
        return (Vec::new(), Vec::new());
    };
    let actual = parse_fields(format);
    let mut mismatches = Vec::new();
    let mut missing = Vec::new();
    for want in fields {
        match actual.iter().find(|f| f.name == want.name) {
            Some(f) if f.offset == want.offset && f.size == want.size => {}
            Some(f) => mismatches.push(format!(
                "{}: {} is at offset {} size {} in this kernel, agentmon expects offset {} size {}",
                p.name, want.name, f.offset, f.size, want.offset, want.size
            )),
            None => missing.push(format!("{}: no field {}", p.name, want.name)),
        }
    }
    (mismatches, missing)
}

/// Checks the record layouts the tracepoint programs read against this kernel's format files, so
/// a kernel that moved a field fails at start-up with a clear error instead of producing wrong
/// events. A field that is only renamed (or a format file that cannot be read) is logged: the
/// offsets may still be right, and attaching reports a tracepoint that does not exist.
pub(crate) fn check_layouts(programs: &[Program]) -> Result<()> {
    let mut mismatches = Vec::new();
    for p in programs {
        let Attach::TracePoint { category, name, fields } = p.attach else {
            continue;
        };
        if fields.is_empty() || !exists(p) {
            continue;
        }
        let format = match read_format(category, name) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!("{e:#}; the record layout of {} is not checked", p.name);
                continue;
            }
        };
        let (bad, missing) = compare_layout(p, &format);
        for m in missing {
            tracing::warn!("tracepoint {category}/{name}: {m}; reading it at the expected offset");
        }
        mismatches.extend(bad);
    }
    if !mismatches.is_empty() {
        bail!(
            "this kernel's tracepoint records differ from the layouts agentmon reads:\n  {}",
            mismatches.join("\n  ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use monitor_common::programs;

    use super::*;

    #[test]
    fn parses_offsets() {
        let f = "\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;\n\tfield:bool group_dead;\toffset:32;\tsize:1;\tsigned:0;\n";
        let fields = parse_fields(f);
        assert_eq!(
            fields[0],
            FormatField {
                name: "comm".into(),
                offset: 8,
                size: 16
            }
        );
        assert_eq!(fields[1].name, "group_dead");
        assert_eq!(fields[1].offset, 32);
        assert_eq!(fields.len(), 2);
    }

    #[test]
    fn a_moved_field_is_a_mismatch_and_a_renamed_one_is_missing() {
        let format = "\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\
                      \tfield:int fd;\toffset:16;\tsize:8;\tsigned:0;\n\
                      \tfield:struct sockaddr * uservaddr;\toffset:32;\tsize:8;\tsigned:0;\n";
        let (bad, missing) = compare_layout(&programs::SYS_ENTER_CONNECT, format);
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(bad[0].contains("uservaddr is at offset 32"), "{bad:?}");
        assert_eq!(missing, ["sys_enter_connect: no field addrlen"]);
    }

    /// The layouts in `monitor_common::tracepoint` are this kernel's: every field every tracepoint
    /// program reads is in the tracepoint's format file, at the same offset, with the same size.
    #[test]
    fn record_layouts_match_the_running_kernel() {
        ensure_mounted().expect("tracefs (run the tests as root)");
        let mut checked = 0;
        for p in programs::PROGRAMS {
            let Attach::TracePoint { category, name, fields } = p.attach else {
                continue;
            };
            if !exists(p) {
                continue;
            }
            let format = read_format(category, name).unwrap_or_else(|e| panic!("{e:#}"));
            let (bad, missing) = compare_layout(p, &format);
            assert!(bad.is_empty() && missing.is_empty(), "{bad:?} {missing:?}\n{format}");
            checked += fields.len();
        }
        // openat (5 fields) alone; all of them: far more.
        assert!(checked > 30, "only {checked} fields checked");
        check_layouts(programs::PROGRAMS).expect("start-up check");
        assert!(
            field_offset(
                "sched",
                "sched_process_exit",
                monitor_common::tracepoint::SCHED_PROCESS_EXIT_GROUP_DEAD
            )
            .is_some()
        );
    }
}
